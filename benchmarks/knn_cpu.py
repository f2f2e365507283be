"""kNN R on the CPU: exact blocked search against FAISS's IVF and HNSW (alsel.scores.knn_redundancy).

    python benchmarks/knn_cpu.py search N METHOD DIR [--pool P] [--threads T]  # fresh process
    python benchmarks/knn_cpu.py compare N METHOD DIR [--pool P] [--select]

``search`` builds the kNN R (k = 10) of a generated pool with method "exact", "ivf" or "hnsw"
(FAISS pinned to --threads OpenMP threads, default 2), prints JSON (seconds for the neighbour
search and for the matrix, peak resident memory of the process) and saves the neighbour lists
in DIR. Pools: "c64" (d = 64: 1,000 cluster centres plus noise of the same scale, so that
neighbours are not trivially the cluster mates; p from alsel.synthetic.random_pool) and
"sweep" (alsel.synthetic.random_pool itself, d = 16, 8 clusters: benchmarks/scale_sweep.py's).
``compare`` reads METHOD's lists and exact's (or, where "exact" was not run, searches 2,000
sampled rows exactly) and prints recall@k of METHOD, its "minmax" lower end beside the exact
one and, with ``--select``, the Eq. 4 objective of alsel.select's default (B = 200,
C_max = 5, lam = 1) on each R, and of METHOD's selection evaluated on the exact R.
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


def pool(n: int, kind: str = "c64") -> tuple[np.ndarray, np.ndarray]:
    if kind == "sweep":
        return random_pool(n, CLASSES, seed=0)
    p, _ = random_pool(n, CLASSES, n_features=1, n_clusters=8, seed=0)
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(CLUSTERS, D))
    features = centres[rng.integers(CLUSTERS, size=n)] + rng.normal(size=(n, D))
    return p, features


def unit_rows(features: np.ndarray) -> np.ndarray:
    return features / np.linalg.norm(features, axis=1, keepdims=True)


def search(n: int, method: str, out: Path, kind: str) -> dict:
    _, features = pool(n, kind)
    started = time.perf_counter()
    unit = unit_rows(features)
    if method == "hnsw":
        neighbours, low = scores._hnsw_neighbours(unit, K, need_low=True)
    elif method == "ivf":
        neighbours, low = scores._ivf_neighbours(unit, K, need_low=True)
    else:
        neighbours, low = scores._exact_neighbours(unit, K, scores.CHUNK_ENTRIES)
    searched = time.perf_counter()
    R = scores.knn_matrix(unit, neighbours, low, "minmax")
    built = time.perf_counter()
    np.savez(out / f"{kind}-{method}-{n}.npz", neighbours=neighbours, low=low)
    return {
        "n": n,
        "pool": kind,
        "method": method,
        "search_s": round(searched - started, 2),
        "matrix_s": round(built - searched, 2),
        "nnz": int(R.nnz),
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }


def compare(n: int, method: str, out: Path, kind: str, run_select: bool) -> dict:
    p, features = pool(n, kind)
    unit = unit_rows(features)
    approx = np.load(out / f"{kind}-{method}-{n}.npz")
    exact_file = out / f"{kind}-exact-{n}.npz"
    result: dict = {"n": n, "pool": kind, "method": method}
    if exact_file.exists():
        exact = np.load(exact_file)
        rows = np.arange(n)
        truth, true_low = exact["neighbours"], float(exact["low"])
    else:  # exact neighbours of a sample of rows (and no exact low)
        rows = np.random.default_rng(1).choice(n, 2000, replace=False)
        truth = []
        for start in range(0, len(rows), 100):  # 100 x N cosines at a time
            block = unit[rows[start : start + 100]] @ unit.T
            block[np.arange(block.shape[0]), rows[start : start + 100]] = -np.inf
            truth.append(np.argpartition(block, n - K, axis=1)[:, n - K :].copy())
        truth, true_low = np.concatenate(truth), None
        result["recall_rows_sampled"] = len(rows)
    found = approx["neighbours"][rows]
    hits = (found[:, :, None] == truth[:, None, :]).any(axis=2).sum()
    result["recall_at_k"] = round(float(hits) / truth.size, 4)
    result[f"{method}_low"] = float(approx["low"])
    if true_low is not None:
        result["exact_low"] = true_low
    if run_select and true_low is not None:
        G = scores.confidence(p)
        R_exact = scores.knn_matrix(unit, exact["neighbours"], true_low, "minmax")
        R_approx = scores.knn_matrix(unit, approx["neighbours"], float(approx["low"]), "minmax")
        for name, R in (("exact", R_exact), (method, R_approx)):
            started = time.perf_counter()
            selection = alsel.select(G, R, B=200, C_max=5, lam=1.0)
            result[f"select_{name}_s"] = round(time.perf_counter() - started, 1)
            result[f"objective_{name}"] = selection.objective
            result[f"gap_{name}"] = selection.gap
            if name == method:
                problem = alsel.SelectionProblem(G, R_exact, 200, 5, 1.0)
                result[f"objective_{method}_selection_on_exact_R"] = problem.objective(selection.M)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", choices=("search", "compare"))
    parser.add_argument("n", type=int)
    parser.add_argument("rest", nargs="+")
    parser.add_argument("--select", action="store_true")
    parser.add_argument("--pool", choices=("c64", "sweep"), default="c64")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    import faiss

    faiss.omp_set_num_threads(args.threads)
    method, out = args.rest
    if args.what == "search":
        print(json.dumps(search(args.n, method, Path(out), args.pool)), flush=True)
    else:
        print(json.dumps(compare(args.n, method, Path(out), args.pool, args.select)), flush=True)


if __name__ == "__main__":
    main()
