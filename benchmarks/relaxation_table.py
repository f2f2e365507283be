"""The evidence behind select()'s default pipeline (docs/relaxation.md).

    python benchmarks/relaxation_table.py table   [--sizes 40,300,1200]
    python benchmarks/relaxation_table.py optimum [--instances 50]
    python benchmarks/relaxation_table.py balance

"table": formulation x rounding at each size, R min-max and affine mapped (G min-max), on the
synthetic pools of alsel.synthetic: Eq. 4 objective, the relaxation's own certified bound, the
best proven bound (relaxation or combinatorial), gap and wall time (the relaxation is solved
once per formulation and every rounding applied to it; a pipeline's time is build + solve +
its rounding). "optimum": the default pipeline against proven optima (HiGHS MIP, mip_rel_gap 0)
on seeded small instances. "balance": how min-max G sets the balance of the two terms at lam = 1.
Prints Markdown.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import alsel
from alsel import solvers
from alsel.bounds import lower_bound as combinatorial_lower_bound
from alsel.rounding import ROUNDINGS
from alsel.synthetic import random_problem

ROUNDING_ORDER = ["topb", "greedy", "randomized", "local", "greedy+local", "randomized+local"]


def budget(n: int) -> int:
    return max(20, n // 6)


def table(sizes: list[int], formulations: list[str]) -> None:
    print("| N | R mapping | formulation | rounding | Eq. 4 objective | relaxation bound | best bound | gap | time (s) |")
    print("|---:|---|---|---|---:|---:|---:|---:|---:|")
    for n in sizes:
        for r_mapping in ("minmax", "affine"):
            problem = random_problem(n, 19, B=budget(n), C_max=5, lam=1.0, seed=0, r_mapping=r_mapping)
            started = time.perf_counter()
            default = alsel.select(problem.G, problem.R, problem.B, problem.C_max, problem.lam)
            seconds = time.perf_counter() - started
            print(f"| {n} | {r_mapping} | none | greedy+local (default) | {default.objective:.6g} | – | "
                  f"{default.lower_bound:.6g} | {default.gap:.2%} | {seconds:.2f} |", flush=True)
            combinatorial, _ = combinatorial_lower_bound(problem)
            for formulation in formulations:
                if formulation == "exact":
                    if n > 40:
                        continue
                    started = time.perf_counter()
                    exact = alsel.select(problem.G, problem.R, problem.B, problem.C_max, problem.lam,
                                         formulation="exact", solver_options={"mip_rel_gap": 0})
                    print(f"| {n} | {r_mapping} | exact | – | {exact.objective:.6g} | {exact.info.get('mip_dual_bound', exact.lower_bound):.6g} | "
                          f"{exact.lower_bound:.6g} | {exact.gap:.2%} | {time.perf_counter() - started:.2f} |", flush=True)
                    continue
                started = time.perf_counter()
                try:
                    lp = alsel.build_lp(problem, formulation)
                except ValueError as exc:  # "qp" refuses an R that is not PSD
                    print(f"| {n} | {r_mapping} | {formulation} | – | refused: {str(exc).split(';')[0]} | | | | |")
                    continue
                solver = "cvxpy" if formulation == "qp" and n > 300 else "highs"
                solution = solvers.solve(lp, solver)
                relaxation_bound = lp.dual_bound(solution.row_dual, x=solution.x)
                lp_seconds = time.perf_counter() - started
                relaxed_M = np.clip(lp.index.M_of(solution.x), 0.0, 1.0)
                best = max(relaxation_bound, combinatorial)
                for rounding in ROUNDING_ORDER:
                    started = time.perf_counter()
                    M = ROUNDINGS[rounding](problem, relaxed_M, 0)
                    seconds = lp_seconds + time.perf_counter() - started
                    objective = problem.objective(M)
                    gap = max(objective - best, 0.0) / abs(objective)
                    label = f"{rounding} (the paper's)" if rounding == "topb" and formulation == "paper" else rounding
                    print(f"| {n} | {r_mapping} | {formulation} | {label} | {objective:.6g} | "
                          f"{relaxation_bound:.6g} | {best:.6g} | {gap:.2%} | {seconds:.2f} |", flush=True)


def optimum(instances: int) -> None:
    rng = np.random.default_rng(2026)
    print("| # | N | C | B | C_max | R mapping | optimum | default | excess | default bound gap | MIP time (s) |")
    print("|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|")
    excesses = []
    for k in range(instances):
        n, c = int(rng.integers(15, 31)), int(rng.integers(5, 20))
        c_max = int(rng.integers(2, 6))
        B = int(rng.integers(c_max, n + 1))
        r_mapping = ("minmax", "affine")[k % 2]
        problem = random_problem(n, c, B=B, C_max=c_max, lam=1.0, seed=int(rng.integers(1 << 30)),
                                 r_mapping=r_mapping)
        default = alsel.select(problem.G, problem.R, B, c_max, 1.0)
        started = time.perf_counter()
        exact = alsel.select(problem.G, problem.R, B, c_max, 1.0, formulation="exact",
                             solver_options={"mip_rel_gap": 0, "time_limit": 300})
        seconds = time.perf_counter() - started
        excess = (default.objective - exact.objective) / abs(exact.objective)
        excesses.append(excess if exact.status == "optimal" else np.nan)
        print(f"| {k} | {n} | {c} | {B} | {c_max} | {r_mapping} | {exact.objective:.6g}"
              f"{'' if exact.status == 'optimal' else ' (' + exact.status + ')'} | {default.objective:.6g} | "
              f"{excess:.3%} | {default.gap:.2%} | {seconds:.1f} |", flush=True)
    proven = np.array([e for e in excesses if np.isfinite(e)])
    print(f"\nproven optima: {proven.size} of {instances}; default within 1%: "
          f"{np.mean(proven <= 0.01):.0%}; exactly optimal (1e-9): {np.mean(proven <= 1e-9):.0%}; "
          f"worst excess {proven.max():.3%}")


def balance() -> None:
    print("| lam | redundancy share | uncertainty Tr(MG) | redundancy v'Rv | images | mean G of the queries | mean G overall |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for lam in (1.0, 1e-2, 1e-3, 1e-4, 1e-5, 0.0):
        problem = random_problem(1200, 19, B=200, C_max=5, lam=lam, seed=0)
        sel = alsel.select(problem.G, problem.R, 200, 5, lam)
        print(f"| {lam:g} | {sel.redundancy_share:.2%} | {sel.uncertainty:.4g} | {sel.redundancy:.4g} | "
              f"{len(sel.images)} | {problem.G.T[sel.M].mean():.3g} | {problem.G.mean():.3g} |", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("what", choices=["table", "optimum", "balance"])
    parser.add_argument("--sizes", default="40,300,1200")
    parser.add_argument("--formulations", default="paper,symmetric,mccormick,qp,exact")
    parser.add_argument("--instances", type=int, default=50)
    args = parser.parse_args()
    if args.what == "table":
        table([int(s) for s in args.sizes.split(",")], args.formulations.split(","))
    elif args.what == "optimum":
        optimum(args.instances)
    else:
        balance()


if __name__ == "__main__":
    main()
