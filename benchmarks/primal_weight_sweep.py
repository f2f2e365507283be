"""Iterations of alsel's PDLP against the primal weight it starts from (docs/pdlp.md, "Primal
weight at the start").

    python benchmarks/primal_weight_sweep.py [--sizes 300,1200] [--out docs/pdlp]
    python benchmarks/primal_weight_sweep.py --report    # table and figure again from the CSV

On the paper-scale synthetic pool (benchmarks/models.py) and on two copies with G changed by
|noise| of 1e-3 * std(G), each LP is solved cold at tol 1e-4 from each primal weight of a
log-spaced grid (1 is PDLP's default after bound/objective rescaling), and once from alsel's
estimate (the dual line search of alsel/solvers/pdlp/weight.py, the default; rows with
start = "estimate"). Beside them the CSV records, per LP, the weight the solve from 1 ended
with and ||y*|| / ||x*|| of its answer in the scaled problem: the ratio the primal-weight rule
steers toward from a cold start (Applegate et al. 2021, section 3.3). Writes primal_weight.csv
and primal_weight.png.
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

import numpy as np

import alsel
from alsel import solvers
from alsel.solvers.pdlp.scaling import scale

sys.path.insert(0, str(Path(__file__).parent))
from models import paper_scale_problem  # noqa: E402
from warm_start_sweep import changed_G  # noqa: E402

TOL = 1e-4
WEIGHTS = (1.0, 1e-2, 1e-4, 1e-5, 1e-6, 1e-7, 1e-8)  # and alsel's estimate
FIELDS = ["n_images", "lp", "start", "primal_weight", "iterations", "seconds", "status",
          "final_weight", "solution_ratio"]


def lps(n: int) -> list[tuple[str, alsel.LinearProgram]]:
    problem = paper_scale_problem(n)
    out = [("pool", alsel.build_lp(problem, "symmetric"))]
    for seed in (1, 2):
        G = changed_G(problem.G, "additive", 1e-3, np.random.default_rng(seed))
        changed = alsel.SelectionProblem(G, problem.R, problem.B, problem.C_max, problem.lam)
        out.append((f"G + 1e-3 std, seed {seed}", alsel.build_lp(changed, "symmetric")))
    return out


def solution_ratio(lp: alsel.LinearProgram, solution) -> float:
    """||y|| / ||x|| of an answer in PDLP's scaled space."""
    s = scale(lp).scaling
    x = solution.x * s.bound / s.col
    y = solution.row_dual * s.objective / s.row
    return float(np.linalg.norm(y) / np.linalg.norm(x))


def sweep(sizes: list[int], out: Path) -> list[dict]:
    out.mkdir(parents=True, exist_ok=True)
    rows: list[dict] = []
    with open(out / "primal_weight.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, FIELDS)
        writer.writeheader()
        for n in sizes:
            for name, lp in lps(n):
                ratio = final = None
                for weight in (*WEIGHTS, None):
                    options = {"tol": TOL} if weight is None else {"tol": TOL, "primal_weight": weight}
                    solution = solvers.solve(lp, "pdlp", options)
                    if weight == 1.0:
                        ratio, final = solution_ratio(lp, solution), solution.info["primal_weight"]
                    row = dict(n_images=n, lp=name, start=solution.info["initial_primal_weight_from"],
                               primal_weight=solution.info["initial_primal_weight"],
                               iterations=solution.iterations, seconds=round(solution.seconds, 3),
                               status=solution.status, final_weight=final, solution_ratio=ratio)
                    writer.writerow(row)
                    handle.flush()
                    rows.append(row)
                    print(" ".join(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}"
                                   for k, v in row.items()), flush=True)
    plot(rows, out / "primal_weight.png")
    print(table(rows))
    return rows


def table(rows: list[dict]) -> str:
    """Markdown: iterations per LP (columns) and starting weight (rows), for each N."""
    lines = []
    for n in sorted({int(r["n_images"]) for r in rows}):
        group = [r for r in rows if int(r["n_images"]) == n]
        names = list(dict.fromkeys(r["lp"] for r in group))
        lines += [f"| N = {n}: starting ω | " + " | ".join(names) + " | sum |",
                  "|---:|" + "---:|" * (len(names) + 1)]
        grid = [r for r in group if r["start"] == "given"]
        for weight in sorted({float(r["primal_weight"]) for r in grid}, reverse=True):
            its = [int(next(r["iterations"] for r in grid
                            if r["lp"] == name and float(r["primal_weight"]) == weight)) for name in names]
            label = f"{weight:g}" + (" (PDLP's default)" if weight == 1.0 else "")
            lines.append(f"| {label} | " + " | ".join(f"{i:,}" for i in its) + f" | {sum(its):,} |")
        estimated = {r["lp"]: r for r in group if r["start"] != "given"}
        if estimated:
            cells = [f"{int(estimated[name]['iterations']):,} (ω = {float(estimated[name]['primal_weight']):.1e})"
                     for name in names]
            total = sum(int(estimated[name]["iterations"]) for name in names)
            lines.append("| **alsel's estimate** (default) | " + " | ".join(cells) + f" | **{total:,}** |")
        targets = {r["lp"]: float(r["solution_ratio"]) for r in group if r["start"] == "given"}
        lines.append("| ‖y*‖/‖x*‖ (scaled) | " + " | ".join(f"{targets[name]:.1e}" for name in names) + " | |")
        lines.append("")
    return "\n".join(lines)


def plot(rows: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sizes = sorted({int(r["n_images"]) for r in rows})
    fig, axes = plt.subplots(1, len(sizes), figsize=(5.2 * len(sizes), 4.0), squeeze=False)
    for ax, n in zip(axes[0], sizes):
        group = [r for r in rows if int(r["n_images"]) == n]
        for name, marker in zip(dict.fromkeys(r["lp"] for r in group), "os^"):
            points = sorted((float(r["primal_weight"]), int(r["iterations"]))
                            for r in group if r["lp"] == name and r["start"] == "given")
            ax.plot(*zip(*points), marker=marker, label=name)
            color = ax.lines[-1].get_color()
            target = next(float(r["solution_ratio"]) for r in group if r["lp"] == name)
            ax.axvline(target, color=color, linestyle=":", linewidth=1)
            for r in group:
                if r["lp"] == name and r["start"] != "given":
                    ax.scatter([float(r["primal_weight"])], [int(r["iterations"])], marker="*", s=180,
                               color=color, edgecolor="black", zorder=3)
        ax.scatter([], [], marker="*", s=120, color="white", edgecolor="black", label="from alsel's estimate")
        ax.set_xscale("log")
        ax.set_xlabel("starting primal weight ω (dotted: ‖y*‖/‖x*‖ of the answer)")
        ax.set_ylabel("iterations to tol 1e-4")
        ax.set_title(f"N = {n}, C = 19 (1 is PDLP's default)")
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="300,1200", help="pool sizes N, comma-separated")
    parser.add_argument("--out", type=Path, default=Path("docs/pdlp"))
    parser.add_argument("--report", action="store_true",
                        help="no solves: print the Markdown table of OUT/primal_weight.csv and redraw its figure")
    args = parser.parse_args()
    if args.report:
        with open(args.out / "primal_weight.csv") as handle:
            rows = list(csv.DictReader(handle))
        plot(rows, args.out / "primal_weight.png")
        print(table(rows))
        return
    sweep([int(n) for n in args.sizes.split(",")], args.out)


if __name__ == "__main__":
    main()
