"""One process at a time: an exclusive, non-blocking lock on a run folder or a store file.

A run folder (``alsel run -o``) or an answer store belongs to one process at a time
(docs/reliability.md). :func:`hold` takes an operating-system lock (``flock`` through the
`filelock <https://py-filelock.readthedocs.io>`_ library) for as long as its ``with`` block runs;
a second process asking for the same lock is refused at once with :class:`Busy`, never made to
wait and never let through. The lock dies with its process, so a killed run leaves no stale lock
behind: the lock *file* stays, but holds nothing.

Lock files: ``<folder>/.alsel.lock`` for a folder, ``<file>.lock`` beside a single file.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

FOLDER_LOCK = ".alsel.lock"


class Busy(RuntimeError):
    """Another process holds the lock; the message names the path."""


def lock_path(path: str | os.PathLike) -> Path:
    """The lock file of ``path``: ``<path>/.alsel.lock`` for a folder, ``<path>.lock`` for a file."""
    path = Path(path)
    return path / FOLDER_LOCK if path.is_dir() else path.with_name(path.name + ".lock")


@contextmanager
def hold(path: str | os.PathLike, what: str) -> Iterator[Path]:
    """Hold the exclusive lock of ``path`` (an existing folder, or a file) for a ``with`` block.

    Parameters
    ----------
    path : path-like
        A run folder (it must exist) or a file (it need not exist yet; its folder must).
    what : str
        What ``path`` is, for the message, e.g. ``"run folder"`` or ``"answer store"``.

    Yields
    ------
    Path
        The lock file.

    Raises
    ------
    Busy
        At once, when another process (or another ``hold`` in this one) holds the lock.
    """
    from filelock import FileLock, Timeout

    lock_file = lock_path(path)
    # thread_local=False: the lock belongs to the process (a progress thread may release it).
    lock = FileLock(lock_file, timeout=0, thread_local=False)
    try:
        lock.acquire()
    except Timeout:
        raise Busy(f"the {what} {path} is in use by another alsel process (lock {lock_file}); "
                   "wait until it has finished, or use another path.") from None
    try:
        yield lock_file
    finally:
        lock.release()


__all__ = ["Busy", "hold", "lock_path", "FOLDER_LOCK"]
