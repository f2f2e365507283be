"""Helpers of the annotate tests: image folders, stores, logged-in HTTP clients."""

from __future__ import annotations

from pathlib import Path

import numpy as np


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
