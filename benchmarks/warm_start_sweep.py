"""How much a warm start buys alsel's PDLP, as a function of how far the old answer is from the
new LP's optimum (docs/pdlp.md, "Warm start").

    python benchmarks/warm_start_sweep.py [--sizes 300:3,1200:2] [--out docs/pdlp]
    python benchmarks/warm_start_sweep.py --report    # table and figure again from the CSV

(--sizes: N:seeds pairs.)

On the paper-scale synthetic pool (benchmarks/models.py), the LP is solved cold at tol 1e-4,
G is changed (|noise| of eps * std(G) added, or G scaled by 1 + noise of relative size eps),
and the changed LP is solved cold and warm-started from the first answer. Each row records the
old answer's certificate on the changed LP (start KKT), iterations and seconds of both solves,
and "tail bound": cold iterations / the iterations the cold solve still needed after its KKT
error first fell below the start KKT, which is what a warm start would give if it were no better
placed than the cold iterate at the same error. The same again on the working set of images
(``working_set=True``, alsel.solvers.working_set; the old answer is then the working set's own),
columns ``ws_*``. Writes warm_start.csv and warm_start.png.
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

import numpy as np

import alsel
from alsel import solvers

sys.path.insert(0, str(Path(__file__).parent))
from models import paper_scale_problem  # noqa: E402

TOL = 1e-4
CHANGES = [("additive", eps) for eps in (1e-4, 3e-4, 1e-3, 3e-3, 1e-2)] + [("relative", eps) for eps in (0.05, 0.5)]
FIELDS = ["n_images", "change", "eps", "seed", "start_kkt", "cold_iterations", "cold_seconds",
          "warm_iterations", "warm_seconds", "speedup", "tail_bound", "warm_kkt",
          "ws_cold_iterations", "ws_cold_seconds", "ws_warm_iterations", "ws_warm_seconds", "ws_speedup",
          "ws_warm_kkt"]


def changed_G(G: np.ndarray, change: str, eps: float, rng: np.random.Generator) -> np.ndarray:
    if change == "additive":
        return G + np.abs(rng.normal(scale=eps * G.std(), size=G.shape))
    return np.clip(G * (1 + rng.normal(scale=eps, size=G.shape)), 0.0, None)


def tail_bound(history: list, start_kkt: float, iterations: int) -> float:
    """cold iterations / iterations left after the cold solve's error first fell below start_kkt."""
    reached = next((it for it, error, *_ in history if error <= start_kkt), iterations)
    return iterations / max(iterations - reached, 1)


def sweep(sizes: list[tuple[int, int]], out: Path) -> list[dict]:
    out.mkdir(parents=True, exist_ok=True)
    rows: list[dict] = []
    with open(out / "warm_start.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, FIELDS)
        writer.writeheader()
        for n, seeds in sizes:
            problem = paper_scale_problem(n)
            first = alsel.build_lp(problem, "symmetric")
            previous = solvers.solve(first, "pdlp", {"tol": TOL})
            previous_ws = solvers.solve(first, "pdlp", {"tol": TOL, "working_set": True})
            for change, eps in CHANGES:
                for seed in range(1, seeds + 1):
                    G = changed_G(problem.G, change, eps, np.random.default_rng(seed))
                    lp = alsel.build_lp(alsel.SelectionProblem(G, problem.R, problem.B, problem.C_max, problem.lam),
                                        "symmetric")
                    start_kkt = alsel.certify(lp, previous.x, previous.row_dual).kkt_error
                    cold = solvers.solve(lp, "pdlp", {"tol": TOL})
                    warm = solvers.solve(lp, "pdlp", {"tol": TOL, "warm_start": previous})
                    ws_cold = solvers.solve(lp, "pdlp", {"tol": TOL, "working_set": True})
                    ws_warm = solvers.solve(lp, "pdlp", {"tol": TOL, "working_set": True, "warm_start": previous_ws})
                    row = dict(
                        n_images=n, change=change, eps=eps, seed=seed, start_kkt=start_kkt,
                        cold_iterations=cold.iterations, cold_seconds=round(cold.seconds, 3),
                        warm_iterations=warm.iterations, warm_seconds=round(warm.seconds, 3),
                        speedup=round(cold.seconds / max(warm.seconds, 1e-9), 2),
                        tail_bound=round(tail_bound(cold.info["history"], start_kkt, cold.iterations), 2),
                        warm_kkt=alsel.certify(lp, warm.x, warm.row_dual).kkt_error,
                        ws_cold_iterations=ws_cold.iterations, ws_cold_seconds=round(ws_cold.seconds, 4),
                        ws_warm_iterations=ws_warm.iterations, ws_warm_seconds=round(ws_warm.seconds, 4),
                        ws_speedup=round(ws_cold.seconds / max(ws_warm.seconds, 1e-9), 2),
                        ws_warm_kkt=alsel.certify(lp, ws_warm.x, ws_warm.row_dual).kkt_error,
                    )
                    writer.writerow(row)
                    handle.flush()
                    rows.append(row)
                    print(" ".join(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}" for k, v in row.items()),
                          flush=True)
    plot(rows, out / "warm_start.png")
    print(table(rows))
    return rows


def table(rows: list[dict]) -> str:
    """Markdown: one line per size and change, seeds pooled (iterations summed)."""
    lines = ["| N | change of G | eps | old answer's KKT | cold iterations | warm iterations | "
             "iteration ratio | speed-up per seed (s / s) | working set: cold s | warm s | warm speed-up "
             "| whole cold s / working-set warm s |",
             "|---:|---|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|"]
    keys = sorted({(int(r["n_images"]), r["change"], float(r["eps"])) for r in rows})
    for n, change, eps in keys:
        group = [r for r in rows if (int(r["n_images"]), r["change"], float(r["eps"])) == (n, change, eps)]
        cold = sum(int(r["cold_iterations"]) for r in group)
        warm = sum(int(r["warm_iterations"]) for r in group)
        kkt = np.median([float(r["start_kkt"]) for r in group])
        ratio = f"{cold / warm:.1f}×" if warm else "– (0 iterations)"
        speedups = ", ".join(f"{float(r['speedup']):.1f}×" for r in group)
        ws = ""
        if group[0].get("ws_cold_seconds") not in (None, ""):
            ws_cold = sum(float(r["ws_cold_seconds"]) for r in group)
            ws_warm = sum(float(r["ws_warm_seconds"]) for r in group)
            whole_cold = sum(float(r["cold_seconds"]) for r in group)
            ws = (f" {ws_cold:.3f} | {ws_warm:.3f} | {ws_cold / max(ws_warm, 1e-9):.1f}× | "
                  f"{whole_cold / max(ws_warm, 1e-9):.0f}× |")
        lines.append(f"| {n} | {change} | {eps:g}{'·std(G)' if change == 'additive' else ''} | {kkt:.1e} | "
                     f"{cold:,} | {warm:,} | {ratio} | {speedups} |{ws or ' – | – | – | – |'}")
    return "\n".join(lines)


def plot(rows: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for n, marker in zip(sorted({r["n_images"] for r in rows}), "os^D"):
        for change, color in (("additive", "tab:blue"), ("relative", "tab:orange")):
            pts = [r for r in rows if r["n_images"] == n and r["change"] == change]
            if pts:
                ax.scatter([max(r["start_kkt"], 1e-6) for r in pts], [r["speedup"] for r in pts], marker=marker,
                           color=color, label=f"N = {n}, {change} change")
                ws = [r for r in pts if r.get("ws_speedup") not in (None, "")]
                if ws:
                    ax.scatter([max(r["start_kkt"], 1e-6) for r in ws], [float(r["ws_speedup"]) for r in ws],
                               marker=marker, facecolors="none", edgecolors=color,
                               label=f"N = {n}, {change}, working set (warm vs its own cold)")
    ax.axhline(3.0, color="grey", linestyle="--", linewidth=1, label="goal: 3×")
    ax.axvline(TOL, color="grey", linestyle=":", linewidth=1, label="tol 1e-4")
    ax.axvline(TOL ** 0.5, color="tab:green", linestyle=":", linewidth=1,
               label="√tol: nearer continues the old solve, farther starts young")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("old answer's KKT error on the changed LP")
    ax.set_ylabel("cold seconds / warm seconds")
    ax.set_title("alsel PDLP: warm-start speed-up after a change in G")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="300:3,1200:2", help="N:seeds pairs, comma-separated")
    parser.add_argument("--out", type=Path, default=Path("docs/pdlp"))
    parser.add_argument("--report", action="store_true",
                        help="no solves: print the Markdown table of OUT/warm_start.csv and redraw its figure")
    args = parser.parse_args()
    if args.report:
        with open(args.out / "warm_start.csv") as handle:
            rows = list(csv.DictReader(handle))
        for row in rows:
            row.update(n_images=int(row["n_images"]), start_kkt=float(row["start_kkt"]), speedup=float(row["speedup"]))
        plot(rows, args.out / "warm_start.png")
        print(table(rows))
        return
    sizes = [tuple(int(part) for part in item.split(":")) if ":" in item else (int(item), 3)
             for item in args.sizes.split(",")]
    sweep(sizes, args.out)


if __name__ == "__main__":
    main()
