"""The answering round behind the web page: sessions, leases and the store, under one lock.

Everything the HTTP layer (:mod:`alsel.annotate.app`) does goes through :class:`Round`, which
knows nothing about HTTP. An answer is checked (the query must be leased to the session that
answers), written to the store (``store.record``, an atomic save) and only then reported as
saved; a failed write raises and nothing is acknowledged.
"""

from __future__ import annotations

import math
import secrets
import statistics
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .images import ImageSource
from .leases import Leases, Pair

MAX_SECONDS = 24 * 3600.0
MAX_NAME = 64


class RoundError(ValueError):
    """A request the round refuses; ``status`` is the HTTP status the page gets."""

    def __init__(self, message: str, status: int = 409) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class Session:
    """One browser page or scripted client."""

    id: str
    csrf: str
    name: str
    answered: dict[Pair, bool] = field(default_factory=dict)   # this server run, for retries
    undo: list[tuple[Pair, float | None]] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)


def check_name(name: Any, what: str = "name") -> str:
    """An annotator name: a non-empty printable string of at most 64 characters."""
    if not isinstance(name, str) or not name.strip() or len(name) > MAX_NAME or not name.isprintable():
        raise RoundError(f"{what} must be a printable, non-empty string of at most {MAX_NAME} characters; "
                         f"got {name!r}.", 400)
    return name.strip()


class Round:
    """The pending queries of one answer store, handed out to sessions one at a time.

    Parameters
    ----------
    store : AnswerStore
        Its unanswered pending queries are asked; answers are recorded in it.
    images : ImageSource
        The file of each image.
    annotator : str
        Default name stored with the answers of a session that has not given its own.
    lease_seconds : float
        How long a query stays with a session that does not answer it.
    clock : callable
        Monotonic seconds for the leases (tests pass their own).
    """

    def __init__(self, store, images: ImageSource, *, annotator: str = "unknown",
                 lease_seconds: float = 120.0, clock: Callable[[], float] = time.monotonic) -> None:
        if len(images) != store.n_images:
            raise ValueError(f"images: {len(images)} image files for a store of {store.n_images} images.")
        self.store = store
        self.images = images
        self.annotator = check_name(annotator, "annotator")
        self.lease_seconds = float(lease_seconds)
        self.clock = clock
        self.lock = threading.RLock()
        self.changed = threading.Condition(self.lock)
        self.sessions: dict[str, Session] = {}
        self.refresh()

    # ------------------------------------------------------------------ round state
    def refresh(self) -> None:
        """Take the store's unanswered pending queries as the open queries (a new round)."""
        with self.lock:
            self.pending = set(self.store.pending_queries)
            self.leases = Leases(self.store.unanswered_pending(), self.lease_seconds, self.clock)
            self.pending_images = {i for i, _ in self.pending}
            self.changed.notify_all()

    @property
    def done(self) -> bool:
        """True when no pending query is unanswered."""
        with self.lock:
            return len(self.leases) == 0

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the round is done (or ``timeout``); returns :attr:`done`."""
        with self.changed:
            self.changed.wait_for(lambda: len(self.leases) == 0, timeout)
            return len(self.leases) == 0

    def progress(self, session: Session | None = None) -> dict:
        with self.lock:
            remaining = len(self.leases)
            seconds = session.seconds if session is not None else []
            return {"answered": len(self.pending) - remaining, "remaining": remaining,
                    "total": len(self.pending), "mine": len(seconds),
                    "median_seconds": statistics.median(seconds) if seconds else None}

    # ------------------------------------------------------------------ sessions
    def new_session(self) -> Session:
        with self.lock:
            session = Session(secrets.token_urlsafe(18), secrets.token_urlsafe(24), self.annotator)
            self.sessions[session.id] = session
            return session

    def session(self, session_id: str | None) -> Session | None:
        with self.lock:
            return self.sessions.get(session_id) if session_id else None

    def rename(self, session: Session, name: Any) -> str:
        session.name = check_name(name)
        return session.name

    # ------------------------------------------------------------------ queries
    def describe(self, pair: Pair | None) -> dict | None:
        if pair is None:
            return None
        image, cls = pair
        return {"image": image, "cls": cls, "class_name": self.store.classes[cls],
                "name": self.images.names[image], "image_url": f"image/{image}"}

    def next(self, session: Session) -> Pair | None:
        """The query for ``session`` (leased to it), or None when nothing is free now."""
        with self.lock:
            return self.leases.next(session.id)

    def _pair(self, image: Any, cls: Any) -> Pair:
        for value, what in ((image, "image"), (cls, "cls")):
            if not isinstance(value, int) or isinstance(value, bool):
                raise RoundError(f"{what} must be an integer id; got {value!r}.", 400)
        return int(image), int(cls)

    def answer(self, session: Session, image: Any, cls: Any, present: Any, seconds: Any) -> bool:
        """Store one answer of ``session``; returns False when it was a repeat of one already stored.

        Raises :class:`RoundError` (and stores nothing) unless the query is leased to the session.
        """
        pair = self._pair(image, cls)
        if not isinstance(present, bool):
            raise RoundError(f"answer must be 'yes' or 'no'; got {present!r}.", 400)
        if seconds is not None:
            if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not math.isfinite(seconds) \
                    or not 0 <= seconds <= MAX_SECONDS:
                raise RoundError(f"seconds must be a number in [0, {MAX_SECONDS:g}] or null; got {seconds!r}.", 400)
            seconds = float(seconds)
        with self.changed:
            if session.answered.get(pair) == present and pair not in self.leases:
                return False  # the page sent it again (e.g. the reply was lost): stored once
            if pair not in self.pending:
                raise RoundError(f"query {pair} is not asked in this round.")
            if pair not in self.leases:
                raise RoundError(f"query {pair} has already been answered.")
            if self.leases.holder(pair) != session.id:
                raise RoundError(f"query {pair} is not leased to this session (its lease ran out and "
                                 "it went to someone else, or it was never handed out here); ask for the next query.")
            self.store.record([(pair[0], pair[1], present)], by=session.name, seconds=seconds)
            self.leases.close(pair)
            session.answered[pair] = present
            session.undo.append((pair, seconds))
            if seconds is not None:
                session.seconds.append(seconds)
            self.changed.notify_all()
            return True

    def skip(self, session: Session, image: Any, cls: Any) -> None:
        pair = self._pair(image, cls)
        with self.lock:
            if self.leases.holder(pair) != session.id:
                raise RoundError(f"query {pair} is not leased to this session.")
            self.leases.skip(session.id, pair)

    def undo(self, session: Session) -> Pair:
        """Take back the last answer of ``session``; its query is leased to it again."""
        with self.changed:
            if not session.undo:
                raise RoundError("nothing to undo: this page has stored no answer yet (or undid them all).")
            pair, seconds = session.undo[-1]
            if pair not in self.pending:
                raise RoundError(f"the answer to {pair} belongs to a round that is closed; it cannot be undone here.")
            self.store.retract([pair])
            session.undo.pop()
            session.answered.pop(pair, None)
            if seconds is not None:
                session.seconds.remove(seconds)
            self.leases.reopen(pair, session.id)
            self.changed.notify_all()
            return pair

    def image_path(self, image: int):
        """The file of ``image`` if it belongs to a pending query, else None."""
        with self.lock:
            if image not in self.pending_images:
                return None
        return self.images.path(image)
