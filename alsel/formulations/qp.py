"""The convex QP relaxation of Eq. 4: min Tr(MG) + lam v^T R v over the polytope of (M, v).

No z at all: columns vec(M) and v in [0, 1], rows "budget", "capacity" and "link", and the
Hessian Q = 2 lam R on the v block (objective 1/2 x^T Q x + c^T x). For binary v the objective
is Eq. 4's, so the QP relaxes Eq. 4; it is convex exactly when R is positive semidefinite,
which :func:`check_psd` verifies (the affine mapping (1 + cos) / 2 of ``alsel.scores`` always
is; min-max mapping is only when the smallest cosine is <= 0). A non-PSD R is refused: the QP
would be nonconvex, and neither its solvers nor its lower bound would be valid.

An R whose smallest eigenvalue is negative by at most ``PSD_TOL * max|R|`` (rounding: the
affine R of d-dimensional features has rank d + 1 and N - d - 1 zero eigenvalues) is accepted;
that curvature is recorded as ``hessian_shift`` and subtracted from the lower bound
(``LinearProgram.dual_bound``), which therefore stays a proven bound.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg

from ..lp import LinearProgram
from ..problem import SelectionProblem
from ._assembly import assemble, standard_blocks, variable_index

NAME = "qp"
#: R counts as PSD when its smallest eigenvalue is >= -PSD_TOL * max|R|.
PSD_TOL = 1e-9
#: A sparse R up to this size is checked with a dense eigensolver; larger ones with ARPACK.
DENSE_EIGEN_LIMIT = 2000


def smallest_eigenvalue(R: np.ndarray | sp.csr_array) -> float:
    """The smallest eigenvalue of the symmetric matrix R (dense LAPACK, or ARPACK when large
    and sparse)."""
    n = R.shape[0]
    if sp.issparse(R) and n > DENSE_EIGEN_LIMIT:
        try:
            values = scipy.sparse.linalg.eigsh(R, k=1, which="SA", return_eigenvectors=False,
                                               tol=1e-10)
        except scipy.sparse.linalg.ArpackNoConvergence as exc:
            raise ValueError(
                f"could not establish whether the sparse R (N = {n}) is positive semidefinite: "
                f"ARPACK did not converge ({exc}). Use formulation='sparse' or 'mccormick'."
            ) from exc
        return float(values[0])
    dense = R.toarray() if sp.issparse(R) else R
    # all eigenvalues (divide and conquer) is ~10x faster than LAPACK's subset driver here
    return float(np.linalg.eigvalsh(dense)[0])


def check_psd(R: np.ndarray | sp.csr_array) -> float:
    """Return mu = max(0, -lambda_min(R)) if R is PSD within tolerance; ValueError otherwise."""
    largest = float(abs(R).max()) if (not sp.issparse(R) or R.nnz) else 0.0
    if largest == 0.0:
        return 0.0
    lowest = smallest_eigenvalue(R)
    if lowest < -PSD_TOL * largest:
        raise ValueError(
            f"formulation 'qp' needs a positive semidefinite R (its relaxation is convex only "
            f"then); R's smallest eigenvalue is {lowest:.4g} < -{PSD_TOL:g} * max|R|. Build R "
            "with alsel.scores.redundancy(features, mapping='affine'), which is PSD, or use "
            "another formulation ('mccormick', 'sparse', 'symmetric')."
        )
    return max(0.0, -lowest)


def hessian(problem: SelectionProblem, v_start: int, n_cols: int) -> sp.csr_array:
    """Q (n_cols, n_cols): 2 lam R on the v block, nothing elsewhere; both triangles stored."""
    R = sp.csr_array(problem.R)  # drops a dense R's zeros
    R.sort_indices()
    indptr = np.zeros(n_cols + 1, dtype=np.int64)
    indptr[v_start + 1 : v_start + problem.n_images + 1] = R.indptr[1:]
    indptr[v_start + problem.n_images + 1 :] = R.nnz
    dtype = np.int32 if max(n_cols, R.nnz) < np.iinfo(np.int32).max else np.int64
    Q = sp.csr_array(
        (2.0 * problem.lam * R.data, (R.indices + v_start).astype(dtype), indptr.astype(dtype)),
        shape=(n_cols, n_cols),
    )
    Q.has_sorted_indices = True
    return Q


def build(problem: SelectionProblem) -> LinearProgram:
    """The QP relaxation over (M, v); ValueError if R is not positive semidefinite."""
    shift = check_psd(problem.R)
    empty = np.zeros(0, dtype=np.int32)
    index = variable_index(problem, empty, empty)
    Q = hessian(problem, index.v.start, index.z.stop) if problem.lam > 0 else None
    return assemble(problem, standard_blocks(problem), index, np.zeros(0), NAME,
                    hessian=Q, hessian_shift=2.0 * problem.lam * shift)
