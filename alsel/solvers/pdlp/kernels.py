"""The vector work of a PDHG step (adaptive or Halpern), in three interchangeable implementations.

On the CPU an iteration on the N = 1200 selection LP (745k-long vectors) spent ~14 of its 19 ms
in ~27 memory-bound NumPy passes and ~5 ms in the two SpMVs. ``NumbaKernels`` fuses each step
into one compiled loop (one read of every input, one write of every output); ``CupyKernels``
does the same on a GPU with one CUDA elementwise kernel a step, where the whole-array version
is bound by kernel launches (Halpern: 0.93 -> 0.26 ms an iteration on an H100 at N = 1200);
``ArrayKernels`` is the arithmetic in whole-array operations of any array module (NumPy where
Numba is not installed). The adaptive step's versions also return the squared norms of the
moves and the interaction term its step rule needs.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .arrays import ArrayContext


class ArrayKernels:
    """Whole-array operations of ``ctx.xp`` (NumPy or CuPy)."""

    name = "array"

    def __init__(self, ctx: ArrayContext, n: int, m: int) -> None:
        self.xp = ctx.xp
        self.dx = ctx.xp.empty(n, dtype=ctx.dtype)
        self.dAx = ctx.xp.empty(m, dtype=ctx.dtype)
        self.v = ctx.xp.empty(m, dtype=ctx.dtype)
        self.shift = ctx.xp.empty(m, dtype=ctx.dtype)

    def project_primal(self, x, gradient, tau, lo, up, out) -> None:
        """out = clip(x - tau gradient, lo, up): the primal prox."""
        xp = self.xp
        xp.multiply(gradient, -tau, out=out)
        out += x
        xp.maximum(out, lo, out=out)  # clip as two passes: NumPy's clip with array
        xp.minimum(out, up, out=out)  # bounds is slower than both together

    def primal_step(self, x, gradient, tau, lo, up, out) -> float:
        """project_primal; returns ||out - x||^2."""
        self.project_primal(x, gradient, tau, lo, up, out)
        self.xp.subtract(out, x, out=self.dx)
        return float(self.dx @ self.dx)

    def project_dual(self, y, Ax_new, Ax, sigma, lower, upper, out) -> None:
        """out = max(v + sigma l, 0) + min(v + sigma u, 0), v = y - sigma (2 Ax_new - Ax): the
        dual prox (leaves Ax_new - Ax in ``self.dAx``)."""
        xp, dAx, v, shift = self.xp, self.dAx, self.v, self.shift
        xp.subtract(Ax_new, Ax, out=dAx)
        xp.add(Ax_new, dAx, out=v)
        v *= -sigma
        v += y
        xp.multiply(lower, sigma, out=shift)
        shift += v
        xp.maximum(shift, 0.0, out=shift)
        xp.multiply(upper, sigma, out=out)
        out += v
        xp.minimum(out, 0.0, out=out)
        out += shift

    def dual_step(self, y, Ax_new, Ax, sigma, lower, upper, out) -> tuple[float, float]:
        """project_dual; returns (||out - y||^2, (out - y) . (Ax_new - Ax))."""
        self.project_dual(y, Ax_new, Ax, sigma, lower, upper, out)
        v = self.v
        self.xp.subtract(out, y, out=v)
        return float(v @ v), float(v @ self.dAx)

    def accumulate(self, total, value, weight) -> None:
        """total += weight * value."""
        total += weight * value

    def reflect(self, hat, current, anchor, weight, gamma) -> None:
        """current <- weight ((1 + gamma) hat - gamma current) + (1 - weight) anchor, in place:
        the reflected Halpern step (gamma = 1: full reflection 2 hat - current)."""
        current *= -weight * gamma
        current += (weight * (1.0 + gamma)) * hat
        current += (1.0 - weight) * anchor


def _compile():
    from numba import njit

    @njit(cache=True)
    def project_primal(x, gradient, tau, lo, up, out):
        for i in range(x.shape[0]):
            out[i] = min(max(x[i] - tau * gradient[i], lo[i]), up[i])

    @njit(cache=True)
    def primal_step(x, gradient, tau, lo, up, out):
        moved = 0.0
        for i in range(x.shape[0]):
            value = min(max(x[i] - tau * gradient[i], lo[i]), up[i])
            out[i] = value
            delta = value - x[i]
            moved += delta * delta
        return moved

    @njit(cache=True)
    def project_dual(y, Ax_new, Ax, sigma, lower, upper, out):
        for i in range(y.shape[0]):
            v = y[i] - sigma * (2.0 * Ax_new[i] - Ax[i])
            out[i] = max(v + sigma * lower[i], 0.0) + min(v + sigma * upper[i], 0.0)

    @njit(cache=True)
    def dual_step(y, Ax_new, Ax, sigma, lower, upper, out):
        moved = 0.0
        interaction = 0.0
        for i in range(y.shape[0]):
            dAx = Ax_new[i] - Ax[i]
            v = y[i] - sigma * (Ax_new[i] + dAx)
            value = max(v + sigma * lower[i], 0.0) + min(v + sigma * upper[i], 0.0)
            out[i] = value
            delta = value - y[i]
            moved += delta * delta
            interaction += delta * dAx
        return moved, interaction

    @njit(cache=True)
    def accumulate(total, value, weight):
        for i in range(total.shape[0]):
            total[i] += weight * value[i]

    @njit(cache=True)
    def reflect(hat, current, anchor, weight, gamma):
        for i in range(current.shape[0]):
            current[i] = weight * ((1.0 + gamma) * hat[i] - gamma * current[i]) + (1.0 - weight) * anchor[i]

    return project_primal, primal_step, project_dual, dual_step, accumulate, reflect


class NumbaKernels:
    """Each step fused into one compiled loop (CPU, float64; needs Numba)."""

    name = "numba"
    _compiled = None

    def __init__(self, ctx: ArrayContext, n: int, m: int) -> None:
        if NumbaKernels._compiled is None:
            NumbaKernels._compiled = _compile()
        (self.project_primal, self.primal_step, self.project_dual, self.dual_step,
         self.accumulate, self.reflect) = NumbaKernels._compiled


class CupyKernels(ArrayKernels):
    """Each step fused into one CUDA elementwise kernel (CuPy), the reductions by cuBLAS.

    An iteration on the GPU is bound by launches, not bandwidth, at the paper's scale: the
    whole-array version launches ~20 kernels per adaptive step and ~35 per Halpern step."""

    name = "cupy"
    _compiled: dict = {}

    def __init__(self, ctx: ArrayContext, n: int, m: int) -> None:
        super().__init__(ctx, n, m)
        if not CupyKernels._compiled:
            CupyKernels._compiled.update(_compile_cupy())
        self._k = CupyKernels._compiled
        self._pair = ctx.xp.empty(2, dtype=ctx.dtype)

    def project_primal(self, x, gradient, tau, lo, up, out) -> None:
        self._k["primal"](x, gradient, tau, lo, up, out, self.dx)

    def primal_step(self, x, gradient, tau, lo, up, out) -> float:
        self._k["primal"](x, gradient, tau, lo, up, out, self.dx)
        return float(self.dx @ self.dx)

    def project_dual(self, y, Ax_new, Ax, sigma, lower, upper, out) -> None:
        self._k["dual"](y, Ax_new, Ax, sigma, lower, upper, out, self.v, self.dAx)

    def dual_step(self, y, Ax_new, Ax, sigma, lower, upper, out) -> tuple[float, float]:
        self._k["dual"](y, Ax_new, Ax, sigma, lower, upper, out, self.v, self.dAx)
        self._pair[0] = self.v @ self.v
        self._pair[1] = self.v @ self.dAx
        moved, interaction = self._pair.get()  # one device-to-host copy for both
        return float(moved), float(interaction)

    def accumulate(self, total, value, weight) -> None:
        self._k["accumulate"](value, weight, total)

    def reflect(self, hat, current, anchor, weight, gamma) -> None:
        self._k["reflect"](hat, anchor, weight, gamma, current)


def _compile_cupy() -> dict:
    import cupy

    return {
        "primal": cupy.ElementwiseKernel(
            "T x, T g, T tau, T lo, T up", "T out, T dx",
            "out = min(max(x - tau * g, lo), up); dx = out - x", "alsel_pdlp_primal"),
        "dual": cupy.ElementwiseKernel(
            "T y, T Ax_new, T Ax, T sigma, T lower, T upper", "T out, T dy, T dAx",
            """
            T d = Ax_new - Ax;
            T v = y - sigma * (Ax_new + d);
            out = max(v + sigma * lower, (T)0) + min(v + sigma * upper, (T)0);
            dy = out - y;
            dAx = d;
            """, "alsel_pdlp_dual"),
        "accumulate": cupy.ElementwiseKernel(
            "T value, T weight", "T total", "total += weight * value", "alsel_pdlp_accumulate"),
        "reflect": cupy.ElementwiseKernel(
            "T hat, T anchor, T weight, T gamma", "T current",
            "current = weight * ((1 + gamma) * hat - gamma * current) + (1 - weight) * anchor",
            "alsel_pdlp_reflect"),
    }


def _compile_kkt():
    from numba import njit

    @njit(cache=True)
    def kkt_sums(x_s, y_s, Ax_s, ATy_s, d1, d2, theta_b, theta_c, c, row_lower, row_upper,
                 col_lower, col_upper, dual_floor, dual_ceiling, row_lower_0, row_upper_0,
                 col_lower_0, col_upper_0, col_lower_infinite, col_upper_infinite, boxed):
        primal = 0.0
        dual = 0.0
        dual_terms = 0.0
        cx = 0.0
        for i in range(y_s.shape[0]):
            ax = Ax_s[i] / (d1[i] * theta_b)
            excess = ax - min(max(ax, row_lower[i]), row_upper[i])
            primal += excess * excess
            y = d1[i] * y_s[i] / theta_c
            allowed = min(max(y, dual_floor[i]), dual_ceiling[i])
            dual += (y - allowed) * (y - allowed)
            dual_terms += allowed * row_lower_0[i] if allowed > 0 else allowed * row_upper_0[i]
        for j in range(x_s.shape[0]):
            x = d2[j] * x_s[j] / theta_b
            excess = x - min(max(x, col_lower[j]), col_upper[j])
            primal += excess * excess
            cx += c[j] * x
            d = c[j] - ATy_s[j] / (d2[j] * theta_c)
            dual_terms += d * col_lower_0[j] if d > 0 else d * col_upper_0[j]
            if not boxed and ((d > 0 and col_lower_infinite[j]) or (d < 0 and col_upper_infinite[j])):
                dual += d * d
        return primal, dual, cx, dual_terms

    return kkt_sums


class FusedKKT:
    """alsel's certificate of a scaled point in two compiled loops (rows, columns) that unscale
    on the fly: the ~25 whole-array NumPy passes of ``relative_kkt`` cost ~4 iterations at
    N = 300 and the adaptive loop evaluates two certificates at every check (every 8 iterations)."""

    _compiled = None

    def __init__(self, data, d1, d2, theta_b: float, theta_c: float) -> None:
        if FusedKKT._compiled is None:
            FusedKKT._compiled = _compile_kkt()
        self.arguments = (d1, d2, float(theta_b), float(theta_c), data.c, data.row_lower, data.row_upper,
                          data.col_lower, data.col_upper, data.dual_floor, data.dual_ceiling,
                          data.row_lower_0, data.row_upper_0, data.col_lower_0, data.col_upper_0,
                          data.col_lower_infinite, data.col_upper_infinite, bool(data.boxed))

    def sums(self, x_s, y_s, Ax_s, ATy_s) -> tuple[float, float, float, float]:
        """(||primal excess||^2, ||dual excess||^2, c'x, dual objective terms) in the original space."""
        return FusedKKT._compiled(x_s, y_s, Ax_s, ATy_s, *self.arguments)


def numba_available() -> bool:
    try:
        import numba  # noqa: F401
    except ImportError:
        return False
    return True


def kernels_for(ctx: ArrayContext, n: int, m: int) -> Any:
    """Fused CUDA kernels on a GPU; Numba's fused loops on the CPU when Numba is installed;
    whole-array operations otherwise."""
    if ctx.device == "cuda":
        return CupyKernels(ctx, n, m)
    if ctx.xp is np and ctx.dtype == np.float64 and numba_available():
        return NumbaKernels(ctx, n, m)
    return ArrayKernels(ctx, n, m)
