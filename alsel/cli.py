"""Command line: ``alsel select`` (G, R files -> queries CSV), ``alsel demo`` (a selection on a
synthetic pool) and ``alsel run`` (an active-learning experiment from a config file)."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

import numpy as np

from . import __version__, cli_tools
from .annotate import labelstudio as annotate_labelstudio
from .annotate import cli as annotate_cli
from .errors import AlselError
from .formulations import FORMULATIONS
from .rounding import ROUNDINGS
from .pipeline import select
from .selection import Selection
from . import solvers


class _CliError(Exception):
    """A user error found by the CLI itself (exit status 2)."""


def _load_matrix(path: str, flag: str):
    """A dense array (.npy, .csv, .txt) or a scipy.sparse matrix (.npz from scipy.sparse.save_npz,
    e.g. a kNN R)."""
    file = Path(path)
    if not file.is_file():
        raise _CliError(f"{flag}: no such file {path!r}.")
    try:
        if file.suffix == ".npy":
            return np.load(file, allow_pickle=False)
        if file.suffix == ".npz":
            import scipy.sparse

            return scipy.sparse.load_npz(file)
        if file.suffix in (".csv", ".txt"):
            return np.loadtxt(file, delimiter="," if file.suffix == ".csv" else None, ndmin=2)
    except Exception as exc:
        raise _CliError(f"{flag}: could not read {path!r}: {exc}") from exc
    raise _CliError(
        f"{flag}: {path!r} must be a .npy, .csv or .txt file (dense), or a .npz written by "
        "scipy.sparse.save_npz (sparse)."
    )


def _add_pipeline_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--solver", default=None,
                        help="backend for the relaxation (default highs); `alsel solvers` lists them")
    parser.add_argument("--formulation", default="none", choices=["none", *FORMULATIONS],
                        help="relaxation to solve; none (default): greedy + local search, no solver")
    parser.add_argument("--rounding", default=None, choices=list(ROUNDINGS),
                        help="default: greedy+local without a formulation, topb (the paper's) with one")
    parser.add_argument("--seed", type=int, default=0, help="seed of the rounding's random choices")
    parser.add_argument("--time-limit", type=float, default=None, help="solver time limit, seconds")
    parser.add_argument("--algorithm", default=None, help="solver algorithm, e.g. simplex, ipm, pdlp")
    parser.add_argument("--tol", type=float, default=None, help="tolerance of first-order solvers")
    parser.add_argument("--whole-lp", action="store_true",
                        help="solve the whole relaxation, not the working set of images (the default; "
                             "docs/solvers.md)")


def _pipeline_kwargs(args: argparse.Namespace) -> dict:
    options = {"algorithm": args.algorithm, "tol": args.tol, "working_set": False if args.whole_lp else None}
    return {
        "solver": args.solver,
        "formulation": None if args.formulation == "none" else args.formulation,
        "rounding": args.rounding,
        "seed": args.seed,
        "time_limit": args.time_limit,
        "solver_options": {k: v for k, v in options.items() if v is not None} or None,
    }


def _write_queries(selection: Selection, out) -> None:
    out.write("image,class\n")
    for image, cls in selection.pairs:
        out.write(f"{image},{cls}\n")


def _cmd_select(args: argparse.Namespace) -> int:
    G = _load_matrix(args.G, "--G")
    R = _load_matrix(args.R, "--R")
    selection = select(G, R, args.budget, args.cmax, args.lam, **_pipeline_kwargs(args))
    if args.output in (None, "-"):
        _write_queries(selection, sys.stdout)
    else:
        with open(args.output, "w", newline="") as out:
            _write_queries(selection, out)
    print(selection.summary(), file=sys.stderr)
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    from .synthetic import random_problem

    problem = random_problem(
        args.images, args.classes, args.budget, args.cmax, args.lam, seed=args.seed
    )
    n, c = problem.n_images, problem.n_classes
    print(
        f"alsel demo: synthetic pool N={n} images, C={c} classes, B={problem.B}, "
        f"C_max={problem.C_max}, lam={problem.lam:g} (G, R min-max mapped as in the paper)"
    )
    selection = select(
        problem.G, problem.R, problem.B, problem.C_max, problem.lam, **_pipeline_kwargs(args)
    )
    _describe(selection)
    if args.formulation == "none" and args.compare:
        print("\nthe paper's pipeline on the same problem (symmetric LP = the paper's relaxation, "
              "HiGHS on the working set, top-B rounding) ...", flush=True)
        paper = select(problem.G, problem.R, problem.B, problem.C_max, problem.lam,
                       formulation="symmetric", rounding="topb", seed=args.seed)
        _describe(paper)
        print(f"\nthe default pipeline's objective is {paper.objective / selection.objective:.3g}x "
              f"lower than the paper's, in {selection.timings['total']:.2f} s against "
              f"{paper.timings['total']:.2f} s (docs/relaxation.md).")
    shown = selection.pairs[: args.show]
    print(f"first {len(shown)} of {len(selection.pairs)} queries:")
    print("  image  class  confidence G")
    for image, cls in shown:
        print(f"  {image:5d}  {cls:5d}  {problem.G[cls, image]:.4g}")
    return 0


def _describe(selection: Selection) -> None:
    print(selection.summary())
    if selection.formulation != "none":
        size = selection.info["lp_size"]
        iterations = selection.info["iterations"]
        print(
            f"LP ({selection.formulation}): {size['rows']:,} rows x {size['cols']:,} cols, "
            f"{size['nnz']:,} nonzeros; {selection.solver}/{selection.info['algorithm']}"
            + (f", {iterations:,} iterations" if iterations is not None else "")
        )
        rounds = selection.info.get("working_set", {}).get("rounds")
        if rounds:
            last = rounds[-1]
            pairs = f", {last['pair_rows']:,} pair rows" if "pair_rows" in last else ""
            print(f"working set: {len(rounds)} round(s), the last on {last['images']:,} of "
                  f"{selection.M.shape[0]:,} images ({last['rows']:,} of {size['rows']:,} rows{pairs}); "
                  "--whole-lp solves the whole LP")
        print(f"certificate (whole LP): {selection.certificate}")
    print("timings: " + ", ".join(f"{stage} {seconds:.3f} s" for stage, seconds in selection.timings.items()))
    print(f"redundancy share of the objective: {selection.redundancy_share:.1%}; lower bound from "
          f"{selection.bound_source}")
    if selection.relaxed_M is not None:
        relaxed = selection.relaxed_M
        half = int(np.sum(np.abs(relaxed - 0.5) < 1e-6))
        fractional = int(np.sum((relaxed > 1e-6) & (relaxed < 1 - 1e-6)))
        print(
            f"relaxation: value {selection.relaxation_value:.6g}; {fractional} fractional entries "
            f"of M ({half} at 1/2, {selection.half_mass_share:.0%} of its mass). The paper's "
            "relaxation is degenerate: it pays almost no redundancy (docs/relaxation.md)."
        )


def _cmd_run(args: argparse.Namespace) -> int:
    try:
        from .loop.experiment import kept, load_config, run_experiment, summarize
        from .loop.locking import Busy
        from .loop.oracles import OracleStopped
        from tqdm import tqdm
    except ModuleNotFoundError as exc:
        raise _CliError(f"alsel run needs the 'loop' extra ({exc.name} is missing): "
                        "pip install 'alsel[loop]'.") from None
    config = load_config(args.config)  # every value checked before any file is written
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise _CliError(f"-o/--out: {args.out} exists and is not a folder; pass a folder for the run.")
    print(f"alsel run: writing to {args.out}/ (run again with the same --out to resume)", flush=True)
    progress = None if args.no_progress else (lambda total: tqdm(total=total, unit="round"))
    try:
        rows = run_experiment(config, out, progress=progress)
    except Busy as exc:
        raise _CliError(str(exc)) from None
    except PermissionError as exc:
        raise _CliError(f"-o/--out: cannot write in {args.out} ({exc.strerror}: {exc.filename}); "
                        "pass a folder you can write to.") from None
    except OracleStopped as exc:
        print(f"alsel run: stopped: {exc}", file=sys.stderr)
        return 3
    except KeyboardInterrupt:
        try:
            totals = kept(out)
            what = (f"{totals['answers']} answers, {totals['pixel_images']} pixel-labelled images and "
                    f"{totals['rows']} evaluated rounds in {totals['stores']} stores under {out / 'stores'}")
        except Exception as exc:  # the line must still come, whatever the stores hold
            what = f"the answer stores under {out / 'stores'} ({exc})"
        print(f"\nalsel run: interrupted; kept {what}: every answer given so far is stored. "
              "Run the same command again to resume.", file=sys.stderr)
        return 130
    profile = config["loop"]["cost_profile"]
    print(f"\n{'strategy':<16} {'iteration':>9} {'mIoU':>7} {'hours (' + profile + ')':>20}")
    for item in summarize(rows, profile):
        if item["iteration"] in (0, config["loop"]["iterations"]):
            std = f" ±{item['miou_std']:.2f}" if item["runs"] > 1 else ""
            print(f"{item['strategy']:<16} {item['iteration']:>9} {item['miou']:>7.2f}{std} {item['hours']:>20.2f}")
    print(f"results: {args.out}/results.csv, {args.out}/miou_vs_iteration.png, {args.out}/miou_vs_hours.png")
    return 0


def _cmd_solvers(args: argparse.Namespace) -> int:
    backends = solvers.backends()
    reasons = solvers.available()
    notes = solvers.notes()
    width = max(map(len, reasons))
    for name, reason in reasons.items():
        backend = backends.get(name)
        kinds = ["LP"]
        if backend is not None and getattr(backend, "supports_qp", False):
            kinds.append("QP")
        if backend is not None and backend.supports_mip:
            kinds.append("MIP")
        state = "usable" if reason is None else f"unavailable: {reason}"
        note = f" ({notes[name]})" if name in notes else ""
        print(f"{name:<{width}}  {', '.join(kinds):<11}  {state}{note}")
        if args.options and backend is not None:
            print(f"{'':<{width}}  options: {', '.join(backend.options)}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="alsel",
        description="Choose which yes/no questions ('is class j in image i?') to ask an annotator.",
    )
    parser.add_argument("--version", action="version", version=f"alsel {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress to stderr")
    commands = parser.add_subparsers(dest="command", required=True)

    sel = commands.add_parser("select", help="select queries from G and R files")
    sel.add_argument("--G", required=True, help="confidence matrix (C, N): .npy, .csv or .txt")
    sel.add_argument("--R", required=True,
                     help="redundancy matrix (N, N): .npy, .csv or .txt, or a sparse .npz (scipy.sparse.save_npz)")
    sel.add_argument("--budget", type=int, required=True, help="B, the number of queries")
    sel.add_argument("--cmax", type=int, required=True, help="C_max, queries per image at most")
    sel.add_argument("--lam", type=float, required=True, help="weight of the redundancy term")
    sel.add_argument("-o", "--output", default=None, help="CSV file (image,class); default stdout")
    _add_pipeline_arguments(sel)
    sel.set_defaults(run=_cmd_select)

    demo = commands.add_parser("demo", help="a synthetic instance at the paper's scale")
    demo.add_argument("--images", type=int, default=1200)
    demo.add_argument("--classes", type=int, default=19)
    demo.add_argument("--budget", type=int, default=200)
    demo.add_argument("--cmax", type=int, default=5)
    demo.add_argument("--lam", type=float, default=1.0)
    demo.add_argument("--show", type=int, default=10, help="how many queries to print")
    demo.add_argument("--no-compare", dest="compare", action="store_false",
                      help="skip the paper's pipeline on the same problem")
    _add_pipeline_arguments(demo)
    demo.set_defaults(run=_cmd_demo)

    run = commands.add_parser("run", help="an active-learning experiment from a config file "
                              "(needs alsel[loop]; docs/loop.md)")
    run.add_argument("config", nargs="?", default=None,
                     help="TOML or JSON config; omitted: the built-in default (examples/loop-demo.toml)")
    run.add_argument("-o", "--out", default="alsel-run", help="output folder (default alsel-run)")
    run.add_argument("--no-progress", action="store_true", help="no progress bar")
    run.set_defaults(run=_cmd_run)

    listing = commands.add_parser("solvers", help="list the solver backends and their state here")
    listing.add_argument("--options", action="store_true", help="also list each one's options")
    listing.set_defaults(run=_cmd_solvers)
    cli_tools.add_commands(commands)
    annotate_labelstudio.add_commands(commands)
    annotate_cli.add_command(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``alsel`` command; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.verbose:
        logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
    try:
        return args.run(args)
    except BrokenPipeError:  # e.g. `alsel demo | head`: the reader left, nothing is wrong
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except (_CliError, ValueError, TypeError) as exc:
        print(f"alsel {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except AlselError as exc:
        print(f"alsel {args.command}: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
