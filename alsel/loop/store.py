"""The answer store: everything an active-learning run has been told, persisted atomically.

Per image of the pool, each queryable class is answered *present*, *absent* or still *unknown*;
some images (the initial set L, and those a pixel-level strategy had annotated) carry pixel
labels. The store also holds the loop's position: the iteration, the queries asked but not yet
all answered (``pending``), and one result row per round (``history``). Every answer carries its
provenance: who gave it (``by``), how long it took (``seconds``, or null) and when (``at``, UTC).

Every change is written to disk at once, atomically: the JSON goes to a temporary file in the
same folder, is flushed and fsynced, then renamed over the old file (``os.replace``). A process
killed at any moment leaves either the old or the new store, never a torn one, and a loop started
again on it continues where it stopped (docs/loop.md). A change that fails validation raises
before anything is modified; one whose write fails is undone in memory too.

:meth:`AnswerStore.load` validates the whole file first (:mod:`alsel.loop.store_check`: schema,
types, ids in range, no duplicate JSON keys, labels, pending round and iteration consistent) and
refuses it with a :class:`StoreError` naming the file and the key; a refused file is never
written.

File layout (JSON, version 4)::

    {"format": "alsel-answer-store", "version": 4, "n_images": N, "classes": [...],
     "image_names": [...] | null, "iteration": k,
     "answers": {"17": {"3": {"answer": "yes", "by": "alice", "seconds": 2.4,
                               "at": "2026-12-04T16:40:00.000Z"}, ...}, ...},
     "labels": {"0": {"shape": [H, W], "data": "<base64 of uint8 pixels>"}, ...},
         (a pixel byte is its label 0..254, or 255 for "no label": IGNORE in the loop)
     "initial": [ids of L], "region_counts": {"5": 3, ...},
     "asked": {"5": {"shape": [H, W], "data": "<base64 of np.packbits of the bool mask>"}, ...},
     "pending": {"queries": [[i, c], ...], "images": [...],
                 "regions": {"5": {"shape": [H, W], "data": "<base64 of uint8>", "done": false}}},
     "history": [{...result row...}, ...], "meta": {...}}

Region-level strategies ask for *regions* of images: a pending region map holds, per pixel, 0
(not asked) or the id 1..255 of the region it belongs to; ``done`` turns true when the image's
annotation of those regions is merged into its label (a pixel labelled once keeps its label).
``region_counts`` is how many regions of each image have been annotated (the cost of Table 1).
``asked`` holds, for every image in ``region_counts`` (and only those), the union of all the
region maps annotated in it so far: the pixels already asked (and paid for), row-major, packed
8 to a byte (``np.packbits``, zero padding bits), at the shape of the image's label. A pixel can
be asked and still have no label (void in the ground truth, or sieved out), so the asked mask,
not the label, says what a region-level strategy may still ask; the store refuses a region
that overlaps it.

Versions 1 (answers as plain ``"yes"`` / ``"no"``), 2 (no regions) and 3 (regions, no asked
masks) are still read; version-1 answers get ``by = "unknown"``, ``seconds = null``, ``at =
null``; versions 1 and 2 get no regions. A version-3 store did not record which pixels were
asked: the asked mask of each image with ``region_counts`` is derived as its labelled pixels
(L is never asked for regions), plus the region maps of the round in progress already
annotated. Asked pixels that got no label (void, sieved) are unknown there, so they may be
asked once more, as before version 4. The next change writes version 4.
"""

from __future__ import annotations

import base64
import json
import math
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from alsel.datasets.base import IGNORE, UNKNOWN  # noqa: F401  (UNKNOWN re-exported)

from .._files import atomic_write_text  # noqa: F401  (re-exported: oracles, experiment, annotate)
from .._validation import plain
from .store_check import FORMAT, StoreProblem, check_store, parse_json

VERSION = 4
PRESENT, ABSENT, UNANSWERED = "present", "absent", "unknown"


class StoreError(ValueError):
    """A store file that cannot be read, or a change that does not fit the store."""


#: Pixel label "no label" in the loop (alsel.datasets.IGNORE); byte 255 in the file.
NO_LABEL = IGNORE
_NO_LABEL_BYTE = 255


def _encode_mask(mask: np.ndarray) -> dict:
    mask = np.asarray(mask)
    integral = (np.issubdtype(mask.dtype, np.integer) or mask.dtype == np.bool_
                or (np.issubdtype(mask.dtype, np.floating) and bool(np.all(mask == np.round(mask)))))
    labelled = mask[mask != NO_LABEL] if mask.size and integral else mask
    if (mask.ndim != 2 or mask.size == 0 or not integral
            or (labelled.size and (labelled.min() < 0 or labelled.max() >= _NO_LABEL_BYTE))):
        raise StoreError(f"a pixel-label mask must be a non-empty 2-D array of integer labels in "
                         f"0..254, or {NO_LABEL} for a pixel without a label; got shape {mask.shape}, "
                         f"dtype {mask.dtype}.")
    raw = np.where(mask == NO_LABEL, _NO_LABEL_BYTE, mask).astype(np.uint8)
    data = base64.b64encode(np.ascontiguousarray(raw).tobytes()).decode("ascii")
    return {"shape": [int(n) for n in mask.shape], "data": data}


def _decode_mask(entry: dict) -> np.ndarray:
    raw = np.frombuffer(base64.b64decode(entry["data"]), dtype=np.uint8)
    mask = raw.reshape(entry["shape"]).astype(np.int64)
    mask[mask == _NO_LABEL_BYTE] = NO_LABEL
    return mask


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _encode_regions(region_map: np.ndarray) -> dict:
    region_map = np.asarray(region_map)
    if region_map.dtype == np.bool_:
        region_map = region_map.astype(np.uint8)
    if (region_map.ndim != 2 or region_map.size == 0 or not np.issubdtype(region_map.dtype, np.integer)
            or region_map.min() < 0 or region_map.max() > 255 or region_map.max() == 0):
        raise StoreError(f"a region map must be a non-empty 2-D bool mask or integer array with 0 "
                         f"outside the regions and region ids 1..255, asking for at least one pixel; "
                         f"got shape {region_map.shape}, dtype {region_map.dtype}.")
    data = base64.b64encode(np.ascontiguousarray(region_map.astype(np.uint8)).tobytes()).decode("ascii")
    return {"shape": [int(n) for n in region_map.shape], "data": data, "done": False}


def _decode_regions(entry: dict) -> np.ndarray:
    raw = np.frombuffer(base64.b64decode(entry["data"]), dtype=np.uint8)
    return raw.reshape(entry["shape"]).astype(np.int64)


def _encode_asked(asked: np.ndarray) -> dict:
    """A bool (H, W) mask of asked pixels as ``{"shape", "data"}``: 8 pixels a byte."""
    packed = np.packbits(np.asarray(asked, dtype=bool).ravel())
    return {"shape": [int(n) for n in asked.shape], "data": base64.b64encode(packed.tobytes()).decode("ascii")}


def _decode_asked(entry: dict) -> np.ndarray:
    height, width = entry["shape"]
    raw = np.frombuffer(base64.b64decode(entry["data"]), dtype=np.uint8)
    return np.unpackbits(raw, count=height * width).astype(bool).reshape(height, width)


def _count_regions(region_map: np.ndarray) -> int:
    return int(np.count_nonzero(np.bincount(region_map.ravel(), minlength=256)[1:]))


def _upgrade(data: dict) -> dict:
    """An older store as version 4, in memory (the file changes only with the next save)."""
    if data["version"] == 1:
        data["answers"] = {
            image: {cls: {"answer": value, "by": "unknown", "seconds": None, "at": None}
                    for cls, value in row.items()}
            for image, row in data["answers"].items()
        }
    if data["version"] < 3:
        data["pending"]["regions"] = {}
        data["region_counts"] = {}
    if data["version"] < 4:  # which pixels were asked was not kept: the labelled ones, at least
        done = {i: e for i, e in data["pending"]["regions"].items() if e["done"]}
        data["asked"] = {}
        for image in data["region_counts"]:
            asked = _decode_mask(data["labels"][image]) != NO_LABEL
            if image in done:
                asked |= _decode_regions(done[image]) > 0
            data["asked"][image] = _encode_asked(asked)
    data["version"] = VERSION
    return data


class AnswerStore:
    """Answers, pixel labels and loop position of one active-learning run, kept on disk.

    Create one with :meth:`create`, open an existing one with :meth:`load`. Images are ids
    ``0 .. n_images - 1``; classes are ids ``0 .. len(classes) - 1`` (the queryable classes).
    """

    def __init__(self, path: Path, data: dict) -> None:
        self.path = Path(path)
        self._data = data
        self._labels_cache: dict[int, np.ndarray] = {}
        self._asked_cache: dict[int, np.ndarray] = {}

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
        if not isinstance(n_images, (int, np.integer)) or isinstance(n_images, bool) or n_images < 1:
            raise StoreError(f"n_images must be an integer >= 1; got {n_images!r}.")
        if image_names is not None and len(image_names) != n_images:
            raise StoreError(f"image_names has {len(image_names)} entries for {n_images} images.")
        try:
            meta = json.loads(json.dumps(meta or {}))
        except (TypeError, ValueError) as exc:
            raise StoreError(f"meta must be JSON-serializable: {exc}.") from None
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
            "region_counts": {},
            "asked": {},
            "pending": {"queries": [], "images": [], "regions": {}},
            "history": [],
            "meta": meta,
        }
        store = cls(path, data)
        if labels:
            store._check_images(labels.keys(), "labels")
            data["labels"] = {str(int(i)): _encode_mask(m) for i, m in labels.items()}
            data["initial"] = sorted(int(i) for i in labels)
        try:
            check_store(data)
        except StoreProblem as problem:
            raise StoreError(f"cannot create {path}: {problem}.") from None
        store.save()
        return store

    @classmethod
    def load(cls, path: str | os.PathLike) -> "AnswerStore":
        """Open a store written by :meth:`save`, after validating the whole file.

        Raises
        ------
        StoreError
            The file is missing, unreadable, not UTF-8 JSON, has a key twice in one object, or
            anything in it is invalid or inconsistent; the message names the file and the key
            (e.g. ``answers["17"]["3"]``). The file is left as it is.
        """
        path = Path(path)
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            raise StoreError(f"no answer store at {path}.") from None
        except OSError as exc:
            raise StoreError(f"cannot read the answer store {path}: {exc.strerror or exc}.") from None
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise StoreError(f"{path} is not UTF-8 text (byte {exc.start}); it was not written by alsel, "
                             "or was damaged. The file was not changed.") from None
        try:
            data = parse_json(text)
            check_store(data)
        except (json.JSONDecodeError, RecursionError) as exc:
            raise StoreError(f"{path} is not valid JSON ({exc}); it was not written by alsel, or was "
                             "damaged. The file was not changed.") from None
        except StoreProblem as problem:
            raise StoreError(f"{path}: {problem}. The store was refused and the file not changed; "
                             "restore it from a copy or fix that entry.") from None
        return cls(path, _upgrade(data))

    def save(self) -> None:
        """Write the store atomically (temporary file, fsync, rename)."""
        atomic_write_text(self.path, json.dumps(self._data, separators=(",", ":")))

    def _commit(self, undo: Callable[[], None], save: bool) -> None:
        """Save a change; if the write fails, undo it in memory too, so memory matches the file."""
        if not save:
            return
        try:
            self.save()
        except BaseException:
            undo()
            raise

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
    def pending_regions(self) -> dict[int, np.ndarray]:
        """Region maps of the current round (image id -> int (H, W): 0 outside, 1..k the regions),
        annotated or not (empty between rounds)."""
        return {int(i): _decode_regions(e) for i, e in self._data["pending"]["regions"].items()}

    def unlabeled_pending_regions(self) -> dict[int, np.ndarray]:
        """Pending region maps whose annotation is not stored yet."""
        return {int(i): _decode_regions(e) for i, e in self._data["pending"]["regions"].items()
                if not e["done"]}

    @property
    def in_round(self) -> bool:
        pending = self._data["pending"]
        return bool(pending["queries"] or pending["images"] or pending["regions"])

    @property
    def n_regions(self) -> int:
        """Regions annotated so far (all images; the cost unit of region-level strategies)."""
        return sum(self._data["region_counts"].values())

    def region_counts(self) -> dict[int, int]:
        """Image id -> number of its regions annotated so far (images with any)."""
        return {int(i): int(n) for i, n in self._data["region_counts"].items()}

    def asked_pixels(self, image: int) -> np.ndarray | None:
        """Bool (H, W): the pixels of ``image`` in any region annotated so far (labelled or not:
        a void or sieved pixel was asked too); None if no region of it has been annotated.

        A region-level strategy asks only pixels outside it (the store refuses the others)."""
        self._check_images([image], "asked_pixels")
        image = int(image)
        if image not in self._asked_cache:
            entry = self._data["asked"].get(str(image))
            if entry is None:
                return None
            self._asked_cache[image] = _decode_asked(entry)
        return self._asked_cache[image].copy()

    def asked_regions(self) -> dict[int, np.ndarray]:
        """Image id -> :meth:`asked_pixels`, for every image with annotated regions."""
        return {int(i): self.asked_pixels(int(i)) for i in self._data["asked"]}

    def _entry(self, image: int, cls: int) -> dict | None:
        return self._data["answers"].get(str(image), {}).get(str(cls))

    def state(self, image: int, cls: int) -> str:
        """``"present"``, ``"absent"`` or ``"unknown"`` for one pair."""
        ((image, cls),) = self.check_pairs([(image, cls)], "state")
        entry = self._entry(image, cls)
        return UNANSWERED if entry is None else (PRESENT if entry["answer"] == "yes" else ABSENT)

    def provenance(self, image: int, cls: int) -> dict | None:
        """Who answered a pair, how long it took, and when: ``{"answer": "yes" | "no", "by": str,
        "seconds": float | None, "at": ISO 8601 UTC str | None}``, or None if unanswered.
        (``seconds`` is None when not measured; ``at`` is None for answers kept from a
        version-1 store, whose ``by`` is ``"unknown"``.)"""
        ((image, cls),) = self.check_pairs([(image, cls)], "provenance")
        entry = self._entry(image, cls)
        return None if entry is None else dict(entry)

    def answers(self) -> dict[tuple[int, int], bool]:
        """Every answered pair: {(image, class): present}."""
        return {
            (int(i), int(c)): entry["answer"] == "yes"
            for i, row in self._data["answers"].items()
            for c, entry in row.items()
        }

    def answer_matrix(self) -> np.ndarray:
        """int8 (n_images, n_classes): 1 present, 0 absent, -1 unknown."""
        matrix = np.full((self.n_images, self.n_classes), UNKNOWN, dtype=np.int8)
        answers = self.answers()
        if answers:
            pairs = np.array(list(answers), dtype=np.int64)
            matrix[pairs[:, 0], pairs[:, 1]] = np.fromiter(answers.values(), dtype=np.int8, count=len(answers))
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
        return [(i, c) for i, c in self.pending_queries if self._entry(i, c) is None]

    def unlabeled_pending(self) -> list[int]:
        """Pending images that still have no pixel labels."""
        return [i for i in self.pending_images if str(i) not in self._data["labels"]]

    # ------------------------------------------------------------------ validation
    def _check_images(self, images: Iterable, what: str) -> None:
        bad = [i for i in images if not _is_index(i, self.n_images)]
        if bad:
            raise StoreError(
                f"{what}: unknown image id(s) {_show(bad)}; ids must be integers 0..{self.n_images - 1}."
            )

    def check_pairs(self, pairs: Iterable[tuple[Any, Any]], what: str = "pairs") -> list[tuple[int, int]]:
        """Validate (image, class) pairs; returns them as ints or raises StoreError."""
        pairs = list(pairs)
        malformed = [p for p in pairs if not _is_tuple(p, 2)]
        if malformed:
            raise StoreError(f"{what}: each pair must be (image, class); got {_show(malformed)}.")
        self._check_images([i for i, _ in pairs], what)
        bad = [c for _, c in pairs if not _is_index(c, self.n_classes)]
        if bad:
            raise StoreError(
                f"{what}: unknown class id(s) {_show(bad)}; ids must be integers 0..{self.n_classes - 1}."
            )
        return [(int(i), int(c)) for i, c in pairs]

    # ------------------------------------------------------------------ changes (each saved)
    def record(
        self,
        answers: Iterable[tuple[int, int, bool]],
        *,
        by: str = "unknown",
        seconds: float | Sequence[float | None] | None = None,
        save: bool = True,
    ) -> int:
        """Record yes/no answers ``(image, class, present)``; all are checked before any is kept.

        Parameters
        ----------
        answers : iterable of (image, class, present)
            ``present`` is a bool. One call may not give a pair two different answers.
        by : str
            Who answered (a person's name, ``"simulated"``, ``"terminal"``, ``"csv"``, ...).
        seconds : float, sequence of float or None, or None
            How long the answer took: one number for every answer of the call, or one per answer
            (None where not measured); each finite and >= 0.
        save : bool
            Write the store now (atomically); False leaves that to a later :meth:`save`.

        Returns
        -------
        int
            How many pairs got a new answer: unanswered before, or answered differently (the
            new answer and its provenance replace the old). Giving a pair the answer it already
            has changes nothing (its provenance stays that of the first time) and is not counted.
        """
        answers = list(answers)
        malformed = [a for a in answers if not _is_tuple(a, 3)]
        if malformed:
            raise StoreError(f"answers: each must be (image, class, present); got {_show(malformed)}.")
        pairs = self.check_pairs([(i, c) for i, c, _ in answers], "answers")
        bad = [v for *_, v in answers if not isinstance(v, (bool, np.bool_))]
        if bad:
            raise StoreError(f"answers: values must be True (present) or False (absent); got {_show(bad)}.")
        if not isinstance(by, str) or not by.strip():
            raise StoreError(f"by must be a non-empty string naming who answered; got {by!r}.")
        times = _seconds(seconds, len(answers))
        given: dict[tuple[int, int], bool] = {}
        for pair, (*_, present) in zip(pairs, answers):
            if given.setdefault(pair, bool(present)) != bool(present):
                raise StoreError(f"answers: pair {pair} is given both yes and no in one call; nothing was recorded.")
        at = _now()
        changes = {}
        for pair, (*_, present), took in zip(pairs, answers, times):
            value = "yes" if present else "no"
            old = self._entry(*pair)
            if (old is None or old["answer"] != value) and pair not in changes:
                changes[pair] = (old, {"answer": value, "by": by, "seconds": took, "at": at})
        table = self._data["answers"]
        for (i, c), (_, entry) in changes.items():
            table.setdefault(str(i), {})[str(c)] = entry

        def undo() -> None:
            for (i, c), (old, _) in changes.items():
                if old is None:
                    del table[str(i)][str(c)]
                    if not table[str(i)]:
                        del table[str(i)]
                else:
                    table[str(i)][str(c)] = old

        if changes:
            self._commit(undo, save)
        return len(changes)

    def retract(self, pairs: Iterable[tuple[int, int]], *, save: bool = True) -> int:
        """Remove the answers of ``(image, class)`` pairs (undo); they become unanswered again.

        Every pair must be answered and listed once; all are checked before any is removed.
        Returns the number of answers removed.
        """
        pairs = self.check_pairs(pairs, "retract")
        if len(set(pairs)) != len(pairs):
            twice = sorted({p for p in pairs if pairs.count(p) > 1})
            raise StoreError(f"retract: pair(s) {_show(twice)} listed more than once; nothing was removed.")
        unanswered = [p for p in pairs if self._entry(*p) is None]
        if unanswered:
            raise StoreError(f"retract: pair(s) {_show(unanswered)} have no answer to retract; nothing was removed.")
        table = self._data["answers"]
        removed = {p: table[str(p[0])].pop(str(p[1])) for p in pairs}
        emptied = [i for i in {str(i) for i, _ in pairs} if not table[i]]
        for i in emptied:
            del table[i]

        def undo() -> None:
            for (i, c), entry in removed.items():
                table.setdefault(str(i), {})[str(c)] = entry

        if pairs:
            self._commit(undo, save)
        return len(pairs)

    def add_labels(self, labels: Mapping[int, np.ndarray], *, save: bool = True) -> None:
        """Store pixel labels (id -> 2-D mask) for images annotated at the pixel level."""
        self._check_images(labels.keys(), "labels")
        queried = sorted({int(i) for i, _ in self.pending_queries} & {int(i) for i in labels})
        if queried:
            raise StoreError(f"labels: image(s) {_show(queried)} have pending yes/no queries; finish "
                             "the round before labelling them.")
        encoded = {str(int(i)): _encode_mask(m) for i, m in labels.items()}
        table = self._data["labels"]
        old = {i: table.get(i) for i in encoded}
        table.update(encoded)
        self._labels_cache.clear()

        def undo() -> None:
            for i, entry in old.items():
                if entry is None:
                    del table[i]
                else:
                    table[i] = entry
            self._labels_cache.clear()

        self._commit(undo, save)

    def add_region_labels(self, labels: Mapping[int, np.ndarray], *, save: bool = True) -> None:
        """Store the annotation of pending regions: image id -> (H, W) labels, IGNORE
        (:data:`NO_LABEL`) outside the image's pending regions (it may be IGNORE inside too: a
        pixel without a label). Each is merged into the image's label: a pixel that already has a
        label keeps it. The image's regions are then done and count towards ``region_counts``, and
        their pixels join the image's asked mask (:meth:`asked_pixels`), labelled or not.

        Raises StoreError, before anything is stored, for an image without pending regions (or
        whose regions are already done), a shape that differs from its region map, or a label
        outside the asked regions (it was not asked for, and would not be paid for).
        """
        self._check_images(labels.keys(), "region labels")
        pending = self._data["pending"]["regions"]
        updates = {}
        for image, mask in labels.items():
            key = str(int(image))
            entry = pending.get(key)
            if entry is None or entry["done"]:
                raise StoreError(f"region labels: image {int(image)} has no pending regions waiting for "
                                 "labels; only the regions of the round in progress can be labelled.")
            regions = _decode_regions(entry)
            mask = np.asarray(mask)
            if mask.shape != regions.shape:
                raise StoreError(f"region labels: image {int(image)}: labels of shape {mask.shape} for a "
                                 f"region map of shape {regions.shape}.")
            outside = (regions == 0) & (mask != NO_LABEL)
            if outside.any():
                raise StoreError(f"region labels: image {int(image)}: {int(outside.sum())} labelled pixel(s) "
                                 f"outside the asked regions; set them to {NO_LABEL} (no label).")
            _encode_mask(mask)  # validates the label values
            old = self.label(int(image)) if key in self._data["labels"] else None
            merged = mask.astype(np.int64) if old is None else np.where(old != NO_LABEL, old, mask)
            before = self.asked_pixels(int(image))
            asked = (regions > 0) if before is None else before | (regions > 0)
            updates[key] = (_encode_mask(merged), _count_regions(regions), _encode_asked(asked))
        table, counts, asked_table = self._data["labels"], self._data["region_counts"], self._data["asked"]
        old_state = {k: (table.get(k), counts.get(k), asked_table.get(k), pending[k]["done"]) for k in updates}
        for key, (encoded, n, asked) in updates.items():
            table[key] = encoded
            counts[key] = counts.get(key, 0) + n
            asked_table[key] = asked
            pending[key]["done"] = True
        self._labels_cache.clear()
        self._asked_cache.clear()

        def undo() -> None:
            for key, (label, count, asked, done) in old_state.items():
                for target, value in ((table, label), (counts, count), (asked_table, asked)):
                    if value is None:
                        target.pop(key, None)
                    else:
                        target[key] = value
                pending[key]["done"] = done
            self._labels_cache.clear()
            self._asked_cache.clear()

        if updates:
            self._commit(undo, save)

    def _check_row(self, row: dict, what: str) -> dict:
        if not isinstance(row, Mapping):
            raise StoreError(f"{what}: a result row must be a dict; got {type(row).__name__}.")
        row = dict(row)
        iteration, rows = self.iteration, len(self._data["history"])
        if rows != iteration:
            raise StoreError(f"{what}: the store has {rows} result rows at iteration {iteration}; "
                             "a row is added once per round, when it begins (or once after the last).")
        if "iteration" in row and (not _is_index(row["iteration"], iteration + 1)
                                   or int(row["iteration"]) != iteration):
            raise StoreError(f"{what}: the row says iteration {row['iteration']!r}; the store is at {iteration}.")
        try:
            json.dumps(row)
        except (TypeError, ValueError) as exc:
            raise StoreError(f"{what}: the row is not JSON-serializable ({exc}).") from None
        return row

    def begin_round(
        self,
        queries: Sequence[tuple[int, int]] = (),
        images: Sequence[int] = (),
        *,
        regions: Mapping[int, np.ndarray] | None = None,
        row: dict | None = None,
    ) -> None:
        """Start a round: remember what will be asked and append ``row`` to the history.

        ``regions`` (region-level strategies): image id -> region map (bool mask of one region, or
        int (H, W) with 0 outside and 1..255 for each region asked), on images outside L whose
        label, if any, has the same shape, and on pixels not asked before (:meth:`asked_pixels`):
        a pixel is asked, and paid for, once.

        A store keeps either no result rows or one per round, so once it has rows every round
        needs one (``row["iteration"]``, if given, must be the store's iteration).
        """
        if self.in_round:
            raise StoreError("a round is already in progress; finish it with end_round() first.")
        queries = self.check_pairs(queries, "queries")
        images = list(images)
        self._check_images(images, "images")
        images = [int(i) for i in images]
        if len(set(queries)) != len(queries) or len(set(images)) != len(images):
            raise StoreError("begin_round: a query or image is listed twice.")
        labelled = {int(i) for i in self._data["labels"]}
        on_labelled = sorted({i for i, _ in queries} & labelled)
        if on_labelled:
            raise StoreError(f"queries: image(s) {_show(on_labelled)} have pixel labels; yes/no queries "
                             "are for unlabelled images.")
        in_initial = sorted(set(images) & set(self._data["initial"]))
        if in_initial:
            raise StoreError(f"images: image(s) {_show(in_initial)} belong to the initial set L.")
        regions = dict(regions or {})
        self._check_images(regions.keys(), "regions")
        encoded_regions = {str(int(i)): _encode_regions(m) for i, m in regions.items()}
        bad = sorted(set(int(i) for i in regions) & (set(self._data["initial"]) | set(images)
                                                     | {i for i, _ in queries}))
        if bad:
            raise StoreError(f"regions: image(s) {_show(bad)} belong to L or are asked otherwise this round; "
                             "regions are for unlabelled pixels of other images.")
        wrong = sorted(int(i) for i in encoded_regions if i in self._data["labels"]
                       and self._data["labels"][i]["shape"] != encoded_regions[i]["shape"])
        if wrong:
            raise StoreError(f"regions: the region map of image(s) {_show(wrong)} does not have the shape "
                             "of the image's label.")
        again = sorted(int(i) for i in regions if str(int(i)) in self._data["asked"]
                       and (self.asked_pixels(int(i)) & (np.asarray(regions[i]) > 0)).any())
        if again:
            raise StoreError(f"regions: the region map of image(s) {_show(again)} asks pixels asked in an "
                             "earlier round (store.asked_pixels); ask each pixel once.")
        if row is not None:
            row = self._check_row(row, "begin_round")
        elif self._data["history"]:
            raise StoreError("begin_round: this store keeps a result row per round; pass row=.")
        old_pending = self._data["pending"]
        self._data["pending"] = {"queries": [list(q) for q in queries], "images": images,
                                 "regions": encoded_regions}
        if row is not None:
            self._data["history"].append(row)

        def undo() -> None:
            self._data["pending"] = old_pending
            if row is not None:
                self._data["history"].pop()

        self._commit(undo, True)

    def add_row(self, row: dict) -> None:
        """Append a result row (the final evaluation after the last round)."""
        if self.in_round:
            raise StoreError("add_row: a round is in progress; its row was added by begin_round.")
        row = self._check_row(row, "add_row")
        self._data["history"].append(row)
        self._commit(self._data["history"].pop, True)

    def end_round(self) -> None:
        """Close the round: every pending query answered and every pending image labelled."""
        missing_q, missing_i = self.unanswered_pending(), self.unlabeled_pending()
        missing_r = [i for i, e in self._data["pending"]["regions"].items() if not e["done"]]
        if missing_q or missing_i or missing_r:
            raise StoreError(
                f"the round is not complete: {len(missing_q)} queries unanswered, "
                f"{len(missing_i)} images without pixel labels, {len(missing_r)} images with "
                "regions not labelled."
            )
        rows, iteration = len(self._data["history"]), self.iteration
        if rows and rows != iteration + 1:
            raise StoreError(f"end_round: no round to close (iteration {iteration}, {rows} result rows); "
                             "begin_round() starts one.")
        old_pending = self._data["pending"]
        self._data["pending"] = {"queries": [], "images": [], "regions": {}}
        self._data["iteration"] += 1

        def undo() -> None:
            self._data["pending"] = old_pending
            self._data["iteration"] -= 1

        self._commit(undo, True)


def _is_index(value: Any, size: int) -> bool:
    if isinstance(value, (bool, np.bool_)):
        return False
    if isinstance(value, (int, np.integer)):
        return 0 <= int(value) < size
    return False


def _is_tuple(value: Any, n: int) -> bool:
    return isinstance(value, (tuple, list)) and len(value) == n


def _show(values: list) -> str:
    """At most five values, as plain Python (``2``, not ``np.int64(2)``)."""
    return repr([plain(v) for v in values[:5]])[1:-1] + (f" ... ({len(values)} in all)" if len(values) > 5 else "")


def _seconds(seconds: Any, n: int) -> list[float | None]:
    """``seconds`` of :meth:`AnswerStore.record` as one value (or None) per answer."""
    def one(value: Any) -> float | None:
        if value is None:
            return None
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
            raise StoreError(f"seconds must be numbers (or None); got {value!r}.")
        value = float(value)
        if not math.isfinite(value) or value < 0:
            raise StoreError(f"seconds must be finite and >= 0; got {value}.")
        return value

    if seconds is None or not isinstance(seconds, (Sequence, np.ndarray)) or isinstance(seconds, str):
        return [one(seconds)] * n
    if len(seconds) != n:
        raise StoreError(f"seconds has {len(seconds)} values for {n} answers; give one per answer or one for all.")
    return [one(v) for v in seconds]
