"""``alsel annotate``: the command line of the web app (registered by :func:`add_command`)."""

from __future__ import annotations

import argparse
import sys
from contextlib import contextmanager
from pathlib import Path


def add_command(commands) -> None:
    """Register ``alsel annotate`` on the CLI's sub-parsers."""
    parser = commands.add_parser(
        "annotate", help="answer queries in a browser (needs alsel[annotate]; docs/annotate.md)",
        description="Serve the pending queries of an answer store (or of a run folder) as a web page "
                    "where people answer them. Prints a URL with an access token.")
    parser.add_argument("source", nargs="?", default=None,
                        help="an answer store (.json) or a run folder of `alsel run` (its store with pending queries)")
    parser.add_argument("--images", required=True,
                        help="folder of the images: image i is the store's image_names[i] under it, "
                             "or, for a store without names, the i-th image file in sorted order")
    parser.add_argument("--queries", default=None,
                        help="a CSV of `alsel select` (image,class ids): make --store from it")
    parser.add_argument("--classes", default=None, help="class names, one per line (with --queries)")
    parser.add_argument("--store", default=None, help="the answer store to create or reuse (with --queries)")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: this machine only)")
    parser.add_argument("--port", type=int, default=8000, help="port (default 8000; 0 = any free port)")
    parser.add_argument("--annotator", default="unknown",
                        help="name stored with each answer, unless the page gives its own (default unknown)")
    parser.add_argument("--lease", type=float, default=120.0,
                        help="seconds a query stays with a page that does not answer it (default 120)")
    parser.set_defaults(run=_cmd_annotate)


def _store_of_run(folder: Path) -> Path:
    from ..loop.store import AnswerStore

    stores = sorted((folder / "stores").glob("*.json"))
    if not stores:
        raise ValueError(f"{folder} holds no stores/*.json; pass an answer store or a folder written by alsel run.")
    open_ = [p for p in stores if AnswerStore.load(p).unanswered_pending()]
    if not open_:
        raise ValueError(f"no store under {folder}/stores has unanswered pending queries; nothing to annotate.")
    if len(open_) > 1:
        raise ValueError(f"{len(open_)} stores under {folder}/stores have pending queries "
                         f"({', '.join(p.name for p in open_)}); pass one of them as the source.")
    return open_[0]


@contextmanager
def _held(path: Path):
    """The run folder's lock when the store belongs to one, else the store file's lock."""
    from ..loop.locking import hold

    folder = path.parent.parent
    if path.parent.name == "stores" and (folder / "config.json").is_file():
        with hold(folder, "run folder"):
            yield
    else:
        with hold(path, "answer store"):
            yield


def _cmd_annotate(args: argparse.Namespace) -> int:
    try:
        from .server import serve
        from .queries import queries_store
    except ModuleNotFoundError as exc:
        print(f"alsel annotate: error: needs the 'annotate' extra ({exc.name} is missing): "
              "pip install 'alsel[annotate]'.", file=sys.stderr)
        return 2
    from ..loop.locking import Busy

    if args.queries is not None:
        if args.source is not None:
            raise ValueError("pass either a store / run folder or --queries with --store, not both.")
        missing = [flag for flag, value in (("--classes", args.classes), ("--store", args.store)) if value is None]
        if missing:
            raise ValueError(f"--queries needs {' and '.join(missing)} (class names, and the store file to create).")
        path = Path(args.store)
    else:
        if args.source is None:
            raise ValueError("pass an answer store or a run folder (or --queries, --classes and --store).")
        for flag in ("classes", "store"):
            if getattr(args, flag) is not None:
                raise ValueError(f"--{flag} is only used with --queries (a store already has its classes).")
        source = Path(args.source)
        if not source.exists():
            raise ValueError(f"{source}: no such store or run folder.")
        path = _store_of_run(source) if source.is_dir() else source
    if not args.lease > 0:
        raise ValueError(f"--lease must be > 0 seconds; got {args.lease}.")
    try:
        with _held(path):
            store = queries_store(args.queries, args.images, args.classes, path) if args.queries else path
            round_ = serve(store, args.images, host=args.host, port=args.port, annotator=args.annotator,
                           lease_seconds=args.lease)
    except Busy as exc:
        print(f"alsel annotate: error: {exc}", file=sys.stderr)
        return 2
    progress = round_.progress()
    print(f"alsel annotate: stopped; {progress['answered']} of {progress['total']} queries answered, "
          f"{progress['remaining']} open (all stored in {round_.store.path}).")
    return 0
