"""Who is answering what: each open query is leased to at most one session at a time.

A session (one browser page, or one scripted client) asks for a query and gets one that nobody
else holds; the lease lasts ``timeout`` seconds and is renewed each time the session asks again.
An expired lease is taken back only when another session needs a query, so a slow person who
answers late still gets the answer stored when nobody else took the query in between. A skip
releases the lease and moves the query to the back of the queue (asked again later). Pure
bookkeeping: the caller (:class:`alsel.annotate.core.Round`) holds the lock.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass

Pair = tuple[int, int]


@dataclass
class Lease:
    session: str
    expires: float


class Leases:
    """Open queries in the order they are handed out, and the lease of each.

    Parameters
    ----------
    queries : iterable of (image, class)
        The open (unanswered) queries, in the order to ask them.
    timeout : float
        Seconds a lease lasts without being renewed.
    clock : callable
        Monotonic seconds (tests pass their own).
    """

    def __init__(self, queries: Iterable[Pair], timeout: float = 120.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if not timeout > 0:
            raise ValueError(f"timeout must be > 0 seconds; got {timeout!r}.")
        self.timeout = float(timeout)
        self.clock = clock
        self._open: OrderedDict[Pair, None] = OrderedDict((q, None) for q in queries)
        self._lease: dict[Pair, Lease] = {}
        self._held: dict[str, Pair] = {}

    def __len__(self) -> int:
        return len(self._open)

    def __contains__(self, pair: Pair) -> bool:
        return pair in self._open

    def holder(self, pair: Pair) -> str | None:
        """The session holding ``pair`` (expired or not, until someone else takes it)."""
        lease = self._lease.get(pair)
        return None if lease is None else lease.session

    def held_by(self, session: str) -> Pair | None:
        return self._held.get(session)

    def _grant(self, pair: Pair, session: str) -> Pair:
        previous = self._lease.get(pair)
        if previous is not None and previous.session != session:
            self._held.pop(previous.session, None)
        self._lease[pair] = Lease(session, self.clock() + self.timeout)
        self._held[session] = pair
        return pair

    def next(self, session: str) -> Pair | None:
        """The query ``session`` should answer now (renewing its lease), or None if none is free."""
        current = self._held.get(session)
        if current is not None and self.holder(current) == session:
            return self._grant(current, session)
        now = self.clock()
        for pair in self._open:
            lease = self._lease.get(pair)
            if lease is None or lease.expires <= now:
                return self._grant(pair, session)
        return None

    def release(self, session: str) -> Pair | None:
        """Give back the query ``session`` holds (it stays where it is in the queue)."""
        pair = self._held.pop(session, None)
        if pair is not None and self.holder(pair) == session:
            del self._lease[pair]
        return pair

    def skip(self, session: str, pair: Pair) -> None:
        """Release ``pair`` and move it to the back of the queue."""
        if self.holder(pair) != session:
            raise KeyError(pair)
        self.release(session)
        self._open.move_to_end(pair)

    def close(self, pair: Pair) -> None:
        """``pair`` was answered: it leaves the queue and its lease ends."""
        self._open.pop(pair, None)
        lease = self._lease.pop(pair, None)
        if lease is not None and self._held.get(lease.session) == pair:
            del self._held[lease.session]

    def reopen(self, pair: Pair, session: str) -> None:
        """An answer of ``session`` was undone: ``pair`` goes to the front, leased to it."""
        self.release(session)
        self._open[pair] = None
        self._open.move_to_end(pair, last=False)
        self._grant(pair, session)
