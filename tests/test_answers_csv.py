"""The CSV answers file: nothing wrong is stored, nothing a person typed is overwritten or lost.

``import_answers`` and ``CsvOracle`` accept only rows for the queries of the round, refuse a file
with two different answers to one query (or one that contradicts the store) naming the lines,
store nothing from a refused file, and never rewrite the user's file.
"""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("torch")  # alsel.loop.store takes UNKNOWN from alsel.loop.losses (torch)

from alsel.loop.oracles import (  # noqa: E402
    AnswersFileError, CsvOracle, OracleStopped, export_queries, import_answers, read_answers,
)
from alsel.loop.store import AnswerStore  # noqa: E402

CLASSES = [f"c{k}" for k in range(10)]
HEADER = "image,name,class,answer\n"


def _store(tmp_path, queries=((2, 3), (2, 7), (5, 0), (4, 9))) -> AnswerStore:
    """6 images, 0 and 1 pixel-labelled; a round in progress asking ``queries``."""
    labels = {0: np.zeros((4, 4), dtype=int), 1: np.eye(4, dtype=int) * 3}
    store = AnswerStore.create(tmp_path / "s.json", 6, CLASSES, labels=labels)
    store.begin_round(list(queries))
    return store


def _write(path, *rows: str, header: str = HEADER):
    path.write_text(header + "".join(row + "\n" for row in rows))
    return path


def _refused(store, path, *expected: str) -> str:
    before, answers = store.path.read_bytes(), store.answers()
    csv_before = path.read_bytes()
    with pytest.raises(AnswersFileError) as info:
        import_answers(path, store)
    message = str(info.value)
    assert str(path) in message and "nothing was imported" in message.lower(), message
    for text in expected:
        assert text in message, message
    assert store.path.read_bytes() == before and store.answers() == answers, "nothing stored"
    assert AnswerStore.load(store.path).answers() == answers
    assert path.read_bytes() == csv_before, "the user's file is left as it is"
    return message


# ---------------------------------------------------------------------------------- import_answers
def test_round_trip_counts_what_it_recorded(tmp_path):
    store = _store(tmp_path)
    path = tmp_path / "q.csv"
    export_queries(path, store.pending_queries, CLASSES)
    assert path.read_text() == HEADER + "2,,c3,\n2,,c7,\n5,,c0,\n4,,c9,\n"
    assert read_answers(path, 6, CLASSES) == []  # blank answers: nothing yet
    _write(path, "2,,c3,yes", "2,,c7,No", "5,,c0,n", "4,,c9,Y")
    assert import_answers(path, store) == 4
    again = AnswerStore.load(store.path)
    assert again.answers() == {(2, 3): True, (2, 7): False, (5, 0): False, (4, 9): True}
    assert again.provenance(2, 7)["by"] == "csv" and again.provenance(2, 7)["seconds"] is None
    before = store.path.read_bytes()
    assert import_answers(path, store) == 0, "a file imported twice records nothing new"
    assert store.path.read_bytes() == before


def test_the_same_answer_twice_counts_once(tmp_path):
    store = _store(tmp_path)
    path = _write(tmp_path / "a.csv", "2,,c3,yes", "5,,c0,no", "2,,c3,YES", "2,,c3,")
    assert import_answers(path, store) == 2  # was 3: one answer counted per line
    assert store.answers() == {(2, 3): True, (5, 0): False}


def test_two_different_answers_to_one_query_are_refused(tmp_path):
    store = _store(tmp_path)
    path = _write(tmp_path / "a.csv", "2,,c3,yes", "5,,c0,no", "2,,c3,no")
    _refused(store, path, "line 4: image 2, class 'c3' is answered no here and yes on line 2")


@pytest.mark.parametrize("row, expected", [
    ("3,,c3,yes", "line 3: image 3, class 'c3' was not asked"),   # an image with no query
    ("1,,c3,no", "line 3: image 1, class 'c3' was not asked"),    # an image with pixel labels
    ("2,,c4,", "line 3: image 2, class 'c4' was not asked"),      # even blank
])
def test_rows_for_pairs_never_asked_are_refused(tmp_path, row, expected):
    store = _store(tmp_path)
    _refused(store, _write(tmp_path / "a.csv", "2,,c3,yes", row), expected)


def test_nothing_is_imported_outside_a_round(tmp_path):
    store = _store(tmp_path, queries=[(2, 3)])
    store.record([(2, 3, True)])
    store.end_round()
    _refused(store, _write(tmp_path / "a.csv", "2,,c7,yes"), "no round in progress")


def test_an_answer_that_contradicts_the_store_is_refused(tmp_path):
    store = _store(tmp_path)
    store.record([(2, 3, True)], by="alice")
    _refused(store, _write(tmp_path / "a.csv", "5,,c0,yes", "2,,c3,no"),
             "line 3: image 2, class 'c3' is answered no here but yes in the store (by alice)", "retract")


@pytest.mark.parametrize("row, expected", [
    ("17,,c3,yes", "line 3: unknown image '17'"),
    ("-2,,c3,yes", "line 3: unknown image '-2'"),
    ("2,,cat,yes", "line 3: unknown class 'cat'"),
    ("2,,c4,maybe", "line 3: answer 'maybe' is not yes or no"),
])
def test_bad_rows_are_refused_with_their_line(tmp_path, row, expected):
    store = _store(tmp_path)
    _refused(store, _write(tmp_path / "a.csv", "2,,c3,yes", row), expected)


def test_line_numbers_count_lines_of_the_file(tmp_path):
    store = _store(tmp_path)
    path = _write(tmp_path / "a.csv", '2,"a name\nover two lines",c3,yes', "", "2,,c3,no")
    _refused(store, path, "line 5: image 2, class 'c3' is answered no here and yes on line 3")


def test_a_latin1_file_names_the_line_and_the_fix(tmp_path):
    store = _store(tmp_path)
    path = tmp_path / "a.csv"
    path.write_bytes(HEADER.encode() + "2,,c3,yes\n5,caf\xe9,c0,no\n".encode("latin-1"))
    _refused(store, path, "line 3", "not UTF-8", "save the file as UTF-8")


def test_a_file_without_header_names_the_line_and_the_fix(tmp_path):
    store = _store(tmp_path)
    path = _write(tmp_path / "a.csv", "2,,c3,yes", header="5,,c0,no\n")
    _refused(store, path, "line 1", "no header row", "image,name,class,answer")
    _refused(store, _write(tmp_path / "b.csv", "2,c3,yes", header="image,class,reply\n"),
             "line 1", "missing column(s) ['answer']")
    path.write_text("")
    with pytest.raises(AnswersFileError, match="line 1: the file is empty"):
        import_answers(path, store)


def test_a_header_in_other_case_and_a_utf8_bom_are_read(tmp_path):
    store = _store(tmp_path)
    path = tmp_path / "a.csv"
    path.write_bytes("\ufeffImage,Name,Class,Answer\r\n2,caf\u00e9,c3,yes\r\n".encode("utf-8"))
    assert import_answers(path, store) == 1 and store.answers() == {(2, 3): True}


def test_export_never_replaces_a_file(tmp_path):
    path = _write(tmp_path / "q.csv", "2,,c3,yes")
    before = path.read_bytes()
    with pytest.raises(AnswersFileError, match="already exists"):
        export_queries(path, [(2, 7)], CLASSES)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["q.csv"], "no temporary file left behind"


# ---------------------------------------------------------------------------------- CsvOracle
def _ask(oracle, store) -> list:
    """What the loop does: ask what is unanswered, record each answer as it comes."""
    got = []
    for image, cls, present in oracle.ask(store.unanswered_pending()):
        store.record([(image, cls, present)], by=oracle.by)
        got.append((image, cls, present))
    return got


def test_csv_oracle_writes_once_and_never_rewrites(tmp_path):
    store = _store(tmp_path, queries=[(2, 3), (4, 9)])
    oracle = CsvOracle(tmp_path / "q.csv", store)
    path = tmp_path / "q-round0.csv"
    with pytest.raises(OracleStopped, match=f"2 queries written to {path}"):
        _ask(oracle, store)
    assert path.read_text() == HEADER + "2,,c3,\n4,,c9,\n"
    _write(path, "2,,c3,yes", "4,,c9,")
    typed = path.read_bytes()
    with pytest.raises(OracleStopped, match="1 of the queries .* no answer yet"):
        _ask(oracle, store)
    assert store.answers() == {(2, 3): True} and store.provenance(2, 3)["by"] == "csv"
    assert path.read_bytes() == typed, "the person's file is not rewritten"
    _write(path, "2,,c3,yes", "4,,c9,no")  # the rest filled in; the answered row stays
    assert _ask(oracle, store) == [(4, 9, False)]
    store.end_round()
    store.begin_round([(5, 0)])
    with pytest.raises(OracleStopped, match="q-round1.csv"):
        _ask(oracle, store)
    assert path.read_text() == HEADER + "2,,c3,yes\n4,,c9,no\n", "last round's file kept as typed"


def test_csv_oracle_refuses_rows_never_asked_and_keeps_them(tmp_path):
    store = _store(tmp_path, queries=[(2, 3), (4, 9)])
    oracle = CsvOracle(tmp_path / "q.csv", store)
    path = _write(tmp_path / "q-round0.csv", "2,,c3,yes", "4,,c9,no", "3,,c1,yes")
    typed = path.read_bytes()
    with pytest.raises(AnswersFileError, match="line 4: image 3, class 'c1' was not asked"):
        _ask(oracle, store)
    assert store.answers() == {} and path.read_bytes() == typed


def test_csv_oracle_refuses_conflicts(tmp_path):
    store = _store(tmp_path, queries=[(2, 3), (4, 9)])
    oracle = CsvOracle(tmp_path / "q.csv", store)
    path = _write(tmp_path / "q-round0.csv", "2,,c3,yes", "4,,c9,no", "2,,c3,no")
    with pytest.raises(AnswersFileError, match="line 4: image 2, class 'c3' is answered no here and yes"):
        _ask(oracle, store)
    store.record([(2, 3, False)], by="alice")
    _write(path, "2,,c3,yes", "4,,c9,no")
    with pytest.raises(AnswersFileError, match="but no in the store"):
        _ask(oracle, store)
    assert store.answers() == {(2, 3): False}


def test_csv_oracle_says_which_queries_have_no_row(tmp_path):
    store = _store(tmp_path, queries=[(2, 3), (4, 9)])
    _write(tmp_path / "q-round0.csv", "2,,c3,yes")
    with pytest.raises(OracleStopped, match=r"1 queries of this round have no row .*\(4,,c9,\)"):
        _ask(CsvOracle(tmp_path / "q.csv", store), store)
    assert store.answers() == {(2, 3): True}
