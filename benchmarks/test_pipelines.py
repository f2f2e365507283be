"""select()'s default pipeline against the paper's at the paper's scale (N = 1200, C = 19,
B = 200, C_max = 5, lam = 1): wall time, Eq. 4 objective, proven gap. Figures and the full
formulation x rounding table (benchmarks/relaxation_table.py) in docs/relaxation.md."""

from __future__ import annotations

import pytest
from models import paper_scale_problem

import alsel

PIPELINES = {
    "default (greedy+local, no relaxation)": {},
    "paper's relaxation (symmetric) + top-B": {"formulation": "symmetric", "rounding": "topb"},
    "mccormick + greedy+local": {"formulation": "mccormick", "rounding": "greedy+local"},
}


@pytest.mark.parametrize("pipeline", list(PIPELINES))
def test_pipeline(benchmark, pipeline):
    problem = paper_scale_problem(1200)
    benchmark.group = "select() at N=1200"
    selection = benchmark.pedantic(
        alsel.select, args=(problem.G, problem.R, problem.B, problem.C_max, problem.lam),
        kwargs=PIPELINES[pipeline], rounds=1)
    benchmark.extra_info.update(objective=selection.objective, lower_bound=selection.lower_bound,
                                gap=selection.gap, bound_source=selection.bound_source)
