"""Property-based checks that a backend and a formulation are right (``alsel verify``).

Each check draws tiny seeded instances with hypothesis (few distinct values, so ties in G and
zeros in R are common), tests one property, and on failure saves the smallest failing instance
it found (hypothesis shrinks it) to ``out_dir`` as a reproducible counterexample:

``exact``             the integral formulation's optimum, solved by the backend, equals the
                      brute-force optimum of Eq. 4 (Theorem 1); needs a MIP backend
``relaxation-bound``  the relaxation's value is <= the integral optimum
``equivalence``       formulations claimed equivalent have equal relaxed optima
                      ("paper" = "symmetric"; "sparse" with a dense R = "symmetric")
``agreement``         the backend's relaxed value agrees with HiGHS within its tolerance, and
                      alsel's certificate of its answer is below that tolerance
``roundings``         every rounding of the backend's relaxation is a feasible selection
``working-set``       solved on the working set of images (select()'s default), the relaxation
                      has the whole LP's optimal value, and the answer's certificate on the
                      whole LP is below the backend's tolerance

>>> report = alsel.verify.verify("highs", "symmetric", examples=20)   # doctest: +SKIP
>>> report.ok, report.summary()                                      # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import itertools
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
import scipy.sparse as sp

from . import solvers
from ._validation import as_count, check_choice
from .certificate import certify
from .formulations import FORMULATIONS, INTEGRAL_FORMULATIONS, build_lp
from .problem import SelectionProblem
from .rounding import ROUNDINGS

CHECKS = ("exact", "relaxation-bound", "equivalence", "agreement", "roundings", "working-set")

#: Groups of formulations whose relaxations have equal optimal values.
EQUIVALENT = (("paper", "symmetric"), ("sparse", "symmetric"))

#: Relative tolerance of optimal-value comparisons for backends that solve to high accuracy.
EXACT_TOL = 1e-6
#: The MIP comparison allows the backends' default relative MIP gap (HiGHS: 1e-4).
MIP_TOL = 1e-4

G_VALUES = (0.0, 0.0, 0.25, 0.5, 0.5, 1.0, -0.5, 2.0, 0.1)
R_VALUES = (0.0, 0.0, 0.0, 0.2, 0.5, 1.0, 3.0)


def brute_force(problem: SelectionProblem) -> tuple[float, np.ndarray]:
    """Minimum of Eq. 4 over every feasible binary M (by enumeration; N * C <= 16), a minimizer."""
    n, c = problem.n_images, problem.n_classes
    cells = n * c
    if cells > 16:
        raise ValueError(f"brute force enumerates 2^(N*C) selections; N*C = {cells} > 16.")
    codes = np.arange(2**cells, dtype=np.int64)
    masks = ((codes[:, None] >> np.arange(cells)) & 1).astype(bool)
    M = masks.reshape(-1, n, c)
    feasible = (masks.sum(axis=1) == problem.B) & (M.sum(axis=2) <= problem.C_max).all(axis=1)
    M = M[feasible]
    v = M.any(axis=2).astype(float)
    R = problem.R.toarray() if sp.issparse(problem.R) else problem.R
    values = (M * problem.G.T).sum(axis=(1, 2)) + problem.lam * np.einsum("ki,ij,kj->k", v, R, v)
    best = int(np.argmin(values))
    return float(values[best]), M[best]


def tiny_problems(max_images: int = 5, max_classes: int = 3, max_cells: int | None = 16):
    """The hypothesis strategy of tiny instances (N * C <= ``max_cells``, 16 for brute force)."""
    from hypothesis import strategies as st

    @st.composite
    def problems(draw):
        n = draw(st.integers(1, max_images))
        c = draw(st.integers(1, max_classes if max_cells is None else min(max_classes, max_cells // n)))
        c_max = draw(st.integers(1, c + 1))
        B = draw(st.integers(1, n * min(c, c_max)))
        G = np.array(draw(st.lists(st.sampled_from(G_VALUES), min_size=c * n, max_size=c * n))).reshape(c, n)
        upper = np.array(draw(st.lists(st.sampled_from(R_VALUES), min_size=n * n, max_size=n * n))).reshape(n, n)
        R = np.triu(upper) + np.triu(upper, 1).T
        lam = draw(st.sampled_from([0.0, 0.5, 1.0, 2.0]))
        return SelectionProblem(G, R, B, c_max, lam)

    return problems()


@dataclass(frozen=True)
class CheckResult:
    """One check: passed (True), failed (False) or skipped (None, with the reason)."""

    name: str
    passed: bool | None
    examples: int
    message: str = ""
    counterexample: Path | None = None


@dataclass
class VerifyReport:
    """Every check run on one backend and formulation."""

    solver: str
    formulation: str
    results: list[CheckResult] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        """True when a check failed."""
        return any(r.passed is False for r in self.results)

    @property
    def checked(self) -> int:
        """How many checks ran (passed or failed); skipped ones do not count."""
        return sum(r.passed is not None for r in self.results)

    @property
    def ok(self) -> bool:
        """True when at least one check ran and none failed: skipped checks prove nothing, so a
        report whose every check was skipped is not ok (``checked`` is 0, ``failed`` False)."""
        return self.checked > 0 and not self.failed

    def summary(self) -> str:
        lines = [f"alsel verify: solver {self.solver!r}, formulation {self.formulation!r}"]
        for r in self.results:
            state = {True: "pass", False: "FAIL", None: "skip"}[r.passed]
            line = f"  {state:4s}  {r.name:17s} {r.examples:4d} examples"
            if r.message:
                line += f"  {r.message}"
            if r.counterexample is not None:
                line += f"\n        counterexample: {r.counterexample}"
            lines.append(line)
        if self.failed:
            lines.append("FAILED")
        elif not self.checked:
            lines.append("NOTHING CHECKED: every check was skipped (see the reasons above)")
        else:
            lines.append("OK")
        return "\n".join(lines)


def save_counterexample(problem: SelectionProblem, out_dir: Path, check: str, solver: str,
                        formulation: str, message: str) -> Path:
    """Write ``problem`` and what failed to ``out_dir`` (.npz + .json); returns the .npz path."""
    out_dir.mkdir(parents=True, exist_ok=True)
    R = problem.R.toarray() if sp.issparse(problem.R) else problem.R
    digest = hashlib.sha1(np.concatenate([problem.G.ravel(), R.ravel(),
                                          [problem.B, problem.C_max, problem.lam]]).tobytes()).hexdigest()[:10]
    path = out_dir / f"{check}-{solver}-{formulation}-{digest}.npz"
    np.savez(path, G=problem.G, R=R, B=problem.B, C_max=problem.C_max, lam=problem.lam)
    path.with_suffix(".json").write_text(json.dumps({
        "check": check, "solver": solver, "formulation": formulation, "message": message,
        "reproduce": f"alsel.verify.reproduce({str(path)!r})",
    }, indent=2))
    return path


def load_counterexample(path: str | Path) -> SelectionProblem:
    """The SelectionProblem saved by :func:`save_counterexample`."""
    data = np.load(path)
    return SelectionProblem(data["G"], data["R"], int(data["B"]), int(data["C_max"]), float(data["lam"]))


def reproduce(path: str | Path) -> CheckResult:
    """Run the failed check again on a saved counterexample."""
    meta = json.loads(Path(path).with_suffix(".json").read_text())
    problem = load_counterexample(path)
    reason = skip_reason(meta["check"], meta["solver"], meta["formulation"])
    if reason is not None:
        return CheckResult(meta["check"], None, 1, reason)
    prop = _properties(meta["solver"], meta["formulation"])[meta["check"]]
    try:
        prop(problem)
    except Exception as exc:
        return CheckResult(meta["check"], False, 1, f"{type(exc).__name__}: {exc}", Path(path))
    return CheckResult(meta["check"], True, 1)


def _relaxed(problem: SelectionProblem, formulation: str, solver: str):
    lp = build_lp(_as_formulation_input(problem, formulation), formulation)
    solution = solvers.solve(lp, solver)
    if solution.status != "optimal" or solution.x is None:
        raise AssertionError(f"{solver} returned status {solution.status!r} on a feasible LP")
    return lp, solution


def _as_formulation_input(problem: SelectionProblem, formulation: str) -> SelectionProblem:
    if formulation == "sparse" and not sp.issparse(problem.R):
        return SelectionProblem(problem.G, sp.csr_array(problem.R), problem.B, problem.C_max, problem.lam)
    return problem


def _close(a: float, b: float, tol: float) -> bool:
    return abs(a - b) <= tol * (1.0 + abs(b))


def _solver_tol(solver: str) -> float:
    """How closely an optimal answer of ``solver`` is expected to match HiGHS."""
    backend = solvers.get(solver)
    first_order = "tol" in backend.options
    return 1e-3 if first_order else EXACT_TOL


#: A feasible instance to ask whether a formulation's LP suits the working set.
_SMALLEST = SelectionProblem(np.zeros((1, 2)), np.zeros((2, 2)), 1, 1, 1.0)


def skip_reason(check: str, solver: str, formulation: str) -> str | None:
    """Why ``check`` does not apply to this backend and formulation (None if it does)."""
    integral = formulation in INTEGRAL_FORMULATIONS
    if check == "exact" and not solvers.get(solver).supports_mip:
        return f"{solver!r} solves LPs only"
    if check in ("relaxation-bound", "agreement", "roundings", "working-set") and integral:
        return f"{formulation!r} is integral (no relaxation)"
    if check == "working-set":
        lp = build_lp(_as_formulation_input(_SMALLEST, formulation), formulation)
        try:
            solvers.working_set.check_supported(lp, solvers.get(solver))
        except ValueError as exc:
            return str(exc)
    if check == "equivalence" and not any(
        formulation in g and all(f in FORMULATIONS for f in g) for g in EQUIVALENT
    ):
        return f"no formulation is claimed equivalent to {formulation!r}"
    return None


def _properties(solver: str, formulation: str) -> dict[str, Callable[[SelectionProblem], None]]:
    integral = formulation in INTEGRAL_FORMULATIONS
    tol = _solver_tol(solver)

    def exact(problem):
        exact_formulation = formulation if integral else "exact"
        optimum, _ = brute_force(problem)
        lp = build_lp(_as_formulation_input(problem, exact_formulation), exact_formulation)
        solution = solvers.solve(lp, solver)
        if solution.x is None:
            raise AssertionError(f"no solution (status {solution.status!r})")
        M = lp.index.M_of(solution.x) > 0.5
        if not problem.is_feasible(M):
            raise AssertionError("the MILP's selection is infeasible for Eq. 4")
        value = problem.objective(M)
        assert _close(value, optimum, MIP_TOL), f"MILP optimum {value:.9g} != brute force {optimum:.9g}"

    def relaxation_bound(problem):
        optimum, _ = brute_force(problem)
        _, solution = _relaxed(problem, formulation, solver)
        assert solution.objective <= optimum + tol * (1 + abs(optimum)), (
            f"relaxation value {solution.objective:.9g} > integral optimum {optimum:.9g}")

    def equivalence(problem):
        groups = [g for g in EQUIVALENT if formulation in g and all(f in FORMULATIONS for f in g)]
        _, mine = _relaxed(problem, formulation, solver)
        for other in sorted({f for g in groups for f in g} - {formulation}):
            _, theirs = _relaxed(problem, other, solver)
            assert _close(mine.objective, theirs.objective, tol), (
                f"{formulation!r} relaxed optimum {mine.objective:.9g} != {other!r} {theirs.objective:.9g}")

    def agreement(problem):
        lp, solution = _relaxed(problem, formulation, solver)
        reference = solvers.solve(lp, "highs")
        assert _close(solution.objective, reference.objective, tol), (
            f"{solver} relaxed value {solution.objective:.9g} != HiGHS {reference.objective:.9g}")
        if solution.row_dual is not None:
            certificate = certify(lp, solution.x, solution.row_dual)
            assert certificate.kkt_error <= max(tol, 1e-6), f"certificate {certificate} above {tol:g}"

    def roundings(problem):
        lp, solution = _relaxed(problem, formulation, solver)
        relaxed_M = np.clip(lp.index.M_of(solution.x), 0.0, 1.0)
        for name, rounding in ROUNDINGS.items():
            M = rounding(problem, relaxed_M, 0)
            assert problem.is_feasible(M), f"rounding {name!r} returned an infeasible selection"

    def working_set(problem):
        lp, whole = _relaxed(problem, formulation, solver)
        answer = solvers.solve(lp, solver, {"working_set": True})
        if answer.status != "optimal" or answer.x is None:
            raise AssertionError(f"{solver} on the working set returned status {answer.status!r}")
        assert _close(answer.objective, whole.objective, tol), (
            f"working-set value {answer.objective:.9g} != whole LP {whole.objective:.9g}")
        if answer.row_dual is not None:
            certificate = certify(lp, answer.x, answer.row_dual)
            assert certificate.kkt_error <= max(tol, 1e-6), f"certificate {certificate} above {tol:g}"

    return {"exact": exact, "relaxation-bound": relaxation_bound, "equivalence": equivalence,
            "agreement": agreement, "roundings": roundings, "working-set": working_set}


def verify(solver: str = "highs", formulation: str = "symmetric", checks: tuple[str, ...] | list[str] = CHECKS,
           examples: int = 50, seed: int = 0, out_dir: str | Path = "alsel-counterexamples",
           max_images: int = 5, max_classes: int = 3) -> VerifyReport:
    """Run the named checks on ``solver`` and ``formulation`` (see the module docstring).

    Parameters
    ----------
    solver : str
        A registered backend (built in, entry point or :func:`alsel.solvers.register`).
    formulation : str
        One of ``alsel.FORMULATIONS``.
    checks : sequence of str
        Subset of :data:`CHECKS`.
    examples : int
        Instances per check (hypothesis ``max_examples``).
    seed : int
        Seed of the instance generator: the same seed draws the same instances.
    out_dir : path
        Where counterexamples are written (created on the first one).

    Returns
    -------
    VerifyReport
        ``ok`` is False when any check failed; ``summary()`` prints a table.
    """
    solvers.require(solver)
    check_choice(formulation, "formulation", FORMULATIONS)
    checks = list(checks)
    for name in checks:
        check_choice(name, "check", CHECKS)
    examples = as_count(examples, "examples", minimum=1)
    seed = as_count(seed, "seed", minimum=0)
    out_dir = Path(out_dir)
    properties = _properties(solver, formulation)
    report = VerifyReport(solver, formulation)
    for name in checks:
        reason = skip_reason(name, solver, formulation)
        if reason is not None:
            report.results.append(CheckResult(name, None, 0, reason))
            continue
        run, state = _hypothesis_runner(properties[name], examples, seed, max_images, max_classes)
        try:
            run()
        except Exception:  # hypothesis re-raises the smallest failure found (state has it)
            if "problem" not in state:
                raise
            path = save_counterexample(state["problem"], out_dir, name, solver, formulation, state["message"])
            report.results.append(CheckResult(name, False, state["count"], state["message"], path))
        else:
            report.results.append(CheckResult(name, True, state["count"]))
    return report


def _hypothesis_runner(prop, examples: int, seed: int, max_images: int, max_classes: int):
    """A hypothesis test of ``prop`` and the state it records (count, last failing instance)."""
    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis import seed as hypothesis_seed

    state: dict[str, Any] = {"count": 0}

    @settings(max_examples=examples, deadline=None, database=None, print_blob=False,
              report_multiple_bugs=False,
              suppress_health_check=list(HealthCheck),
              phases=(Phase.generate, Phase.shrink))
    @hypothesis_seed(seed)
    @given(problem=tiny_problems(max_images, max_classes))
    def run(problem):
        state["count"] += 1
        try:
            prop(problem)
        except Exception as exc:  # a crash on a valid instance is a failure too
            state["problem"], state["message"] = problem, f"{type(exc).__name__}: {exc}"
            raise AssertionError(state["message"]) from exc

    return run, state


def verify_all(examples: int = 20, seed: int = 0, out_dir: str | Path = "alsel-counterexamples") -> list[VerifyReport]:
    """:func:`verify` on every usable backend with every formulation it can solve."""
    reports = []
    usable = [name for name, reason in solvers.available().items() if reason is None]
    for solver, formulation in itertools.product(usable, FORMULATIONS):
        if formulation in INTEGRAL_FORMULATIONS and not solvers.get(solver).supports_mip:
            continue
        reports.append(verify(solver, formulation, examples=examples, seed=seed, out_dir=out_dir))
    return reports
