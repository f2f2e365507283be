"""The answer store refuses what it cannot trust, keeps provenance, and never writes a bad file.

Every refusal must be a StoreError that names the file and the key path, and must leave the file
byte for byte as it was. Expected values here are written out by hand (the v1 file, the key
paths), not taken from the code under test.
"""

from __future__ import annotations

import base64
import json
import math
from datetime import datetime, timezone

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

pytest.importorskip("torch")  # alsel.loop.store takes UNKNOWN from alsel.loop.losses (torch)
pytest.importorskip("jsonschema")

from alsel.loop.store import NO_LABEL, AnswerStore, StoreError  # noqa: E402

CLASSES = [f"c{k}" for k in range(10)]
N = 6


def _mid_run(tmp_path, name="s.json") -> AnswerStore:
    """Images 0, 1 pixel-labelled (L); round 0 finished with a row; round 1 half answered."""
    labels = {0: np.full((4, 4), 10), 1: np.eye(4, dtype=int) * 3}
    store = AnswerStore.create(tmp_path / name, N, CLASSES, labels=labels, overwrite=True)
    store.begin_round([(2, 3), (2, 5), (4, 0)], row={"iteration": 0, "miou": 1.0})
    store.record([(2, 3, True), (2, 5, False)], by="alice", seconds=[2.5, None])
    store.record([(4, 0, True)], by="simulated")
    store.end_round()
    store.begin_round([(3, 1), (5, 9)], row={"iteration": 1, "miou": 2.0})
    store.record([(3, 1, False)], by="bob", seconds=1.25)
    return store


def _expect_refused(path, match: str) -> StoreError:
    before = path.read_bytes()
    with pytest.raises(StoreError) as info:
        AnswerStore.load(path)
    message = str(info.value)
    assert str(path) in message, message
    assert match in message, message
    assert path.read_bytes() == before, "a refused store must not be written"
    return info.value


def _edit(path, change) -> None:
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data))


def _set(*keys, value):
    def change(data):
        node = data
        for key in keys[:-1]:
            node = node[key]
        node[keys[-1]] = value
    return change


def _delete(*keys):
    def change(data):
        node = data
        for key in keys[:-1]:
            node = node[key]
        del node[keys[-1]]
    return change


def _move(src: str, dst: str, *parent):
    def change(data):
        node = data
        for key in parent:
            node = node[key]
        node[dst] = node.pop(src)
    return change


def _b64(n: int) -> str:
    return base64.b64encode(bytes(n)).decode()


# ---------------------------------------------------------------------------------- refusals
REFUSED = [
    # answer values other than yes/no: were trained on as "absent", never asked again
    ("answer YES", _set("answers", "2", "3", "answer", value="YES"), 'answers["2"]["3"]["answer"]'),
    ("answer maybe", _set("answers", "2", "3", "answer", value="maybe"), 'answers["2"]["3"]["answer"]'),
    ("answer true", _set("answers", "2", "3", "answer", value=True), 'answers["2"]["3"]["answer"]'),
    ("answer 1", _set("answers", "2", "3", "answer", value=1), 'answers["2"]["3"]["answer"]'),
    ("plain answer in v2", _set("answers", "2", "3", value="yes"), 'answers["2"]["3"]'),
    # ids: negative indexing wrote onto another image; out of range crashed
    ("image -1", _move("2", "-1", "answers"), 'answers["-1"]'),
    ("class -1", _move("3", "-1", "answers", "2"), 'answers["2"]["-1"]'),
    ("image 9999", _move("2", "9999", "answers"), 'answers["9999"]'),
    ("class 10", _move("3", "10", "answers", "2"), 'answers["2"]["10"]'),
    ("image 01", _move("2", "02", "answers"), 'answers["02"]'),
    ("image ' 2'", _move("2", " 2", "answers"), 'answers[" 2"]'),
    # provenance
    ("by empty", _set("answers", "2", "3", "by", value=""), 'answers["2"]["3"]["by"]'),
    ("by number", _set("answers", "2", "3", "by", value=7), 'answers["2"]["3"]["by"]'),
    ("seconds negative", _set("answers", "2", "3", "seconds", value=-1), 'answers["2"]["3"]["seconds"]'),
    ("seconds text", _set("answers", "2", "3", "seconds", value="2"), 'answers["2"]["3"]["seconds"]'),
    ("seconds NaN", _set("answers", "2", "3", "seconds", value=float("nan")), 'answers["2"]["3"]["seconds"]'),
    ("seconds inf", _set("answers", "2", "3", "seconds", value=float("inf")), 'answers["2"]["3"]["seconds"]'),
    ("at not a time", _set("answers", "2", "3", "at", value="yesterday"), 'answers["2"]["3"]["at"]'),
    ("at 30 February", _set("answers", "2", "3", "at", value="2026-02-30T10:00:00Z"), 'answers["2"]["3"]["at"]'),
    ("entry extra key", _set("answers", "2", "3", "note", value="x"), 'answers["2"]["3"]["note"]'),
    ("entry without by", _delete("answers", "2", "3", "by"), 'answers["2"]["3"]["by"]'),
    # missing keys crashed with KeyError
    ("no answers", _delete("answers"), "answers: missing"),
    ("no iteration", _delete("iteration"), "iteration: missing"),
    ("no pending", _delete("pending"), "pending: missing"),
    ("unknown key", _set("extra", value=1), "extra: unknown key"),
    # iteration against history: 99 made the loop append rows forever
    ("iteration 99", _set("iteration", value=99), "iteration: 99"),
    ("iteration -1", _set("iteration", value=-1), "iteration"),
    ("iteration 1.0", _set("iteration", value=1.0), "iteration"),
    ("iteration true", _set("iteration", value=True), "iteration"),
    ("iteration 0", _set("iteration", value=0), "iteration: 0"),
    ("history not a list", _set("history", value={}), "history"),
    ("history row not object", _set("history", 0, value=[1]), "history[0]"),
    ("history row iteration", _set("history", 1, "iteration", value=5), 'history[1]["iteration"]'),
    # pending
    ("pending image out of range", _set("pending", "queries", 0, value=[6, 1]), 'pending["queries"][0][0]'),
    ("pending class out of range", _set("pending", "queries", 0, value=[3, 10]), 'pending["queries"][0][1]'),
    ("pending negative", _set("pending", "queries", 0, value=[-1, 1]), 'pending["queries"][0][0]'),
    ("pending triple", _set("pending", "queries", 0, value=[3, 1, 1]), 'pending["queries"][0]'),
    ("pending text id", _set("pending", "queries", 0, value=["3", 1]), 'pending["queries"][0][0]'),
    ("pending twice", _set("pending", "queries", 1, value=[3, 1]), 'pending["queries"][1]'),
    ("pending on labelled", _set("pending", "queries", 1, value=[1, 4]), 'pending["queries"][1]'),
    ("pending image 99", _set("pending", "images", value=[99]), 'pending["images"][0]'),
    ("pending image of L", _set("pending", "images", value=[0]), 'pending["images"][0]'),
    # labels
    ("label short data", _set("labels", "1", "data", value=_b64(15)), 'labels["1"]["data"]'),
    ("label not base64", _set("labels", "1", "data", value="!!!!"), 'labels["1"]["data"]'),
    ("label shape 1-D", _set("labels", "1", "shape", value=[16]), 'labels["1"]["shape"]'),
    ("label shape 3-D", _set("labels", "1", "shape", value=[2, 2, 4]), 'labels["1"]["shape"]'),
    ("label shape negative", _set("labels", "1", "shape", value=[-4, -4]), 'labels["1"]["shape"]['),
    ("label image -1", _move("1", "-1", "labels"), 'labels["-1"]'),
    ("initial unlabelled", _set("initial", value=[0, 1, 3]), "initial[2]"),
    ("initial twice", _set("initial", value=[0, 0]), "initial"),
    # header
    ("classes repeated", _set("classes", 3, value="c2"), "classes"),
    ("classes not strings", _set("classes", 3, value=3), "classes[3]"),
    ("image_names too short", _set("image_names", value=["a"]), "image_names"),
    ("image_names text", _set("image_names", value="abc"), "image_names"),
    ("n_images text", _set("n_images", value="6"), "n_images"),
    ("n_images 0", _set("n_images", value=0), "n_images"),
    ("n_images smaller", _set("n_images", value=3), 'answers["4"]'),
    ("version 5", _set("version", value=5), "version"),
    ("no format", _delete("format"), "format"),
]


@pytest.mark.parametrize("change, where", [c[1:] for c in REFUSED], ids=[c[0] for c in REFUSED])
def test_a_bad_store_is_refused_naming_file_and_key(tmp_path, change, where):
    store = _mid_run(tmp_path)
    _edit(store.path, change)
    _expect_refused(store.path, where)


def _with_duplicate(tmp_path, inner: str):
    """The mid-run store with answers["2"] written as the raw JSON text ``inner``."""
    store = _mid_run(tmp_path)
    data = json.loads(store.path.read_text())
    data["answers"]["2"] = "@@"
    store.path.write_text(json.dumps(data).replace('"@@"', inner))
    return store


def test_a_duplicated_key_is_refused_not_last_wins(tmp_path):
    yes = '{"answer": "yes", "by": "a", "seconds": null, "at": null}'
    no = '{"answer": "no", "by": "a", "seconds": null, "at": null}'
    store = _with_duplicate(tmp_path, f'{{"3": {yes}, "3": {no}}}')
    _expect_refused(store.path, 'answers["2"]["3"]')
    store = _with_duplicate(tmp_path / "deep", f'{{"3": {{"answer": "yes", "answer": "no", "by": "a", '
                                               '"seconds": null, "at": null}}')
    _expect_refused(store.path, 'answers["2"]["3"]["answer"]')


def test_a_duplicated_top_level_key_is_refused(tmp_path):
    store = _mid_run(tmp_path)
    text = store.path.read_text()
    store.path.write_text(text[:-1] + ',"iteration":0}')
    _expect_refused(store.path, "iteration")


@pytest.mark.parametrize("content, match", [
    (b'{"format": "alsel-answer-store", "version": 2, "n_images": 6, "classes": ["caf\xe9"]}', "not UTF-8"),
    (b'{"format": "alsel-answer-store", ', "not valid JSON"),
    (b"[" * 100000 + b"]" * 100000, ""),
    (b"", "not valid JSON"),
    (b"[]", "format"),
])
def test_unreadable_files_are_refused_naming_the_file(tmp_path, content, match):
    path = tmp_path / "s.json"
    path.write_bytes(content)
    _expect_refused(path, match)


def test_a_folder_or_missing_file_is_refused(tmp_path):
    with pytest.raises(StoreError, match=f"cannot read the answer store {tmp_path}"):
        AnswerStore.load(tmp_path)
    with pytest.raises(StoreError, match="no answer store at"):
        AnswerStore.load(tmp_path / "nothing.json")


def test_a_refused_change_leaves_file_and_memory_as_they_were(tmp_path, monkeypatch):
    store = _mid_run(tmp_path)
    before, answers = store.path.read_bytes(), store.answers()
    refused = [
        lambda: store.record([(3, 2, True), (9, 0, True)]),         # image out of range
        lambda: store.record([(3, 2, True), (3, 2, False)]),        # two answers to one pair
        lambda: store.record([(3, 2, True)], by=""),
        lambda: store.record([(3, 2, True)], seconds=float("nan")),
        lambda: store.record([(3, 2, True), (3, 3, True)], seconds=[1.0]),
        lambda: store.retract([(3, 2)]),                            # not answered
        lambda: store.retract([(3, 1), (3, 1)]),
        lambda: store.begin_round([(3, 2)]),                        # a round is in progress
        lambda: store.add_row({"iteration": 1}),                    # in a round
        lambda: store.add_labels({3: np.zeros((4, 4), dtype=int)}),  # image 3 has a pending query
        lambda: store.end_round(),                                  # (5, 9) unanswered
    ]
    for change in refused:
        with pytest.raises(StoreError):
            change()
        assert store.path.read_bytes() == before
        assert store.answers() == answers

    def crash(*args):
        raise OSError("disk full")

    monkeypatch.setattr("alsel.loop.store.os.replace", crash)
    with pytest.raises(OSError):
        store.record([(5, 9, True)])
    assert store.answers() == answers and store.unanswered_pending() == [(5, 9)], \
        "a failed write is undone in memory too"
    with pytest.raises(OSError):
        store.retract([(3, 1)])
    assert store.answers() == answers
    assert store.path.read_bytes() == before


def test_rows_follow_rounds(tmp_path):
    store = _mid_run(tmp_path)
    store.record([(5, 9, False)])
    store.end_round()
    with pytest.raises(StoreError, match="iteration 7"):
        store.add_row({"iteration": 7})
    store.add_row({"iteration": 2})  # the final evaluation
    with pytest.raises(StoreError, match="3 result rows at iteration 2"):
        store.add_row({"iteration": 2})  # a second one would make the history inconsistent
    assert [row["iteration"] for row in AnswerStore.load(store.path).history] == [0, 1, 2]


# ---------------------------------------------------------------------------------- provenance
def test_provenance_is_kept_and_read_back(tmp_path):
    store = _mid_run(tmp_path)
    again = AnswerStore.load(store.path)
    assert again.answers() == {(2, 3): True, (2, 5): False, (4, 0): True, (3, 1): False}
    first = again.provenance(2, 3)
    assert {k: first[k] for k in ("answer", "by", "seconds")} == {"answer": "yes", "by": "alice", "seconds": 2.5}
    assert again.provenance(2, 5)["seconds"] is None and again.provenance(4, 0)["by"] == "simulated"
    assert again.provenance(3, 1)["seconds"] == 1.25
    assert again.provenance(3, 2) is None
    stamp = datetime.fromisoformat(first["at"].replace("Z", "+00:00"))
    assert stamp.tzinfo is not None and first["at"].endswith("Z")
    assert json.loads(store.path.read_text())["version"] == 4
    with pytest.raises(StoreError, match="unknown image"):
        again.provenance(-1, 3)


def test_record_counts_new_answers_only(tmp_path):
    store = _mid_run(tmp_path)
    first = store.provenance(2, 3)
    assert store.record([(2, 3, True)], by="carol", seconds=9.0) == 0  # already so: unchanged
    assert store.provenance(2, 3) == first
    assert store.record([(2, 3, False), (3, 2, True), (3, 2, True)], by="carol") == 2
    assert store.provenance(2, 3)["by"] == "carol" and store.state(2, 3) == "absent"
    assert AnswerStore.load(store.path).provenance(3, 2)["by"] == "carol"


@pytest.mark.parametrize("kwargs, match", [
    ({"by": ""}, "by must be"), ({"by": "  "}, "by must be"), ({"by": None}, "by must be"),
    ({"by": 3}, "by must be"), ({"seconds": -0.5}, "finite and >= 0"),
    ({"seconds": float("inf")}, "finite and >= 0"), ({"seconds": "2"}, "numbers"),
    ({"seconds": True}, "numbers"), ({"seconds": [1.0, 2.0]}, "one per answer"),
])
def test_record_refuses_bad_provenance(tmp_path, kwargs, match):
    store = _mid_run(tmp_path)
    before = store.path.read_bytes()
    with pytest.raises(StoreError, match=match):
        store.record([(3, 2, True)], **kwargs)
    assert store.path.read_bytes() == before and store.state(3, 2) == "unknown"


def test_retract_undoes_answers(tmp_path):
    store = _mid_run(tmp_path)
    assert store.retract([(3, 1), (4, 0)]) == 2
    again = AnswerStore.load(store.path)
    assert again.answers() == {(2, 3): True, (2, 5): False}
    assert again.unanswered_pending() == [(3, 1), (5, 9)]
    assert "4" not in json.loads(store.path.read_text())["answers"], "no empty row left behind"
    with pytest.raises(StoreError, match="no answer to retract"):
        again.retract([(2, 3), (4, 0)])
    assert again.answers() == {(2, 3): True, (2, 5): False}, "all checked before any is removed"
    with pytest.raises(StoreError, match="unknown class"):
        again.retract([(2, 10)])


def test_version_1_is_read_and_upgraded_on_the_next_change(tmp_path):
    path = tmp_path / "v1.json"
    v1 = {"format": "alsel-answer-store", "version": 1, "n_images": 3, "classes": ["a", "b"],
          "image_names": None, "iteration": 0, "answers": {"1": {"0": "yes", "1": "no"}},
          "labels": {"0": {"shape": [1, 2], "data": base64.b64encode(bytes([1, 0])).decode()}},
          "initial": [0], "pending": {"queries": [[2, 1]], "images": []}, "history": [], "meta": {}}
    path.write_text(json.dumps(v1))
    before = path.read_bytes()
    store = AnswerStore.load(path)
    assert path.read_bytes() == before, "loading does not rewrite"
    assert store.answers() == {(1, 0): True, (1, 1): False}
    assert store.provenance(1, 0) == {"answer": "yes", "by": "unknown", "seconds": None, "at": None}
    np.testing.assert_array_equal(store.label(0), [[1, 0]])
    store.record([(2, 1, True)], by="dana", seconds=3.0)
    data = json.loads(path.read_text())
    assert data["version"] == 4
    assert data["answers"]["1"]["1"] == {"answer": "no", "by": "unknown", "seconds": None, "at": None}
    assert AnswerStore.load(path).answers() == {(1, 0): True, (1, 1): False, (2, 1): True}
    v1["answers"]["1"]["1"] = "No"
    path.write_text(json.dumps(v1))
    _expect_refused(path, 'answers["1"]["1"]')


# ---------------------------------------------------------------------------------- asked pixels
# Image 2 (2 x 3) is asked regions in two rounds; pixel (0, 1) is void in the ground truth, so it
# stays unlabelled although it was asked (and paid for).
ROUND_1 = np.array([[1, 1, 0], [0, 0, 2]])
ROUND_2 = np.array([[0, 0, 1], [1, 1, 0]])
NO = NO_LABEL


def _region_run(tmp_path, rounds: int = 1) -> AnswerStore:
    store = AnswerStore.create(tmp_path / "r.json", 4, ["a", "b"], labels={0: np.zeros((2, 3), int)})
    store.begin_round(regions={2: ROUND_1}, row={"iteration": 0})
    store.add_region_labels({2: np.array([[4, NO, NO], [NO, NO, 5]])})
    store.end_round()
    if rounds == 2:
        store.begin_round(regions={2: ROUND_2}, row={"iteration": 1})
        store.add_region_labels({2: np.array([[NO, NO, NO], [6, NO, NO]])})
        store.end_round()
    return store


def test_asked_pixels_are_kept_packed_as_version_4_and_read_back(tmp_path):
    store = _region_run(tmp_path)
    data = json.loads(store.path.read_text())
    assert data["version"] == 4
    # bits 110 001, padded with two zeros: 0b11000100 = 0xC4
    assert data["asked"] == {"2": {"shape": [2, 3], "data": base64.b64encode(bytes([0xC4])).decode()}}
    again = AnswerStore.load(store.path)
    np.testing.assert_array_equal(again.asked_pixels(2), [[True, True, False], [False, False, True]])
    assert again.asked_pixels(1) is None and again.asked_pixels(0) is None, "L and untouched images"
    assert list(again.asked_regions()) == [2]
    np.testing.assert_array_equal(again.label(2), [[4, NO, NO], [NO, NO, 5]])
    with pytest.raises(StoreError, match="unknown image"):
        again.asked_pixels(4)


def test_add_region_labels_accumulates_the_union_of_the_asked_regions(tmp_path):
    store = _region_run(tmp_path, rounds=2)
    np.testing.assert_array_equal(store.asked_pixels(2), np.ones((2, 3), bool))
    assert json.loads(store.path.read_text())["asked"]["2"]["data"] == base64.b64encode(bytes([0xFC])).decode()
    assert store.region_counts() == {2: 3}
    np.testing.assert_array_equal(AnswerStore.load(store.path).asked_pixels(2), np.ones((2, 3), bool))


def test_a_region_over_pixels_asked_before_is_refused_even_if_they_are_unlabelled(tmp_path):
    store = _region_run(tmp_path)
    before = store.path.read_bytes()
    with pytest.raises(StoreError, match=r"image\(s\) 2 asks pixels asked in an earlier round"):
        store.begin_round(regions={2: np.array([[0, 1, 0], [0, 0, 0]])}, row={"iteration": 1})  # (0, 1): void
    assert store.path.read_bytes() == before and not store.in_round
    store.begin_round(regions={2: ROUND_2}, row={"iteration": 1})  # the pixels never asked


def _v3(pending: dict) -> dict:
    """A version-3 store written by hand: L = {0}; image 2 asked one region in round 0 (its
    pixel (0, 1) void); round 1 in progress with image 3's region annotated (pixel (1, 2) void)."""
    def label(values):
        return {"shape": [2, 3], "data": base64.b64encode(bytes(values)).decode()}
    return {"format": "alsel-answer-store", "version": 3, "n_images": 4, "classes": ["a", "b"],
            "image_names": None, "iteration": 1, "answers": {},
            "labels": {"0": label([0] * 6), "2": label([4, 255, 255, 255, 255, 5]),
                       "3": label([255, 255, 255, 7, 7, 255])},
            "initial": [0], "region_counts": {"2": 2, "3": 1},
            "pending": {"queries": [], "images": [], "regions": pending},
            "history": [{"iteration": 0}, {"iteration": 1}], "meta": {}}


def test_a_version_3_store_is_read_with_its_asked_pixels_derived(tmp_path):
    region = {"shape": [2, 3], "data": base64.b64encode(bytes([0, 0, 0, 1, 1, 1])).decode(), "done": True}
    path = tmp_path / "v3.json"
    path.write_text(json.dumps(_v3({"3": region})))
    before = path.read_bytes()
    store = AnswerStore.load(path)
    assert path.read_bytes() == before, "loading does not rewrite"
    # version 3 did not keep them: the labelled pixels, plus the annotated pending region
    np.testing.assert_array_equal(store.asked_pixels(2), [[True, False, False], [False, False, True]])
    np.testing.assert_array_equal(store.asked_pixels(3), [[False, False, False], [True, True, True]])
    assert store.asked_pixels(1) is None
    store.end_round()
    data = json.loads(path.read_text())
    assert data["version"] == 4 and sorted(data["asked"]) == ["2", "3"]
    np.testing.assert_array_equal(AnswerStore.load(path).asked_pixels(3), [[False] * 3, [True] * 3])


def _asked(data_bytes: bytes) -> str:
    return base64.b64encode(data_bytes).decode()


ASKED_REFUSED = [
    ("asked data short", _set("asked", "2", "data", value=""), 'asked["2"]["data"]'),
    ("asked data long", _set("asked", "2", "data", value=_asked(bytes([0xC4, 0]))), 'asked["2"]["data"]'),
    ("asked not base64", _set("asked", "2", "data", value="!!!!"), 'asked["2"]["data"]'),
    ("asked padding set", _set("asked", "2", "data", value=_asked(bytes([0xC5]))), 'asked["2"]["data"]'),
    ("asked shape differs", _set("asked", "2", "shape", value=[3, 2]), 'asked["2"]["shape"]'),
    ("asked shape 3-D", _set("asked", "2", "shape", value=[1, 2, 3]), 'asked["2"]["shape"]'),
    ("asked extra key", _set("asked", "2", "done", value=True), 'asked["2"]["done"]'),
    ("asked no data", _delete("asked", "2", "data"), 'asked["2"]["data"]'),
    ("asked image of L", _set("asked", "0", value={"shape": [2, 3], "data": _asked(bytes([0xC4]))}),
     'asked["0"]'),
    ("asked image 99", _move("2", "99", "asked"), 'asked["99"]'),
    ("asked image 01", _move("2", "01", "asked"), 'asked["01"]'),
    ("asked missing", _delete("asked", "2"), 'asked["2"]'),
    ("asked key missing", _delete("asked"), "asked"),
    ("asked not an object", _set("asked", "2", value="xA=="), 'asked["2"]'),
]


@pytest.mark.parametrize("change, where", [c[1:] for c in ASKED_REFUSED], ids=[c[0] for c in ASKED_REFUSED])
def test_a_bad_asked_mask_is_refused_naming_the_key(tmp_path, change, where):
    store = _region_run(tmp_path)
    _edit(store.path, change)
    _expect_refused(store.path, where)


# ---------------------------------------------------------------------------------- who answers
def test_the_loop_records_who_answered(tmp_path, monkeypatch):
    pytest.importorskip("sklearn")
    from alsel.loop.loop import ActiveLearningLoop, LoopSettings
    from alsel.loop.oracles import SimulatedOracle, TerminalOracle

    def loop_on(oracle, name):
        store = AnswerStore.create(tmp_path / name, 3, CLASSES[:3], labels={0: np.zeros((2, 2), dtype=int)})
        store.begin_round([(1, 0), (2, 2)], row={"iteration": 0, "seed": 0})  # as the loop begins one
        return ActiveLearningLoop.from_arrays(store, None, oracle, np.zeros((3, 1, 2, 2)), None, None, None,
                                  LoopSettings(iterations=1, budget=2, pixel_budget=0), n_labels=4)

    masks = np.zeros((3, 2, 2), dtype=int)
    masks[1, 0, 0] = 0
    masks[2] = 1
    loop = loop_on(SimulatedOracle(masks), "sim.json")
    loop._ask()
    stored = AnswerStore.load(loop.store.path)
    assert stored.answers() == {(1, 0): True, (2, 2): False} and stored.iteration == 1
    assert {stored.provenance(*p)["by"] for p in stored.answers()} == {"simulated"}
    assert stored.provenance(1, 0)["seconds"] is None

    clock = iter([100.0, 102.5, 200.0, 200.75])  # question shown, answer given; twice
    monkeypatch.setattr("alsel.loop.oracles.time.monotonic", lambda: next(clock))
    replies = iter(["y", "n"])
    terminal = TerminalOracle(CLASSES[:3], input_fn=lambda q: next(replies), out=open(tmp_path / "out.txt", "w"))
    loop = loop_on(terminal, "term.json")
    loop._ask()
    stored = AnswerStore.load(loop.store.path)
    assert stored.provenance(1, 0)["by"] == "terminal" and stored.provenance(1, 0)["seconds"] == 2.5
    assert stored.provenance(2, 2)["seconds"] == 0.75 and stored.state(2, 2) == "absent"


# ---------------------------------------------------------------------------------- properties
@pytest.fixture(scope="module")
def mid_run_text(tmp_path_factory) -> str:
    return _mid_run(tmp_path_factory.mktemp("base")).path.read_text()


def _reference_answers(data: dict) -> dict:
    """The answers a valid file means, read straight from the JSON (versions 1 and 2)."""
    value = (lambda v: v) if data["version"] == 1 else (lambda v: v["answer"])
    return {(int(i), int(c)): value(v) == "yes" for i, row in data["answers"].items() for c, v in row.items()}


def _exercise(store: AnswerStore) -> None:
    """Every reader runs without error on a store that loaded."""
    matrix = store.answer_matrix()
    assert matrix.shape == (store.n_images, store.n_classes)
    for (i, c), present in store.answers().items():
        assert matrix[i, c] == int(present)
        assert store.provenance(i, c)["answer"] == ("yes" if present else "no")
    for i in store.labeled_images():
        assert store.label(i).ndim == 2
    for i, asked in store.asked_regions().items():
        assert asked.dtype == bool and asked.shape == store.label(i).shape
    store.unanswered_pending(), store.unlabeled_pending(), store.history, store.image_names
    for i in range(store.n_images):
        for c in range(store.n_classes):
            store.state(i, c)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-3, 12) | st.floats(allow_nan=True, allow_infinity=True)
    | st.sampled_from(["yes", "no", "YES", "", "-1", "2", "10", "01", "2026-12-04T16:40:00Z", "AAAA"]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
        st.sampled_from(["0", "1", "2", "3", "-1", "10", "answer", "by", "x"]), inner, max_size=3),
    max_leaves=6)


def _paths(node, path=()):
    yield path
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _paths(value, path + (key,))
    elif isinstance(node, list):
        for k, value in enumerate(node):
            yield from _paths(value, path + (k,))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_a_mutated_store_is_refused_or_means_what_it_says(tmp_path, mid_run_text, data):
    tree = json.loads(mid_run_text)
    if data.draw(st.booleans(), label="v1"):
        tree["version"] = 1
        tree["answers"] = {i: {c: e["answer"] for c, e in row.items()} for i, row in tree["answers"].items()}
    paths = list(_paths(tree))
    where = data.draw(st.sampled_from(paths[1:]), label="path")
    parent = tree
    for key in where[:-1]:
        parent = parent[key]
    action = data.draw(st.sampled_from(["set", "delete", "rename"]), label="action")
    if action == "set" or isinstance(parent, list):
        parent[where[-1]] = data.draw(json_values, label="value")
    elif action == "delete":
        del parent[where[-1]]
    else:
        parent[data.draw(st.sampled_from(["-1", "01", "9999", "10", "5", "x"]), label="name")] = parent.pop(where[-1])
    path = tmp_path / "mutated.json"
    path.write_text(json.dumps(tree))
    before = path.read_bytes()
    try:
        store = AnswerStore.load(path)
    except StoreError as exc:
        assert str(path) in str(exc)
        assert path.read_bytes() == before
        return
    assert store.answers() == _reference_answers(tree)
    _exercise(store)
    store.save()
    assert AnswerStore.load(path).answers() == _reference_answers(tree)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(edits=st.lists(st.tuples(st.integers(0, 10**6), st.binary(max_size=3)), min_size=1, max_size=3))
def test_corrupted_bytes_are_refused_or_load_whole(tmp_path, mid_run_text, edits):
    raw = bytearray(mid_run_text.encode())
    for at, new in edits:
        at %= len(raw)
        raw[at:at + len(new)] = new
    bad = tmp_path / "bad.json"
    bad.write_bytes(bytes(raw))
    try:
        store = AnswerStore.load(bad)
    except StoreError:
        assert bad.read_bytes() == bytes(raw)
        return
    _exercise(store)


operations = st.lists(st.one_of(
    st.tuples(st.just("record"), st.lists(st.tuples(st.integers(-1, N), st.integers(0, 10), st.booleans()),
                                          max_size=4), st.sampled_from(["a", "b"]),
              st.none() | st.floats(0, 10)),
    st.tuples(st.just("retract"), st.lists(st.tuples(st.integers(0, N - 1), st.integers(0, 9)), max_size=2)),
    st.tuples(st.just("begin"), st.lists(st.tuples(st.integers(0, N - 1), st.integers(0, 9)), max_size=3),
              st.lists(st.integers(0, N - 1), max_size=2), st.booleans()),
    st.tuples(st.just("answer_pending")),
    st.tuples(st.just("label_pending")),
    st.tuples(st.just("end")),
    st.tuples(st.just("row")),
), max_size=12)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=operations)
def test_whatever_the_api_accepts_loads_again(tmp_path, ops):
    """No sequence of changes writes a store that load() would refuse, or loses an answer."""
    store = AnswerStore.create(tmp_path / "ops.json", N, CLASSES, labels={0: np.zeros((2, 2), dtype=int)},
                               overwrite=True)
    for op in ops:
        try:
            if op[0] == "record":
                store.record(op[1], by=op[2], seconds=op[3])
            elif op[0] == "retract":
                store.retract(op[1])
            elif op[0] == "begin":
                row = {"iteration": store.iteration} if op[3] else None
                store.begin_round(op[1], op[2], row=row)
            elif op[0] == "answer_pending":
                store.record([(i, c, True) for i, c in store.unanswered_pending()])
            elif op[0] == "label_pending":
                store.add_labels({i: np.ones((2, 2), dtype=int) for i in store.unlabeled_pending()})
            elif op[0] == "end":
                store.end_round()
            else:
                store.add_row({"iteration": store.iteration})
        except StoreError:
            pass
        again = AnswerStore.load(store.path)
        assert again.answers() == store.answers()
        assert again.pending_queries == store.pending_queries and again.iteration == store.iteration
        assert len(again.history) == len(store.history)


def test_loading_a_full_store_is_quick_enough_to_count(tmp_path):
    """Not a timing assertion: a paper-scale store (1200 images, 19 classes, all answered) loads."""
    store = AnswerStore.create(tmp_path / "big.json", 1200, [f"k{c}" for c in range(19)],
                               labels={i: np.zeros((64, 64), dtype=int) for i in range(40)})
    store.record([(i, c, bool((i + c) % 2)) for i in range(40, 1200) for c in range(19)], by="x", seconds=1.0)
    again = AnswerStore.load(store.path)
    assert again.n_answers == 1160 * 19 and math.isclose(again.provenance(41, 0)["seconds"], 1.0)
    assert again.answer_matrix()[41, 0] == 1 and again.answer_matrix()[40, 0] == 0
    assert datetime.fromisoformat(again.provenance(41, 0)["at"].replace("Z", "+00:00")) <= datetime.now(timezone.utc)


def test_reading_a_store_needs_no_torch():
    """The web app and the Label Studio import open stores; they must not pull in torch."""
    import subprocess
    import sys

    code = "import sys, alsel.loop.store, alsel.loop.oracles; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_a_mask_keeps_pixels_without_a_label(tmp_path):
    """Void / unlabelled pixels (-100 in the loop) survive the file round trip; 255 is no label."""
    mask = np.array([[0, 3, -100], [-100, 254, 1]])
    store = AnswerStore.create(tmp_path / "s.json", 2, ["a", "b"], labels={0: mask})
    again = AnswerStore.load(tmp_path / "s.json")
    np.testing.assert_array_equal(again.label(0), mask)
    with pytest.raises(StoreError, match="0..254"):
        store.add_labels({1: np.array([[255, 0]])})
