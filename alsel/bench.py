"""Backends x formulations over a size sweep (``alsel bench``): a table, a CSV and plots.

Every run records build, handover and solve time, iterations, status, objective, alsel's
certificate of the answer (the same formula for every backend) and the process's peak resident
memory during the run (Linux: the peak is reset before each run through /proc/self/clear_refs;
elsewhere the column is empty). A run that raises or hits its limit is recorded as such and the
sweep goes on; rows are appended to the CSV as they finish, so an interrupted sweep (Ctrl-C)
keeps what it measured. A CSV that already holds rows is appended to, never truncated: every row
carries the ``run_id`` of the sweep that wrote it, and a CSV with other columns is refused.

>>> runs = alsel.bench.sweep([300, 1200], ["highs", "pdlp"], ["symmetric"])   # doctest: +SKIP
"""

from __future__ import annotations

import csv
import math
import secrets
import signal
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np

from . import solvers
from ._validation import as_count, check_choice
from .certificate import certify
from .formulations import FORMULATIONS, INTEGRAL_FORMULATIONS, build_lp
from .problem import SelectionProblem
from .synthetic import random_problem


@dataclass
class BenchRun:
    """One (size, formulation, solver, repeat) run."""

    n_images: int
    n_classes: int
    formulation: str
    solver: str
    repeat: int
    status: str
    build_seconds: float = math.nan
    handover_seconds: float = math.nan
    solve_seconds: float = math.nan
    iterations: float = math.nan
    objective: float = math.nan
    kkt: float = math.nan
    peak_rss_mb: float = math.nan
    rss_before_mb: float = math.nan
    rows: int = 0
    cols: int = 0
    nnz: int = 0
    error: str = ""
    working_set: bool = False  # solved on the working set of images (alsel.solvers.working_set)
    run_id: str = ""  # the sweep (one `alsel bench` invocation) that measured it


    @property
    def solver_label(self) -> str:
        """The backend's name, marked where the run used the working set."""
        return f"{self.solver} (working set)" if self.working_set else self.solver


FIELDS = [f.name for f in fields(BenchRun)]


class BenchRuns(list):
    """The runs of one sweep (a list of BenchRun), with how it ended.

    Attributes
    ----------
    run_id : str
        The sweep's id, also in every row it wrote to the CSV.
    planned : int
        The number of runs the sweep was to make.
    interrupted : bool
        True when Ctrl-C (KeyboardInterrupt) stopped it; the list holds the runs kept.
    """

    def __init__(self, run_id: str, planned: int) -> None:
        super().__init__()
        self.run_id, self.planned, self.interrupted = run_id, planned, False


def new_run_id() -> str:
    """A sweep's id: its UTC start time and a random suffix, e.g. ``20261204T164008Z-3fa9c1``."""
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()) + "-" + secrets.token_hex(3)


def check_csv(path: str | Path) -> None:
    """Refuse a CSV that :func:`sweep` cannot append to: other columns, or a torn last line.

    A missing or empty file is fine (the header is written first).

    Raises
    ------
    ValueError
        Naming the file and the fix.
    """
    path = Path(path)
    if not path.exists() or path.stat().st_size == 0:
        return
    with open(path, newline="", encoding="utf-8", errors="replace") as file:
        header = next(csv.reader(file), [])
    if header != FIELDS:
        missing = [name for name in FIELDS if name not in header]
        extra = [name for name in header if name not in FIELDS]
        raise ValueError(
            f"{str(path)!r} holds rows with other columns than this version of alsel writes "
            f"(missing: {', '.join(missing) or 'none'}; unknown: {', '.join(extra) or 'none'}; or "
            "another order); its rows are kept: move or rename it, or choose another --out, and "
            "run again."
        )
    with open(path, "rb") as file:
        file.seek(-1, 2)
        if file.read(1) != b"\n":
            raise ValueError(f"{str(path)!r} ends in an incomplete line (a write cut off?); fix or move "
                             "the file, or choose another --out, and run again.")


def _reset_peak_memory() -> bool:
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def _memory_mb(field: str = "VmHWM") -> float:
    """The process's peak (VmHWM) or current (VmRSS) resident memory, MB (Linux; nan elsewhere)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return math.nan


#: Left out of the default sweep: cvxpy restates the model in its own algebra (slow at scale),
#: Clarabel's interior point on the whole LP grows fast (N = 600: 222 s against HiGHS's 24 s on a
#: loaded 2-core machine, docs/bench.md;
#: it is for the working set's sub-LPs and QPs), and Gurobi's pip license stops at 2000
#: variables. Name them to include them.
NOT_BY_DEFAULT = ("cvxpy", "clarabel", "gurobi")


def default_solvers() -> list[str]:
    """Every backend usable here for LP relaxations (GPU ones included when a GPU is usable),
    but those of :data:`NOT_BY_DEFAULT`."""
    return [name for name, reason in solvers.available().items()
            if reason is None and name not in NOT_BY_DEFAULT and name != "scip"]


def check_sizes(sizes: Iterable[Any]) -> list[int]:
    """Sizes as positive ints; ValueError naming the bad one otherwise."""
    checked = []
    for size in sizes:
        if isinstance(size, str) and size.strip().isdigit():
            size = int(size)
        if not isinstance(size, (int, np.integer)) or isinstance(size, bool) or size < 1:
            raise ValueError(f"sizes must be positive integers, e.g. 300,1200; got {size!r}.")
        checked.append(int(size))
    if not checked:
        raise ValueError("sizes is empty; give at least one, e.g. 300,1200.")
    return checked


def sweep(
    sizes: Sequence[int],
    solver_names: Sequence[str],
    formulations: Sequence[str] = ("symmetric",),
    *,
    classes: int = 19,
    repeat: int = 1,
    time_limit: float | None = 600.0,
    seed: int = 0,
    problem: SelectionProblem | None = None,
    csv_path: str | Path | None = None,
    progress: bool = True,
    solver_options: dict[str, dict[str, Any]] | None = None,
    problem_factory: Callable[[int], SelectionProblem] | None = None,
    working_set: bool = False,
    run_id: str | None = None,
) -> BenchRuns:
    """Run every solver on every formulation at every size, ``repeat`` times.

    Parameters
    ----------
    sizes : sequence of int
        Numbers of images N of the seeded synthetic instances (C = ``classes``, B = N/6,
        C_max = 5, lam = 1, as in the paper). Ignored when ``problem`` is given.
    solver_names, formulations : sequences of str
        Backends and formulations; every name is checked (and every backend's availability)
        before the first run.
    time_limit : float or None
        Seconds per solve, passed to every backend.
    problem : SelectionProblem, optional
        The user's own instance (e.g. from G/R files) instead of the synthetic sweep.
    csv_path : path, optional
        Rows are appended as runs finish (the header first, into a new or empty file); an
        existing file with other columns is refused before any run (:func:`check_csv`).
    solver_options : dict, optional
        Extra options per backend name, e.g. ``{"pdlp": {"tol": 1e-6}}``.
    problem_factory : callable, optional
        N -> SelectionProblem, replacing the synthetic instances.
    working_set : bool
        Solve each relaxation on the working set of images, as select() does by default, where
        it applies (``BenchRun.working_set`` says where it did); False: the whole LP.
    run_id : str, optional
        The id written in every row (default: :func:`new_run_id`).

    Returns
    -------
    BenchRuns
        One BenchRun per run, in the order run. Ctrl-C stops the sweep and returns the runs kept,
        with ``interrupted`` True (every one of them is in the CSV).
    """
    if problem is None:
        sizes = check_sizes(sizes)
    for name in solver_names:
        solvers.require(name)
    for formulation in formulations:
        check_choice(formulation, "formulation", FORMULATIONS)
    repeat = as_count(repeat, "repeat", minimum=1)
    solver_options = solver_options or {}
    for name, options in solver_options.items():
        solvers.check_options(solvers.get(name), options)
    factory = problem_factory or (lambda n: random_problem(n, classes, B=max(1, n // 6), C_max=5, lam=1.0, seed=seed))
    plan = [(n, f, s, r) for n in ([problem.n_images] if problem is not None else sizes)
            for f in formulations for s in solver_names for r in range(repeat)]
    runs = BenchRuns(run_id or new_run_id(), len(plan))
    writer = _CsvWriter(csv_path)
    bar = None
    cache: dict[int, SelectionProblem] = {}
    with _ctrl_c() as pressed:
        try:
            warm_up = random_problem(12, 3, B=4, C_max=2, lam=1.0, seed=seed)
            for name in solver_names:  # first-call costs (JIT compilation, imports, licences) stay out
                for formulation in formulations:
                    if formulation not in INTEGRAL_FORMULATIONS or solvers.get(name).supports_mip:
                        try:
                            solvers.solve(build_lp(warm_up, formulation), name, solver_options.get(name, {}))
                        except Exception:  # noqa: S110 - a failing backend is recorded by its real runs
                            pass
            if pressed.is_set():  # Ctrl-C during the warm-up, caught by a backend
                raise KeyboardInterrupt
            bar = _progress(len(plan), progress)
            for n, formulation, solver, r in plan:
                if bar is not None:
                    bar.set_description(f"N={n} {formulation} {solver}")
                instance = problem if problem is not None else cache.setdefault(n, factory(n))
                run = _run_one(instance, formulation, solver, r, time_limit, solver_options.get(solver, {}),
                               working_set)
                if pressed.is_set():  # a backend caught Ctrl-C itself: stop, and drop the run it cut short
                    raise KeyboardInterrupt
                run.run_id = runs.run_id
                writer.write(run)
                runs.append(run)
                if bar is not None:
                    bar.update(1)
        except KeyboardInterrupt:
            runs.interrupted = True
        finally:
            if bar is not None:
                bar.close()
            writer.close()
    return runs


@contextmanager
def _ctrl_c() -> Iterator[threading.Event]:
    """An event that Ctrl-C sets, besides raising KeyboardInterrupt as usual.

    Some backends catch the interrupt themselves and return normally (Gurobi ends the solve with
    status INTERRUPTED; highspy can cancel a solve on Ctrl-C; a C extension may clear the error),
    so a KeyboardInterrupt alone does not always reach the sweep. Outside the main thread, or
    where SIGINT is ignored or left to the system, nothing is installed and the event stays clear.
    """
    pressed = threading.Event()
    previous = signal.getsignal(signal.SIGINT) if threading.current_thread() is threading.main_thread() else None
    if not callable(previous):
        yield pressed
        return

    def handler(signum, frame):
        pressed.set()
        previous(signum, frame)

    signal.signal(signal.SIGINT, handler)
    try:
        yield pressed
    finally:
        signal.signal(signal.SIGINT, previous)


def _run_one(problem: SelectionProblem, formulation: str, solver: str, repeat: int,
             time_limit: float | None, options: dict[str, Any], working_set: bool = False) -> BenchRun:
    run = BenchRun(problem.n_images, problem.n_classes, formulation, solver, repeat, status="error")
    backend = solvers.get(solver)
    if formulation in INTEGRAL_FORMULATIONS and not backend.supports_mip:
        run.status, run.error = "skipped", f"{solver} solves LPs only"
        return run
    measured = _reset_peak_memory()
    run.rss_before_mb = _memory_mb("VmRSS")
    try:
        started = time.perf_counter()
        lp = build_lp(problem, formulation)
        run.build_seconds = time.perf_counter() - started
        run.rows, run.cols, run.nnz = lp.num_rows, lp.num_cols, lp.nnz
        opts = {**options, **({"time_limit": time_limit} if time_limit is not None else {})}
        if working_set and solvers.working_set.applies(lp, backend):
            opts["working_set"] = run.working_set = True
        solution = solvers.solve(lp, solver, opts)
        run.status = solution.status
        run.handover_seconds = solution.handover_seconds
        run.solve_seconds = solution.seconds
        run.iterations = math.nan if solution.iterations is None else float(solution.iterations)
        run.objective = solution.objective
        if solution.x is not None:
            certificate = (certify(lp, solution.x, bound=solution.bound) if lp.is_mip
                           else certify(lp, solution.x, solution.row_dual))
            run.kkt = certificate.kkt_error
    except KeyboardInterrupt:
        raise
    except Exception as exc:  # recorded, and the sweep goes on
        run.status, run.error = "error", f"{type(exc).__name__}: {exc}"
    if measured:
        run.peak_rss_mb = _memory_mb("VmHWM")
    return run


class _CsvWriter:
    """Appends rows to a CSV, never truncating it (the header only into a new or empty file)."""

    def __init__(self, path: str | Path | None) -> None:
        self.file = None
        if path is not None:
            path = Path(path)
            check_csv(path)
            path.parent.mkdir(parents=True, exist_ok=True)
            self.file = open(path, "a", newline="", encoding="utf-8")
            self.writer = csv.DictWriter(self.file, fieldnames=FIELDS)
            if self.file.tell() == 0:
                self.writer.writeheader()
                self.file.flush()

    def write(self, run: BenchRun) -> None:
        if self.file is not None:
            # one write call per row, so Ctrl-C cannot land inside a row
            self.file.write(_csv_line(asdict(run)))
            self.file.flush()

    def close(self) -> None:
        if self.file is not None:
            self.file.close()


def _csv_line(row: dict[str, Any]) -> str:
    import io

    buffer = io.StringIO()
    csv.DictWriter(buffer, fieldnames=FIELDS).writerow(row)
    return buffer.getvalue()


def _progress(total: int, enabled: bool):
    if not enabled:
        return None
    try:
        from tqdm import tqdm
    except ImportError:
        return None
    return tqdm(total=total, unit="run", leave=False)


def read_csv(path: str | Path) -> list[BenchRun]:
    """The runs of a CSV written by :func:`sweep`."""
    runs = []
    with open(path, newline="") as file:
        for row in csv.DictReader(file):
            values = {}
            for f in fields(BenchRun):
                raw = row.get(f.name, "nan" if f.type == "float" else "")
                if f.type == "bool":
                    values[f.name] = raw == "True"
                else:
                    values[f.name] = raw if f.type in ("str",) else (int(raw) if f.type == "int" else float(raw))
            runs.append(BenchRun(**values))
    return runs


def table(runs: Sequence[BenchRun]) -> str:
    """A Markdown table of the runs."""
    lines = ["| N | formulation | solver | status | build (s) | solve (s) | iterations | objective | kkt | peak MB (+run) |",
             "|---:|---|---|---|---:|---:|---:|---:|---:|---:|"]
    for r in runs:
        lines.append(
            f"| {r.n_images} | {r.formulation} | {r.solver_label} | {r.status} | {r.build_seconds:.3g} | "
            f"{r.solve_seconds:.3g} | {r.iterations:.0f} | {r.objective:.6g} | {r.kkt:.1e} | "
            f"{r.peak_rss_mb:.0f} (+{r.peak_rss_mb - r.rss_before_mb:.0f}) |"
        )
    return "\n".join(lines)


def growth_exponents(runs: Sequence[BenchRun]) -> dict[tuple[str, str], float]:
    """Slope of log(solve time) against log(N) per (solver, formulation), from successful runs
    at two or more sizes (time ~ N^slope)."""
    exponents = {}
    for key in sorted({(r.solver_label, r.formulation) for r in runs}):
        points = [(r.n_images, r.solve_seconds) for r in runs
                  if (r.solver_label, r.formulation) == key and r.status == "optimal" and r.solve_seconds > 0]
        sizes = sorted({n for n, _ in points})
        if len(sizes) >= 2:
            n, t = np.log([p[0] for p in points]), np.log([p[1] for p in points])
            exponents[key] = float(np.polyfit(n, t, 1)[0])
    return exponents


def plot(runs: Sequence[BenchRun], out_dir: str | Path) -> list[Path]:
    """Write time_vs_n.png (log-log, fitted exponent per backend) and accuracy_vs_time.png."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise ImportError("plots need matplotlib: pip install 'alsel[plot]'") from exc
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    exponents = growth_exponents(runs)
    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    for key in sorted({(r.solver_label, r.formulation) for r in runs}):
        ok = [r for r in runs if (r.solver_label, r.formulation) == key and r.status == "optimal"]
        if not ok:
            continue
        label = f"{key[0]} / {key[1]}"
        if key in exponents:
            label += f" (N^{exponents[key]:.2f})"
        ax.plot([r.n_images for r in ok], [r.solve_seconds for r in ok], "o-", label=label)
        failed = [r for r in runs if (r.solver_label, r.formulation) == key and r.status not in ("optimal", "skipped")]
        if failed:
            ax.plot([r.n_images for r in failed], [max(r.solve_seconds, 1e-3) if np.isfinite(r.solve_seconds) else 1e-3
                                                   for r in failed], "x", color=ax.lines[-1].get_color())
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("images N")
    ax.set_ylabel("solve time (s)")
    ax.set_title("solve time against N (x: failed or limit)")
    ax.grid(True, which="both", alpha=0.3)
    if ax.lines:  # nothing optimal (every run failed or hit its limit): no legend to draw
        ax.legend(fontsize=8)
    fig.tight_layout()
    time_path = out_dir / "time_vs_n.png"
    fig.savefig(time_path, dpi=110)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    for key in sorted({(r.solver_label, r.formulation) for r in runs}):
        ok = [r for r in runs if (r.solver_label, r.formulation) == key and np.isfinite(r.kkt) and r.kkt > 0]
        if ok:
            ax.scatter([r.solve_seconds for r in ok], [r.kkt for r in ok], label=f"{key[0]} / {key[1]}")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("solve time (s)")
    ax.set_ylabel("alsel certificate (relative KKT error)")
    ax.set_title("certified accuracy against time")
    ax.grid(True, which="both", alpha=0.3)
    if ax.collections:
        ax.legend(fontsize=8)
    fig.tight_layout()
    accuracy_path = out_dir / "accuracy_vs_time.png"
    fig.savefig(accuracy_path, dpi=110)
    plt.close(fig)
    return [time_path, accuracy_path]
