"""The PDHG loops of alsel's PDLP, written once for any array module (NumPy or CuPy).

``solve_adaptive`` (the default): restarted averaged PDHG with PDLP's adaptive step size and
KKT-based restarts (Applegate et al. 2021; cuPDLP.jl, Lu & Yang 2023).

``solve_halpern``: restarted reflected Halpern PDHG (r2HPDHG) with a constant step size, the
algorithm of cuPDLPx (Lu, Peng, Yang 2025):

For  min c'x  s.t.  l <= Kx <= u,  lo <= x <= up  (already preconditioned), one PDHG step from
(x, y) with step sizes tau = eta / omega, sigma = eta * omega is

    x^ = proj_[lo, up](x - tau (c - K'y))
    y^ = max(v + sigma l, 0) + min(v + sigma u, 0),   v = y - sigma K(2 x^ - x)

(the prox of the dual objective; y >= 0 on rows with a finite lower bound, as in the rest of
alsel). The Halpern iteration with reflection takes z <- (k+1)/(k+2) (2 z^ - z) + 1/(k+2) z_0,
anchored at the epoch's first point z_0 (reflection coefficient 1; in general
(1 + rho) z^ - rho z). Per iteration: one K x^ and one K'y; K x is carried by
linearity. Every ``check_every`` iterations the fixed-point error r(z) = ||z - z^||_P in the
PDHG metric P = [[I/tau, K'], [K, I/sigma]] drives adaptive restarts (beta_sufficient 0.2,
beta_necessary 0.5, beta_artificial 0.36), a PID controller updates the primal weight omega at
each restart, and the relative KKT errors of alsel's certificate decide termination.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .arrays import ArrayContext
from .kernels import kernels_for
from ...certificate import Certificate
from .termination import Evaluator

logger = logging.getLogger("alsel.solvers.pdlp")


@dataclass(frozen=True)
class PdlpParameters:
    """Tunable constants: cuPDLPx's defaults, but the adaptive loop's sufficient-decay threshold
    and check cadence, and the ray tests' cadence (docs/pdlp.md, "Constants")."""

    tol: float = 1e-4
    time_limit: float | None = None
    iteration_limit: int | None = None
    check_every: int | None = None  # None: 8 for the adaptive loop, 64 for Halpern
    beta_sufficient_adaptive: float = 0.5  # PDLP's papers: 0.2; 0.5 takes fewer iterations here
    beta_sufficient_halpern: float = 0.2  # (docs/pdlp.md: "Restart threshold")
    beta_necessary_adaptive: float = 0.8
    beta_necessary_halpern: float = 0.5
    weight_smoothing: float = 0.5
    beta_artificial: float = 0.36
    reflection: float = 1.0
    step_safety: float = 0.998
    pid_proportional: float = 0.99
    pid_integral: float = 0.01
    pid_decay: float = 0.3
    infeasibility_tol: float = 1e-8
    infeasibility_every: int = 128  # iterations between the (costly) ray tests
    power_iterations: int = 100
    seed: int = 0
    initial_primal_weight: float | None = None
    initial_step_size: float | None = None
    prior_iterations: int = 0  # a warm start's age: the iterations of the solves it continues


@dataclass
class PdlpResult:
    """What the loop returns, in the scaled space (the backend maps it back)."""

    status: str
    x: Any
    y: Any
    kkt: Certificate | None
    iterations: int
    restarts: int
    primal_weight: float
    step_size: float
    history: list[tuple[int, float, int, float]] = field(default_factory=list)
    kernels: str = "array"
    age: int = 0  # iterations the artificial-restart rule counted, this solve's included
    repaired: bool = False  # x is a candidate whose dense equality rows were closed (repair.py)


def spectral_norm(operator, ctx: ArrayContext, iterations: int, seed: int) -> float:
    """||K||_2 by power iteration on K'K."""
    xp = ctx.xp
    v = ctx.asarray(np.random.default_rng(seed).standard_normal(operator.shape[1]))
    v /= xp.linalg.norm(v)
    estimate = 0.0
    for _ in range(iterations):
        w = operator.rmatvec(operator.matvec(v))
        norm = float(xp.linalg.norm(w))
        if norm == 0.0:
            return 0.0
        v = w / norm
        previous, estimate = estimate, math.sqrt(norm)
        if abs(estimate - previous) <= 1e-4 * estimate:
            break
    return estimate


def _stop_status(evaluator: Evaluator, params: PdlpParameters, total: int, started: float,
                 rays: Callable[[], tuple] | None) -> str | None:
    """Infeasibility, unboundedness or a limit, checked in that order; None to go on.

    ``rays()`` gives (dual_ray, primal_ray): dual_ray = (dy, K'dy) and primal_ray = (dx, K dx)
    are iterate differences since the last restart, in the scaled space (None where there is
    none yet). ``rays`` is None on checks that skip the ray tests (see ``_testing_rays``)."""
    dual_ray, primal_ray = rays() if rays is not None else (None, None)
    if dual_ray is not None and evaluator.primal_infeasible(*dual_ray, params.infeasibility_tol):
        return "infeasible"
    if primal_ray is not None and evaluator.dual_infeasible(*primal_ray, params.infeasibility_tol):
        return "unbounded"
    if params.iteration_limit is not None and total >= params.iteration_limit:
        return "iteration_limit"
    if params.time_limit is not None and time.perf_counter() - started >= params.time_limit:
        return "time_limit"
    return None


def _testing_rays(params: PdlpParameters, total: int, every: int) -> bool:
    """Whether this check also tests the iterate differences as infeasibility rays: every
    ``infeasibility_every`` iterations, not every check. The ray tests cost more than the
    certificate (N = 1200: ~34 ms against ~9 ms a check) and a ray only firms up over many
    iterations, so detection is at most that many iterations later."""
    return (total // every) % max(1, params.infeasibility_every // every) == 0


def solve_halpern(problem, operator, evaluator: Evaluator, ctx: ArrayContext,
                 params: PdlpParameters, x_start, y_start) -> PdlpResult:
    """Run r2HPDHG from (x_start, y_start) on the scaled problem (device arrays)."""
    xp = ctx.xp
    started = time.perf_counter()
    c, lo, up, l_row, u_row = problem
    norm = spectral_norm(operator, ctx, params.power_iterations, params.seed)
    eta = params.step_safety / norm if norm > 0 else 1.0  # constant: Halpern needs a fixed metric
    omega = params.initial_primal_weight or 1.0
    tau, sigma = eta / omega, eta * omega
    pid_integral, best_balance, best_omega = 0.0, math.inf, omega

    n, m = x_start.shape[0], y_start.shape[0]
    kernels = kernels_for(ctx, n, m)
    x = xp.clip(x_start, lo, up)  # the iterate, updated in place by the reflection
    y = xp.array(y_start, copy=True)
    Ax = operator.matvec(x)
    x0, y0, Ax0 = x.copy(), y.copy(), Ax.copy()  # the epoch's anchor
    x_hat, y_hat = xp.empty(n, dtype=ctx.dtype), xp.empty(m, dtype=ctx.dtype)
    gradient = xp.empty(n, dtype=ctx.dtype)
    ATy0 = None
    anchor_error = previous_error = None
    k = total = restarts = 0
    history: list[tuple[int, float, int, float]] = []
    gamma = params.reflection
    every = params.check_every or 64

    def finish(status, x_out, y_out, kkt, repaired=False):
        return PdlpResult(status, x_out.copy(), y_out.copy(), kkt, total, restarts, omega, eta,
                          history, kernels.name, age + total, repaired)

    ATy = operator.rmatvec(y)
    start = _start_certificate(evaluator, x, y, Ax, ATy, history, omega)
    age = _age(params, start)
    if start.kkt_error <= params.tol:
        return finish("optimal", x, y, start)
    if (repaired := evaluator.repaired(x, y, Ax, ATy, start, params.tol)) is not None:
        return finish("optimal", repaired[0], y, _logged(repaired[1], 0), repaired=True)

    while True:
        xp.subtract(c, operator.rmatvec(y), out=gradient)
        kernels.project_primal(x, gradient, tau, lo, up, x_hat)
        Ax_hat = operator.matvec(x_hat)
        kernels.project_dual(y, Ax_hat, Ax, sigma, l_row, u_row, y_hat)

        checking = total % every == 0 or k == 0
        if checking:
            dx, dy, dAx = x - x_hat, y - y_hat, Ax - Ax_hat
            error = math.sqrt(max(
                float(dx @ dx) / tau + float(dy @ dy) / sigma + 2.0 * float(dy @ dAx), 0.0))
            if k == 0:
                anchor_error = error
        if total % every == 0:
            ATy_hat = operator.rmatvec(y_hat)
            kkt = evaluator.kkt(x_hat, y_hat, Ax_hat, ATy_hat)
            history.append((total, kkt.kkt_error, restarts, omega))
            logger.debug("iter %6d  kkt %.3e (p %.2e d %.2e gap %.2e)  restarts %d  omega %.3g",
                         total, kkt.kkt_error, kkt.primal_residual, kkt.dual_residual, kkt.gap, restarts, omega)
            if kkt.kkt_error <= params.tol:
                return finish("optimal", x_hat, y_hat, kkt)
            if (repaired := evaluator.repaired(x_hat, y_hat, Ax_hat, ATy_hat, kkt, params.tol)) is not None:
                return finish("optimal", repaired[0], y_hat, _logged(repaired[1], total), repaired=True)
            status = _stop_status(
                evaluator, params, total, started,
                (lambda: ((y_hat - y0, ATy_hat - ATy0) if ATy0 is not None else None,
                          (x_hat - x0, Ax_hat - Ax0) if k > 0 else None))
                if _testing_rays(params, total, every) else None,
            )
            if status is not None:
                return finish(status, x_hat, y_hat, kkt)

            restart = k > 0 and (
                error <= params.beta_sufficient_halpern * anchor_error
                or (error <= params.beta_necessary_halpern * anchor_error and error > previous_error)
                or k >= params.beta_artificial * (age + total)
            )
            previous_error = error
            if restart or ATy0 is None:
                if restart:
                    omega, pid_integral, best_balance, best_omega = _update_primal_weight(
                        params, xp, omega, pid_integral, best_balance, best_omega,
                        x_hat - x0, y_hat - y0, kkt)
                    tau, sigma = eta / omega, eta * omega
                    restarts += 1
                for current, anchor, new in ((x, x0, x_hat), (y, y0, y_hat), (Ax, Ax0, Ax_hat)):
                    current[...] = new
                    anchor[...] = new
                ATy0 = ATy_hat
                k = 0
                total += 1
                continue

        weight = (k + 1) / (k + 2)
        kernels.reflect(x_hat, x, x0, weight, gamma)
        kernels.reflect(Ax_hat, Ax, Ax0, weight, gamma)
        kernels.reflect(y_hat, y, y0, weight, gamma)
        k += 1
        total += 1


def _start_certificate(evaluator, x, y, Ax, ATy, history, omega) -> Certificate:
    """The start's certificate, logged as iteration 0: a warm start that already certifies
    (or does once its dense equality rows are closed) stops there, since one PDHG step with an
    inherited (large) primal step can leave the optimum of a slightly changed LP far behind."""
    start = evaluator.kkt(x, y, Ax, ATy)
    history.append((0, start.kkt_error, 0, omega))
    return start


def _logged(certificate: Certificate, total: int) -> Certificate:
    logger.debug("iter %6d  kkt %.3e (p %.2e d %.2e gap %.2e)  the candidate with its dense equality "
                 "rows closed (repair.py)", total, certificate.kkt_error, certificate.primal_residual,
                 certificate.dual_residual, certificate.gap)
    return certificate


def _age(params: PdlpParameters, start: Certificate) -> int:
    """The iterations PDLP's artificial-restart rule counts before this solve's first.

    A warm start continues the solve it came from when it has done at least half of the work,
    in log KKT error, between a cold start (error ~1) and tol: error <= sqrt(tol). Then its
    first epochs are not cut short as a young solve's would be. A start farther away (a larger
    change of the LP) is restarted as a young solve, which adapts the primal weight sooner.
    Measured in docs/pdlp.md ("Warm start") on both sides of the threshold."""
    return params.prior_iterations if start.kkt_error <= math.sqrt(params.tol) else 0


def _update_primal_weight(params, xp, omega, integral, best_balance, best_omega, dx, dy, kkt):
    """cuPDLPx's PID step on log(omega) balancing the scaled primal and dual displacements."""
    dx_norm, dy_norm = float(xp.linalg.norm(dx)), float(xp.linalg.norm(dy))
    balance = abs(math.log10(max(kkt.dual_residual, 1e-30) / max(kkt.primal_residual, 1e-30)))
    if balance < best_balance:
        best_balance, best_omega = balance, omega
    if not (1e-16 <= dx_norm <= 1e12 and 1e-16 <= dy_norm <= 1e12):
        return best_omega, 0.0, best_balance, best_omega
    error = math.log(omega * dx_norm / dy_norm)
    integral = params.pid_decay * integral + error
    log_omega = math.log(omega) - (params.pid_proportional * error + params.pid_integral * integral)
    return math.exp(log_omega), integral, best_balance, best_omega


def solve_adaptive(problem, operator, evaluator: Evaluator, ctx: ArrayContext,
                         params: PdlpParameters, x_start, y_start) -> PdlpResult:
    """Restarted *averaged* PDHG with PDLP's adaptive step size (cuPDLP.jl's scheme).

    Steps adapt by PDLP's rule eta_max = ||dz||_omega^2 / (2 |dy' K dx|); the restart candidate
    is the current or the step-weighted average iterate, whichever has the smaller KKT error;
    restarts follow the KKT error (beta_sufficient 0.5, 0.8, beta_artificial) and the primal weight
    is smoothed toward ||dy|| / ||dx|| (theta = 0.5) at each restart. The first epoch is judged
    against the start's own KKT error, and the artificial-restart rule counts a near warm
    start's ``prior_iterations`` (``_age``), so it is not thrown away for the first candidate.
    Vector work happens in preallocated buffers: on the CPU it, not the two products, dominates
    an iteration.
    """
    xp = ctx.xp
    started = time.perf_counter()
    c, lo, up, l_row, u_row = problem
    if params.initial_step_size is not None:
        eta = params.initial_step_size
    else:
        norm = spectral_norm(operator, ctx, params.power_iterations, params.seed)
        eta = 1.0 / norm if norm > 0 else 1.0
    omega = params.initial_primal_weight or 1.0
    x = xp.clip(x_start, lo, up)
    y = xp.array(y_start, copy=True)
    Ax = operator.matvec(x)
    ATy = operator.rmatvec(y)
    x0, y0 = x.copy(), y.copy()
    Ax0, ATy0 = Ax, ATy
    n, m = x.shape[0], y.shape[0]
    kernels = kernels_for(ctx, n, m)
    gradient, x_new = xp.empty(n, dtype=ctx.dtype), xp.empty(n, dtype=ctx.dtype)
    y_new = xp.empty(m, dtype=ctx.dtype)
    sum_x, sum_y = xp.zeros(n, dtype=ctx.dtype), xp.zeros(m, dtype=ctx.dtype)
    weight_total = 0.0
    k = total = restarts = 0
    previous_candidate_error = None
    history: list[tuple[int, float, int, float]] = []
    every = params.check_every or 8

    def finish(status, x_out, y_out, kkt, repaired=False):
        return PdlpResult(status, x_out, y_out, kkt, total, restarts, omega, eta, history,
                          kernels.name, age + total, repaired)

    start = _start_certificate(evaluator, x, y, Ax, ATy, history, omega)
    age = _age(params, start)
    if start.kkt_error <= params.tol:
        return finish("optimal", x, y, start)
    if (repaired := evaluator.repaired(x, y, Ax, ATy, start, params.tol)) is not None:
        return finish("optimal", repaired[0], y, _logged(repaired[1], 0), repaired=True)
    last_restart_error = start.kkt_error  # the restart criteria compare with the anchor's error

    while True:
        xp.subtract(c, ATy, out=gradient)
        while True:  # adaptive step: retry with a smaller eta until it is accepted
            tau, sigma = eta / omega, eta * omega
            dx_squared = kernels.primal_step(x, gradient, tau, lo, up, x_new)
            Ax_new = operator.matvec(x_new)
            dy_squared, dy_dAx = kernels.dual_step(y, Ax_new, Ax, sigma, l_row, u_row, y_new)
            interaction = abs(dy_dAx)
            movement = 0.5 * (omega * dx_squared + dy_squared / omega)
            eta_max = movement / interaction if interaction > 0 else math.inf
            step = eta
            # PDLP's rule with k = total + 1 >= 1 counting from one, so that the factors stay > 0
            grown = (1 + (total + 2) ** -0.6) * eta
            eta = grown if math.isinf(eta_max) else min((1 - (total + 2) ** -0.3) * eta_max, grown)
            if step <= eta_max:
                break
        x, x_new = x_new, x
        y, y_new = y_new, y
        Ax = Ax_new
        ATy = operator.rmatvec(y)
        kernels.accumulate(sum_x, x, step)
        kernels.accumulate(sum_y, y, step)
        weight_total += step
        k += 1
        total += 1
        if total % every and total != 1:
            continue
        current = evaluator.kkt(x, y, Ax, ATy)
        xa, ya = sum_x / weight_total, sum_y / weight_total
        Axa, ATya = operator.matvec(xa), operator.rmatvec(ya)
        average = evaluator.kkt(xa, ya, Axa, ATya)
        best = min(current.kkt_error, average.kkt_error)
        history.append((total, best, restarts, omega))
        logger.debug("iter %6d  kkt %.3e (p %.2e d %.2e gap %.2e)  restarts %d  omega %.3g  eta %.3g",
                     total, best, current.primal_residual, current.dual_residual, current.gap, restarts, omega, eta)
        if current.kkt_error <= params.tol:
            return finish("optimal", x, y, current)
        if average.kkt_error <= params.tol:
            return finish("optimal", xa, ya, average)
        candidate = (x, y, Ax, ATy, current) if current.kkt_error <= average.kkt_error else (xa, ya, Axa, ATya, average)
        if (repaired := evaluator.repaired(*candidate, params.tol)) is not None:
            return finish("optimal", repaired[0], candidate[1], _logged(repaired[1], total), repaired=True)
        rays = (lambda: ((y - y0, ATy - ATy0), (x - x0, Ax - Ax0))) if _testing_rays(params, total, every) else None
        status = _stop_status(evaluator, params, total, started, rays)
        if status is not None:
            return finish(status, x, y, current)
        restart = (
            best <= params.beta_sufficient_adaptive * last_restart_error
            or (best <= params.beta_necessary_adaptive * last_restart_error
                and previous_candidate_error is not None and best > previous_candidate_error)
            or k >= params.beta_artificial * (age + total)
        )
        previous_candidate_error = best
        if restart:
            if average.kkt_error < current.kkt_error:
                x[...], y[...] = xa, ya
                Ax, ATy = Axa, ATya
            dx_norm = float(xp.linalg.norm(x - x0))
            dy_norm = float(xp.linalg.norm(y - y0))
            if 1e-10 < dx_norm < 1e10 and 1e-10 < dy_norm < 1e10:
                omega = math.exp(params.weight_smoothing * math.log(dy_norm / dx_norm)
                                 + (1 - params.weight_smoothing) * math.log(omega))
            x0, y0, Ax0, ATy0 = x.copy(), y.copy(), Ax, ATy
            sum_x.fill(0.0)
            sum_y.fill(0.0)
            weight_total = 0.0
            k = 0
            restarts += 1
            last_restart_error = best
            previous_candidate_error = None
