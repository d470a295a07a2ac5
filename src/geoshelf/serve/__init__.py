"""``geoshelf serve`` (a read-only HTTP server: HTML pages, a STAC API, files with byte ranges) and
``geoshelf html`` (the same pages as a static site).

The names below are imported on first use (PEP 562): the CLI imports ``geoshelf.serve.cli`` to build
its parser, which must not pull in the server's libraries for every other command."""

from __future__ import annotations

from importlib import import_module
from typing import Any

_WHERE = {"GeoshelfServer": ".app", "serve": ".app", "write_site": ".static"}


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(import_module(_WHERE[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["GeoshelfServer", "serve", "write_site"]
