"""The exact MILPs against each other: "exact" (McCormick, exact diagonal, z continuous), the same
with z binary, and "exact-literal" (Eq. 8 with every variable binary). HiGHS MIP, seeded
synthetic instances (C = 8, B = N / 2, C_max = 5, lam = 1, min-max mapped G and R).

    .venv/bin/python benchmarks/exact_milp.py [N ...]        # default: 20 30 40
    .venv/bin/python benchmarks/exact_milp.py --reach 50 60  # seed 0, exact and exact-literal

Prints one Markdown row per (N, seed, model): seconds, branch-and-bound nodes, objective, status.
Figures in docs/formulations.md. Not part of `make test`.
"""

from __future__ import annotations

import dataclasses
import platform
import sys
import time

import highspy
import numpy as np

import alsel
from alsel import solvers
from alsel.synthetic import random_problem

TIME_LIMIT = 300.0
SEEDS = (0, 1, 2)


def models(problem: alsel.SelectionProblem) -> dict[str, alsel.LinearProgram]:
    exact = alsel.build_lp(problem, "exact")
    z_binary = dataclasses.replace(exact, integrality=np.ones(exact.num_cols, dtype=bool))
    return {
        "exact": exact,
        "exact, z binary": z_binary,
        "exact-literal": alsel.build_lp(problem, "exact-literal"),
    }


def main(sizes: list[int], seeds: tuple[int, ...] = SEEDS, names: tuple[str, ...] | None = None) -> None:
    print(f"{platform.processor() or platform.machine()}, Python {platform.python_version()}, "
          f"HiGHS {highspy.Highs().version()}; time limit {TIME_LIMIT:g} s, mip_rel_gap 0\n")
    print("| N | seed | model | integer columns | seconds | nodes | objective | status |")
    print("|---:|---:|---|---:|---:|---:|---:|---|")
    for n in sizes:
        for seed in seeds:
            problem = random_problem(n, 8, B=n // 2, C_max=5, lam=1.0, seed=seed)
            for name, lp in models(problem).items():
                if names is not None and name not in names:
                    continue
                started = time.perf_counter()
                solution = solvers.solve(lp, "highs", {"time_limit": TIME_LIMIT, "mip_rel_gap": 0.0})
                seconds = time.perf_counter() - started
                objective = (problem.objective(lp.index.M_of(solution.x) > 0.5)
                             if solution.x is not None else float("nan"))
                print(f"| {n} | {seed} | {name} | {int(lp.integrality.sum())} | {seconds:.2f} | "
                      f"{solution.iterations} | {objective:.6f} | {solution.status} |", flush=True)


if __name__ == "__main__":
    if sys.argv[1:2] == ["--reach"]:
        main([int(arg) for arg in sys.argv[2:]], seeds=(0,), names=("exact", "exact-literal"))
    else:
        main([int(arg) for arg in sys.argv[1:]] or [20, 30, 40])
