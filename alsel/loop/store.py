"""The answer store: everything an active-learning run has been told, persisted atomically.

Per image of the pool, each queryable class is answered *present*, *absent* or still *unknown*;
some images (the initial set L, and those a pixel-level strategy had annotated) carry pixel
labels. The store also holds the loop's position: the iteration, the queries asked but not yet
all answered (``pending``), and one result row per finished evaluation (``history``).

Every change is written to disk at once, atomically: the JSON goes to a temporary file in the
same folder, is flushed and fsynced, then renamed over the old file (``os.replace``). A process
killed at any moment leaves either the old or the new store, never a torn one, and a loop started
again on it continues where it stopped (docs/loop.md). A change that fails validation raises
before anything is modified.

File layout (JSON)::

    {"format": "alsel-answer-store", "version": 1, "n_images": N, "classes": [...],
     "image_names": [...] | null, "iteration": k,
     "answers": {"17": {"3": "yes", "5": "no"}, ...},
     "labels": {"0": {"shape": [H, W], "data": "<base64 of uint8 pixels>"}, ...},
     "initial": [ids of L], "pending": {"queries": [[i, c], ...], "images": [...]},
     "history": [{...result row...}, ...], "meta": {...}}
"""

from __future__ import annotations

import base64
import json
import os
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .losses import UNKNOWN

FORMAT = "alsel-answer-store"
VERSION = 1
PRESENT, ABSENT, UNANSWERED = "present", "absent", "unknown"


class StoreError(ValueError):
    """A store file that cannot be read, or a change that does not fit the store."""


def atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file in the same folder and a rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.chmod(tmp, _file_mode(path))  # mkstemp makes it 0600; keep what a plain open() gives
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def _file_mode(path: Path) -> int:
    try:
        return path.stat().st_mode & 0o777
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def _encode_mask(mask: np.ndarray) -> dict:
    mask = np.asarray(mask)
    if mask.ndim != 2 or mask.min() < 0 or mask.max() > 255:
        raise StoreError(f"a pixel-label mask must be 2-D with labels in 0..255; got shape {mask.shape}.")
    data = base64.b64encode(np.ascontiguousarray(mask, dtype=np.uint8).tobytes()).decode("ascii")
    return {"shape": list(mask.shape), "data": data}


def _decode_mask(entry: dict) -> np.ndarray:
    raw = np.frombuffer(base64.b64decode(entry["data"]), dtype=np.uint8)
    return raw.reshape(entry["shape"]).astype(np.int64)


class AnswerStore:
    """Answers, pixel labels and loop position of one active-learning run, kept on disk.

    Create one with :meth:`create`, open an existing one with :meth:`load`. Images are ids
    ``0 .. n_images - 1``; classes are ids ``0 .. len(classes) - 1`` (the queryable classes).
    """

    def __init__(self, path: Path, data: dict) -> None:
        self.path = Path(path)
        self._data = data
        self._labels_cache: dict[int, np.ndarray] = {}

    # ------------------------------------------------------------------ creation and I/O
    @classmethod
    def create(
        cls,
        path: str | os.PathLike,
        n_images: int,
        classes: Sequence[str],
        *,
        labels: Mapping[int, np.ndarray] | None = None,
        image_names: Sequence[str] | None = None,
        meta: dict | None = None,
        overwrite: bool = False,
    ) -> "AnswerStore":
        """Write a new store with the pixel labels of the initial set L (``labels``: id -> mask)."""
        path = Path(path)
        if path.exists() and not overwrite:
            raise StoreError(f"{path} already exists; open it with AnswerStore.load or pass overwrite=True.")
        if n_images < 1:
            raise StoreError(f"n_images must be >= 1; got {n_images}.")
        if image_names is not None and len(image_names) != n_images:
            raise StoreError(f"image_names has {len(image_names)} entries for {n_images} images.")
        data = {
            "format": FORMAT,
            "version": VERSION,
            "n_images": int(n_images),
            "classes": [str(c) for c in classes],
            "image_names": None if image_names is None else [str(n) for n in image_names],
            "iteration": 0,
            "answers": {},
            "labels": {},
            "initial": [],
            "pending": {"queries": [], "images": []},
            "history": [],
            "meta": meta or {},
        }
        store = cls(path, data)
        if labels:
            store._check_images(labels.keys(), "labels")
            data["labels"] = {str(int(i)): _encode_mask(m) for i, m in labels.items()}
            data["initial"] = sorted(int(i) for i in labels)
        store.save()
        return store

    @classmethod
    def load(cls, path: str | os.PathLike) -> "AnswerStore":
        """Open a store written by :meth:`save`."""
        path = Path(path)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise StoreError(f"no answer store at {path}.") from None
        except json.JSONDecodeError as exc:
            raise StoreError(f"{path} is not valid JSON ({exc}); it was not written by alsel.") from exc
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise StoreError(f"{path} is not an alsel answer store (no format {FORMAT!r}).")
        if data.get("version") != VERSION:
            raise StoreError(f"{path} has store version {data.get('version')}; this alsel reads {VERSION}.")
        return cls(path, data)

    def save(self) -> None:
        """Write the store atomically (temporary file, fsync, rename)."""
        atomic_write_text(self.path, json.dumps(self._data, separators=(",", ":")))

    # ------------------------------------------------------------------ reading
    @property
    def n_images(self) -> int:
        return self._data["n_images"]

    @property
    def classes(self) -> list[str]:
        return list(self._data["classes"])

    @property
    def n_classes(self) -> int:
        return len(self._data["classes"])

    @property
    def image_names(self) -> list[str] | None:
        names = self._data["image_names"]
        return None if names is None else list(names)

    @property
    def iteration(self) -> int:
        """Number of finished rounds (select, ask, record)."""
        return self._data["iteration"]

    @property
    def meta(self) -> dict:
        return dict(self._data["meta"])

    @property
    def history(self) -> list[dict]:
        return [dict(row) for row in self._data["history"]]

    @property
    def pending_queries(self) -> list[tuple[int, int]]:
        """Queries of the current round, answered or not (empty between rounds)."""
        return [(int(i), int(c)) for i, c in self._data["pending"]["queries"]]

    @property
    def pending_images(self) -> list[int]:
        """Images of the current round waiting for pixel labels (pixel-level strategies)."""
        return [int(i) for i in self._data["pending"]["images"]]

    @property
    def in_round(self) -> bool:
        return bool(self._data["pending"]["queries"] or self._data["pending"]["images"])

    def state(self, image: int, cls: int) -> str:
        """``"present"``, ``"absent"`` or ``"unknown"`` for one pair."""
        value = self._data["answers"].get(str(int(image)), {}).get(str(int(cls)))
        return UNANSWERED if value is None else (PRESENT if value == "yes" else ABSENT)

    def answers(self) -> dict[tuple[int, int], bool]:
        """Every answered pair: {(image, class): present}."""
        return {
            (int(i), int(c)): value == "yes"
            for i, row in self._data["answers"].items()
            for c, value in row.items()
        }

    def answer_matrix(self) -> np.ndarray:
        """int8 (n_images, n_classes): 1 present, 0 absent, -1 unknown."""
        matrix = np.full((self.n_images, self.n_classes), UNKNOWN, dtype=np.int8)
        for (i, c), present in self.answers().items():
            matrix[i, c] = 1 if present else 0
        return matrix

    @property
    def n_answers(self) -> int:
        return sum(len(row) for row in self._data["answers"].values())

    def labeled_images(self) -> list[int]:
        """Ids of the images with pixel labels, sorted."""
        return sorted(int(i) for i in self._data["labels"])

    @property
    def initial_images(self) -> list[int]:
        """Ids of the initial pixel-labelled set L."""
        return list(self._data["initial"])

    def label(self, image: int) -> np.ndarray:
        """The pixel labels of one image (KeyError if it has none)."""
        image = int(image)
        if image not in self._labels_cache:
            self._labels_cache[image] = _decode_mask(self._data["labels"][str(image)])
        return self._labels_cache[image]

    def unanswered_pending(self) -> list[tuple[int, int]]:
        """Pending queries that still have no answer."""
        return [(i, c) for i, c in self.pending_queries if self.state(i, c) == UNANSWERED]

    def unlabeled_pending(self) -> list[int]:
        """Pending images that still have no pixel labels."""
        return [i for i in self.pending_images if str(i) not in self._data["labels"]]

    # ------------------------------------------------------------------ validation
    def _check_images(self, images: Iterable, what: str) -> None:
        bad = [i for i in images if not _is_index(i, self.n_images)]
        if bad:
            raise StoreError(
                f"{what}: unknown image id(s) {bad[:5]}; ids must be integers 0..{self.n_images - 1}."
            )

    def check_pairs(self, pairs: Iterable[tuple[Any, Any]], what: str = "pairs") -> list[tuple[int, int]]:
        """Validate (image, class) pairs; returns them as ints or raises StoreError."""
        pairs = list(pairs)
        self._check_images([i for i, _ in pairs], what)
        bad = [c for _, c in pairs if not _is_index(c, self.n_classes)]
        if bad:
            raise StoreError(
                f"{what}: unknown class id(s) {bad[:5]}; ids must be integers 0..{self.n_classes - 1}."
            )
        return [(int(i), int(c)) for i, c in pairs]

    # ------------------------------------------------------------------ changes (each saved)
    def record(self, answers: Iterable[tuple[int, int, bool]], *, save: bool = True) -> int:
        """Record yes/no answers ``(image, class, present)``; all are checked before any is kept.

        Answering a pair again replaces the earlier answer. Returns how many were recorded.
        """
        answers = list(answers)
        pairs = self.check_pairs([(i, c) for i, c, _ in answers], "answers")
        bad = [v for *_, v in answers if not isinstance(v, (bool, np.bool_))]
        if bad:
            raise StoreError(f"answers: values must be True (present) or False (absent); got {bad[:5]}.")
        for (i, c), (*_, present) in zip(pairs, answers):
            self._data["answers"].setdefault(str(i), {})[str(c)] = "yes" if present else "no"
        if save and answers:
            self.save()
        return len(answers)

    def add_labels(self, labels: Mapping[int, np.ndarray], *, save: bool = True) -> None:
        """Store pixel labels (id -> 2-D mask) for images annotated at the pixel level."""
        self._check_images(labels.keys(), "labels")
        encoded = {str(int(i)): _encode_mask(m) for i, m in labels.items()}
        self._data["labels"].update(encoded)
        for i in labels:
            self._labels_cache.pop(int(i), None)
        if save:
            self.save()

    def begin_round(
        self,
        queries: Sequence[tuple[int, int]] = (),
        images: Sequence[int] = (),
        *,
        row: dict | None = None,
    ) -> None:
        """Start a round: remember what will be asked and append ``row`` to the history."""
        if self.in_round:
            raise StoreError("a round is already in progress; finish it with end_round() first.")
        queries = self.check_pairs(queries, "queries")
        self._check_images(images, "images")
        self._data["pending"] = {"queries": [list(q) for q in queries], "images": [int(i) for i in images]}
        if row is not None:
            self._data["history"].append(dict(row))
        self.save()

    def add_row(self, row: dict) -> None:
        """Append a result row (the final evaluation after the last round)."""
        self._data["history"].append(dict(row))
        self.save()

    def end_round(self) -> None:
        """Close the round: every pending query answered and every pending image labelled."""
        missing_q, missing_i = self.unanswered_pending(), self.unlabeled_pending()
        if missing_q or missing_i:
            raise StoreError(
                f"the round is not complete: {len(missing_q)} queries unanswered, "
                f"{len(missing_i)} images without pixel labels."
            )
        self._data["pending"] = {"queries": [], "images": []}
        self._data["iteration"] += 1
        self.save()


def _is_index(value: Any, size: int) -> bool:
    if isinstance(value, (bool, np.bool_)):
        return False
    if isinstance(value, (int, np.integer)):
        return 0 <= int(value) < size
    return False
