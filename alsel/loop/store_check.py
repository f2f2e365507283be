"""Validation of a whole answer-store file: what :meth:`AnswerStore.load` refuses, and why.

Two layers. A JSON Schema (``jsonschema``) fixes the structure: the keys, their types, the
answer values, integer ids (a JSON ``true`` or ``1.0`` is not an id). Explicit checks then do
what a schema cannot: ids within ``n_images`` and the number of classes, object keys written as
canonical decimal ids (``"-1"``, ``"01"``, ``" 1"`` are refused: they would name another image
or a second entry for one), pixel labels whose base64 decodes to exactly ``H * W`` bytes, the
initial set among the labelled images, pending queries that are valid, distinct pairs on
unlabelled images, region maps and asked masks (version 4: one per image with
``region_counts``, at its label's shape, packed bits whose padding is zero), and an
``iteration`` that agrees with the result rows. Duplicate JSON keys are found while parsing
(:func:`parse_json`).

Every refusal is a :class:`StoreProblem` naming the key path, e.g. ``answers["17"]["3"]``; the
store turns it into a ``StoreError`` that also names the file.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
from datetime import datetime
from functools import lru_cache
from typing import Any

from jsonschema import Draft202012Validator, validators
from jsonschema.exceptions import best_match

FORMAT = "alsel-answer-store"
VERSIONS = (1, 2, 3, 4)

_ID = re.compile(r"0|[1-9][0-9]*")
# ISO 8601 as record() writes it; fromisoformat() then checks the calendar.
_AT = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?(Z|[+-]\d{2}:\d{2})")


class StoreProblem(ValueError):
    """One thing wrong in a store's data, at ``path`` (a list of keys and indices)."""

    def __init__(self, path: list, message: str) -> None:
        super().__init__(message)
        self.path = list(path)
        self.message = message

    def __str__(self) -> str:
        return f"{key_path(self.path)}: {self.message}"


def key_path(path: list) -> str:
    """``["answers", "17", "3"]`` -> ``answers["17"]["3"]``; ``[]`` -> ``(top level)``."""
    if not path:
        return "(top level)"
    head, *rest = path
    return str(head) + "".join(f"[{k}]" if isinstance(k, int) else f"[{json.dumps(k)}]" for k in rest)


# ---------------------------------------------------------------------------------- parsing
class _Object(dict):
    """A parsed JSON object that remembers the keys it saw more than once."""

    duplicates: list[str] = []


def parse_json(text: str) -> Any:
    """``json.loads`` that refuses a key given twice in one object (JSON's last-wins would
    silently drop the first value). Raises :class:`StoreProblem` naming where;
    ``json.JSONDecodeError`` on text that is not JSON."""
    seen_duplicate = False

    def hook(pairs: list[tuple[str, Any]]) -> _Object:
        nonlocal seen_duplicate
        obj = _Object(pairs)
        if len(obj) != len(pairs):
            seen_duplicate = True
            keys = [k for k, _ in pairs]
            obj.duplicates = [k for k in obj if keys.count(k) > 1]
        return obj

    data = json.loads(text, object_pairs_hook=hook)
    if seen_duplicate:  # find where, for the message (only then: it walks the whole tree)
        problem = _first_duplicate(data, [])
        if problem is not None:
            raise problem
    return data


def _first_duplicate(node: Any, path: list) -> StoreProblem | None:
    # An explicit stack, not recursion: a hostile file may nest thousands of levels deep.
    stack = [(node, path)]
    while stack:
        node, path = stack.pop()
        if isinstance(node, _Object):
            if node.duplicates:
                key = node.duplicates[0]
                return StoreProblem(path + [key], "this key appears more than once in its object; "
                                    "keep one (JSON would silently keep only the last)")
            stack.extend((value, path + [key]) for key, value in reversed(node.items()))
        elif isinstance(node, list):
            stack.extend((value, path + [k]) for k, value in reversed(list(enumerate(node))))
    return None


# ---------------------------------------------------------------------------------- schema
def _ids(values: dict) -> dict:
    return {"type": "object", "additionalProperties": values}


def _schema(version: int) -> dict:
    # The answers' entries are checked by _check_answer, not here: at paper scale (22,000
    # answers) the schema's per-entry descent took ~2 s of a load, the explicit check ~0.05 s.
    integer0 = {"type": "integer", "minimum": 0}
    keys = ["format", "version", "n_images", "classes", "image_names", "iteration", "answers",
            "labels", "initial", "pending", "history", "meta"]
    pending_keys = ["queries", "images"]
    extra, pending_extra = {}, {}
    shape = {"type": "array", "prefixItems": [{"type": "integer", "minimum": 1}] * 2, "minItems": 2, "maxItems": 2}
    if version >= 3:  # regions of region-level strategies
        keys.append("region_counts")
        pending_keys.append("regions")
        extra = {"region_counts": _ids({"type": "integer", "minimum": 1})}
        pending_extra = {"regions": _ids({
            "type": "object",
            "required": ["shape", "data", "done"],
            "additionalProperties": False,
            "properties": {"shape": shape, "data": {"type": "string"}, "done": {"type": "boolean"}},
        })}
    if version >= 4:  # the pixels asked so far, per image with annotated regions
        keys.append("asked")
        extra["asked"] = _ids({"type": "object", "required": ["shape", "data"], "additionalProperties": False,
                               "properties": {"shape": shape, "data": {"type": "string"}}})
    return {
        "type": "object",
        "required": keys,
        "additionalProperties": False,
        "properties": {
            "format": {"const": FORMAT},
            "version": {"enum": list(VERSIONS)},
            "n_images": {"type": "integer", "minimum": 1},
            "classes": {"type": "array", "items": {"type": "string"}, "uniqueItems": True},
            "image_names": {"oneOf": [{"type": "null"}, {"type": "array", "items": {"type": "string"}}]},
            "iteration": integer0,
            "answers": _ids({"type": "object"}),
            "labels": _ids({
                "type": "object",
                "required": ["shape", "data"],
                "additionalProperties": False,
                "properties": {
                    "shape": {"type": "array", "prefixItems": [{"type": "integer", "minimum": 1}] * 2,
                              "minItems": 2, "maxItems": 2},
                    "data": {"type": "string"},
                },
            }),
            "initial": {"type": "array", "items": integer0, "uniqueItems": True},
            "pending": {
                "type": "object",
                "required": pending_keys,
                "additionalProperties": False,
                "properties": {
                    "queries": {"type": "array", "items": {
                        "type": "array", "prefixItems": [integer0, integer0], "minItems": 2, "maxItems": 2}},
                    "images": {"type": "array", "items": integer0, "uniqueItems": True},
                    **pending_extra,
                },
            },
            "history": {"type": "array", "items": {"type": "object"}},
            "meta": {"type": "object"},
            **extra,
        },
    }


@lru_cache(maxsize=None)
def _validator(version: int):
    # JSON Schema counts 1.0 as an integer; an id must be a JSON integer, and never a boolean.
    checker = Draft202012Validator.TYPE_CHECKER.redefine(
        "integer", lambda _, x: isinstance(x, int) and not isinstance(x, bool))
    strict = validators.extend(Draft202012Validator, type_checker=checker)
    return strict(_schema(version))


def _schema_problem(data: Any, version: int) -> StoreProblem | None:
    error = best_match(_validator(version).iter_errors(data))
    if error is None:
        return None
    path = list(error.absolute_path)
    if error.validator == "required":
        missing = [k for k in error.validator_value if k not in error.instance]
        return StoreProblem(path + missing[:1], "missing")
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        extra = sorted(set(error.instance) - set(error.schema.get("properties", {})))
        return StoreProblem(path + extra[:1], "unknown key (not part of an alsel answer store)")
    return StoreProblem(path, error.message)


# ---------------------------------------------------------------------------------- the checks
def check_store(data: Any) -> None:
    """Raise :class:`StoreProblem` for the first thing wrong in a parsed store (any version)."""
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise StoreProblem(["format"], f"not an alsel answer store (no \"format\": {json.dumps(FORMAT)})")
    version = data.get("version")
    if isinstance(version, bool) or version not in VERSIONS:
        raise StoreProblem(["version"], f"store version {json.dumps(version)}; this alsel reads "
                           f"versions {', '.join(map(str, VERSIONS))}")
    problem = _schema_problem(data, version)
    if problem is not None:
        raise problem
    n_images, n_classes = data["n_images"], len(data["classes"])
    names = data["image_names"]
    if names is not None and len(names) != n_images:
        raise StoreProblem(["image_names"], f"{len(names)} names for n_images = {n_images}")

    for image, row in data["answers"].items():
        _check_id(["answers", image], image, n_images, "image")
        for cls, entry in row.items():
            _check_id(["answers", image, cls], cls, n_classes, "class")
            _check_answer(["answers", image, cls], entry, version)

    for image, entry in data["labels"].items():
        _check_id(["labels", image], image, n_images, "image")
        height, width = entry["shape"]
        try:
            size = len(base64.b64decode(entry["data"], validate=True))
        except (binascii.Error, ValueError):
            raise StoreProblem(["labels", image, "data"], "not valid base64") from None
        if size != height * width:
            raise StoreProblem(["labels", image, "data"],
                               f"decodes to {size} bytes; shape {[height, width]} needs {height * width}")

    for k, image in enumerate(data["initial"]):
        _check_range(["initial", k], image, n_images, "image")
        if str(image) not in data["labels"]:
            raise StoreProblem(["initial", k], f"image {image} of the initial set has no pixel labels")

    seen = set()
    for k, (image, cls) in enumerate(data["pending"]["queries"]):
        _check_range(["pending", "queries", k, 0], image, n_images, "image")
        _check_range(["pending", "queries", k, 1], cls, n_classes, "class")
        if (image, cls) in seen:
            raise StoreProblem(["pending", "queries", k], f"query [{image}, {cls}] is pending twice")
        if str(image) in data["labels"]:
            raise StoreProblem(["pending", "queries", k],
                               f"query [{image}, {cls}] is on an image with pixel labels")
        seen.add((image, cls))
    initial = set(data["initial"])
    for k, image in enumerate(data["pending"]["images"]):
        _check_range(["pending", "images", k], image, n_images, "image")
        if image in initial:
            raise StoreProblem(["pending", "images", k], f"image {image} is in the initial set")

    if version >= 3:
        _check_regions(data, n_images, initial)
    if version >= 4:
        _check_asked(data, n_images)
    _check_history(data)


def _check_regions(data: dict, n_images: int, initial: set) -> None:
    """Region counts of labelled images; pending region maps that decode to their shape, ask for
    at least one pixel, lie outside L and fit the image's label."""
    for image, count in data["region_counts"].items():
        _check_id(["region_counts", image], image, n_images, "image")
        if image not in data["labels"]:
            raise StoreProblem(["region_counts", image], f"image {image} has annotated regions but no labels")
    asked = {image for image, _ in data["pending"]["queries"]} | set(data["pending"]["images"])
    for image, entry in data["pending"]["regions"].items():
        path = ["pending", "regions", image]
        _check_id(path, image, n_images, "image")
        if int(image) in initial or int(image) in asked:
            raise StoreProblem(path, f"image {image} is in the initial set or asked otherwise this round")
        height, width = entry["shape"]
        try:
            raw = base64.b64decode(entry["data"], validate=True)
        except (binascii.Error, ValueError):
            raise StoreProblem(path + ["data"], "not valid base64") from None
        if len(raw) != height * width:
            raise StoreProblem(path + ["data"], f"decodes to {len(raw)} bytes; shape {[height, width]} "
                               f"needs {height * width}")
        if not any(raw):
            raise StoreProblem(path + ["data"], "asks for no pixel (every byte is 0)")
        label = data["labels"].get(image)
        if label is not None and label["shape"] != entry["shape"]:
            raise StoreProblem(path + ["shape"], f"{entry['shape']} differs from the shape of the "
                               f"image's label {label['shape']}")


def _check_asked(data: dict, n_images: int) -> None:
    """One asked mask for each image with annotated regions and for no other, at the shape of
    the image's label: ``ceil(H * W / 8)`` bytes of packed bits, the padding bits zero."""
    for image, entry in data["asked"].items():
        path = ["asked", image]
        _check_id(path, image, n_images, "image")
        if image not in data["region_counts"]:
            raise StoreProblem(path, f"image {image} has an asked mask but no annotated regions "
                               "(region_counts); only region-annotated images have one")
        label = data["labels"][image]
        if entry["shape"] != label["shape"]:
            raise StoreProblem(path + ["shape"], f"{entry['shape']} differs from the shape of the "
                               f"image's label {label['shape']}")
        height, width = entry["shape"]
        try:
            raw = base64.b64decode(entry["data"], validate=True)
        except (binascii.Error, ValueError):
            raise StoreProblem(path + ["data"], "not valid base64") from None
        pixels = height * width
        if len(raw) != (pixels + 7) // 8:
            raise StoreProblem(path + ["data"], f"decodes to {len(raw)} bytes; shape {[height, width]} "
                               f"needs {(pixels + 7) // 8} (one bit a pixel)")
        if pixels % 8 and raw[-1] & (0xFF >> (pixels % 8)):
            raise StoreProblem(path + ["data"], "padding bits after the last pixel are set; they must be 0")
    missing = sorted(set(data["region_counts"]) - set(data["asked"]), key=int)
    if missing:
        raise StoreProblem(["asked", missing[0]], f"missing: image {missing[0]} has annotated regions "
                           "(region_counts) but no asked mask")


def _check_id(path: list, key: str, size: int, what: str) -> None:
    if not _ID.fullmatch(key):
        raise StoreProblem(path, f"{what} id {json.dumps(key)} is not a decimal integer 0..{size - 1}")
    if int(key) >= size:
        raise StoreProblem(path, f"{what} id {key} is out of range (ids are 0..{size - 1})")


def _check_range(path: list, value: int, size: int, what: str) -> None:
    if value >= size:
        raise StoreProblem(path, f"{what} id {value} is out of range (ids are 0..{size - 1})")


_ENTRY_KEYS = {"answer", "by", "seconds", "at"}


def _check_answer(path: list, entry: Any, version: int) -> None:
    """One answer: ``"yes"``/``"no"`` (version 1) or its provenance entry (version 2)."""
    if version == 1:
        if entry not in ("yes", "no") or not isinstance(entry, str):
            raise StoreProblem(path, f"answer {json.dumps(entry)} is not \"yes\" or \"no\"")
        return
    if not isinstance(entry, dict):
        raise StoreProblem(path, f"{json.dumps(entry)} is not an answer entry "
                           '{"answer": "yes" | "no", "by": ..., "seconds": ..., "at": ...}')
    if entry.keys() != _ENTRY_KEYS:
        extra, missing = sorted(entry.keys() - _ENTRY_KEYS), sorted(_ENTRY_KEYS - entry.keys())
        if extra:
            raise StoreProblem(path + extra[:1], "unknown key (an answer has answer, by, seconds, at)")
        raise StoreProblem(path + missing[:1], "missing")
    answer, by, seconds, at = entry["answer"], entry["by"], entry["seconds"], entry["at"]
    if not isinstance(answer, str) or answer not in ("yes", "no"):
        raise StoreProblem(path + ["answer"], f"{json.dumps(answer)} is not \"yes\" or \"no\"")
    if not isinstance(by, str) or not by.strip():
        raise StoreProblem(path + ["by"], f"{json.dumps(by)} is not a non-empty string naming who answered")
    if seconds is not None and (isinstance(seconds, bool) or not isinstance(seconds, (int, float))
                                or not math.isfinite(seconds) or seconds < 0):
        raise StoreProblem(path + ["seconds"], f"{json.dumps(seconds)} is not null or a finite number >= 0")
    if at is not None and (not isinstance(at, str) or not valid_timestamp(at)):
        raise StoreProblem(path + ["at"], f"{json.dumps(at)} is not null or an ISO 8601 UTC time like "
                           "\"2026-12-04T16:40:00Z\"")


@lru_cache(maxsize=4096)  # the answers of one record() call share their time
def valid_timestamp(text: str) -> bool:
    """True for an ISO 8601 date and time with a UTC offset (``Z`` or ``+hh:mm``)."""
    if not _AT.fullmatch(text):
        return False
    try:
        datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


def _check_history(data: dict) -> None:
    """A store keeps either no result rows or one per round: row k is that of round k (its
    ``iteration`` is k where given), written when the round began or, after the last round,
    for the final evaluation."""
    history, iteration = data["history"], data["iteration"]
    for k, row in enumerate(history):
        if "iteration" in row and (type(row["iteration"]) is not int or row["iteration"] != k):
            raise StoreProblem(["history", k, "iteration"],
                               f"{json.dumps(row['iteration'])}; result row {k} must be that of iteration {k}")
    if not history:
        return
    in_round = bool(data["pending"]["queries"] or data["pending"]["images"]
                    or data["pending"].get("regions"))
    n = len(history)
    expected = (n - 1,) if in_round else (n - 1, n)
    if iteration not in expected:
        raise StoreProblem(["iteration"], f"{iteration} does not match the {n} result rows in "
                           f"history (one per round begun): expected {' or '.join(map(str, expected))}"
                           f"{' during a round' if in_round else ''}")
