"""Helpers of the annotate tests: image folders, stores, logged-in HTTP clients.

:func:`install` stands in for two APIs that other branches deliver (the answer store's
``record(by=, seconds=)`` / ``retract`` / ``provenance`` of i17-store, and
``alsel.loop.locking.hold`` of i17-run) when they are not there yet; once they are, it does
nothing. Subprocess servers call it too (``python -c "import annotate_support; ..."``).
"""

from __future__ import annotations

import math
import sys
import types
from pathlib import Path

import numpy as np


def install() -> None:
    from alsel.loop.store import AnswerStore, StoreError

    if not hasattr(AnswerStore, "retract"):
        plain_record = AnswerStore.record

        def record(self, answers, *, by="unknown", seconds=None, save=True):
            answers = list(answers)
            if not isinstance(by, str) or not by:
                raise StoreError(f"by must be a non-empty string; got {by!r}.")
            if seconds is not None and not (math.isfinite(seconds) and seconds >= 0):
                raise StoreError(f"seconds must be finite and >= 0; got {seconds!r}.")
            count = plain_record(self, answers, save=False)
            book = self._data["meta"].setdefault("provenance", {})
            for i, c, present in answers:
                book[f"{int(i)},{int(c)}"] = {"answer": "yes" if present else "no", "by": by,
                                              "seconds": seconds, "at": None}
            if save and answers:
                self.save()
            return count

        def retract(self, pairs, *, save=True):
            pairs = self.check_pairs(pairs, "pairs")
            for i, c in pairs:
                if self.state(i, c) == "unknown":
                    raise StoreError(f"({i}, {c}) has no answer to retract.")
            for i, c in pairs:
                del self._data["answers"][str(i)][str(c)]
                if not self._data["answers"][str(i)]:
                    del self._data["answers"][str(i)]
                self._data["meta"].get("provenance", {}).pop(f"{i},{c}", None)
            if save and pairs:
                self.save()
            return len(pairs)

        def provenance(self, image, cls):
            if self.state(image, cls) == "unknown":
                return None
            return dict(self._data["meta"].get("provenance", {}).get(f"{int(image)},{int(cls)}")
                        or {"answer": "yes" if self.answers()[(int(image), int(cls))] else "no",
                            "by": "unknown", "seconds": None, "at": None})

        AnswerStore.record, AnswerStore.retract, AnswerStore.provenance = record, retract, provenance

    try:
        import alsel.loop.locking  # noqa: F401
    except ModuleNotFoundError:
        from contextlib import contextmanager

        module = types.ModuleType("alsel.loop.locking")

        class Busy(RuntimeError):
            pass

        @contextmanager
        def hold(path, what):
            from filelock import FileLock, Timeout

            path = Path(path)
            lock = FileLock(path / ".alsel.lock" if path.is_dir() else path.with_name(path.name + ".lock"),
                            timeout=0, thread_local=False)
            try:
                lock.acquire()
            except Timeout:
                raise Busy(f"the {what} {path} is in use by another alsel process.") from None
            try:
                yield
            finally:
                lock.release()

        module.Busy, module.hold = Busy, hold
        sys.modules["alsel.loop.locking"] = module
        import alsel.loop

        alsel.loop.locking = module


def image_folder(root: Path, n: int, size: int = 48) -> list[str]:
    """``n`` PNG files img000.png ... under ``root`` (distinct gray levels); their names."""
    from PIL import Image

    root.mkdir(parents=True, exist_ok=True)
    names = []
    for i in range(n):
        pixels = np.full((size, size), (37 * i) % 256, dtype=np.uint8)
        pixels[size // 4: size // 2, size // 4: size // 2] = 255 - pixels[0, 0]
        name = f"img{i:03d}.png"
        Image.fromarray(pixels).save(root / name)
        names.append(name)
    return names


def make_store(path: Path, n_images: int, classes=("cat", "dog", "bicycle"), queries=None, names=None):
    """A store with a round in progress: ``queries`` (default every pair) pending."""
    from alsel.loop.store import AnswerStore

    store = AnswerStore.create(path, n_images, list(classes), image_names=names)
    if queries is None:
        queries = [(i, c) for i in range(n_images) for c in range(len(classes))]
    store.begin_round(queries)
    return store


class Client:
    """A logged-in page: cookies from ``/?token=``, the CSRF token from ``/api/state``."""

    def __init__(self, base: str, token: str, *, transport=None, client=None) -> None:
        import httpx

        self.http = client or httpx.Client(base_url=base, transport=transport, timeout=30.0, follow_redirects=True)
        response = self.http.get(f"/?token={token}")
        assert response.status_code == 200, response.text
        self.csrf = self.http.get("/api/state").json()["csrf"]

    def post(self, path: str, body: dict | None = None, **headers):
        return self.http.post(path, json=body or {}, headers={"X-CSRF-Token": self.csrf, **headers})

    def next(self) -> dict | None:
        response = self.post("/api/next")
        assert response.status_code == 200, response.text
        return response.json()["query"]

    def answer(self, query: dict, yes: bool, seconds: float | None = 1.5):
        return self.post("/api/answer", {"image": query["image"], "cls": query["cls"],
                                         "answer": "yes" if yes else "no", "seconds": seconds})

    def close(self) -> None:
        self.http.close()
