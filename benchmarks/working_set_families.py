"""The working set (alsel.solvers.working_set) against the whole LP on several instance families:
time, rounds, and both answers judged on the whole LP by alsel's certificate.

    python benchmarks/working_set_families.py [--size 300] [--backends pdlp,highs] [--out FILE.csv]
    python benchmarks/working_set_families.py --report FILE.csv     # the table again, no solves

Families (C = 19, B = N/6, C_max = 5, lam = 1 unless named): the synthetic pool (seeds 0 and 1),
lam 0.1 and 10, the "paper" and "mccormick" formulations, G mapped "log", G "none" with R
"affine", and uniform random G. Prints a Markdown table (docs/solvers.md, "The working set").
"""

from __future__ import annotations

import argparse
import csv
import time
from pathlib import Path

import numpy as np

import alsel
from alsel import solvers
from alsel.synthetic import random_problem

FIELDS = ["family", "formulation", "backend", "whole_seconds", "whole_kkt", "whole_objective",
          "ws_seconds", "ws_kkt", "ws_objective", "rounds", "images", "fallback"]


def families(n: int) -> dict[str, tuple[alsel.SelectionProblem, str]]:
    b = n // 6
    pool = random_problem(n, 19, b, 5, 1.0, seed=0)
    uniform = np.random.default_rng(0).random((19, n))
    return {
        "pool, seed 0": (pool, "symmetric"),
        "pool, seed 1": (random_problem(n, 19, b, 5, 1.0, seed=1), "symmetric"),
        "lam 0.1": (random_problem(n, 19, b, 5, 0.1, seed=0), "symmetric"),
        "lam 10": (random_problem(n, 19, b, 5, 10.0, seed=0), "symmetric"),
        "paper formulation": (pool, "paper"),
        "mccormick formulation": (pool, "mccormick"),
        "G log": (random_problem(n, 19, b, 5, 1.0, seed=0, g_mapping="log"), "symmetric"),
        "G none, R affine": (random_problem(n, 19, b, 5, 1.0, seed=0, g_mapping="none", r_mapping="affine"),
                             "symmetric"),
        "uniform G": (alsel.SelectionProblem(uniform, pool.R, b, 5, 1.0), "symmetric"),
    }


def timed(lp: alsel.LinearProgram, backend: str, working_set: bool):
    started = time.perf_counter()
    solution = solvers.solve(lp, backend, {"working_set": working_set})
    return solution, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=300)
    parser.add_argument("--backends", default="pdlp,highs")
    parser.add_argument("--out", type=Path, default=None, help="also write the rows to this CSV")
    parser.add_argument("--report", type=Path, default=None, help="print the table of this CSV, no solves")
    args = parser.parse_args()
    if args.report is not None:
        with open(args.report) as handle:
            print(table(list(csv.DictReader(handle)), size=None))
        return
    backends = args.backends.split(",")
    if "pdlp" in backends:  # compile Numba's kernels before timing
        solvers.solve(alsel.build_lp(random_problem(30, 4, 5, 2, 1.0), "symmetric"), "pdlp")
    rows = []
    for family, (problem, formulation) in families(args.size).items():
        lp = alsel.build_lp(problem, formulation)
        for backend in backends:
            whole, whole_seconds = timed(lp, backend, False)
            ws, ws_seconds = timed(lp, backend, True)
            rounds = ws.info["working_set"]["rounds"]
            row = dict(family=family, formulation=formulation, backend=backend,
                       whole_seconds=round(whole_seconds, 3),
                       whole_kkt=alsel.certify(lp, whole.x, whole.row_dual).kkt_error,
                       whole_objective=whole.objective, ws_seconds=round(ws_seconds, 3),
                       ws_kkt=alsel.certify(lp, ws.x, ws.row_dual).kkt_error, ws_objective=ws.objective,
                       rounds=len(rounds), images="→".join(str(r["images"]) for r in rounds),
                       fallback=ws.info["working_set"]["fallback"])
            rows.append(row)
            print(row, flush=True)
    if args.out is not None:
        with open(args.out, "w", newline="") as handle:
            writer = csv.DictWriter(handle, FIELDS)
            writer.writeheader()
            writer.writerows(rows)
    print("\n" + table(rows, args.size))


def table(rows: list[dict], size: int | None) -> str:
    """Markdown, one line per family and backend."""
    lines = [f"| family{f' (N = {size})' if size else ''} | backend | whole LP (s) | KKT | working set (s) | KKT | "
             "images by round | speed-up |", "|---|---|---:|---:|---:|---:|---|---:|"]
    for r in rows:
        images = r["images"] + (" (then the whole LP)" if str(r["fallback"]) == "True" else "")
        speedup = float(r["whole_seconds"]) / max(float(r["ws_seconds"]), 1e-9)
        lines.append(f"| {r['family']} | {r['backend']} | {float(r['whole_seconds']):.2f} | "
                     f"{float(r['whole_kkt']):.1e} | {float(r['ws_seconds']):.2f} | {float(r['ws_kkt']):.1e} | "
                     f"{images} | {speedup:.{1 if speedup < 10 else 0}f}× |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
