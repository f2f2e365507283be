"""The default select() against N: time of each stage, peak memory, proven gap.

Each point runs in its own process (peak RSS is per process). The pool is alsel.synthetic's
(C = 19, d = 16, 8 clusters, G and R min-max mapped), B = 200, C_max = 5, lam = 1 (the issue's
setting). Dense R up to --dense-max; kNN R (k = 10) up to --knn-max, built by
alsel.scores.knn_redundancy (method "auto": exact below 20,000 images, FAISS IVF from there;
FAISS pinned to 2 OpenMP threads; exact values on the pairs found; timed apart from select()).

    python benchmarks/scale_sweep.py --out docs/scale            # CSV + log-log plot
    python benchmarks/scale_sweep.py --point knn 100000          # one point, printed as JSON
"""

from __future__ import annotations

import argparse
import csv
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

DENSE = [1000, 2000, 5000, 10000]
KNN = [1000, 10000, 100000, 1000000]
FIELDS = ["kind", "N", "B", "build_R_s", "round_s", "bound_s", "select_s", "objective", "lower_bound",
          "gap", "bound_source", "peak_rss_gb"]


def _knn_R(features: np.ndarray, k: int):
    import faiss

    from alsel import scores

    faiss.omp_set_num_threads(2)
    return scores.knn_redundancy(features, k)


def point(kind: str, n: int, B: int = 200) -> dict:
    import alsel
    from alsel import scores
    from alsel.synthetic import random_pool

    p, features = random_pool(n, 19, seed=0)
    G = scores.confidence(p, mapping="minmax")
    started = time.perf_counter()
    R = scores.redundancy(features) if kind == "dense" else _knn_R(features, 10)
    built = time.perf_counter() - started
    del features, p
    selection = alsel.select(G, R, B, 5, 1.0)
    t = selection.timings
    return {"kind": kind, "N": n, "B": B, "build_R_s": round(built, 3), "round_s": round(t["round"], 3),
            "bound_s": round(t["bound"], 3), "select_s": round(t["total"], 3),
            "objective": selection.objective, "lower_bound": selection.lower_bound, "gap": selection.gap,
            "bound_source": selection.bound_source,
            "peak_rss_gb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6, 3)}


def exponents(rows: list[dict]) -> dict:
    """Least-squares slope of log(seconds) against log(N), per kind and stage."""
    out = {}
    for kind in sorted({r["kind"] for r in rows}):
        mine = [r for r in rows if r["kind"] == kind]
        if len(mine) < 2:
            continue
        n = np.log([r["N"] for r in mine])
        for stage in ("round_s", "bound_s", "select_s"):
            seconds = np.log([max(r[stage], 1e-4) for r in mine])
            out[f"{kind} {stage}"] = round(float(np.polyfit(n, seconds, 1)[0]), 2)
    return out


def plot(rows: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.5, 4.5))
    for kind, marker in (("dense", "o"), ("knn", "s")):
        mine = [r for r in rows if r["kind"] == kind]
        if not mine:
            continue
        n = [r["N"] for r in mine]
        for stage, style in (("round_s", "-"), ("bound_s", "--"), ("select_s", ":")):
            ax.loglog(n, [max(r[stage], 1e-3) for r in mine], style, marker=marker,
                      label=f"{kind} R: {stage[:-2]}")
    ax.set_xlabel("N (images)")
    ax.set_ylabel("seconds")
    ax.set_title("default select(), B = 200: time per stage against N")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--point", nargs=2, metavar=("KIND", "N"), help="run one point, print JSON")
    parser.add_argument("--out", type=Path, default=Path("docs/scale"))
    parser.add_argument("--dense-max", type=int, default=10000)
    parser.add_argument("--knn-max", type=int, default=1000000)
    args = parser.parse_args()
    if args.point:
        print(json.dumps(point(args.point[0], int(args.point[1]))))
        return
    args.out.mkdir(parents=True, exist_ok=True)
    rows = []
    jobs = [("dense", n) for n in DENSE if n <= args.dense_max] + [("knn", n) for n in KNN if n <= args.knn_max]
    for kind, n in jobs:
        done = subprocess.run([sys.executable, __file__, "--point", kind, str(n)], capture_output=True, text=True)
        if done.returncode != 0:
            print(f"{kind} N={n} failed:\n{done.stderr}", file=sys.stderr)
            continue
        rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
        print(rows[-1], flush=True)
        with open(args.out / "scale.csv", "w", newline="") as handle:
            writer = csv.DictWriter(handle, FIELDS)
            writer.writeheader()
            writer.writerows(rows)
    plot(rows, args.out / "scale.png")
    print("exponents (slope of log time on log N):", exponents(rows))


if __name__ == "__main__":
    main()
