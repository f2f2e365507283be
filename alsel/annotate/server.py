"""Running the app: a uvicorn server in a background thread, and :func:`serve` for the CLI."""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
from typing import TextIO

from .app import create_app
from .core import Round
from .images import ImageSource

logger = logging.getLogger(__name__)


def make_round(store, images: str | os.PathLike | ImageSource, *, annotator: str = "unknown",
               lease_seconds: float = 120.0) -> Round:
    """A :class:`Round` over ``store`` (an AnswerStore or the path of one) and an image folder.

    Image ``i`` is ``store.image_names[i]`` under ``images`` when the store has names, else the
    ``i``-th image file of ``images`` in sorted order (:class:`ImageSource`).
    """
    from ..loop.store import AnswerStore

    if not isinstance(store, AnswerStore):
        store = AnswerStore.load(store)
    if not isinstance(images, ImageSource):
        images = ImageSource(images, store.n_images, store.image_names)
    return Round(store, images, annotator=annotator, lease_seconds=lease_seconds)


class BackgroundServer:
    """uvicorn serving an app in a daemon thread; :meth:`start` returns once it listens.

    Parameters
    ----------
    app : ASGI app
    host, port : where to listen (port 0: any free port; :attr:`port` then says which).
    """

    def __init__(self, app, host: str = "127.0.0.1", port: int = 8000) -> None:
        import uvicorn

        self.app = app
        self.host = host
        config = uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="off",
                                access_log=False)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, name="alsel-annotate", daemon=True)
        self.port = port

    def start(self, timeout: float = 30.0) -> "BackgroundServer":
        self.thread.start()
        deadline = time.monotonic() + timeout
        while self.thread.is_alive() and not self.server.started and time.monotonic() < deadline:
            time.sleep(0.01)
        if not self.server.started:
            raise OSError(f"the annotate server could not listen on {self.host}:{self.port} "
                          "(port in use? pass another --port, or 0 for any free port).")
        self.port = self.server.servers[0].sockets[0].getsockname()[1]
        return self

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/?token={self.app.state.token}"

    def stop(self, timeout: float = 10.0) -> None:
        self.server.should_exit = True
        self.thread.join(timeout)


def announce(server: BackgroundServer, round_: Round, out: TextIO) -> None:
    progress = round_.progress()
    print(f"alsel annotate: {progress['remaining']} of {progress['total']} queries to answer in "
          f"{round_.store.path}", file=out)
    if server.host not in ("127.0.0.1", "localhost", "::1"):
        print(f"alsel annotate: WARNING: listening on {server.host}, not only on this machine; anyone who "
              "can reach it and has the token can answer (plain HTTP, no encryption).", file=out)
    print(f"alsel annotate: open {server.url}", file=out, flush=True)


def serve(store, images: str | os.PathLike | ImageSource, *, host: str = "127.0.0.1", port: int = 8000,
          annotator: str = "unknown", lease_seconds: float = 120.0, token: str | None = None,
          out: TextIO | None = None, stop_when_done: bool = False) -> Round:
    """Serve the pending queries of ``store`` until Ctrl-C (or, with ``stop_when_done``, until all
    are answered). Prints the URL with its access token. Returns the :class:`Round`.

    Parameters
    ----------
    store : AnswerStore or path
    images : path or ImageSource
        The image folder (see :func:`make_round` for which file is which image).
    host, port : where to listen (127.0.0.1 by default: this machine only).
    annotator : name stored with the answers of pages that did not give one.
    lease_seconds : how long a query stays with a page that does not answer it.
    token : the access token; random by default.
    """
    out = out if out is not None else sys.stdout
    round_ = make_round(store, images, annotator=annotator, lease_seconds=lease_seconds)
    server = BackgroundServer(create_app(round_, token=token), host, port).start()
    announce(server, round_, out)
    try:
        while server.thread.is_alive():
            if stop_when_done and round_.wait(0.5):
                print("alsel annotate: every query of the round is answered.", file=out, flush=True)
                break
            server.thread.join(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    return round_
