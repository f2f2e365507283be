"""An answer store for the queries of ``alsel select`` (a CSV with columns image, class)."""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path

from .images import list_images


def read_classes(path: str | os.PathLike) -> list[str]:
    """Class names, one per line (class id = line number - 1); blank lines only at the end."""
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise ValueError(f"--classes: no such file {path}.") from None
    while lines and not lines[-1].strip():
        lines.pop()
    names = [line.strip() for line in lines]
    blank = [k + 1 for k, name in enumerate(names) if not name]
    if not names or blank:
        raise ValueError(f"--classes: {path} must name one class per line, without blank lines "
                         f"(blank line(s) {blank[:5]}).")
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise ValueError(f"--classes: {path} names {repeated} more than once.")
    return names


def read_queries(path: str | os.PathLike, n_images: int, n_classes: int) -> list[tuple[int, int]]:
    """The (image, class) pairs of a CSV written by ``alsel select`` (ids, header image,class)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise ValueError(f"--queries: no such file {path}.") from None
    reader = csv.DictReader(io.StringIO(text))
    if not {"image", "class"} <= set(reader.fieldnames or ()):
        raise ValueError(f"--queries: {path} needs the header 'image,class' (as alsel select writes it).")
    pairs, errors, seen = [], [], set()
    for line, row in enumerate(reader, start=2):
        image, cls = (row["image"] or "").strip(), (row["class"] or "").strip()
        if not image.isdigit() or int(image) >= n_images:
            errors.append(f"line {line}: image {image!r} is not an id 0..{n_images - 1} (the sorted image files)")
        elif not cls.isdigit() or int(cls) >= n_classes:
            errors.append(f"line {line}: class {cls!r} is not an id 0..{n_classes - 1} (lines of --classes)")
        elif (int(image), int(cls)) in seen:
            errors.append(f"line {line}: the query ({image}, {cls}) appears twice")
        else:
            seen.add((int(image), int(cls)))
            pairs.append((int(image), int(cls)))
    if errors:
        raise ValueError(f"--queries: {path}: {len(errors)} bad row(s):\n  " + "\n  ".join(errors[:20]))
    if not pairs:
        raise ValueError(f"--queries: {path} holds no queries.")
    return pairs


def queries_store(queries: str | os.PathLike, images: str | os.PathLike, classes: str | os.PathLike,
                  store: str | os.PathLike):
    """The answer store at ``store`` for the queries of ``queries`` (created if missing).

    Image ``i`` of the CSV is the ``i``-th image file of ``images`` in sorted order; the store
    records the file names (``image_names``), so it keeps working if files are added later. An
    existing store is used only if it holds exactly these queries, classes and images.
    """
    from ..loop.store import AnswerStore

    names = list_images(images)
    if not names:
        raise ValueError(f"--images: no image files in {images}.")
    class_names = read_classes(classes)
    pairs = read_queries(queries, len(names), len(class_names))
    path = Path(store)
    if path.exists():
        existing = AnswerStore.load(path)
        same = (existing.pending_queries == pairs and existing.classes == class_names
                and existing.image_names == names)
        if not same:
            raise ValueError(f"--store: {path} exists and holds other queries, classes or images than "
                             f"{queries}; choose a new --store file (or open this one without --queries).")
        return existing
    created = AnswerStore.create(path, len(names), class_names, image_names=names,
                                 meta={"queries": str(queries)})
    created.begin_round(pairs)
    return created
