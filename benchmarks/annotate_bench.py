"""Figures of docs/annotate.md: page load and answer round trip (p50/p95), answers per minute of a
scripted client, and 4 concurrent clients with the server killed (SIGKILL) mid-round.

    PYTHONPATH=. python benchmarks/annotate_bench.py [--answers 500]

The server is `alsel annotate` in its own process (as people run it), on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
import annotate_support as support  # noqa: E402


def start(folder: Path) -> tuple[subprocess.Popen, str, str]:
    code = ("import sys; sys.path.insert(0, 'tests'); import annotate_support; "
            "from alsel.cli import main; sys.exit(main(sys.argv[1:]))")
    process = subprocess.Popen(
        [sys.executable, "-c", code, "annotate", str(folder / "a.json"), "--images", str(folder / "img"),
         "--port", "0"], cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1"},
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    for line in process.stdout:
        match = re.search(r"open (http://127\.0\.0\.1:\d+)/\?token=(\S+)", line)
        if match:
            return process, match.group(1), match.group(2)
    raise RuntimeError("server did not start")


def stop(process: subprocess.Popen) -> None:
    process.kill()
    process.wait()
    process.stdout.close()


def percentiles(values) -> str:
    ms = np.asarray(values) * 1000
    return f"p50 {np.percentile(ms, 50):.1f} ms, p95 {np.percentile(ms, 95):.1f} ms (n={len(ms)})"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--answers", type=int, default=500)
    args = parser.parse_args()
    from alsel.loop.store import AnswerStore

    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"Python {platform.python_version()}")
    folder = Path(tempfile.mkdtemp())
    n_images = (args.answers + 2) // 3 + 1
    support.image_folder(folder / "img", n_images, size=256)
    support.make_store(folder / "a.json", n_images)
    process, base, token = start(folder)
    try:
        client = support.Client(base, token)
        loads = []
        for _ in range(50):
            began = time.perf_counter()
            client.http.get("/")
            client.http.get("/static/app.css")
            client.http.get("/static/app.js")
            client.http.get("/api/state")
            query = client.next()
            client.http.get(f"/{query['image_url']}")
            loads.append(time.perf_counter() - began)
        print(f"page load (/, css, js, state, next query, its 256x256 PNG): {percentiles(loads)}")
        round_trips, nexts = [], []
        began = time.perf_counter()
        query = client.next()
        for _ in range(args.answers):
            t0 = time.perf_counter()
            response = client.answer(query, True)
            t1 = time.perf_counter()
            assert response.status_code == 200, response.text
            query = client.next()
            nexts.append(time.perf_counter() - t1)
            round_trips.append(t1 - t0)
        elapsed = time.perf_counter() - began
        print(f"answer round trip (POST until saved on disk): {percentiles(round_trips)}")
        print(f"next query: {percentiles(nexts)}")
        print(f"scripted client: {args.answers / elapsed * 60:.0f} answers per minute "
              f"({args.answers} answers in {elapsed:.1f} s, answer + next each)")
        client.close()
    finally:
        stop(process)

    folder = Path(tempfile.mkdtemp())
    support.image_folder(folder / "img", 100, size=64)
    support.make_store(folder / "a.json", 100)                     # 300 queries
    acknowledged, lock = {}, threading.Lock()
    process, base, token = start(folder)

    def work() -> None:
        try:
            c = support.Client(base, token)
            q = c.next()
            while q is not None:
                if c.answer(q, q["cls"] == 1).status_code == 200:
                    with lock:
                        assert (q["image"], q["cls"]) not in acknowledged, "answered twice"
                        acknowledged[(q["image"], q["cls"])] = q["cls"] == 1
                q = c.next()
        except Exception:
            pass

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    while len(acknowledged) < 120:
        time.sleep(0.005)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    process.stdout.close()
    for t in threads:
        t.join()
    at_kill = dict(acknowledged)
    stored = AnswerStore.load(folder / "a.json").answers()
    lost = [p for p, v in at_kill.items() if stored.get(p) != v]
    print(f"4 clients, SIGKILL after {len(at_kill)} acknowledged answers: {len(stored)} stored, "
          f"{len(lost)} acknowledged answers lost, {len(stored) - len(at_kill)} stored but not acknowledged "
          "(in flight at the kill)")
    process, base, token = start(folder)
    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    stop(process)
    final = AnswerStore.load(folder / "a.json")
    answers = final.answers()
    lost = [p for p, v in acknowledged.items() if answers.get(p) != v]
    print(f"after restart: {len(answers)} of 300 queries answered, {len(final.unanswered_pending())} open, "
          f"{len(lost)} acknowledged answers lost, 0 duplicates (each pair acknowledged once: "
          f"{len(acknowledged)} acknowledged + {300 - len(acknowledged)} stored in flight = {len(answers)})")


if __name__ == "__main__":
    main()
