"""The working set of images (alsel.solvers.working_set) against solving the whole LP, per backend,
on the "symmetric" relaxation of the paper-scale pool (C = 19, B = N/6, C_max = 5, lam = 1).

    .venv/bin/python -m pytest benchmarks/test_working_set.py --benchmark-only \
        --benchmark-json=benchmarks/results_working_set.json
    .venv/bin/python benchmarks/report.py benchmarks/results_working_set.json

Each answer is judged on the whole LP by alsel's certificate. One round each (the whole-LP
solves take up to a minute); figures in docs/benchmarks.md and docs/solvers.md.
"""

from __future__ import annotations

import pytest
from models import paper_scale_problem

import alsel
from alsel import solvers

TIME_LIMIT = 600
#: (N, backend, whole LP too?): the whole LP where it takes under a minute or so here
CASES = [(n, backend, True) for n in (300, 1200) for backend in ("highs", "glop", "ortools-pdlp", "pdlp")]
CASES += [(300, "gurobi", True), (1200, "gurobi", False)]
CASES += [(2400, "pdlp", True), (2400, "highs", False), (2400, "glop", False), (2400, "ortools-pdlp", False)]


def _cases():
    for n, backend, whole in CASES:
        yield pytest.param(n, backend, True, id=f"{backend}-{n}-working_set")
        if whole:
            yield pytest.param(n, backend, False, id=f"{backend}-{n}-whole")


@pytest.mark.parametrize("n_images, backend, working_set", list(_cases()))
def test_working_set(benchmark, n_images, backend, working_set):
    reason = solvers.available()[backend]
    if reason is not None:
        pytest.skip(reason)
    lp = alsel.build_lp(paper_scale_problem(n_images), "symmetric")
    if backend == "pdlp":
        solvers.solve(lp, "pdlp", {"working_set": True, "iteration_limit": 8})  # compile Numba's kernels
    benchmark.group = f"working set N={n_images}"
    options = {"time_limit": TIME_LIMIT, "working_set": working_set}
    try:
        solution = benchmark.pedantic(solvers.solve, args=(lp, backend, options), rounds=1)
    except alsel.SolverLicenseError as error:
        pytest.skip(str(error))
    certificate = alsel.certify(lp, solution.x, solution.row_dual)
    rounds = solution.info.get("working_set", {}).get("rounds", [])
    benchmark.extra_info.update(
        status=solution.status,
        iterations=solution.iterations if solution.iterations is not None else -1,
        objective=solution.objective,
        kkt_error=certificate.kkt_error,
        rounds=len(rounds),
        images=rounds[-1]["images"] if rounds else n_images,
        rows=rounds[-1]["rows"] if rounds else lp.num_rows,
        whole_rows=lp.num_rows,
    )
