"""alsel annotate, in process: leases, token, CSRF, leased-only answers, undo/skip, images only
from inside --images, the store made from a queries CSV, and the CLI's argument errors."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

pytest.importorskip("starlette", reason="alsel annotate needs the 'annotate' extra (starlette)")
pytest.importorskip("httpx", reason="Starlette's TestClient needs httpx")
sys.path.insert(0, str(Path(__file__).parent))
import annotate_support as support  # noqa: E402


from starlette.testclient import TestClient  # noqa: E402

from alsel.annotate import ImageSource, Leases, create_app, make_round  # noqa: E402
from alsel.annotate.queries import queries_store  # noqa: E402
from alsel.cli import main  # noqa: E402
from alsel.loop.store import AnswerStore  # noqa: E402

BASE = "http://127.0.0.1:8000"


@pytest.fixture
def served(tmp_path):
    names = support.image_folder(tmp_path / "img", 4)
    store = support.make_store(tmp_path / "a.json", 4)
    round_ = make_round(store, tmp_path / "img", annotator="tester")
    app = create_app(round_)
    return app, round_, tmp_path, names


def client(app, **kwargs) -> support.Client:
    return support.Client(BASE, app.state.token, client=TestClient(app, base_url=BASE, **kwargs))


def stored(tmp_path) -> dict:
    return AnswerStore.load(tmp_path / "a.json").answers()


# ---------------------------------------------------------------------- leases
class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def test_leases_hand_each_query_to_one_session_and_take_it_back_after_the_timeout():
    clock = Clock()
    leases = Leases([(0, 0), (0, 1), (1, 0)], timeout=10, clock=clock)
    a, b, c = leases.next("a"), leases.next("b"), leases.next("c")
    assert len({a, b, c}) == 3
    assert leases.next("d") is None                 # all three are out
    assert leases.next("a") == a                    # asking again renews, same query
    clock.now = 11
    taken = leases.next("d")
    assert taken in (a, b, c) and leases.holder(taken) == "d"
    assert leases.next(next(s for s, q in zip("abc", (a, b, c)) if q == taken)) != taken


def test_a_skipped_query_goes_to_the_back_and_comes_again():
    leases = Leases([(0, 0), (1, 0)], timeout=10)
    first = leases.next("a")
    leases.skip("a", first)
    assert leases.next("a") == (1, 0)
    leases.close((1, 0))
    assert leases.next("a") == first


# ---------------------------------------------------------------------- token
@pytest.mark.parametrize("path", ["/", "/api/state", "/image/0", "/static/app.js"])
def test_every_request_needs_the_token(served, path):
    app, *_ = served
    http = TestClient(app, base_url=BASE)
    assert http.get(path).status_code == 403
    assert http.get(path, params={"token": "x" * 43}).status_code == 403
    guessed = TestClient(app, base_url=BASE, cookies={"alsel-token-8000": "wrong"})
    assert guessed.get(path).status_code == 403
    assert http.post("/api/next", json={}).status_code == 403


def test_the_token_url_sets_httponly_samesite_cookies_and_drops_the_token(served):
    app, *_ = served
    http = TestClient(app, base_url=BASE, follow_redirects=False)
    response = http.get("/", params={"token": app.state.token})
    assert response.status_code == 303 and response.headers["location"] == "/"
    cookies = response.headers.get_list("set-cookie")
    assert len(cookies) == 2 and all("HttpOnly" in c and "SameSite=strict" in c for c in cookies)
    assert http.get("/").status_code == 200         # the cookie now stands for the token
    scripted = TestClient(app, base_url=BASE, headers={"Authorization": f"token {app.state.token}"})
    assert scripted.get("/static/app.css").status_code == 200


# ---------------------------------------------------------------------- CSRF
def test_state_changing_requests_need_csrf_header_json_and_same_origin(served):
    app, round_, tmp_path, _ = served
    page = client(app)
    query = page.next()
    body = {"image": query["image"], "cls": query["cls"], "answer": "yes", "seconds": 1.0}
    http = page.http
    assert http.post("/api/answer", json=body).status_code == 403                       # no header
    assert http.post("/api/answer", json=body, headers={"X-CSRF-Token": "guess"}).status_code == 403
    other = client(app)
    assert http.post("/api/answer", json=body, headers={"X-CSRF-Token": other.csrf}).status_code == 403
    assert page.post("/api/answer", body, Origin="http://evil.example").status_code == 403
    form = http.post("/api/answer", content=b"answer=yes", headers={
        "X-CSRF-Token": page.csrf, "Content-Type": "text/plain"})
    assert form.status_code == 415
    assert stored(tmp_path) == {}
    assert page.post("/api/answer", body, Origin=BASE).status_code == 200
    assert stored(tmp_path) == {(query["image"], query["cls"]): True}


# ---------------------------------------------------------------------- answers
def test_answers_are_accepted_only_for_the_query_leased_to_that_session(served):
    app, round_, tmp_path, _ = served
    alice, bob = client(app), client(app)
    qa, qb = alice.next(), bob.next()
    assert (qa["image"], qa["cls"]) != (qb["image"], qb["cls"])
    assert alice.answer(qb, True).status_code == 409                 # bob's query
    never = {"image": 3, "cls": 2}                                   # pending, handed to nobody
    assert alice.answer(never, True).status_code == 409
    assert alice.answer({"image": 99, "cls": 0}, True).status_code == 409
    assert stored(tmp_path) == {}
    assert alice.answer(qa, False, seconds=2.5).status_code == 200
    assert bob.answer(qa, True).status_code == 409                   # answered already
    store = AnswerStore.load(tmp_path / "a.json")
    assert store.answers() == {(qa["image"], qa["cls"]): False}
    provenance = store.provenance(qa["image"], qa["cls"])
    assert provenance["by"] == "tester" and provenance["seconds"] == 2.5


def test_a_repeated_answer_is_stored_once_and_the_page_name_is_stored(served):
    app, round_, tmp_path, _ = served
    page = client(app)
    assert page.post("/api/name", {"name": "alice"}).json()["name"] == "alice"
    query = page.next()
    first = page.answer(query, True)
    again = page.answer(query, True)                                # e.g. the reply was lost
    assert first.json()["repeated"] is False and again.json()["repeated"] is True
    assert again.json()["progress"]["answered"] == 1
    assert page.answer(query, False).status_code == 409              # a different answer is refused
    store = AnswerStore.load(tmp_path / "a.json")
    assert store.answers() == {(query["image"], query["cls"]): True}
    assert store.provenance(query["image"], query["cls"])["by"] == "alice"


@pytest.mark.parametrize("body", [
    {"answer": "maybe"}, {"seconds": -1}, {"seconds": "2"}, {"seconds": 1e9}, {"image": "0"}, {"cls": True}])
def test_bad_answers_are_refused_with_400_and_nothing_stored(served, body):
    app, round_, tmp_path, _ = served
    page = client(app)
    query = page.next()
    full = {"image": query["image"], "cls": query["cls"], "answer": "yes", "seconds": 1.0, **body}
    response = page.post("/api/answer", full)
    assert response.status_code == 400, response.text
    assert stored(tmp_path) == {}


def test_undo_takes_the_answer_back_and_skip_asks_again_later(served):
    app, round_, tmp_path, _ = served
    page = client(app)
    assert page.post("/api/undo").status_code == 409                  # nothing to undo yet
    first = page.next()
    page.answer(first, True, seconds=3.0)
    second = page.next()
    page.answer(second, False, seconds=5.0)
    assert page.post("/api/state").status_code == 405
    assert page.http.get("/api/state").json()["progress"]["median_seconds"] == 4.0
    undone = page.post("/api/undo").json()
    assert undone["query"]["image"] == second["image"] and undone["query"]["cls"] == second["cls"]
    assert undone["progress"]["median_seconds"] == 3.0
    assert stored(tmp_path) == {(first["image"], first["cls"]): True}
    assert page.next() == undone["query"]                             # shown again, to this page
    skipped = page.post("/api/skip", {"image": second["image"], "cls": second["cls"]}).json()["query"]
    assert skipped != undone["query"]
    seen = [skipped]
    while True:                                                       # the skipped one comes last
        page.answer(seen[-1], True)
        query = page.next()
        if query is None:
            break
        seen.append(query)
    assert (seen[-1]["image"], seen[-1]["cls"]) == (second["image"], second["cls"])
    assert len(stored(tmp_path)) == 12


# ---------------------------------------------------------------------- images
@pytest.mark.parametrize("path", [
    "/image/../a.json", "/image/..%2Fa.json", "/image/%2e%2e%2fa.json", "/image/%2Fetc%2Fpasswd",
    "/image//etc/passwd", "/image/0%2F..%2F..%2Fa.json", "/image/-1", "/image/4", "/image/0x1",
    "/image/1e0", "/static/..%2Fcore.py", "/static/../core.py", "/static/index.html",
    "/static/%2e%2e/app.py", "/a.json", "/../a.json"])
def test_nothing_but_the_images_of_pending_queries_is_served(served, path):
    app, *_ = served
    page = client(app)
    response = page.http.get(path)
    assert response.status_code in (404, 405), (path, response.status_code)
    assert b"alsel-answer-store" not in response.content and b"root:" not in response.content


def test_an_image_that_is_not_pending_is_not_served(tmp_path):
    support.image_folder(tmp_path / "img", 4)
    store = support.make_store(tmp_path / "a.json", 4, queries=[(1, 0)])
    app = create_app(make_round(store, tmp_path / "img"))
    page = client(app)
    assert page.http.get("/image/1").status_code == 200
    assert page.http.get("/image/0").status_code == 404


@pytest.mark.parametrize("name", ["../secret.png", "/etc/hosts", "sub/../../secret.png", "out.png"])
def test_image_names_pointing_out_of_the_folder_are_refused(tmp_path, name):
    (tmp_path / "img").mkdir()
    support.image_folder(tmp_path, 1)
    (tmp_path / "secret.png").write_bytes((tmp_path / "img000.png").read_bytes())
    os.symlink(tmp_path / "secret.png", tmp_path / "img" / "out.png")
    with pytest.raises(ValueError, match="cannot be served"):
        ImageSource(tmp_path / "img", 1, [name])


def test_a_file_swapped_for_a_symlink_after_start_is_not_served(served):
    app, round_, tmp_path, names = served
    page = client(app)
    assert page.http.get("/image/2").status_code == 200
    target = tmp_path / "img" / names[2]
    target.unlink()
    os.symlink(tmp_path / "a.json", target)
    assert page.http.get("/image/2").status_code == 404


def test_a_folder_with_a_symlink_out_is_refused_and_the_counts_must_match(tmp_path):
    support.image_folder(tmp_path / "img", 2)
    support.image_folder(tmp_path / "outside", 1)
    with pytest.raises(ValueError, match=r"holds 2 image files .* but the store has 3"):
        ImageSource(tmp_path / "img", 3)
    os.symlink(tmp_path / "outside" / "img000.png", tmp_path / "img" / "zz.png")
    with pytest.raises(ValueError, match="outside the image folder"):
        ImageSource(tmp_path / "img", 3)


# ---------------------------------------------------------------------- queries CSV -> store
def _select_files(tmp_path, rows="image,class\n0,2\n2,0\n"):
    support.image_folder(tmp_path / "img", 3)
    (tmp_path / "q.csv").write_text(rows)
    (tmp_path / "classes.txt").write_text("cat\ndog\nbicycle\n")
    return tmp_path / "q.csv", tmp_path / "img", tmp_path / "classes.txt"


def test_a_store_is_made_from_select_csv_and_reused_only_for_the_same_queries(tmp_path):
    q, img, classes = _select_files(tmp_path)
    store = queries_store(q, img, classes, tmp_path / "s.json")
    assert store.pending_queries == [(0, 2), (2, 0)]
    assert store.image_names == ["img000.png", "img001.png", "img002.png"]
    assert store.classes == ["cat", "dog", "bicycle"]
    assert queries_store(q, img, classes, tmp_path / "s.json").pending_queries == [(0, 2), (2, 0)]
    (tmp_path / "q2.csv").write_text("image,class\n1,1\n")
    before = (tmp_path / "s.json").read_bytes()
    with pytest.raises(ValueError, match="exists and holds other queries"):
        queries_store(tmp_path / "q2.csv", img, classes, tmp_path / "s.json")
    assert (tmp_path / "s.json").read_bytes() == before


@pytest.mark.parametrize("rows, match", [
    ("image,class\n3,0\n", "image '3'"), ("image,class\n0,3\n", "class '3'"),
    ("image,class\n0,0\n0,0\n", "twice"), ("img,cls\n0,0\n", "header"), ("image,class\n", "no queries")])
def test_bad_queries_csv_is_refused(tmp_path, rows, match):
    q, img, classes = _select_files(tmp_path, rows)
    with pytest.raises(ValueError, match=match):
        queries_store(q, img, classes, tmp_path / "s.json")
    assert not (tmp_path / "s.json").exists()


@pytest.mark.parametrize("argv, match", [
    (["annotate", "--images", "img"], "pass an answer store"),
    (["annotate", "--images", "img", "--queries", "q.csv"], "--queries needs --classes and --store"),
    (["annotate", "a.json", "--images", "img", "--classes", "c.txt"], "--classes is only used with --queries"),
    (["annotate", "nothing.json", "--images", "img"], "no such store"),
    (["annotate", "a.json", "--images", "img", "--lease", "0"], "--lease must be > 0"),
])
def test_cli_argument_errors_name_the_flag(tmp_path, monkeypatch, capsys, argv, match):
    monkeypatch.chdir(tmp_path)
    support.make_store(tmp_path / "a.json", 2)
    assert main(argv) == 2
    assert match in capsys.readouterr().err
