"""Who answers the queries: a simulation from ground-truth masks, a person at a terminal, or a
person filling in a CSV file.

Every oracle has ``ask(queries)``, which yields ``(image, class, present)`` one answer at a time
(so the loop can store each as it comes) or ``(image, class, present, seconds)`` where it measured
how long the answer took, and may raise :class:`OracleStopped` to end the session early; what was
answered before is kept. Its ``by`` attribute names who answers (the answers' provenance in the
store). Pixel-level strategies also need ``annotate(images)`` (id -> mask), and region-level
strategies ``annotate_regions(regions, annotation)`` (id -> partial mask), which only the
simulated oracle provides: a person at a terminal or in a CSV file cannot paint regions, and the
loop refuses a region-level strategy with them (:data:`REGION_ANNOTATIONS`).
"""

from __future__ import annotations

import csv
import io
import os
import re
import sys
import time
from collections.abc import Callable, Collection, Iterator, Sequence
from pathlib import Path
from typing import TextIO

import numpy as np

from .data import presence_from_masks
from .store import NO_LABEL, AnswerStore, atomic_write_text

YES = ("yes", "y")
NO = ("no", "n")


class OracleStopped(Exception):
    """The oracle ended the session; the loop saves what it has and stops (resume later)."""


class AnswersFileError(ValueError):
    """An answers file that cannot be imported; nothing from it was recorded."""


class SimulatedOracle:
    """Answers from ground-truth masks: a label is present in an image iff some pixel of its mask
    has it (IGNORE pixels say nothing).

    Parameters
    ----------
    masks : ImageSet, or int array (N, H, W)
        Ground truth of the pool, indexed by store image id: an ImageSet (answers about its
        ``labels.queryable``, by :meth:`~alsel.datasets.LabelSpace.presence`), or digit-scene
        masks (answers about the digits 0-9).
    error_rate : float
        Probability that an answer is flipped. The flip of each pair is a fixed function of
        ``(seed, image, class)``, so a resumed run gets the same answers.
    seed : int
    """

    by = "simulated"

    def __init__(self, masks, error_rate: float = 0.0, seed: int = 0) -> None:
        if not 0.0 <= error_rate <= 1.0:
            raise ValueError(f"error_rate must lie in [0, 1]; got {error_rate}.")
        if hasattr(masks, "mask") and hasattr(masks, "labels"):
            self.pool = masks
            self._truth: dict[int, np.ndarray] = {}
        else:
            self.pool = None
            self.masks = np.asarray(masks)
            self.truth = presence_from_masks(self.masks)
        self.error_rate = float(error_rate)
        self.seed = int(seed)

    def _mask(self, image: int) -> np.ndarray:
        if self.pool is None:
            return self.masks[image]
        mask = self.pool.mask(image)
        if mask is None:
            raise OracleStopped(f"the simulated oracle answers from masks, and image {image} "
                                f"({self.pool.name(image)}) has none; give every pool image a mask, "
                                "or use another oracle (terminal, csv, web).")
        return mask

    def _present(self, image: int, cls: int) -> bool:
        if self.pool is None:
            return bool(self.truth[image, cls])
        if image not in self._truth:
            self._truth[image] = self.pool.labels.presence(self._mask(image))
        return bool(self._truth[image][cls])

    def _flipped(self, image: int, cls: int) -> bool:
        if self.error_rate == 0.0:
            return False
        return bool(np.random.default_rng([self.seed, image, cls]).random() < self.error_rate)

    def ask(self, queries: Sequence[tuple[int, int]]) -> Iterator[tuple[int, int, bool]]:
        for image, cls in queries:
            yield int(image), int(cls), self._present(int(image), int(cls)) != self._flipped(image, cls)

    def annotate(self, images: Sequence[int]) -> dict[int, np.ndarray]:
        """Pixel labels of ``images`` (the ground truth)."""
        return {int(i): self._mask(int(i)) for i in images}

    def annotate_regions(self, regions: dict[int, np.ndarray],
                         annotation: str = "pixels") -> dict[int, np.ndarray]:
        """Labels of the asked regions from the ground truth, :data:`NO_LABEL` outside them.

        ``regions``: image id -> region map (0 outside, 1..k the regions) at the image's own size.
        ``annotation``: ``"pixels"``, every pixel of a region gets its true label (the paper's
        region-level task: "annotate all the pixels within a given region"); ``"dominant"``, every
        pixel of a region gets the region's most frequent true label (AMSP's one click per
        superpixel). Pixels without a true label (the data set's ignore label) stay unlabelled
        and do not vote.
        """
        from .regions import dominant_labels

        if annotation not in REGION_ANNOTATIONS:
            raise ValueError(f"annotation must be one of {REGION_ANNOTATIONS}; got {annotation!r}.")
        out = {}
        for image, region_map in regions.items():
            truth, region_map = self._mask(int(image)), np.asarray(region_map)
            if region_map.shape != truth.shape:
                raise ValueError(f"regions: the region map of image {int(image)} has shape {region_map.shape}; "
                                 f"its mask is {truth.shape} (a region map is at the image's own size).")
            if annotation == "pixels":
                out[int(image)] = np.where(region_map > 0, truth, NO_LABEL).astype(np.int64)
            else:
                out[int(image)] = dominant_labels(truth, region_map, self._n_labels)
        return out

    @property
    def _n_labels(self) -> int:
        if self.pool is not None:
            return self.pool.labels.n_labels
        return int(self.masks.max()) + 1


#: How a region may be annotated (:meth:`SimulatedOracle.annotate_regions`).
REGION_ANNOTATIONS = ("pixels", "dominant")


_SHADES = " .:-=+*#%@"


def ascii_preview(image: np.ndarray, width: int = 32) -> str:
    """A small text rendering of a (1, H, W) or (H, W) image with values in [0, 1]."""
    image = np.asarray(image, dtype=float).reshape(image.shape[-2:])
    step = max(1, int(np.ceil(image.shape[1] / width)))
    small = image[::step * 2, ::step]  # characters are about twice as tall as wide
    levels = np.clip((small * (len(_SHADES) - 1)).round().astype(int), 0, len(_SHADES) - 1)
    return "\n".join("".join(_SHADES[v] for v in row) for row in levels)


class TerminalOracle:
    """Asks a person, one y/n question per query, showing the image's name and a text preview.

    Answers: ``y``/``yes``, ``n``/``no``; ``q`` stops the session (answers so far are kept).
    ``input_fn`` and ``out`` default to the terminal; tests pass their own. Each answer comes with
    the seconds from the question to the answer (``time.monotonic``, retries included).
    """

    by = "terminal"

    def __init__(
        self,
        classes: Sequence[str],
        *,
        images: np.ndarray | None = None,
        names: Sequence[str] | None = None,
        input_fn: Callable[[str], str] = input,
        out: TextIO | None = None,
        preview: bool = True,
    ) -> None:
        self.classes = list(classes)
        self.images = images
        self.names = names
        self.input_fn = input_fn
        self.out = out if out is not None else sys.stdout
        self.preview = preview and images is not None

    def ask(self, queries: Sequence[tuple[int, int]]) -> Iterator[tuple[int, int, bool, float]]:
        total = len(queries)
        for k, (image, cls) in enumerate(queries, 1):
            name = self.names[image] if self.names is not None else f"image {image}"
            if self.preview:
                print(ascii_preview(self.images[image]), file=self.out)
            question = f"[{k}/{total}] {name}: is class {self.classes[cls]!r} present? [y/n/q] "
            start = time.monotonic()
            while True:
                reply = self.input_fn(question).strip().lower()
                if reply in YES or reply in NO:
                    yield int(image), int(cls), reply in YES, time.monotonic() - start
                    break
                if reply in ("q", "quit"):
                    raise OracleStopped(f"stopped at query {k} of {total}; run again to go on.")
                print("please answer y (yes), n (no) or q (quit).", file=self.out)

    def annotate(self, images: Sequence[int]) -> dict[int, np.ndarray]:
        raise OracleStopped(
            "pixel-level strategies need painted masks, which the terminal cannot take; "
            "use oracle = 'simulated' for them."
        )


# ---------------------------------------------------------------------------------- CSV answers
COLUMNS = ("image", "name", "class", "answer")
_DIGITS = re.compile(r"[0-9]+")


def export_queries(
    path: str | os.PathLike,
    queries: Sequence[tuple[int, int]],
    classes: Sequence[str],
    names: Sequence[str] | None = None,
    *,
    overwrite: bool = False,
) -> None:
    """Write queries as CSV with columns image, name, class, answer (answer left blank).

    An existing file is never replaced unless ``overwrite=True`` (it may hold answers a person
    typed): :class:`AnswersFileError` then. The file appears whole or not at all.
    """
    path = Path(path)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(COLUMNS)
    for image, cls in queries:
        writer.writerow([int(image), names[image] if names is not None else "", classes[cls], ""])
    if overwrite:
        atomic_write_text(path, buffer.getvalue())
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    atomic_write_text(tmp, buffer.getvalue())
    try:
        os.link(tmp, path)  # fails if path exists: no check-then-write race with a person's file
    except FileExistsError:
        raise AnswersFileError(f"{path} already exists; it was left as it is (it may hold answers). "
                               "Move it away or pass overwrite=True.") from None
    finally:
        tmp.unlink()


def _decode(path: Path) -> str:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise AnswersFileError(f"answers file {path} does not exist.") from None
    except OSError as exc:
        raise AnswersFileError(f"cannot read answers file {path}: {exc.strerror or exc}.") from None
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[:exc.start].count(b"\n") + 1
        raise AnswersFileError(
            f"{path}, line {line}: not UTF-8 text (byte 0x{raw[exc.start]:02x}); save the file as "
            "UTF-8 (in a spreadsheet: 'CSV UTF-8') and try again. Nothing was imported.") from None


def _columns(path: Path, header: list[str], line: int) -> dict[str, int]:
    cells = [cell.strip().lower() for cell in header]
    twice = sorted({c for c in cells if c in COLUMNS and cells.count(c) > 1})
    if twice:
        raise AnswersFileError(f"{path}, line {line}: column(s) {twice} appear twice in the header; keep one.")
    missing = [c for c in ("image", "class", "answer") if c not in cells]
    if not missing:
        return {c: cells.index(c) for c in ("image", "class", "answer")}
    if header and _DIGITS.fullmatch(header[0].strip()):
        raise AnswersFileError(
            f"{path}, line {line}: no header row (the first line is data: {','.join(header)!r}); add "
            f"the line '{','.join(COLUMNS)}' at the top (as export_queries writes it). Nothing was imported.")
    raise AnswersFileError(
        f"{path}, line {line}: missing column(s) {missing} in the header; it must name image, class "
        f"and answer ('{','.join(COLUMNS)}', as export_queries writes it). Nothing was imported.")


def _refuse(path: Path, errors: list[str]) -> None:
    if errors:
        shown = "\n  ".join(errors[:20]) + (f"\n  ... and {len(errors) - 20} more" if len(errors) > 20 else "")
        raise AnswersFileError(f"{path}: {len(errors)} problem(s); nothing was imported.\n  {shown}")


def _parse(
    path: str | os.PathLike,
    n_images: int,
    classes: Sequence[str],
    asked: Collection[tuple[int, int]] | None,
) -> dict[tuple[int, int], tuple[int, bool]]:
    """{(image, class): (line, present or None if blank)}; every problem raises, together."""
    path = Path(path)
    reader = csv.reader(io.StringIO(_decode(path), newline=""))
    header = next(reader, None)
    if header is None:
        raise AnswersFileError(f"{path}, line 1: the file is empty; it needs the header line "
                               f"'{','.join(COLUMNS)}' and one row per query.")
    index = _columns(path, header, reader.line_num)
    class_ids = {name: k for k, name in enumerate(classes)}
    seen: dict[tuple[int, int], tuple[int, bool | None]] = {}
    errors = []
    for row in reader:
        line = reader.line_num
        if not any(cell.strip() for cell in row):
            continue
        image_text, cls_text, answer_text = (row[index[c]].strip() if index[c] < len(row) else ""
                                             for c in ("image", "class", "answer"))
        if not _DIGITS.fullmatch(image_text) or int(image_text) >= n_images:
            errors.append(f"line {line}: unknown image {image_text!r} (ids are 0..{n_images - 1})")
            continue
        if cls_text not in class_ids:
            errors.append(f"line {line}: unknown class {cls_text!r} (classes: {', '.join(classes)})")
            continue
        value = answer_text.lower()
        if value and value not in YES + NO:
            errors.append(f"line {line}: answer {answer_text!r} is not yes or no")
            continue
        pair, present = (int(image_text), class_ids[cls_text]), (value in YES if value else None)
        what = f"image {pair[0]}, class {cls_text!r}"
        if asked is not None and pair not in asked:
            errors.append(f"line {line}: {what} was not asked (it is not a query of this round); "
                          "remove the row")
            continue
        if pair in seen:
            first, before = seen[pair]
            if before is not None and present is not None and before != present:
                errors.append(f"line {line}: {what} is answered {'yes' if present else 'no'} here and "
                              f"{'yes' if before else 'no'} on line {first}; keep one")
                continue
            if present is None or before is not None:
                continue  # the same answer again (or a blank row) adds nothing
        seen[pair] = (line, present)
    _refuse(path, errors)
    return seen


def _answered(parsed: dict) -> dict[tuple[int, int], tuple[int, bool]]:
    return {pair: value for pair, value in parsed.items() if value[1] is not None}


def read_answers(
    path: str | os.PathLike,
    n_images: int,
    classes: Sequence[str],
    *,
    asked: Collection[tuple[int, int]] | None = None,
) -> list[tuple[int, int, bool]]:
    """Parse an answers CSV (columns image, class, answer; others ignored).

    ``answer`` must be yes/no (or y/n, any case); a blank answer means "not answered yet" and is
    skipped. A pair may appear on several lines with the same answer (kept once); two different
    answers to one pair are refused. With ``asked``, a row for any other pair is refused. Every
    problem in the file is collected and reported together in one :class:`AnswersFileError`
    naming the line numbers. Returns ``(image, class, present)`` in the order of the file.
    """
    parsed = _answered(_parse(path, n_images, classes, asked))
    return [(i, c, present) for (i, c), (_, present) in parsed.items()]


def _against_store(path: Path, parsed: dict, store: AnswerStore) -> list[tuple[int, int, bool]]:
    """The answers the store does not have yet; a different answer to an answered pair is refused."""
    errors, new = [], []
    for (image, cls), (line, present) in parsed.items():
        stored = store.provenance(image, cls)
        if stored is None:
            new.append((image, cls, present))
        elif (stored["answer"] == "yes") != present:
            errors.append(
                f"line {line}: image {image}, class {store.classes[cls]!r} is answered "
                f"{'yes' if present else 'no'} here but {stored['answer']} in the store (by "
                f"{stored['by']}); to change a stored answer, retract it first (AnswerStore.retract)")
    _refuse(path, errors)
    return new


def import_answers(path: str | os.PathLike, store: AnswerStore) -> int:
    """Record the answers of a CSV in ``store``, all or nothing (``by = "csv"``).

    Every row must be one of the store's pending queries (those of the round in progress); rows
    for other pairs, two different answers to one pair, or an answer that contradicts one already
    stored refuse the whole file with the line numbers, and nothing is stored.

    Returns
    -------
    int
        The number of answers newly recorded: pairs that had no answer before. A row repeating an
        answer the store already has (a file imported twice) is not counted and changes nothing.
    """
    path = Path(path)
    pending = set(store.pending_queries)
    if not pending:
        raise AnswersFileError(f"{path}: the store {store.path} has no round in progress, so no "
                               "query is waiting for an answer; nothing was imported.")
    new = _against_store(path, _answered(_parse(path, store.n_images, store.classes, pending)), store)
    return store.record(new, by="csv")


class CsvOracle:
    """A CSV round trip: the queries go out to a file; a person fills in the answer column.

    Each round has its own file, ``<stem>-round<k><suffix>`` beside ``path`` (k: the store's
    iteration). On ``ask``: if the round's file does not exist, it is written with the open
    queries and :class:`OracleStopped` is raised — fill in the file and run again. If it exists,
    its answers are returned and, if any query is still blank, :class:`OracleStopped` says how
    many. The file is never rewritten: what a person typed stays. A file with a row for a pair
    that is not a query of the round, two different answers to one pair, or an answer that
    contradicts the store is refused whole (:class:`AnswersFileError`, line numbers).
    """

    by = "csv"

    def __init__(self, path: str | os.PathLike, store: AnswerStore,
                 names: Sequence[str] | None = None) -> None:
        self.path = Path(path)
        self.store = store
        self.names = names if names is not None else store.image_names

    def round_path(self) -> Path:
        """The file of the store's current round."""
        return self.path.with_name(f"{self.path.stem}-round{self.store.iteration}{self.path.suffix}")

    def ask(self, queries: Sequence[tuple[int, int]]) -> Iterator[tuple[int, int, bool]]:
        store, path = self.store, self.round_path()
        wanted = [(int(i), int(c)) for i, c in queries]
        if not path.exists():
            export_queries(path, wanted, store.classes, self.names)
            raise OracleStopped(f"{len(wanted)} queries written to {path}: fill in the answer column "
                                "(yes/no) and run again.")
        asked = set(store.pending_queries) | set(wanted)
        rows = _parse(path, store.n_images, store.classes, asked)
        parsed = _answered(rows)
        _against_store(path, parsed, store)
        given = [(i, c, parsed[(i, c)][1]) for i, c in wanted if (i, c) in parsed]
        yield from given
        blank = [q for q in wanted if q in rows and q not in parsed]
        absent = [q for q in wanted if q not in rows]
        if absent:
            listed = ", ".join(f"{i},,{store.classes[c]}," for i, c in absent[:5])
            raise OracleStopped(f"{len(absent)} queries of this round have no row in {path} (and "
                                f"{len(blank)} rows are blank); add a row 'image,name,class,answer' "
                                f"for each ({listed}{' ...' if len(absent) > 5 else ''}) and run again.")
        if blank:
            raise OracleStopped(f"{len(blank)} of the queries in {path} have no answer yet: fill in "
                                "the answer column (yes/no) and run again.")

    def annotate(self, images: Sequence[int]) -> dict[int, np.ndarray]:
        raise OracleStopped("pixel-level strategies need the simulated oracle.")
