"""kNN R on the CPU: exact blocked search against FAISS's HNSW (alsel.scores.knn_redundancy).

    python benchmarks/knn_cpu.py search N METHOD DIR    # one method, in a fresh process
    python benchmarks/knn_cpu.py compare N DIR [--select]

``search`` builds the kNN R (k = 10) of a generated pool (d = 64: 1,000 cluster centres plus
noise of the same scale, so that neighbours are not trivially the cluster mates; p from
alsel.synthetic.random_pool) with method "exact" or "hnsw", prints JSON (seconds for the neighbour search and
for the matrix, peak resident memory of the process) and saves the neighbour lists in DIR.
``compare`` reads both methods' lists (or, where "exact" was not run, searches 2,000 sampled
rows exactly) and prints recall@k of HNSW, the error of its "minmax" lower end and, with
``--select``, the Eq. 4 objective of alsel.select's default (B = 200, C_max = 5, lam = 1) on
each R, and of the HNSW selection evaluated on the exact R.
"""

from __future__ import annotations

import argparse
import json
import resource
import time
from pathlib import Path

import numpy as np

import alsel
from alsel import scores
from alsel.synthetic import random_pool

K, D, CLUSTERS, CLASSES = 10, 64, 1000, 19


def pool(n: int) -> tuple[np.ndarray, np.ndarray]:
    p, _ = random_pool(n, CLASSES, n_features=1, n_clusters=8, seed=0)
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(CLUSTERS, D))
    features = centres[rng.integers(CLUSTERS, size=n)] + rng.normal(size=(n, D))
    return p, features


def unit_rows(features: np.ndarray) -> np.ndarray:
    return features / np.linalg.norm(features, axis=1, keepdims=True)


def search(n: int, method: str, out: Path) -> dict:
    _, features = pool(n)
    started = time.perf_counter()
    unit = unit_rows(features)
    if method == "hnsw":
        neighbours, low = scores._hnsw_neighbours(unit, K, need_low=True)
    else:
        neighbours, low = scores._exact_neighbours(unit, K, scores.CHUNK_ENTRIES)
    searched = time.perf_counter()
    R = scores.knn_matrix(unit, neighbours, low, "minmax")
    built = time.perf_counter()
    np.savez(out / f"{method}-{n}.npz", neighbours=neighbours, low=low)
    return {
        "n": n,
        "method": method,
        "search_s": round(searched - started, 2),
        "matrix_s": round(built - searched, 2),
        "nnz": int(R.nnz),
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }


def compare(n: int, out: Path, run_select: bool) -> dict:
    p, features = pool(n)
    unit = unit_rows(features)
    approx = np.load(out / f"hnsw-{n}.npz")
    exact_file = out / f"exact-{n}.npz"
    result: dict = {"n": n}
    if exact_file.exists():
        exact = np.load(exact_file)
        rows = np.arange(n)
        truth, true_low = exact["neighbours"], float(exact["low"])
    else:  # exact neighbours of a sample of rows (and no exact low)
        rows = np.random.default_rng(1).choice(n, 2000, replace=False)
        block = unit[rows] @ unit.T
        block[np.arange(len(rows)), rows] = -np.inf
        truth, true_low = np.argpartition(block, n - K, axis=1)[:, n - K :], None
        result["recall_rows_sampled"] = len(rows)
    found = approx["neighbours"][rows]
    hits = (found[:, :, None] == truth[:, None, :]).any(axis=2).sum()
    result["recall_at_k"] = round(float(hits) / truth.size, 4)
    result["hnsw_low"] = float(approx["low"])
    if true_low is not None:
        result["exact_low"] = true_low
    if run_select and true_low is not None:
        G = scores.confidence(p)
        R_exact = scores.knn_matrix(unit, exact["neighbours"], true_low, "minmax")
        R_hnsw = scores.knn_matrix(unit, approx["neighbours"], float(approx["low"]), "minmax")
        for name, R in (("exact", R_exact), ("hnsw", R_hnsw)):
            started = time.perf_counter()
            selection = alsel.select(G, R, B=200, C_max=5, lam=1.0)
            result[f"select_{name}_s"] = round(time.perf_counter() - started, 1)
            result[f"objective_{name}"] = selection.objective
            result[f"gap_{name}"] = selection.gap
            if name == "hnsw":
                problem = alsel.SelectionProblem(G, R_exact, 200, 5, 1.0)
                result["objective_hnsw_selection_on_exact_R"] = problem.objective(selection.M)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", choices=("search", "compare"))
    parser.add_argument("n", type=int)
    parser.add_argument("rest", nargs="+")
    parser.add_argument("--select", action="store_true")
    args = parser.parse_args()
    if args.what == "search":
        method, out = args.rest
        print(json.dumps(search(args.n, method, Path(out))), flush=True)
    else:
        print(json.dumps(compare(args.n, Path(args.rest[0]), args.select)), flush=True)


if __name__ == "__main__":
    main()
