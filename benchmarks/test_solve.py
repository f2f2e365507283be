"""HiGHS solve time on the relaxation, "paper" against "symmetric" (same optimal value).

Run with `make bench`; figures go to docs/benchmarks.md. Not part of `make test`.
"""

from __future__ import annotations

import pytest
from models import paper_scale_problem

import alsel
from alsel import solvers


@pytest.mark.parametrize("n_images", [300, 1200])
@pytest.mark.parametrize("formulation", ["paper", "symmetric"])
@pytest.mark.parametrize("algorithm", ["simplex"])
def test_solve_highs(benchmark, formulation, n_images, algorithm):
    problem = paper_scale_problem(n_images)
    lp = alsel.build_lp(problem, formulation)
    benchmark.group = f"HiGHS solve N={n_images}"
    solution = benchmark.pedantic(
        solvers.solve, args=(lp, "highs", {"algorithm": algorithm}), rounds=1 if n_images > 300 else 3
    )
    assert solution.status == "optimal"
    benchmark.extra_info.update(
        lp.size(),
        objective=solution.objective,
        iterations=solution.iterations,
        solver_seconds=solution.seconds,
        handover_seconds=solution.handover_seconds,
    )


@pytest.mark.parametrize("algorithm", ["ipm", "pdlp"])
def test_solve_highs_other_algorithms_symmetric(benchmark, algorithm):
    problem = paper_scale_problem(300)
    lp = alsel.build_lp(problem, "symmetric")
    benchmark.group = "HiGHS solve N=300"
    solution = benchmark.pedantic(
        solvers.solve, args=(lp, "highs", {"algorithm": algorithm, "time_limit": 600}), rounds=1
    )
    benchmark.extra_info.update(status=solution.status, objective=solution.objective,
                                iterations=solution.iterations)
