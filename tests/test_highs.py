"""The HiGHS backend: array handover, statuses, options."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import random_problem

import alsel
from alsel import solvers


@pytest.fixture(scope="module")
def lp():
    return alsel.build_lp(random_problem(n=20, c=4, B=10, c_max=2, lam=1.0, seed=0), "symmetric")


def test_solution_arrays_and_kkt(lp):
    solution = solvers.solve(lp, "highs")
    assert solution.status == "optimal" and solution.solver == "highs"
    x, y, d = solution.x, solution.row_dual, solution.col_dual
    assert x.shape == (lp.num_cols,) and y.shape == (lp.num_rows,) and d.shape == (lp.num_cols,)
    activity = lp.A @ x
    assert (activity >= lp.row_lower - 1e-7).all() and (activity <= lp.row_upper + 1e-7).all()
    assert ((x >= -1e-9) & (x <= 1 + 1e-9)).all()
    np.testing.assert_allclose(d, lp.c - lp.A.T @ y, atol=1e-7)  # HiGHS's sign convention
    assert solution.objective == pytest.approx(lp.objective_value(x), abs=1e-9)
    assert solution.iterations > 0 and solution.seconds >= 0 and solution.handover_seconds >= 0


def test_threads_can_change_between_calls(lp):
    statuses = [solvers.solve(lp, "highs", {"threads": t}).status for t in (1, 2, 1)]
    assert statuses == ["optimal"] * 3


def test_mip_reports_its_bound():
    problem = random_problem(n=6, c=3, B=4, c_max=2, lam=1.0, seed=1)
    lp = alsel.build_lp(problem, "exact")
    assert lp.is_mip
    solution = solvers.solve(lp, "highs", {"mip_rel_gap": 0.0})
    assert solution.status == "optimal"
    assert solution.row_dual is None
    assert solution.bound == pytest.approx(solution.objective, abs=1e-7)
    assert np.allclose(solution.x, np.round(solution.x), atol=1e-6)


def test_algorithm_with_exact_is_refused():
    problem = random_problem(n=4, c=2, B=2, c_max=1, lam=1.0, seed=0)
    with pytest.raises(ValueError, match="algorithm applies to LP relaxations only"):
        alsel.select(problem.G, problem.R, 2, 1, 1.0, formulation="exact",
                     solver_options={"algorithm": "ipm"})


def test_verbose_output_stays_off_stdout_by_default(lp, capfd):
    solvers.solve(lp, "highs")
    assert "HiGHS" not in capfd.readouterr().out


def test_available_lists_highs_as_usable():
    assert solvers.available()["highs"] is None


def test_tol_goes_with_pdlp_only(lp):
    loose = solvers.solve(lp, "highs", {"algorithm": "pdlp", "tol": 1e-3})
    tight = solvers.solve(lp, "highs", {"algorithm": "pdlp", "tol": 1e-8})
    assert loose.iterations < tight.iterations
    assert alsel.certify(lp, tight.x, tight.row_dual).within(1e-6)
    with pytest.raises(ValueError, match="pass it with algorithm='pdlp'"):
        solvers.solve(lp, "highs", {"tol": 1e-6})
