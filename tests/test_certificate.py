"""alsel.certify: the compiled loops (with Numba) against the array formulas (relative_kkt)."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

import alsel
from alsel import certificate
from alsel.certificate import KKTData, relative_kkt
from alsel.lp import LinearProgram, VariableIndex

from conftest import random_problem

FIELDS = ("primal_residual", "dual_residual", "gap", "primal_objective", "dual_objective")


def any_lp(rng: np.random.Generator, m: int, n: int) -> LinearProgram:
    """Rows and columns with every kind of bound: free, one-sided, boxed, equalities."""
    def bounds(size):
        lower = rng.normal(size=size)
        upper = lower + rng.random(size)
        kind = rng.integers(0, 5, size)
        lower[kind == 1] = -np.inf
        upper[kind == 2] = np.inf
        lower[kind == 3], upper[kind == 3] = -np.inf, np.inf
        upper[kind == 4] = lower[kind == 4]
        return lower, upper

    row_lower, row_upper = bounds(m)
    col_lower, col_upper = bounds(n)
    A = sp.random_array((m, n), density=0.3, random_state=rng, format="csr")
    A.sort_indices()
    index = VariableIndex(0, 0, slice(0, 0), slice(0, 0), slice(0, n), np.zeros(0), np.zeros(0))
    return LinearProgram(c=rng.normal(size=n), A=sp.csr_array(A), row_lower=row_lower, row_upper=row_upper,
                         col_lower=col_lower, col_upper=col_upper, index=index, formulation="general",
                         offset=float(rng.normal()))


def array_certificate(lp: LinearProgram, x: np.ndarray, y: np.ndarray) -> certificate.Certificate:
    lp = lp.linearized(x)
    return relative_kkt(np, KKTData.from_lp(lp), x, y, lp.A @ x, lp.A.T @ lp.project_duals(y))


def assert_same(compiled, plain):
    for name in FIELDS:
        assert getattr(compiled, name) == pytest.approx(getattr(plain, name), rel=1e-11, abs=1e-12), name


def require_compiled() -> None:
    if certificate._compiled_loops() is None:
        pytest.skip("numba is not installed: pip install 'alsel[fast]'")


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), m=st.integers(1, 30), n=st.integers(1, 30))
def test_compiled_certificate_equals_the_array_one(seed, m, n):
    require_compiled()
    rng = np.random.default_rng(seed)
    lp = any_lp(rng, m, n)
    x, y = 3 * rng.normal(size=n), 3 * rng.normal(size=m)  # violating bounds, duals of every sign
    assert_same(alsel.certify(lp, x, y), array_certificate(lp, x, y))


def test_compiled_certificate_of_a_selection_lp_and_a_qp():
    require_compiled()
    rng = np.random.default_rng(1)
    for formulation in ("symmetric", "qp"):
        lp = alsel.build_lp(random_problem(20, 3, B=5, c_max=2, lam=1.0, seed=0), formulation)
        x, y = rng.random(lp.num_cols), rng.normal(size=lp.num_rows)
        assert_same(alsel.certify(lp, x, y), array_certificate(lp, x, y))


def test_without_numba_certify_falls_back_to_the_array_formulas(monkeypatch):
    require_compiled()
    rng = np.random.default_rng(2)
    lp = any_lp(rng, 12, 9)
    x, y = rng.normal(size=9), rng.normal(size=12)
    compiled = alsel.certify(lp, x, y)
    monkeypatch.setitem(certificate._COMPILED, "loops", None)
    assert_same(alsel.certify(lp, x, y), compiled)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), m=st.integers(1, 20), n=st.integers(1, 20))
def test_compiled_dual_terms_equal_the_array_ones(seed, m, n):
    """LinearProgram.dual_bound and dual_objective read the compiled loops too; -inf where a
    nonzero reduced cost meets an infinite bound."""
    require_compiled()
    rng = np.random.default_rng(seed)
    lp = any_lp(rng, m, n)
    y = 3 * rng.normal(size=m)
    compiled = certificate.compiled_dual_terms(lp, y)
    allowed = lp.project_duals(y)
    rows, columns, wrong = certificate.row_and_column_terms(np, KKTData.from_lp(lp), allowed, lp.A.T @ allowed)
    assert compiled[0] == pytest.approx(float(np.sum(rows)), rel=1e-11, abs=1e-12)
    assert compiled[1] == pytest.approx(float(np.sum(columns)), rel=1e-11, abs=1e-12)
    assert compiled[2] == (wrong is not None and bool(np.any(wrong != 0)))
