"""Solver options: every value out of range or of the wrong type is refused with a message that
names the option, the backend and the fix, before any work."""

from __future__ import annotations

import numpy as np
import pytest

import alsel
from alsel import solvers
from alsel.solvers.options import RULES

G = np.random.default_rng(0).random((3, 6))
R = np.eye(6)

BAD_VALUES = {
    "time_limit": [0, -1, float("nan"), float("inf"), "60", True],
    "threads": [0, -2, 1.5, "2", True],
    "iteration_limit": [0, -1, 10.0, "100"],
    "tol": [0, 1, 1.5, -1e-4, float("nan"), "1e-4", True],
    "mip_rel_gap": [2.0, -1, 1, float("nan"), "x", True],
    "primal_weight": [0, -1e-6, float("nan"), float("inf"), "1e-6"],
    "verbose": ["yes", 1],
    "presolve": ["off", 0],
    "repair": ["yes", 1, None],
    "working_set": ["yes", 1, None],
}
CASES = [
    (backend, option, value)
    for backend, obj in solvers.backends().items()
    for option, values in BAD_VALUES.items()
    if option in (*obj.options, *solvers.SOLVE_OPTIONS)
    for value in values
]


def test_every_shared_numeric_option_has_a_rule_and_bad_values():
    named = {option for backend in solvers.backends().values() for option in backend.options}
    ruled = {"time_limit", "threads", "iteration_limit", "tol", "mip_rel_gap", "primal_weight"}
    assert ruled <= named and ruled <= set(RULES) and set(RULES) <= set(BAD_VALUES)


@pytest.mark.parametrize("backend, option, value", CASES)
def test_a_bad_value_names_the_option_the_backend_and_the_fix(backend, option, value):
    with pytest.raises(ValueError) as raised:
        solvers.check_options(solvers.get(backend), {option: value}, mip=False)
    message = str(raised.value)
    assert message.startswith(f"solver {backend!r}: {option} ")
    assert "Pass " in message  # the fix


@pytest.mark.parametrize("gap", [2.0, -1, "x"])
def test_mip_rel_gap_out_of_range_is_refused_by_select(gap):
    with pytest.raises(ValueError, match=r"solver 'highs': mip_rel_gap must lie in \[0, 1\); got "
                                         r".*Pass e\.g\. 1e-4, or 0 for a proven optimum"):
        alsel.select(G, R, 2, 1, 1.0, formulation="exact", solver_options={"mip_rel_gap": gap})


@pytest.mark.parametrize("warm_start, pattern", [
    ("x", r"got 'x'\. Pass x and y"),
    ((np.ones(3),), r"got a tuple\. Pass x and y"),
    ((np.ones(3), "y"), r"Its y is not a vector of numbers"),
    ((np.full(3, np.nan), None), r"Its x has NaN or infinite entries"),
])
@pytest.mark.parametrize("solver", ["pdlp", "cupdlpx"])
def test_a_bad_warm_start_names_the_option_and_the_backend(solver, warm_start, pattern):
    with pytest.raises(ValueError, match=rf"^solver '{solver}': warm_start must be an LPSolution .*{pattern}"):
        solvers.check_options(solvers.get(solver), {"warm_start": warm_start})


def test_a_warm_start_of_another_size_names_the_option_and_the_backend():
    first = alsel.select(G, R, 2, 1, 1.0, formulation="symmetric", solver="pdlp")
    with pytest.raises(ValueError, match=r"^solver 'pdlp': warm_start must give x of shape .*same size"):
        alsel.select(G[:, :5], R[:5, :5], 2, 1, 1.0, formulation="symmetric", solver="pdlp",
                     solver_options={"warm_start": first.solution, "working_set": False})


@pytest.mark.parametrize("solver, options, pattern", [
    ("highs", {"algorithm": "barrier"}, r"^solver 'highs': unknown algorithm 'barrier'; valid: 'simplex'"),
    ("pdlp", {"device": ["cpu"]}, r"^solver 'pdlp': unknown device \['cpu'\]; valid: 'cpu', 'cuda'"),
    ("pdlp", {"algorithm": ["adaptive"]}, r"^solver 'pdlp': unknown algorithm \['adaptive'\]"),
    ("pdlp", {"dtype": "float32"}, r"^solver 'pdlp': dtype='float32' is for device='cuda'"),
])
def test_backend_specific_errors_name_the_backend(solver, options, pattern):
    with pytest.raises(ValueError, match=pattern):
        solvers.check_options(solvers.get(solver), options)


def test_numpy_numbers_are_accepted_and_handed_on_as_python_numbers():
    options = solvers.check_options(solvers.get("highs"), {"threads": np.int64(2), "mip_rel_gap": np.float64(0.0)},
                                    mip=True)
    assert options == {"threads": 2, "mip_rel_gap": 0.0}
    assert type(options["threads"]) is int and type(options["mip_rel_gap"]) is float
