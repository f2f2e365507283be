"""Command line: ``alsel select`` (G, R files -> queries CSV), ``alsel demo`` (a selection on a
synthetic pool) and ``alsel run`` (an active-learning experiment from a config file)."""

from __future__ import annotations

import argparse
import io
import logging
import os
import re
import sys
from pathlib import Path

import numpy as np

from . import __version__, cli_tools
from ._argtypes import count, number
from ._files import atomic_write_text
from .annotate import labelstudio as annotate_labelstudio
from .annotate import cli as annotate_cli
from .evidence import cli as evidence_cli
from .errors import AlselError
from .formulations import FORMULATIONS
from .rounding import ROUNDINGS
from .pipeline import select
from .selection import Selection
from . import solvers


class _CliError(Exception):
    """A user error found by the CLI itself (exit status 2)."""


#: `alsel demo` calls a relaxation degenerate when at least this share of its M's mass is at 1/2
#: (the paper's LP relaxation: ~100%; the convex QP: 0%).
DEGENERATE_HALF_MASS = 0.5


def _load_matrix(path: str, flag: str):
    """A dense array (.npy, .csv, .txt) or a scipy.sparse matrix (.npz from scipy.sparse.save_npz,
    e.g. a kNN R)."""
    file = Path(path)
    if not file.is_file():
        raise _CliError(f"{flag}: no such file {path!r}.")
    if file.suffix in (".csv", ".txt"):
        return _load_text_matrix(file, flag, "," if file.suffix == ".csv" else None)
    try:
        if file.suffix == ".npy":
            return np.load(file, allow_pickle=False)
        if file.suffix == ".npz":
            import scipy.sparse

            return scipy.sparse.load_npz(file)
    except Exception as exc:
        raise _CliError(f"{flag}: could not read {path!r}: {exc}") from exc
    raise _CliError(
        f"{flag}: {path!r} must be a .npy, .csv or .txt file (dense), or a .npz written by "
        "scipy.sparse.save_npz (sparse)."
    )


def _load_text_matrix(file: Path, flag: str, delimiter: str | None) -> np.ndarray:
    """A numeric text matrix; a file that is not one is refused naming the file and the line."""
    try:
        data = file.read_bytes()
    except OSError as exc:
        raise _CliError(f"{flag}: could not read {str(file)!r}: {exc.strerror}.") from exc
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise _CliError(
            f"{flag}: {str(file)!r} line {line}: byte 0x{data[exc.start]:02x} is not UTF-8 text; "
            "the file must hold numbers only (np.savetxt writes such a file)."
        ) from None
    try:
        return np.loadtxt(text.splitlines(), delimiter=delimiter, ndmin=2)
    except ValueError as exc:
        raise _CliError(_text_matrix_problem(file, flag, text, delimiter) or
                        f"{flag}: could not read {str(file)!r}: {exc}") from None


def _text_matrix_problem(file: Path, flag: str, text: str, delimiter: str | None) -> str | None:
    """Which line of a text matrix is not numbers, in words (only on the error path)."""
    lines = text.splitlines()
    for number, line in enumerate(lines, start=1):
        fields = [f.strip() for f in (line.split(delimiter) if delimiter else line.split())]
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        bad = [f for f in fields if not _isnumber(f)]
        if not bad:
            continue
        rest_numeric = all(
            all(_isnumber(f.strip()) for f in (other.split(delimiter) if delimiter else other.split()))
            for other in lines[number:] if other.strip() and not other.lstrip().startswith("#")
        )
        if number == 1 and rest_numeric:
            return (f"{flag}: {str(file)!r} line 1 looks like a header row ({line.strip()[:60]!r}); "
                    "remove the header row, or save the matrix without one (np.savetxt writes none).")
        return (f"{flag}: {str(file)!r} line {number}: {bad[0][:40]!r} is not a number; the file "
                f"must hold a numeric matrix{', comma-separated' if delimiter else ''}.")
    return None


def _isnumber(field: str) -> bool:
    try:
        float(field)
    except ValueError:
        return False
    return True


def check_output_path(path: str | os.PathLike, flag: str, *, folder: bool = False) -> Path:
    """Refuse an output path that cannot be written, before any work is done.

    Parameters
    ----------
    path : str or path
        The file (``folder=False``) or folder (``folder=True``) a command will write.
    flag : str
        The command-line flag that named it, for the message (e.g. ``"-o/--output"``).
    folder : bool
        A folder that may not exist yet: it must exist as a writable folder, or be creatable
        (its nearest existing ancestor a writable folder). A file: its folder must exist and be
        writable, and the path must not be a folder.

    Returns
    -------
    Path
        ``path`` as a Path.

    Raises
    ------
    _CliError
        Naming ``flag``, the path and the fix (the CLI exits with status 2).
    """
    target = Path(path)
    if folder:
        if target.exists():
            if not target.is_dir():
                raise _CliError(f"{flag}: {str(path)!r} exists and is not a folder; name a folder.")
            if not os.access(target, os.W_OK | os.X_OK):
                raise _CliError(f"{flag}: cannot write in the folder {str(path)!r} (permission denied).")
            return target
        ancestor = target.absolute().parent
        while not ancestor.exists() and ancestor != ancestor.parent:
            ancestor = ancestor.parent
        if not ancestor.is_dir():
            raise _CliError(f"{flag}: cannot create the folder {str(path)!r}: {str(ancestor)!r} is not a folder.")
        if not os.access(ancestor, os.W_OK | os.X_OK):
            raise _CliError(f"{flag}: cannot create the folder {str(path)!r}: {str(ancestor)!r} is not "
                            "writable (permission denied).")
        return target
    if target.is_dir():
        raise _CliError(f"{flag}: {str(path)!r} is a folder; give a file name, e.g. "
                        f"{str(target / 'queries.csv')!r}.")
    parent = target.parent
    if not parent.exists():
        raise _CliError(f"{flag}: the folder {str(parent)!r} does not exist; create it first "
                        f"(mkdir -p {parent}) or write elsewhere.")
    if not parent.is_dir():
        raise _CliError(f"{flag}: cannot write {str(path)!r}: {str(parent)!r} is not a folder.")
    if not os.access(parent, os.W_OK | os.X_OK) or (target.exists() and not os.access(target, os.W_OK)):
        raise _CliError(f"{flag}: cannot write {str(path)!r} (permission denied).")
    return target


#: The library's argument names in the CLI's words, applied to the messages of select, demo and
#: bench (the library names arguments as Python does; the CLI user typed flags).
_CLI_WORDS = [
    (re.compile(r"\bnp\.(?:u?int|float|bool_?)\d*\(([^()]*)\)"), r"\1"),
    (re.compile(r"formulation=None"), "--formulation none"),
    (re.compile(r"(formulation|rounding|algorithm|solver)='([^']*)'"), r"--\1 \2"),
    (re.compile(r"\bsolver_options\b"), "--algorithm/--tol/--whole-lp"),
    (re.compile(r"\btime_limit\b"), "--time-limit"),
    (re.compile(r"\bC_max\b"), "--cmax"),
    (re.compile(r"(?<![\w'-])B(?![\w'-])"), "--budget"),
    (re.compile(r"(?<![\w'-])lam(?![\w'-])"), "--lam"),
    (re.compile(r"^(tol|seed)\b"), r"--\1"),
    (re.compile(r"Pass round\(--budget\)\."), "Pass a whole number."),
]


def in_cli_words(message: str) -> str:
    """A library message with its argument names replaced by the flags of select/demo/bench."""
    for pattern, replacement in _CLI_WORDS:
        message = pattern.sub(replacement, message)
    return message


def _add_pipeline_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--solver", default=None,
                        help="backend for the relaxation (default: highs); `alsel solvers` lists them")
    parser.add_argument("--formulation", default="none", choices=["none", *FORMULATIONS],
                        help="relaxation to solve; none: greedy + local search, no solver")
    parser.add_argument("--rounding", default=None, choices=list(ROUNDINGS),
                        help="how the relaxed M becomes a selection (default: greedy+local without a formulation, "
                             "topb (the paper's) with one)")
    parser.add_argument("--seed", type=count(0), default=0, help="seed of the rounding's random choices")
    parser.add_argument("--time-limit", type=number(positive=True), default=None,
                        help="solver time limit, seconds (default: none)")
    parser.add_argument("--algorithm", default=None,
                        help="solver algorithm, e.g. simplex, ipm, pdlp (default: the backend's)")
    parser.add_argument("--tol", type=number(positive=True), default=None,
                        help="tolerance of first-order solvers (default: the backend's)")
    parser.add_argument("--whole-lp", action="store_true",
                        help="solve the whole relaxation, not the working set of images (default: the "
                             "working set; docs/solvers.md)")


#: Flags that only act on a relaxation, with the argparse dest that holds each.
_RELAXATION_FLAGS = (("--solver", "solver"), ("--algorithm", "algorithm"), ("--tol", "tol"),
                     ("--time-limit", "time_limit"), ("--whole-lp", "whole_lp"))


def _check_pipeline_flags(args: argparse.Namespace) -> None:
    """Refuse flags that have no effect without a relaxation, before any file is read."""
    if args.formulation != "none":
        return
    given = [flag for flag, dest in _RELAXATION_FLAGS if getattr(args, dest) not in (None, False)]
    if given:
        raise _CliError(
            f"{', '.join(given)} act(s) on a relaxation, and --formulation none (the default) solves "
            "none; pass --formulation symmetric (or another) to solve one, or drop "
            f"{', '.join(given)}."
        )


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
    to_stdout = args.output in (None, "-")
    if not to_stdout:  # before any work: an answer computed and then lost helps nobody
        check_output_path(args.output, "-o/--output")
    _check_pipeline_flags(args)
    G = _load_matrix(args.G, "--G")
    R = _load_matrix(args.R, "--R")
    selection = select(G, R, args.budget, args.cmax, args.lam, **_pipeline_kwargs(args))
    if to_stdout:
        _write_queries(selection, sys.stdout)
    else:
        buffer = io.StringIO()
        _write_queries(selection, buffer)
        try:
            atomic_write_text(args.output, buffer.getvalue())
        except OSError as exc:
            raise _CliError(f"-o/--output: could not write {args.output!r}: {exc.strerror or exc}.") from exc
    print(selection.summary(), file=sys.stderr)
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    from .synthetic import random_problem

    _check_pipeline_flags(args)
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
    if not len(shown):
        return 0
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
            f"of M ({half} at 1/2, {selection.half_mass_share:.0%} of its mass)."
        )
        if selection.half_mass_share >= DEGENERATE_HALF_MASS:
            # v = 1/2 everywhere lets every pair constraint hold with z = 0 (docs/relaxation.md)
            print("This relaxation is degenerate: most of its mass sits at 1/2, where it pays almost "
                  "no redundancy (docs/relaxation.md).")


def _cmd_run(args: argparse.Namespace) -> int:
    try:
        from .loop.experiment import kept, load_config, run_experiment, summarize
        from .loop.locking import Busy
        from .loop.oracles import OracleStopped
        from tqdm import tqdm
    except ModuleNotFoundError as exc:
        raise _CliError(f"alsel run needs the 'loop' extra ({exc.name} is missing): "
                        "pip install 'alsel[loop]'.") from None
    out = check_output_path(args.out, "-o/--out", folder=True)
    config = load_config(args.config)  # every value checked before any file is written
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
    profile = config.loop.cost_profile
    print(f"\n{'strategy':<16} {'iteration':>9} {'mIoU':>7} {'hours (' + profile + ')':>20}")
    for item in summarize(rows, profile):
        if item["iteration"] in (0, config.loop.iterations):
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
        epilog="exit status: 0 done, 1 a solver or check failed, 2 bad input (nothing done), "
               "3 stopped by the oracle (run), 130 interrupted (Ctrl-C)",
    )
    parser.add_argument("--version", action="version", version=f"alsel {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress to stderr")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    sel = commands.add_parser("select", help="select queries from G and R files")
    sel.add_argument("--G", required=True, help="confidence matrix (C, N): .npy, .csv or .txt")
    sel.add_argument("--R", required=True,
                     help="redundancy matrix (N, N): .npy, .csv or .txt, or a sparse .npz (scipy.sparse.save_npz)")
    sel.add_argument("--budget", type=count(1), required=True, help="B, the number of queries")
    sel.add_argument("--cmax", type=count(1), required=True, help="C_max, queries per image at most")
    sel.add_argument("--lam", type=number(positive=False), required=True,
                     help="weight of the redundancy term (>= 0)")
    sel.add_argument("-o", "--output", default=None,
                     help="CSV file (image,class), written atomically (default: stdout)")
    _add_pipeline_arguments(sel)
    sel.set_defaults(run=_cmd_select, cli_words=True)

    demo = commands.add_parser("demo", help="a synthetic instance at the paper's scale")
    demo.add_argument("--images", type=count(1), default=1200, help="N, images in the pool")
    demo.add_argument("--classes", type=count(1), default=19, help="C, classes")
    demo.add_argument("--budget", type=count(1), default=200, help="B, the number of queries")
    demo.add_argument("--cmax", type=count(1), default=5, help="C_max, queries per image at most")
    demo.add_argument("--lam", type=number(positive=False), default=1.0,
                      help="weight of the redundancy term (>= 0)")
    demo.add_argument("--show", type=count(0), default=10, help="how many queries to print (0: none)")
    demo.add_argument("--no-compare", dest="compare", action="store_false",
                      help="skip the paper's pipeline on the same problem")
    _add_pipeline_arguments(demo)
    demo.set_defaults(run=_cmd_demo, cli_words=True)

    run = commands.add_parser("run", help="an active-learning experiment from a config file "
                              "(needs alsel[loop]; docs/loop.md)")
    run.add_argument("config", nargs="?", default=None,
                     help="TOML or JSON config; omitted: the built-in default (examples/loop-demo.toml)")
    run.add_argument("-o", "--out", default="alsel-run", help="output folder")
    run.add_argument("--no-progress", action="store_true", help="no progress bar")
    run.set_defaults(run=_cmd_run)

    listing = commands.add_parser("solvers", help="list the solver backends and their state here")
    listing.add_argument("--options", action="store_true", help="also list each one's options")
    listing.set_defaults(run=_cmd_solvers)
    cli_tools.add_commands(commands)
    annotate_labelstudio.add_commands(commands)
    annotate_cli.add_command(commands)
    evidence_cli.add_command(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``alsel`` command; returns the exit status."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse: --help, --version (0) or a bad flag (2, message printed)
        return exc.code if isinstance(exc.code, int) else 2
    if args.verbose:
        logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
    try:
        return args.run(args)
    except KeyboardInterrupt:
        print(f"alsel {args.command}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # e.g. `alsel demo | head`: the reader left, nothing is wrong
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except (_CliError, ValueError, TypeError) as exc:
        print(f"alsel {args.command}: error: {_words(args, exc)}", file=sys.stderr)
        return 2
    except AlselError as exc:
        print(f"alsel {args.command}: {type(exc).__name__}: {_words(args, exc)}", file=sys.stderr)
        return 1
    except OSError as exc:  # e.g. a full disk while writing; nothing half-written is left
        print(f"alsel {args.command}: error: {exc}", file=sys.stderr)
        return 1


def _words(args: argparse.Namespace, exc: BaseException) -> str:
    message = str(exc)
    return message if isinstance(exc, _CliError) or not getattr(args, "cli_words", False) else in_cli_words(message)


class _Parser(argparse.ArgumentParser):
    """A subcommand's parser: its --help shows every default."""

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("formatter_class", _DefaultsFormatter)
        super().__init__(*args, **kwargs)


class _DefaultsFormatter(argparse.HelpFormatter):
    """Appends "(default: X)" to every option that takes a value, unless its help says it."""

    def _get_help_string(self, action: argparse.Action) -> str:
        help_text = action.help or ""
        if ("default" in help_text or action.default in (None, argparse.SUPPRESS)
                or action.nargs == 0 or not action.option_strings):
            return help_text
        return f"{help_text} (default: %(default)s)"


if __name__ == "__main__":
    # `python -m alsel.cli` runs this file as __main__; go through alsel.cli itself, so that the
    # errors cli_tools raises (alsel.cli._CliError) are the ones main() catches
    from alsel.cli import main as _main

    sys.exit(_main())
