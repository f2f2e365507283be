"""``oracle = "web"``: the loop waits for the page's answers instead of a terminal.

One web server runs for the whole ``alsel run`` (in a thread of that process); each round, and
each strategy/seed store of the run, is put in front of it in turn, so people keep the same page
open from round to round. The answers are stored by the web side (with who gave them and how long
it took, before the page is told "saved"), in the very store object the loop uses; :meth:`WebOracle.ask`
returns when every query of the round has an answer, and the loop closes the round.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import ClassVar, TextIO

import numpy as np

from .app import create_app
from .core import Round
from .images import ImageSource
from .server import BackgroundServer, announce


def write_pngs(images: np.ndarray, folder: str | os.PathLike) -> list[str]:
    """Write a (N, 1, H, W) or (N, H, W) float array with values in [0, 1] as ``00000.png`` ...;
    files already there are kept (a resumed run). Returns the file names."""
    from PIL import Image

    images = np.asarray(images)
    if images.ndim == 4 and images.shape[1] == 1:
        images = images[:, 0]
    if images.ndim != 3:
        raise ValueError(f"images must be (N, 1, H, W) or (N, H, W) grayscale; got shape {images.shape}.")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    pixels = np.clip(np.rint(images * 255.0), 0, 255).astype(np.uint8)
    names = [f"{i:05d}.png" for i in range(len(pixels))]
    for name, image in zip(names, pixels):
        if not (folder / name).exists():
            Image.fromarray(image).save(folder / name)
    return names


class WebOracle:
    """Asks people through the web page; ``ask`` blocks until the round's queries are answered.

    Parameters
    ----------
    store : AnswerStore
        The loop's own store object (answers go into it while the loop waits).
    images : ImageSource or path
        The image files of the store's images.
    host, port, annotator, lease_seconds, token
        As for :func:`alsel.annotate.serve`; the server starts at the first ``ask``.
    out : text stream for the URL and progress lines (stdout by default).
    """

    _by_run: ClassVar[dict[str, "WebOracle"]] = {}

    def __init__(self, store, images: ImageSource | str | os.PathLike, *, host: str = "127.0.0.1",
                 port: int = 8000, annotator: str = "unknown", lease_seconds: float = 120.0,
                 token: str | None = None, out: TextIO | None = None) -> None:
        self.store = store
        self.images = images if isinstance(images, ImageSource) else ImageSource(images, store.n_images,
                                                                                  store.image_names)
        self.host, self.port, self.token = host, port, token
        self.out = out if out is not None else sys.stdout
        self.round = Round(store, self.images, annotator=annotator, lease_seconds=lease_seconds)
        self.server: BackgroundServer | None = None
        self._lock = threading.Lock()

    @classmethod
    def for_run(cls, out: str | os.PathLike, store, pool_images: "np.ndarray | ImageSource", seed: int, *,
                host: str = "127.0.0.1", port: int = 8000, annotator: str = "unknown",
                lease_seconds: float = 120.0) -> "WebOracle":
        """The oracle of one store of an ``alsel run`` in folder ``out``: ``pool_images`` is the
        data set's own files (an :class:`ImageSource`), or an array written once as PNG under
        ``out/images/seed<k>/``; one server serves the whole run."""
        if isinstance(pool_images, ImageSource):
            images = pool_images
        else:
            folder = Path(out) / "images" / f"seed{seed}"
            images = ImageSource(folder, store.n_images, write_pngs(pool_images, folder))
        key = str(Path(out).resolve())
        oracle = cls._by_run.get(key)
        if oracle is None:
            oracle = cls(store, images, host=host, port=port, annotator=annotator, lease_seconds=lease_seconds)
            cls._by_run[key] = oracle
        else:
            oracle.use(store, images)
        return oracle

    @classmethod
    def close_all(cls) -> None:
        """Stop every server :meth:`for_run` started."""
        for oracle in list(cls._by_run.values()):
            oracle.close()
        cls._by_run.clear()

    def use(self, store, images: ImageSource) -> None:
        """Serve another store (the next strategy or seed of a run) on the same server."""
        with self.round.lock:
            self.store = store
            self.images = images
            self.round.store, self.round.images = store, images
            for session in self.round.sessions.values():
                session.undo.clear()
                session.answered.clear()
            self.round.refresh()

    @property
    def url(self) -> str | None:
        return None if self.server is None else self.server.url

    def start(self) -> None:
        with self._lock:
            if self.server is None:
                self.server = BackgroundServer(create_app(self.round, token=self.token), self.host, self.port).start()
                announce(self.server, self.round, self.out)

    def ask(self, queries: Sequence[tuple[int, int]]) -> Iterator[tuple[int, int, bool]]:
        """Serve ``queries`` (the store's unanswered pending ones) and return once all are answered.

        The web side has already stored every answer, with its provenance, in :attr:`store`, so
        this generator yields nothing: the loop would otherwise store each answer a second time.
        """
        self.round.refresh()
        wanted = {(int(i), int(c)) for i, c in queries}
        with self.round.lock:
            open_ = set(self.round.leases._open)
        if wanted != open_:
            raise ValueError("WebOracle.ask: the queries are not the store's unanswered pending queries; "
                             "build the oracle on the loop's own store object.")
        self.start()
        if wanted:
            print(f"alsel run: waiting for {len(wanted)} answers at {self.server.url}", file=self.out, flush=True)
        while not self.round.wait(1.0):
            pass
        return
        yield  # a generator, like every oracle's ask

    def annotate(self, images: Sequence[int]) -> dict[int, np.ndarray]:
        from ..loop.oracles import OracleStopped

        raise OracleStopped("pixel-level strategies need painted masks, which the web page does not take; "
                            "use oracle = 'simulated' for them.")

    def close(self) -> None:
        if self.server is not None:
            self.server.stop()
            self.server = None
