"""What select() does with the caller's G and R: never changes them, accepts every scipy sparse
format, and refuses what it cannot honour (masks, magnitudes that overflow) before any work."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

import alsel
from alsel.errors import SolverError
from alsel.solvers import LPSolution

N, C, B, C_MAX, LAM = 8, 3, 4, 2, 1.0


def arrays(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A float64, C-contiguous G (C, N) and a symmetric R >= 0 with zeros off its 3-NN graph."""
    rng = np.random.default_rng(seed)
    G = rng.random((C, N))
    F = rng.random((N, 3))
    R = F @ F.T
    R[R < np.quantile(R, 0.4)] = 0.0
    return G, (R + R.T) / 2


FORMULATIONS = [None, "paper", "symmetric", "sparse", "mccormick", "qp", "exact", "exact-literal"]


@pytest.mark.parametrize("formulation", FORMULATIONS)
def test_the_callers_dense_arrays_keep_their_flags_and_values(formulation):
    G, R = arrays()
    assert G.flags.c_contiguous and G.dtype == np.float64  # the case that was not copied
    G_before, R_before = G.copy(), R.copy()
    if formulation == "qp":
        R = R + N * np.eye(N)  # positive definite
        R_before = R.copy()
    alsel.select(G, R, B, C_MAX, LAM, formulation=formulation)
    assert G.flags.writeable and R.flags.writeable
    np.testing.assert_array_equal(G, G_before)
    np.testing.assert_array_equal(R, R_before)
    G[0, 0] = 0.5  # raised ValueError: assignment destination is read-only
    R[0, 0] = 0.5


def test_the_problem_holds_read_only_views_not_copies():
    G, R = arrays()
    problem = alsel.SelectionProblem(G, R, B, C_MAX, LAM)
    assert np.shares_memory(problem.G, G) and np.shares_memory(problem.R, R)  # memory stays flat
    assert not problem.G.flags.writeable and not problem.R.flags.writeable
    assert G.flags.writeable and R.flags.writeable
    with pytest.raises(ValueError, match="read-only"):
        problem.G[0, 0] = 0.5


def test_a_converted_array_is_copied_and_the_caller_keeps_its_own():
    G, R = arrays()
    G32, R_fortran = G.astype(np.float32), np.asfortranarray(R)
    problem = alsel.SelectionProblem(G32, R_fortran, B, C_MAX, LAM)
    assert not np.shares_memory(problem.G, G32) and G32.flags.writeable and R_fortran.flags.writeable


SPARSE_CLASSES = [getattr(sp, f"{fmt}_{kind}") for fmt in ("csr", "csc", "coo", "dok", "lil", "bsr", "dia")
                  for kind in ("array", "matrix")]


@pytest.mark.parametrize("cls", SPARSE_CLASSES, ids=lambda cls: cls.__name__)
@pytest.mark.parametrize("formulation", [None, "sparse"])
def test_every_scipy_sparse_format_gives_the_dense_answer(cls, formulation):
    G, R = arrays()
    dense = alsel.select(G, R, B, C_MAX, LAM, formulation=formulation)
    given = cls(R)
    selection = alsel.select(G, given, B, C_MAX, LAM, formulation=formulation)  # dok: AttributeError
    np.testing.assert_array_equal(selection.M, dense.M)
    assert selection.objective == pytest.approx(dense.objective, rel=1e-12)
    np.testing.assert_array_equal(sp.csr_array(given).toarray(), R)


@pytest.mark.parametrize("cls", [sp.csr_array, sp.csr_matrix, sp.csc_array, sp.coo_array, sp.coo_matrix,
                                 sp.bsr_array])
def test_the_callers_sparse_R_keeps_its_flags_and_values(cls):
    G, R = arrays()
    given = cls(R)
    stored = [a for a in (getattr(given, name, None) for name in ("data", "indices", "indptr", "row", "col"))
              if isinstance(a, np.ndarray)]
    before = [a.copy() for a in stored]
    problem = alsel.SelectionProblem(G, given, B, C_MAX, LAM)
    alsel.select(G, given, B, C_MAX, LAM, formulation="sparse")
    for array, copy in zip(stored, before):
        assert array.flags.writeable
        np.testing.assert_array_equal(array, copy)
    assert not problem.R.data.flags.writeable
    assert not any(np.shares_memory(problem.R.data, a) for a in stored)


def test_a_coo_R_with_duplicates_is_summed_in_the_copy_only():
    G, R = arrays()
    upper = sp.coo_array(sp.triu(R))
    rows, cols = np.concatenate([upper.row, upper.col]), np.concatenate([upper.col, upper.row])
    data = np.concatenate([upper.data, upper.data])
    given = sp.coo_array((data, (rows, cols)), shape=R.shape)  # the diagonal is stored twice
    nnz = given.nnz
    problem = alsel.SelectionProblem(G, given, B, C_MAX, LAM)
    assert given.nnz == nnz
    np.testing.assert_allclose(problem.R.toarray(), R + np.diag(np.diag(R)))


@pytest.mark.parametrize("name", ["G", "R"])
def test_a_masked_array_is_refused_naming_the_argument_and_the_fix(name):
    G, R = arrays()
    args = {"G": G, "R": R}
    args[name] = np.ma.masked_array(args[name], mask=args[name] > 0.5)
    with pytest.raises(TypeError, match=rf"{name} is a masked array; its mask would be ignored\. "
                                        rf"Fill it: pass {name}\.filled"):
        alsel.select(args["G"], args["R"], B, C_MAX, LAM)


@pytest.mark.parametrize(
    "scale_G, scale_R, lam, pattern",
    [
        (1.0, 1e308, LAM, r"R is too large: sum\(R\) = inf .* Rescale R: alsel\.scores"),
        (1e308, 1.0, LAM, r"G is too large: sum\|G\| = inf .* Rescale G: alsel\.scores"),
        (1.0, 1.0, 1e306, r"lam \* R is too large: .* Lower lam, or rescale G and R"),
    ],
)
def test_sums_that_overflow_are_refused_before_any_work(scale_G, scale_R, lam, pattern, monkeypatch):
    G, R = arrays()

    def no_rounding(*_args, **_kwargs):
        raise AssertionError("a rounding ran on a problem whose sums overflow")

    R = R / R.max()  # every entry stays finite; their sums do not
    monkeypatch.setitem(alsel.pipeline.ROUNDINGS, "greedy+local", no_rounding)
    with pytest.raises(ValueError, match=pattern):  # was IndexError in the rounding
        alsel.select(G * scale_G, R * scale_R, B, C_MAX, lam)


def test_large_but_finite_sums_still_select():
    G, R = arrays()
    selection = alsel.select(G * 1e300, R * 1e300, B, C_MAX, LAM)
    reference = alsel.select(G, R, B, C_MAX, LAM)
    np.testing.assert_array_equal(selection.M, reference.M)


@pytest.mark.parametrize(
    "scale_G, scale_R, pattern",
    [(1e300, 1.0, r"^G gives the LP"), (1.0, 1e300, r"^lam \* R gives the LP")],
)
@pytest.mark.parametrize("formulation", ["symmetric", "qp", "exact"])
def test_lp_costs_no_solver_handles_are_refused_up_front(formulation, scale_G, scale_R, pattern, monkeypatch):
    G, R = arrays()
    R = R + N * np.eye(N)

    def no_build(*_args, **_kwargs):
        raise AssertionError("the LP was built")

    monkeypatch.setattr("alsel.pipeline.build_lp", no_build)
    with pytest.raises(ValueError, match=pattern + r".*above 1e\+15.*formulation=None"):
        alsel.select(G * scale_G, R * scale_R, B, C_MAX, LAM, formulation=formulation)


def test_a_failed_solve_says_the_solvers_reason(monkeypatch):
    G, R = arrays()

    def failing(lp, solver, options):
        return LPSolution(status="error", x=None, row_dual=None, col_dual=None, objective=np.nan,
                          bound=np.nan, iterations=0, seconds=0.0, handover_seconds=0.0,
                          solver=solver, algorithm="simplex", info={"model_status": "Solve error"})

    monkeypatch.setattr(alsel.pipeline.solvers, "solve", failing)
    with pytest.raises(SolverError, match=r"status 'error'; model_status: Solve error"):
        alsel.select(G, R, B, C_MAX, LAM, formulation="symmetric")


@pytest.mark.parametrize(
    "args, kwargs",
    [
        ((np.float64(2.5), C_MAX, LAM), {}),
        ((B, np.int64(0), LAM), {}),
        ((np.int64(10**6), C_MAX, LAM), {}),
        ((B, C_MAX, np.float64(-1.0)), {}),
        ((B, C_MAX, LAM), {"seed": np.int64(-2)}),
        ((B, C_MAX, LAM), {"formulation": np.str_("dense")}),
        ((B, C_MAX, LAM), {"formulation": "exact", "solver_options": {"mip_rel_gap": np.float64(2.0)}}),
        ((B, C_MAX, LAM), {"formulation": "symmetric", "solver_options": {"threads": np.int64(0)}}),
        ((B, C_MAX, LAM), {"formulation": "symmetric", "solver_options": {"algorithm": np.str_("x")}}),
    ],
)
def test_messages_print_plain_numbers(args, kwargs):
    G, R = arrays()
    with pytest.raises((ValueError, TypeError)) as raised:
        alsel.select(G, R, *args, **kwargs)
    assert "np." not in str(raised.value) and "numpy" not in str(raised.value)


def test_nan_position_is_printed_as_plain_numbers():
    G, R = arrays()
    G[1, 2] = np.nan
    with pytest.raises(ValueError, match=r"first at index \(1, 2\)"):
        alsel.select(G, R, B, C_MAX, LAM)
