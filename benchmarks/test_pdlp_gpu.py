"""alsel's PDLP on an NVIDIA GPU ("pdlp-cuda") beside cuPDLPx on the same selection LP
("symmetric", C = 19), each answer certified by alsel; a warm-started re-solve on the GPU.
Skips without a usable GPU. Figures in docs/benchmarks.md."""

from __future__ import annotations

import numpy as np
import pytest
from models import paper_scale_problem

import alsel
from alsel import solvers

TOL = 1e-4
SIZES = [1200, 5000]
TIME_LIMIT = 90
VARIANTS = {
    "alsel adaptive sparse": ("pdlp-cuda", {"algorithm": "adaptive", "operator": "sparse"}),
    "alsel adaptive structured": ("pdlp-cuda", {"algorithm": "adaptive", "operator": "structured"}),
    "alsel halpern sparse": ("pdlp-cuda", {"algorithm": "halpern", "operator": "sparse"}),
    "alsel halpern structured": ("pdlp-cuda", {"algorithm": "halpern", "operator": "structured"}),
    "alsel adaptive structured float32": (
        "pdlp-cuda", {"algorithm": "adaptive", "operator": "structured", "dtype": "float32"}),
    "cupdlpx": ("cupdlpx", {}),
}

pytestmark = pytest.mark.gpu


def _require(backend: str) -> None:
    reason = solvers.available().get(backend)
    if reason is not None:
        pytest.skip(reason)


@pytest.fixture(scope="module")
def lps():
    lps = {n: alsel.build_lp(paper_scale_problem(n), "symmetric") for n in SIZES}
    lps["warm-up"] = alsel.build_lp(paper_scale_problem(60), "symmetric")
    return lps


@pytest.mark.parametrize("n_images", SIZES)
@pytest.mark.parametrize("variant", list(VARIANTS))
def test_pdlp_gpu(benchmark, lps, variant, n_images):
    backend, options = VARIANTS[variant]
    if n_images > 1200 and variant == "alsel halpern structured":
        pytest.skip("minutes at this size: the structured operator's gathers and scatters are "
                    "slower than cuSPARSE on the GPU (see N=1200)")
    _require(backend)
    lp = lps[n_images]
    solvers.solve(lps["warm-up"], backend, {"tol": TOL, **options})  # CUDA context, kernel compilation
    benchmark.group = f"PDLP on the GPU, N={n_images}"
    options = {"tol": TOL, **options, "time_limit": TIME_LIMIT}
    solution = benchmark.pedantic(solvers.solve, args=(lp, backend, options), rounds=1)
    certificate = alsel.certify(lp, solution.x, solution.row_dual)
    benchmark.extra_info.update(
        status=solution.status, iterations=solution.iterations, solver_seconds=solution.seconds,
        handover_seconds=solution.handover_seconds, kkt=certificate.kkt_error,
        objective=solution.objective,
    )


@pytest.mark.parametrize("n_images", SIZES)
def test_pdlp_gpu_warm_start_after_a_small_change_in_G(benchmark, n_images):
    _require("pdlp-cuda")
    options = {"tol": TOL, "time_limit": TIME_LIMIT}
    problem = paper_scale_problem(n_images)
    previous = solvers.solve(alsel.build_lp(problem, "symmetric"), "pdlp-cuda", options)
    noise = np.random.default_rng(1).normal(scale=1e-3 * problem.G.std(), size=problem.G.shape)
    changed = alsel.SelectionProblem(problem.G + np.abs(noise), problem.R, problem.B, problem.C_max,
                                     problem.lam)
    lp = alsel.build_lp(changed, "symmetric")
    cold = solvers.solve(lp, "pdlp-cuda", options)
    benchmark.group = f"PDLP on the GPU, warm start N={n_images}"
    warm = benchmark.pedantic(solvers.solve, args=(lp, "pdlp-cuda", {**options, "warm_start": previous}),
                              rounds=1)
    benchmark.extra_info.update(
        cold_iterations=cold.iterations, cold_seconds=cold.seconds,
        warm_iterations=warm.iterations, warm_seconds=warm.seconds,
        speedup=cold.seconds / warm.seconds,
        warm_kkt=alsel.certify(lp, warm.x, warm.row_dual).kkt_error,
    )
