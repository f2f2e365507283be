"""``alsel report RESULTS.csv [...] --out DIR``: the evidence of one experiment, from its parts."""

from __future__ import annotations

import argparse
import sys

from .._argtypes import fraction

__all__ = ["add_command"]


def _cmd_report(args: argparse.Namespace) -> int:
    try:
        import scipy  # noqa: F401
    except ModuleNotFoundError as exc:  # pragma: no cover - scipy is a core dependency
        raise ValueError(f"alsel report needs {exc.name}.") from None
    from .report import write_report

    figures = not args.no_figures
    if figures:
        try:
            import matplotlib  # noqa: F401
        except ModuleNotFoundError:
            raise ValueError("--out: the figures need matplotlib (pip install 'alsel[plot]'), "
                             "or pass --no-figures.") from None
    report = write_report(args.results, args.out, reference=args.reference, level=args.level,
                          alpha=args.alpha, profile=args.profile, figures=figures,
                          methods=args.methods)
    results = report.results
    for label, seed, last in results.incomplete:
        print(f"left out: {label} seed {seed} stops at iteration {last} of {results.final_iteration}",
              file=sys.stderr)
    for path in results.unchecked:
        print(f"not checked for comparability: {path} has no config.json beside it", file=sys.stderr)
    for line in report.verdicts:
        print(line)
    print("wrote " + ", ".join(str(p) for p in report.files))
    return 0


def _labels(text: str) -> list[str]:
    labels = [label.strip() for label in text.split(",") if label.strip()]
    if not labels:
        raise argparse.ArgumentTypeError("give one or more strategy labels, comma-separated (e.g. proposed,rr)")
    return labels


def add_command(commands) -> None:
    """Register ``alsel report`` on the subcommand parsers of :func:`alsel.cli.build_parser`."""
    report = commands.add_parser(
        "report", help="statistics, tables and figures from results.csv files (docs/experiment.md)",
        description="Merge the results.csv of one experiment's parts (other seeds or strategies; the "
                    "config.json beside each must agree on everything else) and write tables.md, "
                    "stats.csv, figure2.png, paired.png (a forest plot of the paired tests) and, with a λ study, "
                    "lambda.png.")
    report.add_argument("results", nargs="+", help="results.csv files of alsel run")
    report.add_argument("-o", "--out", required=True, help="folder for the report")
    report.add_argument("--reference", default="proposed", help="the method compared with every other")
    report.add_argument("--level", type=fraction, default=0.95, help="confidence level of the intervals")
    report.add_argument("--alpha", type=fraction, default=0.05,
                        help="significance level of the Holm-adjusted paired t-tests")
    report.add_argument("--profile", default=None,
                        help="cost profile of the AUC panels of paired.png and lambda.png "
                             "(default: the config's cost_profile)")
    report.add_argument("--methods", type=_labels, default=None, metavar="LABEL,LABEL,...",
                        help="only these strategies (comma-separated labels, the reference among them); "
                             "default: every strategy in the results")
    report.add_argument("--no-figures", action="store_true", help="only tables.md and stats.csv")
    report.set_defaults(run=_cmd_report)
