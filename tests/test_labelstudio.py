"""The Label Studio round trip (alsel.annotate.labelstudio): export, import, refusals, and a run
against a real Label Studio server (skipped, with the reason, where it is not installed).

The hand-written exports below copy the shape of what Label Studio 1.23.2 exported in the server
test (``GET /api/projects/<id>/export?exportType=JSON``; also https://labelstud.io/guide/task_format):
a list of tasks, each with ``id``, ``data`` and ``annotations`` (``id``, ``completed_by``,
``result`` [{from_name, to_name, type: "choices", value: {choices: [...]}}], ``was_cancelled``,
``lead_time``).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import time
import urllib.request
import xml.etree.ElementTree as ET
import zlib
from pathlib import Path

import numpy as np
import pytest

from alsel.annotate import labelstudio as ls
from alsel.cli import main
from alsel.loop.locking import hold
from alsel.loop.store import AnswerStore

REPO = Path(__file__).resolve().parents[1]
CLASSES = ["cat", "dog", "bicycle"]


def _png(path: Path, seed: int) -> None:
    """A small random RGB image as a PNG file (zlib, no imaging library)."""
    pixels = np.random.default_rng(seed).integers(0, 256, (6, 6, 3), dtype=np.uint8)
    rows = b"".join(b"\0" + row.tobytes() for row in pixels)

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 6, 6, 8, 2, 0, 0, 0))
                     + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


QUERIES = [(0, 0), (1, 2), (2, 1), (3, 0), (3, 2)]


def _round(tmp_path: Path, names=None, answered=()) -> tuple[AnswerStore, Path]:
    """A store of 4 images in a round of QUERIES, its images in tmp_path/imgs/pool."""
    pool = tmp_path / "imgs" / "pool"
    pool.mkdir(parents=True, exist_ok=True)
    files = names or [f"img{k}.png" for k in range(4)]
    for k, name in enumerate(files):
        _png(pool / name, k)
    store = AnswerStore.create(tmp_path / "store.json", 4, CLASSES, image_names=names)
    store.begin_round(QUERIES)
    if answered:
        store.record(list(answered), by="earlier", seconds=1.0)
    return store, pool


def _ann(aid, choice, lead_time=2.0, *, cancelled=False, by=7):
    result = [] if choice is None else [
        {"from_name": "answer", "to_name": "image", "type": "choices", "value": {"choices": [choice]}}]
    return {"id": aid, "completed_by": by, "result": result, "was_cancelled": cancelled,
            "ground_truth": False, "lead_time": lead_time, "task": None}


def _task(tid, image, cls, rid, annotations):
    return {"id": tid, "annotations": annotations, "drafts": [], "predictions": [],
            "data": {"image": f"/data/local-files/?d=pool/img{image}.png", "class_name": CLASSES[cls],
                     "question": "?", "alsel_round": rid, "alsel_image": image, "alsel_class": cls}}


def _write(tmp_path: Path, tasks) -> Path:
    path = tmp_path / "export.json"
    path.write_text(json.dumps(tasks))
    return path


# ------------------------------------------------------------------------------ images
def test_image_files_follow_the_store_names_or_the_sorted_folder(tmp_path):
    pool = tmp_path / "pool"
    pool.mkdir()
    (pool / "sub").mkdir()
    (pool / ".cache").mkdir()
    for name in ["b.png", "a.JPG", "sub/a.png", "c.png", ".hidden.png", ".cache/d.png", "notes.txt", "e.tiff"]:
        (pool / name).write_bytes(b"x")
    assert ls.image_files(pool, 4) == [pool / "a.JPG", pool / "b.png", pool / "c.png", pool / "sub" / "a.png"]
    assert ls.image_files(pool, 2, ["c.png", "b.png"]) == [pool / "c.png", pool / "b.png"]
    with pytest.raises(ValueError, match="--images.*holds 4 image files.*3 images"):
        ls.image_files(pool, 3)
    with pytest.raises(ValueError, match="--images.*no such file"):
        ls.image_files(pool, 1, ["missing.png"])
    (tmp_path / "outside.png").write_bytes(b"x")
    with pytest.raises(ValueError, match=r"\.\./outside\.png.*'\.\.'"):
        ls.image_files(pool, 1, ["../outside.png"])


# ------------------------------------------------------------------------------ export
def test_export_writes_one_task_per_unanswered_query_and_a_yes_no_config(tmp_path):
    names = ["zebra.png", "apple.png", "m/x.png", "k.png"]
    (tmp_path / "imgs" / "pool" / "m").mkdir(parents=True)
    store, pool = _round(tmp_path, names=names, answered=[(1, 2, True)])
    project = ls.export_labelstudio(store, pool, tmp_path / "proj")

    tasks = json.loads(project.tasks.read_text())
    data = [t["data"] for t in tasks]
    assert [(d["alsel_image"], d["alsel_class"]) for d in data] == [(0, 0), (2, 1), (3, 0), (3, 2)]
    assert [d["image"] for d in data] == ["/data/local-files/?d=pool/zebra.png", "/data/local-files/?d=pool/m/x.png",
                                          "/data/local-files/?d=pool/k.png", "/data/local-files/?d=pool/k.png"]
    assert [d["class_name"] for d in data] == ["cat", "dog", "cat", "bicycle"]
    assert all("bicycle" in d["question"] for d in data[3:])
    assert len({d["alsel_round"] for d in data}) == 1
    assert project.document_root == (tmp_path / "imgs").resolve()
    assert project.storage_path == pool.resolve()

    view = ET.fromstring(project.config.read_text())
    image = view.find("Image")
    choices = view.find("Choices")
    assert image.get("value") == "$image"
    assert choices.get("toName") == image.get("name") and choices.get("name") == "answer"
    assert [c.get("value") for c in choices.findall("Choice")] == ["yes", "no"]
    assert "$question" in view.find("Header").get("value")

    manifest = json.loads(project.manifest.read_text())
    assert manifest["round"] == data[0]["alsel_round"] and manifest["n_tasks"] == 4

    url = ls.export_labelstudio(store, pool, tmp_path / "proj2", url_prefix="https://img.example/pool/")
    assert json.loads(url.tasks.read_text())[0]["data"]["image"] == "https://img.example/pool/zebra.png"


def test_export_refuses_without_a_round_and_over_an_earlier_export(tmp_path):
    store, pool = _round(tmp_path)
    ls.export_labelstudio(store, pool, tmp_path / "proj")
    with pytest.raises(ls.LabelStudioError, match="already holds"):
        ls.export_labelstudio(store, pool, tmp_path / "proj")
    ls.export_labelstudio(store, pool, tmp_path / "proj", overwrite=True)
    idle = AnswerStore.create(tmp_path / "idle.json", 4, CLASSES)
    with pytest.raises(ls.LabelStudioError, match="no unanswered pending queries"):
        ls.export_labelstudio(idle, pool, tmp_path / "proj3")


def test_round_id_changes_with_the_round_not_with_answers(tmp_path):
    store, _ = _round(tmp_path)
    rid = ls.round_id(store)
    store.record([(0, 0, True)])
    assert ls.round_id(store) == rid
    other = AnswerStore.create(tmp_path / "other.json", 4, ["cat", "dog", "bus"])
    other.begin_round(QUERIES)
    assert ls.round_id(other) != rid


# ------------------------------------------------------------------------------ import
def test_import_records_answers_with_annotator_and_lead_time_seconds(tmp_path):
    store, _ = _round(tmp_path)
    rid = ls.round_id(store)
    export = _write(tmp_path, [
        _task(1, 0, 0, rid, [_ann(11, "yes", 2.5)]),
        _task(2, 1, 2, rid, [_ann(12, "no", 4.25, by={"id": 3, "email": "bo@example.com"})]),
        _task(3, 2, 1, rid, [_ann(13, None, 1.0, cancelled=True)]),   # skipped
        _task(4, 3, 0, rid, []),                                       # not annotated
        _task(5, 3, 2, rid, [_ann(16, "yes", 9.0), _ann(15, "yes", 3.0), _ann(17, "no", cancelled=True)]),
    ])
    result = ls.import_labelstudio(export, store)
    assert result.pending == [3, 4]

    again = AnswerStore.load(store.path)
    assert again.answers() == {(0, 0): True, (1, 2): False, (3, 2): True}
    assert again.unanswered_pending() == [(2, 1), (3, 0)]
    assert again.provenance(0, 0)["seconds"] == 2.5
    assert again.provenance(0, 0)["by"] == "labelstudio-user-7"
    assert again.provenance(1, 2)["seconds"] == 4.25 and again.provenance(1, 2)["by"] == "bo@example.com"
    assert again.provenance(3, 2)["seconds"] == 3.0  # the earliest of the agreeing annotations


def test_import_annotator_flag_names_who_answered(tmp_path):
    store, _ = _round(tmp_path)
    export = _write(tmp_path, [_task(1, 0, 0, ls.round_id(store), [_ann(11, "no", 1.5)])])
    assert main(["import-labelstudio", str(export), "--store", str(store.path), "--annotator", "alice"]) == 0
    assert AnswerStore.load(store.path).provenance(0, 0)["by"] == "alice"


def test_import_keeps_an_equal_answer_already_in_the_store(tmp_path):
    store, _ = _round(tmp_path, answered=[(0, 0, True)])
    export = _write(tmp_path, [_task(1, 0, 0, ls.round_id(store), [_ann(11, "yes", 8.0)])])
    result = ls.import_labelstudio(export, store)
    assert result.already == 1 and result.answers == []
    assert AnswerStore.load(store.path).provenance(0, 0)["by"] == "earlier"


def _refusals(rid: str, other_rid: str) -> dict:
    good = _task(1, 0, 0, rid, [_ann(11, "yes")])
    return {
        "unknown task": ([good, {"id": 42, "data": {"image": "x.png"}, "annotations": [_ann(5, "yes")]}],
                         "task 42: not exported by alsel"),
        "another round": ([good, _task(43, 1, 2, other_rid, [_ann(6, "yes")])], "task 43: exported for round"),
        "query not pending": ([good, _task(44, 1, 1, rid, [_ann(6, "yes")])], "task 44: .*not a pending query"),
        "annotations disagree": ([good, _task(45, 1, 2, rid, [_ann(6, "yes"), _ann(7, "no")])],
                                 "task 45: its annotations disagree"),
        "two tasks, one pair": ([good, _task(46, 0, 0, rid, [_ann(6, "no")])], "task 46: answers image 0"),
        "choice not yes/no": ([good, _task(47, 1, 2, rid, [_ann(6, "maybe")])], "task 47: annotation 6: .*'maybe'"),
        "two choices": ([good, _task(48, 1, 2, rid, [
            {**_ann(6, "yes"), "result": [{"from_name": "answer", "type": "choices",
                                          "value": {"choices": ["yes", "no"]}}]}])], "task 48: annotation 6"),
        "value not an object": ([good, _task(53, 1, 2, rid, [
            {**_ann(6, "yes"), "result": [{"from_name": "answer", "type": "choices", "value": "yes"}]}])],
            "task 53: annotation 6: its choice 'yes' is not"),
        "no choice": ([good, _task(49, 1, 2, rid, [_ann(6, None)])], "task 49: annotation 6: it has 0"),
        "differs from the store": ([good, _task(50, 3, 0, rid, [_ann(6, "yes")])], "task 50: .*already holds"),
        "negative lead_time": ([good, _task(51, 1, 2, rid, [_ann(6, "yes", -1.0)])], "task 51: .*lead_time"),
        "JSON-MIN export": ([{"id": 52, "alsel_round": rid, "answer": "yes"}], "task 52: this is a JSON-MIN"),
    }


@pytest.mark.parametrize("case", list(_refusals("r", "o")))
def test_import_refuses_the_whole_file_and_stores_nothing(tmp_path, case):
    store, _ = _round(tmp_path, answered=[(3, 0, False)])
    other = AnswerStore.create(tmp_path / "other.json", 4, CLASSES)
    other.begin_round(QUERIES[:2])
    tasks, message = _refusals(ls.round_id(store), ls.round_id(other))[case]
    export = _write(tmp_path, tasks)
    before = store.path.read_bytes()
    with pytest.raises(ls.LabelStudioError, match=message):
        ls.import_labelstudio(export, store)
    assert store.path.read_bytes() == before
    assert store.answers() == {(3, 0): False}  # not even in memory

    assert main(["import-labelstudio", str(export), "--store", str(store.path)]) == 2
    assert store.path.read_bytes() == before


def test_import_refusal_names_every_bad_task(tmp_path, capsys):
    store, _ = _round(tmp_path)
    rid = ls.round_id(store)
    export = _write(tmp_path, [_task(1, 0, 0, rid, [_ann(11, "maybe")]), _task(2, 1, 2, "nope", [])])
    assert main(["import-labelstudio", str(export), "--store", str(store.path)]) == 2
    err = capsys.readouterr().err
    assert "task 1:" in err and "task 2:" in err and "nothing was stored" in err


def test_import_command_waits_for_no_one_while_a_run_or_another_import_holds_the_store(tmp_path, capsys):
    store, _ = _round(tmp_path)
    export = _write(tmp_path, [_task(1, 0, 0, ls.round_id(store), [_ann(11, "yes")])])
    before = store.path.read_bytes()
    with hold(store.path, "answer store"):
        assert main(["import-labelstudio", str(export), "--store", str(store.path)]) == 2
    assert "in use" in capsys.readouterr().err and store.path.read_bytes() == before

    run = tmp_path / "run"  # a store of an `alsel run` folder: the run holds the folder
    (run / "stores").mkdir(parents=True)
    (run / "config.json").write_text("{}")
    shutil.copy(store.path, run / "stores" / "proposed-seed0.json")
    with hold(run, "run folder"):
        assert main(["import-labelstudio", str(export), "--store", str(run / "stores" / "proposed-seed0.json")]) == 2
    assert "run folder" in capsys.readouterr().err
    assert main(["import-labelstudio", str(export), "--store", str(run / "stores" / "proposed-seed0.json")]) == 0
    assert AnswerStore.load(run / "stores" / "proposed-seed0.json").answers() == {(0, 0): True}


def test_import_refuses_files_that_are_not_an_export(tmp_path):
    store, _ = _round(tmp_path)
    for text, message in [("{not json", "not valid JSON"), ('{"a": 1}', "not a list of tasks"),
                          ('[{"id": 1, "id": 2}]', "duplicate JSON key")]:
        (tmp_path / "bad.json").write_text(text)
        with pytest.raises(ls.LabelStudioError, match=message):
            ls.import_labelstudio(tmp_path / "bad.json", store)


def test_export_command_writes_the_project(tmp_path, capsys):
    store, pool = _round(tmp_path)
    assert main(["export-labelstudio", str(store.path), "--images", str(pool), "-o", str(tmp_path / "p")]) == 0
    out = capsys.readouterr().out
    assert "5 tasks" in out and f"LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT={(tmp_path / 'imgs').resolve()}" in out
    assert len(json.loads((tmp_path / "p" / "tasks.json").read_text())) == 5
    assert main(["export-labelstudio", str(store.path), "--images", str(tmp_path / "nope"), "-o",
                 str(tmp_path / "q")]) == 2
    assert "--images" in capsys.readouterr().err


# ------------------------------------------------------------------------------ a real server
LS_VENV = Path(os.environ.get("ALSEL_LABELSTUDIO_VENV", REPO / ".venv-labelstudio"))

# Runs in Label Studio's own virtual environment (its pins clash with alsel's), through
# label-studio-sdk. argv: base URL, token, plan file (JSON); writes its findings to plan["out"].
DRIVER = r'''
import hashlib, json, sys, urllib.request
from pathlib import Path
from label_studio_sdk import LabelStudio

url, token, plan = sys.argv[1], sys.argv[2], json.loads(Path(sys.argv[3]).read_text())
client = LabelStudio(base_url=url, api_key=token)
found = {}
if plan.get("project") is None:
    folder = Path(plan["folder"])
    project = client.projects.create(title="alsel round", label_config=(folder / "label_config.xml").read_text())
    client.import_storage.local.create(project=project.id, path=plan["storage"], title="pool", use_blob_urls=True)
    client.projects.import_tasks(id=project.id, request=json.loads((folder / "tasks.json").read_text()))
    tasks = sorted(client.tasks.list(project=project.id), key=lambda t: t.id)
    found["project"], found["tasks"] = project.id, [t.id for t in tasks]
    served = []
    for task in tasks:  # the image reference works: Label Studio serves the file's bytes
        request = urllib.request.Request(url + task.data["image"], headers={"Authorization": "Token " + token})
        with urllib.request.urlopen(request) as response:
            served.append(hashlib.sha256(response.read()).hexdigest())
    found["served"] = served
else:
    found["project"], found["tasks"] = plan["project"], plan["tasks"]
for k, choice, lead_time, cancelled in plan["annotate"]:
    result = [] if choice is None else [
        {"from_name": "answer", "to_name": "image", "type": "choices", "value": {"choices": [choice]}}]
    client.annotations.create(id=found["tasks"][k], result=result, lead_time=lead_time, was_cancelled=cancelled)
data = b"".join(client.projects.exports.download_sync(id=found["project"], export_type="JSON",
                                                      download_all_tasks=True))
Path(plan["export"]).write_bytes(data)
Path(plan["out"]).write_text(json.dumps(found))
'''


@pytest.fixture(scope="module")
def labelstudio(tmp_path_factory):
    """A Label Studio server on a free local port, with a fresh database; stopped afterwards."""
    exe = LS_VENV / "bin" / "label-studio"
    if not exe.exists():
        pytest.skip(f"Label Studio is not installed in {LS_VENV}: `make labelstudio` builds it "
                    "(or set ALSEL_LABELSTUDIO_VENV to a virtual environment with label-studio)")
    root = tmp_path_factory.mktemp("labelstudio")
    (root / "imgs").mkdir()
    template = LS_VENV / "template"  # a migrated empty database, from `make labelstudio`
    if (template / "label_studio.sqlite3").exists():
        shutil.copytree(template, root / "data")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url, token = f"http://127.0.0.1:{port}", os.urandom(16).hex()
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env.update({name: str(root / "home") for name in ("XDG_DATA_HOME", "XDG_CONFIG_HOME", "XDG_CACHE_HOME")})
    env.update(SENTRY_DSN="", FRONTEND_SENTRY_DSN="", COLLECT_ANALYTICS="false", LATEST_VERSION_CHECK="false")
    env.update(LABEL_STUDIO_LOCAL_FILES_SERVING_ENABLED="true",
               LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT=str(root / "imgs"),
               LABEL_STUDIO_BASE_DATA_DIR=str(root / "data"))
    log = open(root / "server.log", "wb")
    started = time.monotonic()
    server = subprocess.Popen(
        [str(exe), "start", "--no-browser", "--port", str(port), "--host", url, "--data-dir", str(root / "data"),
         "--username", "annotator@example.com", "--password", os.urandom(8).hex(), "--user-token", token,
         "--enable-legacy-api-token"],
        stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    try:
        while True:
            if server.poll() is not None:
                pytest.fail(f"label-studio start exited with {server.returncode}:\n"
                            + (root / "server.log").read_text(errors="replace")[-3000:])
            try:
                with urllib.request.urlopen(url + "/health", timeout=2):
                    break
            except OSError:
                if time.monotonic() - started > 300:
                    pytest.fail("Label Studio did not answer /health within 300 s:\n"
                                + (root / "server.log").read_text(errors="replace")[-3000:])
                time.sleep(1)
        print(f"Label Studio up after {time.monotonic() - started:.1f} s", file=sys.stderr)
        yield {"url": url, "token": token, "root": root, "python": LS_VENV / "bin" / "python"}
    finally:
        os.killpg(server.pid, signal.SIGTERM)  # its own session: the server and its children only
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
        log.close()


def _drive(server: dict, plan: dict, work: Path) -> dict:
    (work / "plan.json").write_text(json.dumps({**plan, "out": str(work / "found.json")}))
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    done = subprocess.run([str(server["python"]), "-c", DRIVER, server["url"], server["token"],
                           str(work / "plan.json")], capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads((work / "found.json").read_text())


def test_round_trip_through_a_real_label_studio(labelstudio, tmp_path):
    import hashlib

    pool = labelstudio["root"] / "imgs" / "pool"
    pool.mkdir()
    for k in range(4):
        _png(pool / f"img{k}.png", k)
    store = AnswerStore.create(tmp_path / "store.json", 4, CLASSES)
    store.begin_round(QUERIES)
    project = ls.export_labelstudio(store, pool, tmp_path / "project")
    assert project.document_root == (labelstudio["root"] / "imgs").resolve()

    # QUERIES order: task k asks QUERIES[k]. Answers: yes (2.5 s), no (4 s), skipped, none,
    # and two agreeing annotations (6 s, then 1 s).
    found = _drive(labelstudio, {
        "folder": str(project.folder), "storage": str(project.storage_path),
        "export": str(tmp_path / "export.json"),
        "annotate": [[0, "yes", 2.5, False], [1, "no", 4.0, False], [2, None, 0.5, True],
                     [4, "yes", 6.0, False], [4, "yes", 1.0, False]],
    }, tmp_path)
    assert found["served"] == [hashlib.sha256((pool / f"img{i}.png").read_bytes()).hexdigest()
                               for i, _ in QUERIES]

    assert main(["import-labelstudio", str(tmp_path / "export.json"), "--store", str(store.path)]) == 0
    kept = AnswerStore.load(store.path)
    assert kept.answers() == {(0, 0): True, (1, 2): False, (3, 2): True}
    assert kept.unanswered_pending() == [(2, 1), (3, 0)]  # skipped, not annotated
    assert [kept.provenance(*q)["seconds"] for q in [(0, 0), (1, 2), (3, 2)]] == [2.5, 4.0, 6.0]
    assert kept.provenance(0, 0)["by"].startswith("labelstudio-user-")

    # A second annotator disagrees on task 0 in Label Studio: the new export is refused whole.
    _drive(labelstudio, {"project": found["project"], "tasks": found["tasks"],
                         "export": str(tmp_path / "export2.json"),
                         "annotate": [[0, "no", 3.0, False], [3, "yes", 2.0, False]]}, tmp_path)
    before = store.path.read_bytes()
    with pytest.raises(ls.LabelStudioError, match=f"task {found['tasks'][0]}: its annotations disagree"):
        ls.import_labelstudio(tmp_path / "export2.json", AnswerStore.load(store.path))
    assert store.path.read_bytes() == before
