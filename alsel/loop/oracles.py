"""Who answers the queries: a simulation from ground-truth masks, a person at a terminal, or a
person filling in a CSV file.

Every oracle has ``ask(queries)``, which yields ``(image, class, present)`` one answer at a time
(so the loop can store each as it comes), and may raise :class:`OracleStopped` to end the session
early; what was answered before is kept. Pixel-level strategies also need ``annotate(images)``
(id -> mask), which only the simulated oracle provides.
"""

from __future__ import annotations

import csv
import io
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TextIO

import numpy as np

from .data import presence_from_masks
from .store import AnswerStore, atomic_write_text

YES = ("yes", "y")
NO = ("no", "n")


class OracleStopped(Exception):
    """The oracle ended the session; the loop saves what it has and stops (resume later)."""


class AnswersFileError(ValueError):
    """An answers file that cannot be imported; nothing from it was recorded."""


class SimulatedOracle:
    """Answers from ground-truth masks: class c is present in image i iff some pixel of its mask is c.

    Parameters
    ----------
    masks : int array (N, H, W)
        Ground truth of the pool, indexed by store image id.
    error_rate : float
        Probability that an answer is flipped. The flip of each pair is a fixed function of
        ``(seed, image, class)``, so a resumed run gets the same answers.
    seed : int
    """

    def __init__(self, masks: np.ndarray, error_rate: float = 0.0, seed: int = 0) -> None:
        if not 0.0 <= error_rate <= 1.0:
            raise ValueError(f"error_rate must lie in [0, 1]; got {error_rate}.")
        self.masks = np.asarray(masks)
        self.truth = presence_from_masks(self.masks)
        self.error_rate = float(error_rate)
        self.seed = int(seed)

    def _flipped(self, image: int, cls: int) -> bool:
        if self.error_rate == 0.0:
            return False
        return bool(np.random.default_rng([self.seed, image, cls]).random() < self.error_rate)

    def ask(self, queries: Sequence[tuple[int, int]]) -> Iterator[tuple[int, int, bool]]:
        for image, cls in queries:
            yield int(image), int(cls), bool(self.truth[image, cls]) != self._flipped(image, cls)

    def annotate(self, images: Sequence[int]) -> dict[int, np.ndarray]:
        """Pixel labels of ``images`` (the ground truth)."""
        return {int(i): self.masks[i] for i in images}


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
    ``input_fn`` and ``out`` default to the terminal; tests pass their own.
    """

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

    def ask(self, queries: Sequence[tuple[int, int]]) -> Iterator[tuple[int, int, bool]]:
        total = len(queries)
        for k, (image, cls) in enumerate(queries, 1):
            name = self.names[image] if self.names is not None else f"image {image}"
            if self.preview:
                print(ascii_preview(self.images[image]), file=self.out)
            question = f"[{k}/{total}] {name}: is class {self.classes[cls]!r} present? [y/n/q] "
            while True:
                reply = self.input_fn(question).strip().lower()
                if reply in YES or reply in NO:
                    yield int(image), int(cls), reply in YES
                    break
                if reply in ("q", "quit"):
                    raise OracleStopped(f"stopped at query {k} of {total}; run again to go on.")
                print("please answer y (yes), n (no) or q (quit).", file=self.out)

    def annotate(self, images: Sequence[int]) -> dict[int, np.ndarray]:
        raise OracleStopped(
            "pixel-level strategies need painted masks, which the terminal cannot take; "
            "use oracle = 'simulated' for them."
        )


def export_queries(
    path: str | os.PathLike,
    queries: Sequence[tuple[int, int]],
    classes: Sequence[str],
    names: Sequence[str] | None = None,
) -> None:
    """Write queries as CSV with columns image, name, class, answer (answer left blank)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["image", "name", "class", "answer"])
    for image, cls in queries:
        writer.writerow([int(image), names[image] if names is not None else "", classes[cls], ""])
    atomic_write_text(Path(path), buffer.getvalue())


def read_answers(
    path: str | os.PathLike, n_images: int, classes: Sequence[str]
) -> list[tuple[int, int, bool]]:
    """Parse an answers CSV (columns image, class, answer; others ignored).

    ``answer`` must be yes/no (or y/n, any case); a blank answer means "not answered yet" and is
    skipped. Every problem in the file is collected and reported together in one
    :class:`AnswersFileError` naming the line numbers.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise AnswersFileError(f"answers file {path} does not exist.") from None
    reader = csv.DictReader(io.StringIO(text))
    missing = {"image", "class", "answer"} - set(reader.fieldnames or ())
    if missing:
        raise AnswersFileError(
            f"{path}: missing column(s) {sorted(missing)}; the header must name image, class and "
            "answer (as export_queries writes it)."
        )
    class_ids = {name: k for k, name in enumerate(classes)}
    answers, errors = [], []
    for line, row in enumerate(reader, start=2):
        image_text = (row["image"] or "").strip()
        cls_text = (row["class"] or "").strip()
        value = (row["answer"] or "").strip().lower()
        if not image_text.isdigit() or int(image_text) >= n_images:
            errors.append(f"line {line}: unknown image {image_text!r} (ids are 0..{n_images - 1})")
            continue
        if cls_text not in class_ids:
            errors.append(f"line {line}: unknown class {cls_text!r} (classes: {', '.join(classes)})")
            continue
        if value == "":
            continue
        if value not in YES + NO:
            errors.append(f"line {line}: answer {row['answer']!r} is not yes or no")
            continue
        answers.append((int(image_text), class_ids[cls_text], value in YES))
    if errors:
        shown = "\n  ".join(errors[:20]) + (f"\n  ... and {len(errors) - 20} more" if len(errors) > 20 else "")
        raise AnswersFileError(f"{path}: {len(errors)} bad row(s); nothing was imported.\n  {shown}")
    return answers


def import_answers(path: str | os.PathLike, store: AnswerStore) -> int:
    """Read an answers CSV and record it in ``store`` (all or nothing). Returns the count."""
    answers = read_answers(path, store.n_images, store.classes)
    return store.record(answers)


class CsvOracle:
    """A CSV round trip: the queries go out to ``path``; a person fills in the answer column.

    On ``ask``: if ``path`` holds answers for some of the queries, they are returned; if any are
    still missing, the file is (re)written with the open queries and :class:`OracleStopped` is
    raised — fill in the file and run again.
    """

    def __init__(self, path: str | os.PathLike, n_images: int, classes: Sequence[str],
                 names: Sequence[str] | None = None) -> None:
        self.path = Path(path)
        self.n_images = n_images
        self.classes = list(classes)
        self.names = names

    def ask(self, queries: Sequence[tuple[int, int]]) -> Iterator[tuple[int, int, bool]]:
        wanted = {(int(i), int(c)) for i, c in queries}
        given = {}
        if self.path.exists():
            for image, cls, present in read_answers(self.path, self.n_images, self.classes):
                if (image, cls) in wanted:
                    given[(image, cls)] = present
        yield from ((i, c, p) for (i, c), p in given.items())
        open_queries = [q for q in queries if (int(q[0]), int(q[1])) not in given]
        if open_queries:
            export_queries(self.path, open_queries, self.classes, self.names)
            raise OracleStopped(
                f"{len(open_queries)} queries written to {self.path}: fill in the answer column "
                "(yes/no) and run again."
            )

    def annotate(self, images: Sequence[int]) -> dict[int, np.ndarray]:
        raise OracleStopped("pixel-level strategies need the simulated oracle.")
