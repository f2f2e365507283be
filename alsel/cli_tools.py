"""`alsel bench` and `alsel verify`: the command-line faces of alsel.bench and alsel.verify."""

from __future__ import annotations

import argparse
import sys


def add_commands(commands) -> None:
    """Register the bench and verify subcommands on an argparse subparsers object."""
    from ._argtypes import count, number

    bench = commands.add_parser(
        "bench", help="backends x formulations over a size sweep: table, CSV and plots")
    bench.add_argument("--sizes", default="300,1200", help="numbers of images N, e.g. 300,1200,5000")
    bench.add_argument("--classes", type=count(1), default=19, help="C of the synthetic instances")
    bench.add_argument("--solvers", default="auto",
                       help="comma-separated backends (`alsel solvers`); auto: every usable LP "
                            "backend here, GPU ones included, but cvxpy, clarabel and gurobi (name those)")
    bench.add_argument("--formulations", default="symmetric", help="comma-separated formulations")
    bench.add_argument("--repeat", type=count(1), default=1, help="runs of each combination")
    bench.add_argument("--time-limit", type=number(positive=True), default=600.0, help="seconds per solve")
    bench.add_argument("--seed", type=count(0), default=0, help="seed of the synthetic instances")
    bench.add_argument("--G", default=None, help="your own G (C, N) instead of the synthetic sweep (default: none)")
    bench.add_argument("--R", default=None, help="your own R (N, N), with --G (default: none)")
    bench.add_argument("--budget", type=count(1), default=None, help="B for --G/--R (default: N/6)")
    bench.add_argument("--cmax", type=count(1), default=5, help="C_max for --G/--R")
    bench.add_argument("--lam", type=number(positive=False), default=1.0, help="lam for --G/--R")
    bench.add_argument("--out", default="alsel-bench",
                       help="folder for bench.csv (rows appended, one run id per invocation) and the plots")
    bench.add_argument("--whole-lp", action="store_true",
                       help="solve the whole LP, so backends are compared on the same matrix (default: "
                            "the working set of images where it applies, as `alsel select` does; "
                            "docs/solvers.md)")
    bench.add_argument("--working-set", action="store_true",
                       help="the default; accepted for older scripts (no effect)")
    bench.add_argument("--no-progress", dest="progress", action="store_false", help="no progress bar")
    bench.set_defaults(run=_cmd_bench, cli_words=True)

    verify = commands.add_parser(
        "verify", help="property-based checks of a backend and a formulation (exit 1 on a failure, "
                       "2 when nothing could be checked)")
    verify.add_argument("--solver", default="highs", help="backend to check (`alsel solvers`)")
    verify.add_argument("--formulation", default="symmetric", help="formulation to check")
    verify.add_argument("--checks", default=None, help="comma-separated subset of the checks (default: all)")
    verify.add_argument("--examples", type=count(1), default=50, help="instances per check")
    verify.add_argument("--seed", type=count(0), default=0, help="seed of the instance generator")
    verify.add_argument("--out", default="alsel-counterexamples", help="folder for counterexamples")
    verify.set_defaults(run=_cmd_verify)


def _names(text: str, flag: str) -> list[str]:
    names = [name.strip() for name in text.split(",") if name.strip()]
    if not names:
        raise ValueError(f"{flag} is empty; give comma-separated names.")
    return names


def _cmd_bench(args: argparse.Namespace) -> int:
    from . import bench
    from .cli import _load_matrix, check_output_path
    from .problem import SelectionProblem

    problem = None
    if (args.G is None) != (args.R is None):
        raise ValueError("--G and --R go together: give both files or neither.")
    out = check_output_path(args.out, "--out", folder=True)
    csv_path = out / "bench.csv"
    if csv_path.is_dir():
        raise ValueError(f"--out: {str(csv_path)!r} is a folder; move it, or choose another --out.")
    bench.check_csv(csv_path)  # appendable (same columns) before any work
    if args.G is not None:
        G, R = _load_matrix(args.G, "--G"), _load_matrix(args.R, "--R")
        B = args.budget if args.budget is not None else max(1, G.shape[-1] // 6)
        problem = SelectionProblem(G, R, B, args.cmax, args.lam)
    sizes = bench.check_sizes(args.sizes.split(",")) if problem is None else []
    names = bench.default_solvers() if args.solvers == "auto" else _names(args.solvers, "--solvers")
    runs = bench.sweep(
        sizes, names, _names(args.formulations, "--formulations"),
        classes=args.classes, repeat=args.repeat, time_limit=args.time_limit, seed=args.seed,
        problem=problem, csv_path=csv_path, progress=args.progress, working_set=not args.whole_lp,
    )
    if runs:
        print(bench.table(runs))
    print(f"CSV: {csv_path} ({len(runs)} runs appended, run id {runs.run_id})")
    if runs.interrupted:
        print(f"alsel bench: interrupted: {len(runs)} of {runs.planned} runs kept", file=sys.stderr)
        return 130
    for (solver, formulation), slope in bench.growth_exponents(runs).items():
        print(f"{solver} / {formulation}: solve time ~ N^{slope:.2f}")
    try:
        paths = bench.plot(runs, out)
    except ImportError as exc:
        print(f"no plots: {exc}", file=sys.stderr)
    else:
        print("plots: " + ", ".join(map(str, paths)))
    return 0


def _cmd_verify(args: argparse.Namespace) -> int:
    from . import verify
    from .cli import check_output_path

    check_output_path(args.out, "--out", folder=True)
    checks = verify.CHECKS if args.checks is None else _names(args.checks, "--checks")
    report = verify.verify(args.solver, args.formulation, checks, examples=args.examples,
                           seed=args.seed, out_dir=args.out)
    print(report.summary())
    if report.failed:
        return 1
    if not report.checked:
        print(f"alsel verify: nothing was checked: every check was skipped for solver {args.solver!r} "
              f"and formulation {args.formulation!r} (reasons above); choose another --formulation, "
              "--solver or --checks.", file=sys.stderr)
        return 2
    return 0
