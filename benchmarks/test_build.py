"""LP build time: alsel's vectorized CSR builder against cvxpy's get_problem_data (same model).

Run with `make bench`; figures go to docs/benchmarks.md. Not part of `make test`.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from models import cvxpy_paper_model, paper_scale_problem

import alsel

SIZES = [300, 1200]


@pytest.mark.parametrize("n_images", SIZES)
@pytest.mark.parametrize("formulation", ["paper", "symmetric"])
def test_build_alsel(benchmark, formulation, n_images):
    problem = paper_scale_problem(n_images)
    benchmark.group = f"build N={n_images}"
    lp = benchmark.pedantic(alsel.build_lp, args=(problem, formulation), rounds=7, warmup_rounds=1)
    benchmark.extra_info.update(lp.size())


COLD_BUILD = """
import json, time
from models import paper_scale_problem
import alsel
problem = paper_scale_problem({n})
started = time.perf_counter()
lp = alsel.build_lp(problem, {formulation!r})
print(json.dumps({{"seconds": time.perf_counter() - started}}))
"""


@pytest.mark.parametrize("formulation", ["paper", "symmetric"])
def test_build_alsel_first_call_in_fresh_process(benchmark, formulation):
    """The first build in a process pays the page faults of fresh memory; measured apart."""
    n = 1200
    benchmark.group = f"build N={n}"
    times = []

    def run():
        out = subprocess.run(
            [sys.executable, "-c", COLD_BUILD.format(n=n, formulation=formulation)],
            capture_output=True, text=True, check=True, cwd=str(__import__("pathlib").Path(__file__).parent),
        )
        times.append(json.loads(out.stdout)["seconds"])

    benchmark.pedantic(run, rounds=3)
    benchmark.extra_info["cold_build_seconds"] = times


@pytest.mark.parametrize("n_images", SIZES)
def test_build_cvxpy_get_problem_data(benchmark, n_images):
    cp = pytest.importorskip("cvxpy")
    problem = paper_scale_problem(n_images)
    benchmark.group = f"build N={n_images}"

    def build():
        return cvxpy_paper_model(problem).get_problem_data(cp.HIGHS)

    benchmark.pedantic(build, rounds=3 if n_images <= 300 else 2)
