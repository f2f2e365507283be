"""People answer the queries: in a browser with ``alsel annotate`` (docs/annotate.md), or in
Label Studio through :mod:`.labelstudio` (docs/annotate-labelstudio.md).

Needs the ``annotate`` extra (Starlette, uvicorn, Pillow). The names below are imported on first
use, so ``import alsel.annotate`` (and the CLI) work without it.

- :func:`serve` — serve a store's pending queries until Ctrl-C.
- :func:`create_app` — the ASGI app (for tests, or another ASGI server).
- :func:`make_round` — the round (store + images + leases) behind an app.
- :class:`WebOracle` — the loop's oracle that waits for the page's answers (``oracle = "web"``).
"""

from __future__ import annotations

from importlib import import_module

_NAMES = {"serve": "server", "make_round": "server", "BackgroundServer": "server", "create_app": "app",
          "Round": "core", "RoundError": "core", "ImageSource": "images", "Leases": "leases",
          "WebOracle": "oracle", "queries_store": "queries"}


def __getattr__(name: str):
    if name in _NAMES:
        return getattr(import_module(f".{_NAMES[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = sorted(_NAMES)
