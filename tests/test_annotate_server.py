"""alsel annotate against a real uvicorn server: concurrent clients, a server killed with
SIGKILL in the middle of a round, and the loop's web oracle going from round to round."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

pytest.importorskip("starlette", reason="alsel annotate needs the 'annotate' extra (starlette)")
pytest.importorskip("uvicorn", reason="alsel annotate needs the 'annotate' extra (uvicorn)")
pytest.importorskip("httpx", reason="the test clients use httpx")
sys.path.insert(0, str(Path(__file__).parent))
import annotate_support as support  # noqa: E402


import httpx  # noqa: E402

from alsel.annotate import BackgroundServer, create_app, make_round  # noqa: E402
from alsel.loop.store import AnswerStore  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def test_four_concurrent_clients_never_share_a_query_and_lose_nothing(tmp_path):
    support.image_folder(tmp_path / "img", 40)
    store = support.make_store(tmp_path / "a.json", 40)         # 120 queries
    round_ = make_round(store, tmp_path / "img")
    server = BackgroundServer(create_app(round_), port=0).start()
    base = f"http://127.0.0.1:{server.port}"
    try:
        clients = [support.Client(base, server.app.state.token) for _ in range(4)]
        held = [c.next() for c in clients]                         # all at the same moment
        assert len({(q["image"], q["cls"]) for q in held}) == 4
        acknowledged: list[list[tuple[int, int, bool]]] = [[] for _ in clients]
        errors = []
        barrier = threading.Barrier(4)

        def work(k: int) -> None:
            try:
                barrier.wait()
                query = held[k]
                while query is not None:
                    yes = (query["image"] + query["cls"]) % 2 == 0
                    response = clients[k].answer(query, yes)
                    assert response.status_code == 200, response.text
                    acknowledged[k].append((query["image"], query["cls"], yes))
                    query = clients[k].next()
            except BaseException as exc:  # reported below
                errors.append(exc)

        threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        assert not errors, errors
        everything = [a for part in acknowledged for a in part]
        assert len(everything) == 120 and len({(i, c) for i, c, _ in everything}) == 120
        assert all(len(part) > 0 for part in acknowledged)
        on_disk = AnswerStore.load(tmp_path / "a.json").answers()
        assert on_disk == {(i, c): yes for i, c, yes in everything}
        for c in clients:
            c.close()
    finally:
        server.stop()


def _start_cli_server(tmp_path: Path) -> tuple[subprocess.Popen, str, str]:
    code = ("import sys; sys.path.insert(0, 'tests'); import annotate_support; "
            "from alsel.cli import main; sys.exit(main(sys.argv[1:]))")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        [sys.executable, "-c", code, "annotate", str(tmp_path / "a.json"), "--images", str(tmp_path / "img"),
         "--port", "0", "--annotator", "killtest"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        lines.append(line)
        match = re.search(r"open (http://127\.0\.0\.1:(\d+))/\?token=(\S+)", line)
        if match:
            return process, match.group(1), match.group(3)
        if not line and process.poll() is not None:
            break
    process.kill()
    raise AssertionError("the server did not start:\n" + "".join(lines))


def test_a_server_killed_mid_round_loses_no_acknowledged_answer(tmp_path):
    support.image_folder(tmp_path / "img", 30)
    support.make_store(tmp_path / "a.json", 30)                    # 90 queries
    process, base, token = _start_cli_server(tmp_path)
    acknowledged: dict[tuple[int, int], bool] = {}
    lock = threading.Lock()
    stop = threading.Event()

    def work() -> None:
        try:
            client = support.Client(base, token)
            query = client.next()
            while query is not None and not stop.is_set():
                yes = query["image"] % 3 == 0
                if client.answer(query, yes).status_code == 200:
                    with lock:
                        acknowledged[(query["image"], query["cls"])] = yes
                query = client.next()
        except (httpx.HTTPError, AssertionError):
            pass                                                    # the server died under us

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 60
    while len(acknowledged) < 20 and time.monotonic() < deadline:
        time.sleep(0.01)
    os.kill(process.pid, signal.SIGKILL)                            # mid-round, answers in flight
    process.wait(30)
    stop.set()
    for t in threads:
        t.join(30)
    process.stdout.close()
    assert 20 <= len(acknowledged) < 90
    after = AnswerStore.load(tmp_path / "a.json")                 # whole and valid
    answers = after.answers()
    assert {pair: answers.get(pair) for pair in acknowledged} == acknowledged
    # at most the answers in flight at the kill are stored but were not acknowledged
    assert len(answers) - len(acknowledged) <= 4

    process, base, token = _start_cli_server(tmp_path)              # restart: the rest of the round
    try:
        client = support.Client(base, token)
        assert client.http.get("/api/state").json()["progress"]["remaining"] == 90 - len(answers)
        query = client.next()
        while query is not None:
            assert client.answer(query, True).status_code == 200
            query = client.next()
        client.close()
    finally:
        process.kill()
        process.wait(30)
        process.stdout.close()
    final = AnswerStore.load(tmp_path / "a.json")
    assert len(final.answers()) == 90 and final.unanswered_pending() == []
    assert all(final.answers()[pair] == yes for pair, yes in acknowledged.items())


def test_the_web_oracle_serves_round_after_round_of_alsel_run(tmp_path):
    pytest.importorskip("torch", reason="alsel run needs the 'loop' extra")
    from alsel.annotate.oracle import WebOracle
    from alsel.loop.experiment import load_config, run_experiment

    config = load_config(overrides={
        "data": {"size": 16, "scale": [6, 10], "labeled": 4, "unlabeled": 8, "test": 4},
        "loop": {"iterations": 2, "budget": 3, "c_max": 2, "strategies": ["rr"], "oracle": "web"},
        "train": {"steps": 2, "epochs": 1, "batch_size": 4, "width": 4},
        "web": {"port": 0, "annotator": "loop-test"}})
    out = tmp_path / "run"
    result = {}

    def run() -> None:
        try:
            result["rows"] = run_experiment(config, out, plots=False)
        except BaseException as exc:
            result["error"] = exc

    runner = threading.Thread(target=run)
    runner.start()
    answered, rounds_seen = 0, set()
    try:
        deadline = time.monotonic() + 240
        client = None
        while runner.is_alive() and time.monotonic() < deadline:
            oracle = WebOracle._by_run.get(str(out.resolve()))
            if oracle is None or oracle.server is None:
                time.sleep(0.05)
                continue
            if client is None:
                client = support.Client(f"http://127.0.0.1:{oracle.server.port}", oracle.server.app.state.token)
            query = client.next()
            if query is None:
                time.sleep(0.05)
                continue
            rounds_seen.add(oracle.store.iteration)
            assert client.answer(query, query["cls"] % 2 == 0, seconds=2.0).status_code == 200
            answered += 1
        runner.join(60)
    finally:
        WebOracle.close_all()
    assert "error" not in result, result.get("error")
    assert sorted(r["iteration"] for r in result["rows"]) == [0, 1, 2]
    assert rounds_seen == {0, 1} and answered == 6                  # two rounds, same server
    store = AnswerStore.load(out / "stores" / "rr-seed0.json")
    assert store.iteration == 2 and len(store.answers()) == 6
    assert {store.provenance(i, c)["by"] for i, c in store.answers()} == {"loop-test"}
    assert {store.provenance(i, c)["seconds"] for i, c in store.answers()} == {2.0}
    assert len(list((out / "images" / "seed0").glob("*.png"))) == 12
