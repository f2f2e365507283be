"""`alsel bench` and `alsel verify`: the command-line faces of alsel.bench and alsel.verify."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def add_commands(commands) -> None:
    """Register the bench and verify subcommands on an argparse subparsers object."""
    bench = commands.add_parser(
        "bench", help="backends x formulations over a size sweep: table, CSV and plots")
    bench.add_argument("--sizes", default="300,1200", help="numbers of images N, e.g. 300,1200,5000")
    bench.add_argument("--classes", type=int, default=19, help="C of the synthetic instances")
    bench.add_argument("--solvers", default="auto",
                       help="comma-separated backends (`alsel solvers`); auto: every usable LP "
                            "backend here, GPU ones included, but cvxpy and gurobi (name those)")
    bench.add_argument("--formulations", default="symmetric", help="comma-separated formulations")
    bench.add_argument("--repeat", type=int, default=1, help="runs of each combination")
    bench.add_argument("--time-limit", type=float, default=600.0, help="seconds per solve")
    bench.add_argument("--seed", type=int, default=0, help="seed of the synthetic instances")
    bench.add_argument("--G", default=None, help="your own G (C, N) instead of the synthetic sweep")
    bench.add_argument("--R", default=None, help="your own R (N, N), with --G")
    bench.add_argument("--budget", type=int, default=None, help="B for --G/--R (default N/6)")
    bench.add_argument("--cmax", type=int, default=5, help="C_max for --G/--R")
    bench.add_argument("--lam", type=float, default=1.0, help="lam for --G/--R")
    bench.add_argument("--out", default="alsel-bench", help="folder for bench.csv and the plots")
    bench.add_argument("--working-set", action="store_true",
                       help="solve each relaxation on the working set of images, as select() does by "
                            "default (docs/solvers.md); without it: the whole LP")
    bench.add_argument("--no-progress", dest="progress", action="store_false")
    bench.set_defaults(run=_cmd_bench)

    verify = commands.add_parser(
        "verify", help="property-based checks of a backend and a formulation (exit 1 on a failure)")
    verify.add_argument("--solver", default="highs", help="backend to check (`alsel solvers`)")
    verify.add_argument("--formulation", default="symmetric", help="formulation to check")
    verify.add_argument("--checks", default=None, help="comma-separated subset of the checks")
    verify.add_argument("--examples", type=int, default=50, help="instances per check")
    verify.add_argument("--seed", type=int, default=0, help="seed of the instance generator")
    verify.add_argument("--out", default="alsel-counterexamples", help="folder for counterexamples")
    verify.set_defaults(run=_cmd_verify)


def _names(text: str, flag: str) -> list[str]:
    names = [name.strip() for name in text.split(",") if name.strip()]
    if not names:
        raise ValueError(f"{flag} is empty; give comma-separated names.")
    return names


def _cmd_bench(args: argparse.Namespace) -> int:
    from . import bench
    from .cli import _load_matrix
    from .problem import SelectionProblem

    problem = None
    if (args.G is None) != (args.R is None):
        raise ValueError("--G and --R go together: give both files or neither.")
    if args.G is not None:
        G, R = _load_matrix(args.G, "--G"), _load_matrix(args.R, "--R")
        B = args.budget if args.budget is not None else max(1, G.shape[-1] // 6)
        problem = SelectionProblem(G, R, B, args.cmax, args.lam)
    sizes = bench.check_sizes(args.sizes.split(",")) if problem is None else []
    out = Path(args.out)
    names = bench.default_solvers() if args.solvers == "auto" else _names(args.solvers, "--solvers")
    runs = bench.sweep(
        sizes, names, _names(args.formulations, "--formulations"),
        classes=args.classes, repeat=args.repeat, time_limit=args.time_limit, seed=args.seed,
        problem=problem, csv_path=out / "bench.csv", progress=args.progress, working_set=args.working_set,
    )
    print(bench.table(runs))
    for (solver, formulation), slope in bench.growth_exponents(runs).items():
        print(f"{solver} / {formulation}: solve time ~ N^{slope:.2f}")
    print(f"CSV: {out / 'bench.csv'} ({len(runs)} runs)")
    try:
        paths = bench.plot(runs, out)
    except ImportError as exc:
        print(f"no plots: {exc}", file=sys.stderr)
    else:
        print("plots: " + ", ".join(map(str, paths)))
    return 0


def _cmd_verify(args: argparse.Namespace) -> int:
    from . import verify

    checks = verify.CHECKS if args.checks is None else _names(args.checks, "--checks")
    report = verify.verify(args.solver, args.formulation, checks, examples=args.examples,
                           seed=args.seed, out_dir=args.out)
    print(report.summary())
    return 0 if report.ok else 1
