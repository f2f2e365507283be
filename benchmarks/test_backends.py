"""Every backend on the "symmetric" relaxation at N = 100, 300, 1200 (C = 19): handover and
solve time, judged by alsel's certificate. `make bench`; figures in docs/benchmarks.md."""

from __future__ import annotations

import pytest
from models import paper_scale_problem

import alsel
from alsel import solvers

BACKENDS = ["highs", "glop", "ortools-pdlp", "gurobi", "cvxpy"]
TIME_LIMIT = 600


@pytest.mark.parametrize("n_images", [100, 300, 1200])
@pytest.mark.parametrize("backend", BACKENDS)
def test_backend_solve(benchmark, backend, n_images):
    reason = solvers.available()[backend]
    if reason is not None:
        pytest.skip(reason)
    problem = paper_scale_problem(n_images)
    lp = alsel.build_lp(problem, "symmetric")
    benchmark.group = f"backends N={n_images}"
    try:
        solution = benchmark.pedantic(
            solvers.solve, args=(lp, backend, {"time_limit": TIME_LIMIT}), rounds=1
        )
    except alsel.SolverLicenseError as error:
        pytest.skip(str(error))
    certificate = alsel.certify(lp, solution.x, solution.row_dual)
    benchmark.extra_info.update(
        status=solution.status,
        handover_seconds=solution.handover_seconds,
        solver_seconds=solution.seconds,
        iterations=solution.iterations if solution.iterations is not None else -1,
        objective=solution.objective,
        primal_residual=certificate.primal_residual,
        dual_residual=certificate.dual_residual,
        gap=certificate.gap,
        nnz=lp.nnz,
    )


@pytest.mark.parametrize("backend", ["highs", "gurobi", "scip"])
def test_exact_mip(benchmark, backend):
    """The integral problem at a size Gurobi's pip license accepts (N = 30, C = 8)."""
    reason = solvers.available()[backend]
    if reason is not None:
        pytest.skip(reason)
    from alsel.synthetic import random_problem

    problem = random_problem(30, 8, B=15, C_max=5, lam=1.0, seed=0)
    lp = alsel.build_lp(problem, "exact")
    benchmark.group = "exact MILP N=30 C=8"
    solution = benchmark.pedantic(
        solvers.solve, args=(lp, backend, {"time_limit": TIME_LIMIT}), rounds=1
    )
    benchmark.extra_info.update(
        status=solution.status, objective=solution.objective, bound=solution.bound,
        solver_seconds=solution.seconds, handover_seconds=solution.handover_seconds,
    )
