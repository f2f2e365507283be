"""The Label Studio round trip: a round's queries out as a project, the answers back into the store.

``export_labelstudio`` writes, for the pending unanswered queries of an answer store, the three
files of a Label Studio project (docs/annotate-labelstudio.md):

* ``label_config.xml``: the labelling interface, an image, the question with the class name, and
  a single yes/no choice (keys ``y`` / ``n``);
* ``tasks.json``: one task per query, ``{"data": {"image": ..., "class_name": ..., "question":
  ..., "alsel_round": ..., "alsel_image": i, "alsel_class": c}}``;
* ``alsel-labelstudio.json``: a manifest for people (store, round, image folder, counts).

``import_labelstudio`` reads Label Studio's JSON export (``Export -> JSON``, a list of tasks with
their ``annotations``; https://labelstud.io/guide/task_format) and records each task's answer in
the store, with the annotator (``completed_by``) as ``by`` and ``lead_time`` as ``seconds``. The
whole file is checked first; anything alsel cannot trust refuses the whole file and nothing is
stored (see :func:`read_labelstudio_export`). Cancelled (skipped) annotations and tasks without
annotations leave their queries pending.

``alsel_round`` (:func:`round_id`) fingerprints the store's round: its classes, images, initial
set, iteration and pending queries. A task exported from another store, or from an earlier round
of this one, carries another fingerprint and is refused.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

from ..loop.store import AnswerStore, atomic_write_text
from .images import SUFFIXES, ImageSource

#: File names inside the project folder written by :func:`export_labelstudio`.
CONFIG_FILE, TASKS_FILE, MANIFEST_FILE = "label_config.xml", "tasks.json", "alsel-labelstudio.json"
#: The ``name`` of the choice control in the labelling configuration (``from_name`` in results).
CHOICE_NAME = "answer"
#: The two choice values and what they record.
CHOICES = {"yes": True, "no": False}
#: How Label Studio serves files of a local folder (Local Files storage).
LOCAL_FILES_URL = "/data/local-files/?d="
#: Suffixes counted as images when the store has no image names (case-insensitive); the same as
#: ``alsel annotate``'s (alsel/annotate/images.py): what browsers show, and no SVG (scripts).
IMAGE_SUFFIXES = SUFFIXES


class LabelStudioError(ValueError):
    """A Label Studio export (or export request) that alsel refuses; nothing was stored."""


# ---------------------------------------------------------------------------- images
def image_files(images: str | os.PathLike, n_images: int,
                image_names: Sequence[str] | None = None) -> list[Path]:
    """The file of each image id of a store: ``result[i]`` is image ``i``.

    The rule shared by ``alsel annotate`` and the Label Studio export: with ``image_names`` (the
    store's), image ``i`` is ``images / image_names[i]``; without, it is the ``i``-th image file
    (suffix in :data:`IMAGE_SUFFIXES`) under ``images``, sub-folders included, hidden files and
    folders left out, in sorted order of the relative POSIX paths.

    Parameters
    ----------
    images : path-like
        The image folder (``--images``).
    n_images : int
        The store's number of images.
    image_names : sequence of str, optional
        The store's ``image_names`` (paths relative to ``images``).

    Returns
    -------
    list of Path
        ``n_images`` existing files, each inside ``images``.

    Raises
    ------
    ValueError
        ``images`` is not a folder; a named file is missing or lies outside ``images``; without
        names, the folder does not hold exactly ``n_images`` image files.
    """
    source = ImageSource(images, n_images, image_names)
    return [source.root / name for name in source.names]


# ---------------------------------------------------------------------------- export
def round_id(store: AnswerStore) -> str:
    """A fingerprint of the store's current round (16 hex digits).

    Changes when the round changes (iteration, pending queries) and differs between stores of
    other pools (classes, images, initial set); answers given within the round do not change it.
    """
    key = {
        "classes": store.classes, "n_images": store.n_images, "image_names": store.image_names,
        "initial": store.initial_images, "iteration": store.iteration,
        "queries": [list(q) for q in store.pending_queries],
    }
    text = json.dumps(key, separators=(",", ":"), sort_keys=True)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def label_config() -> str:
    """The Label Studio labelling configuration: image, question, class name, yes/no choice."""
    return (
        "<View>\n"
        '  <Header value="$question" size="3"/>\n'
        '  <Image name="image" value="$image" zoom="true" zoomControl="true"/>\n'
        f'  <Choices name="{CHOICE_NAME}" toName="image" choice="single-radio" required="true" '
        'showInline="true">\n'
        '    <Choice value="yes" hotkey="y"/>\n'
        '    <Choice value="no" hotkey="n"/>\n'
        "  </Choices>\n"
        "</View>\n"
    )


@dataclass(frozen=True)
class LabelStudioProject:
    """What :func:`export_labelstudio` wrote."""

    folder: Path
    config: Path
    tasks: Path
    manifest: Path
    n_tasks: int
    round_id: str
    document_root: Path | None
    """LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT for Label Studio (local files; the images' parent)."""
    storage_path: Path | None
    """The absolute path of the project's Local Files source storage (the image folder)."""


def _question(class_name: str) -> str:
    return f"Is there a {class_name} in this image?"


def export_labelstudio(
    store: AnswerStore,
    images: str | os.PathLike,
    out: str | os.PathLike,
    *,
    url_prefix: str | None = None,
    overwrite: bool = False,
) -> LabelStudioProject:
    """Write a Label Studio project for the store's pending unanswered queries.

    Parameters
    ----------
    store : AnswerStore
        A store in a round (``alsel run`` with ``oracle = "csv"`` stops in one).
    images : path-like
        The image folder; image ids map to files by :func:`image_files`.
    out : path-like
        The project folder to write (created if missing).
    url_prefix : str, optional
        Images are served at ``url_prefix + <path relative to images>`` (a web server or a
        bucket the annotators can reach). Default: Label Studio's Local Files storage,
        ``/data/local-files/?d=<path relative to images>``, with ``images`` as the document root.
    overwrite : bool
        Replace the files of an earlier export in ``out``.

    Returns
    -------
    LabelStudioProject
    """
    if not isinstance(store, AnswerStore):
        raise TypeError(f"store must be an AnswerStore; got {type(store).__name__}.")
    queries = store.unanswered_pending()
    if not queries:
        raise LabelStudioError(
            f"STORE: {store.path} has no unanswered pending queries (iteration {store.iteration}); "
            "start a round first (alsel run with oracle = \"csv\" stops in one).")
    files = image_files(images, store.n_images, store.image_names)
    root = Path(images).resolve()
    folder = Path(out)
    paths = [folder / CONFIG_FILE, folder / TASKS_FILE, folder / MANIFEST_FILE]
    existing = [p.name for p in paths if p.exists()]
    if existing and not overwrite:
        raise LabelStudioError(f"-o: {str(folder)!r} already holds {existing}; give another folder or --force.")

    # Label Studio serves a file of a Local Files storage whose path is a strict subfolder of
    # LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT, so the document root is the image folder's parent and
    # the storage path the image folder itself.
    base = root if url_prefix is not None else root.parent

    def reference(i: int) -> str:
        relative = files[i].resolve().relative_to(base).as_posix()
        return (LOCAL_FILES_URL if url_prefix is None else url_prefix) + quote(relative)

    rid, classes = round_id(store), store.classes
    tasks = [
        {"data": {"image": reference(i), "class_name": classes[c], "question": _question(classes[c]),
                  "alsel_round": rid, "alsel_image": i, "alsel_class": c}}
        for i, c in queries
    ]
    manifest = {
        "format": "alsel-labelstudio-project", "round": rid, "store": str(Path(store.path).resolve()),
        "iteration": store.iteration, "n_tasks": len(tasks), "images": str(root),
        "image_reference": "url_prefix" if url_prefix is not None else "local_files",
        "url_prefix": url_prefix,
        "local_files_document_root": None if url_prefix is not None else str(root.parent),
        "local_files_storage_path": None if url_prefix is not None else str(root),
    }
    folder.mkdir(parents=True, exist_ok=True)
    atomic_write_text(paths[0], label_config())
    atomic_write_text(paths[1], json.dumps(tasks, indent=1) + "\n")
    atomic_write_text(paths[2], json.dumps(manifest, indent=1) + "\n")
    return LabelStudioProject(folder, *paths, n_tasks=len(tasks), round_id=rid,
                              document_root=None if url_prefix is not None else root.parent,
                              storage_path=None if url_prefix is not None else root)


# ---------------------------------------------------------------------------- import
@dataclass(frozen=True)
class LabelStudioAnswer:
    """One answer read from an export: the query, the answer, who gave it and how long it took."""

    image: int
    cls: int
    present: bool
    by: str
    seconds: float | None
    task: Any
    """Label Studio's task id (for messages)."""


@dataclass(frozen=True)
class LabelStudioImport:
    """What :func:`read_labelstudio_export` found (and :func:`import_labelstudio` recorded)."""

    answers: list[LabelStudioAnswer]
    """New answers, one per query (recorded by :func:`import_labelstudio`)."""
    already: int = 0
    """Queries the store already holds with the same answer (left as they are)."""
    pending: list[Any] = field(default_factory=list)
    """Ids of the tasks left pending: no annotation, or every annotation cancelled (skipped)."""


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict:
    keys = [k for k, _ in pairs]
    dupes = sorted({k for k in keys if keys.count(k) > 1})
    if dupes:
        raise LabelStudioError(f"duplicate JSON key(s) {dupes} in one object.")
    return dict(pairs)


def _annotator(annotation: dict) -> str | None:
    who = annotation.get("completed_by")
    if isinstance(who, dict):  # expanded user: {"id", "email", "first_name", ...}
        return who.get("email") or (f"labelstudio-user-{who['id']}" if "id" in who else None)
    if isinstance(who, int) and not isinstance(who, bool):
        return f"labelstudio-user-{who}"
    if isinstance(who, str) and who:
        return who
    return None


def _choice(annotation: dict) -> str:
    """The single yes/no choice of one annotation, or an error message as LabelStudioError."""
    result = annotation.get("result")
    if not isinstance(result, list):
        raise LabelStudioError("its result is not a list")
    values = [item["value"].get("choices") if isinstance(item.get("value"), dict) else item.get("value")
              for item in result if isinstance(item, dict) and item.get("from_name") == CHOICE_NAME]
    if len(values) != 1:
        raise LabelStudioError(f"it has {len(values)} {CHOICE_NAME!r} results; one yes/no choice is needed")
    choices = values[0]
    if not isinstance(choices, list) or len(choices) != 1 or choices[0] not in CHOICES:
        raise LabelStudioError(f"its choice {choices!r} is not exactly one of 'yes' / 'no'")
    return choices[0]


def _lead_time(annotation: dict) -> float | None:
    value = annotation.get("lead_time")
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
        raise LabelStudioError(f"its lead_time {value!r} is not a number of seconds >= 0")
    return float(value)


def read_labelstudio_export(path: str | os.PathLike, store: AnswerStore, *,
                            annotator: str | None = None) -> LabelStudioImport:
    """Read and check a Label Studio JSON export against ``store``; records nothing.

    Refused (:class:`LabelStudioError` naming every offending task id): a file that is not a
    JSON list of tasks; a task alsel did not export (no ``alsel_round``), or exported for another
    store or round, or for a query that is not pending; an annotation whose choice is not exactly
    ``yes`` or ``no``, or with a bad ``lead_time``; two different answers to one query (several
    annotations of a task, or several tasks of one query); an answer that differs from the one
    the store already holds. Annotations with ``was_cancelled`` (skipped) are left out, and a
    task with no other annotation stays pending. Where several annotations agree, the first
    (lowest annotation id) gives ``by`` and ``seconds``.

    Parameters
    ----------
    path : path-like
        The export (Label Studio: Export -> JSON; not JSON-MIN).
    store : AnswerStore
        The store the tasks were exported from, in the same round.
    annotator : str, optional
        Recorded as ``by`` for every answer instead of Label Studio's annotator (its email,
        or ``labelstudio-user-<id>``).
    """
    path = Path(path)
    try:
        tasks = json.loads(path.read_text(encoding="utf-8"), object_pairs_hook=_no_duplicate_keys)
    except FileNotFoundError:
        raise LabelStudioError(f"EXPORT: no file {str(path)!r}.") from None
    except (UnicodeDecodeError, json.JSONDecodeError, LabelStudioError) as exc:
        raise LabelStudioError(f"EXPORT: {str(path)!r} is not valid JSON: {exc}") from exc
    if not isinstance(tasks, list):
        raise LabelStudioError(f"EXPORT: {str(path)!r} is not a list of tasks; export the project "
                               "from Label Studio as JSON.")
    rid = round_id(store)
    pending = set(store.pending_queries)
    stored = store.answers()
    errors: list[str] = []
    found: dict[tuple[int, int], LabelStudioAnswer] = {}
    already: set[tuple[int, int]] = set()
    left_pending: list[Any] = []
    for k, task in enumerate(tasks):
        if not isinstance(task, dict):
            errors.append(f"entry {k} is not a task object")
            continue
        tid = task.get("id", f"#{k}")
        data = task.get("data")
        if not isinstance(data, dict):
            if "alsel_round" in task:
                errors.append(f"task {tid}: this is a JSON-MIN export; export the project as JSON "
                              "(with annotations, lead_time and annotators)")
            else:
                errors.append(f"task {tid}: no 'data'; this is not a Label Studio JSON export of tasks")
            continue
        if "alsel_round" not in data:
            errors.append(f"task {tid}: not exported by alsel (its data has no alsel_round); "
                          "remove it from the project or the export")
            continue
        if data["alsel_round"] != rid:
            errors.append(f"task {tid}: exported for round {data['alsel_round']!r}, but {store.path} is "
                          f"in round {rid!r} (another store, or an earlier round); export this round again")
            continue
        image, cls = data.get("alsel_image"), data.get("alsel_class")
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in (image, cls)) \
                or (image, cls) not in pending:
            errors.append(f"task {tid}: alsel_image={image!r}, alsel_class={cls!r} is not a pending "
                          "query of the store")
            continue
        annotations = task.get("annotations", [])
        if not isinstance(annotations, list):
            errors.append(f"task {tid}: 'annotations' is not a list")
            continue
        given: list[tuple[Any, str, str | None, float | None]] = []
        for a, annotation in enumerate(annotations):
            aid = annotation.get("id", f"#{a}") if isinstance(annotation, dict) else f"#{a}"
            if not isinstance(annotation, dict):
                errors.append(f"task {tid}: annotation {aid} is not an object")
                continue
            if annotation.get("was_cancelled"):
                continue
            try:
                given.append((aid, _choice(annotation), _annotator(annotation), _lead_time(annotation)))
            except LabelStudioError as exc:
                errors.append(f"task {tid}: annotation {aid}: {exc}")
        if not given:
            left_pending.append(tid)
            continue
        answers = {choice for _, choice, _, _ in given}
        if len(answers) > 1:
            errors.append(f"task {tid}: its annotations disagree ("
                          + ", ".join(f"{aid}: {choice}" for aid, choice, _, _ in given)
                          + "); settle on one answer in Label Studio")
            continue
        # The earliest annotation speaks for agreeing ones (ids grow with time in Label Studio).
        first = min(given, key=lambda g: g[0]) if all(isinstance(g[0], int) for g in given) else given[0]
        answer = LabelStudioAnswer(
            image=image, cls=cls, present=CHOICES[first[1]],
            by=annotator or first[2] or "labelstudio", seconds=first[3], task=tid)
        if (image, cls) in stored:
            if stored[(image, cls)] != answer.present:
                errors.append(f"task {tid}: answers {first[1]!r} for image {image}, class "
                              f"{store.classes[cls]!r}, which the store already holds as "
                              f"{'yes' if stored[(image, cls)] else 'no'!r}")
            else:
                already.add((image, cls))
            continue
        if (image, cls) in found:
            other = found[(image, cls)]
            if other.present != answer.present:
                errors.append(f"task {tid}: answers image {image}, class {store.classes[cls]!r} "
                              f"{first[1]!r}, task {other.task} answers it "
                              f"{'yes' if other.present else 'no'!r}")
            continue
        found[(image, cls)] = answer
    if errors:
        shown = "\n  ".join(errors[:20]) + ("" if len(errors) <= 20 else f"\n  ... and {len(errors) - 20} more")
        raise LabelStudioError(f"{path}: refused, nothing was stored ({len(errors)} problem(s)):\n  {shown}")
    return LabelStudioImport(answers=list(found.values()), already=len(already), pending=left_pending)


def import_labelstudio(path: str | os.PathLike, store: AnswerStore, *,
                       annotator: str | None = None) -> LabelStudioImport:
    """Record the answers of a Label Studio JSON export in ``store``: all of them, or none.

    Checks the whole file first (:func:`read_labelstudio_export`), then records every answer with
    its annotator (``by``) and Label Studio's ``lead_time`` (``seconds``) and saves the store
    once, atomically.
    """
    result = read_labelstudio_export(path, store, annotator=annotator)
    by_person: dict[str, list[LabelStudioAnswer]] = {}
    for answer in result.answers:
        by_person.setdefault(answer.by, []).append(answer)
    for by, answers in by_person.items():
        store.record([(a.image, a.cls, a.present) for a in answers], by=by,
                     seconds=[a.seconds for a in answers], save=False)
    if result.answers:
        store.save()
    return result


# ---------------------------------------------------------------------------- command line
def _hold(store: Path) -> contextlib.ExitStack:
    """The store's lock, and its run folder's where it lies in one (``<out>/stores/*.json``):
    ``alsel run`` holds the folder, not each store."""
    from ..loop.locking import hold

    stack = contextlib.ExitStack()
    run = store.parent.parent
    if store.parent.name == "stores" and (run / "config.json").is_file():
        stack.enter_context(hold(run, "run folder"))
    stack.enter_context(hold(store, "answer store"))
    return stack


def _load_store(path: str, flag: str) -> AnswerStore:
    if not Path(path).is_file():
        raise ValueError(f"{flag}: no answer store at {path!r}.")
    return AnswerStore.load(path)


def _cmd_export(args: argparse.Namespace) -> int:
    store = _load_store(args.store, "STORE")
    project = export_labelstudio(store, args.images, args.output, url_prefix=args.url_prefix,
                                 overwrite=args.force)
    print(f"{project.n_tasks} tasks of round {project.round_id} written to {project.folder}/ "
          f"({TASKS_FILE}, {CONFIG_FILE}, {MANIFEST_FILE}).")
    if project.document_root is not None:
        print("Start Label Studio with\n"
              "  LABEL_STUDIO_LOCAL_FILES_SERVING_ENABLED=true \\\n"
              f"  LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT={project.document_root} label-studio start\n"
              f"and add a Local Files source storage with the absolute path {project.storage_path} "
              "(no sync needed) before importing the tasks; docs/annotate-labelstudio.md.")
    return 0


def _cmd_import(args: argparse.Namespace) -> int:
    store_path = Path(args.store)
    _load_store(args.store, "--store")  # a missing or broken store is named before any lock file is made
    from ..cli import _CliError
    from ..loop.locking import Busy

    try:
        with _hold(store_path):
            store = _load_store(args.store, "--store")
            result = import_labelstudio(args.export, store, annotator=args.annotator)
    except Busy as exc:
        raise _CliError(str(exc)) from None
    left = len(store.unanswered_pending())
    print(f"{len(result.answers)} answers recorded in {store_path}"
          + (f", {result.already} already there" if result.already else "")
          + (f", {len(result.pending)} tasks skipped or unanswered (still pending)" if result.pending else "")
          + f"; {left} queries of the round still unanswered.")
    return 0


def add_commands(commands) -> None:
    """Register ``export-labelstudio`` and ``import-labelstudio`` on an argparse subparsers object."""
    exp = commands.add_parser(
        "export-labelstudio", help="write a Label Studio project for the pending queries of a store")
    exp.add_argument("store", metavar="STORE", help="answer store (JSON) in a round")
    exp.add_argument("--images", required=True, help="the folder of the pool's images")
    exp.add_argument("-o", "--output", required=True, help="project folder to write")
    exp.add_argument("--url-prefix", default=None,
                     help="images are at URL_PREFIX + path under --images (a web server or bucket); "
                          "default: Label Studio's local files serving")
    exp.add_argument("--force", action="store_true", help="replace an earlier export in the folder")
    exp.set_defaults(run=_cmd_export)

    imp = commands.add_parser(
        "import-labelstudio", help="record the answers of a Label Studio JSON export in a store")
    imp.add_argument("export", metavar="EXPORT.json", help="Label Studio export (JSON)")
    imp.add_argument("--store", required=True, help="the answer store the tasks were exported from")
    imp.add_argument("--annotator", default=None,
                     help="record every answer as given by NAME (default: Label Studio's annotator)")
    imp.set_defaults(run=_cmd_import)


__all__ = [
    "LabelStudioError", "LabelStudioProject", "LabelStudioAnswer", "LabelStudioImport",
    "image_files", "round_id", "label_config", "export_labelstudio", "read_labelstudio_export",
    "import_labelstudio", "add_commands",
]
