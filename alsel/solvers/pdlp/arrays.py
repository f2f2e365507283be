"""The array modules PDLP runs on: NumPy/SciPy on the CPU, CuPy/cupyx on an NVIDIA GPU.

Everything in the solver is written against the small subset of the NumPy API that CuPy
implements, with the module passed in as ``xp``; this file is the only place that chooses it.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import ModuleType
from typing import Any

import numpy as np

from ...errors import SolverUnavailable
from ..base import missing_package

DEVICES = ("cpu", "cuda")
DTYPES = ("float64", "float32")


@dataclass(frozen=True)
class ArrayContext:
    """Where the iterations run: the array module, its sparse module and the float type."""

    xp: ModuleType
    sparse: ModuleType
    dtype: Any
    device: str

    def asarray(self, values: np.ndarray) -> Any:
        return self.xp.asarray(np.asarray(values, dtype=self.dtype))

    def to_host(self, values: Any) -> np.ndarray:
        if self.xp is np:
            return np.asarray(values, dtype=np.float64)
        return np.asarray(values.get(), dtype=np.float64)


def cuda_unavailable_reason() -> str | None:
    """None when CuPy can use a GPU here, else why not."""
    try:
        import cupy
    except ImportError as exc:
        return missing_package("cupy", "gpu", exc)
    try:
        usable = bool(cupy.is_available())
    except Exception as exc:  # a broken CUDA install raises instead of answering
        return f"CuPy cannot query the GPU ({exc})"
    return None if usable else "CuPy reports no usable GPU (cupy.is_available() is False)"


def context(device: str = "cpu", dtype: str = "float64") -> ArrayContext:
    """The ArrayContext for ``device``; SolverUnavailable, never a CPU fallback, without a GPU."""
    if device == "cpu":
        import scipy.sparse

        return ArrayContext(np, scipy.sparse, np.dtype(dtype), "cpu")
    reason = cuda_unavailable_reason()
    if reason is not None:
        raise SolverUnavailable(f"device='cuda' is not usable: {reason}")
    import cupy
    import cupyx.scipy.sparse

    return ArrayContext(cupy, cupyx.scipy.sparse, np.dtype(dtype), "cuda")
