"""STAC in and out: ``export_stac`` writes a static STAC catalog of a geoshelf catalog;
``import_stac`` shelves the data assets of an existing one.

The names below are imported on first use (PEP 562): the CLI imports ``geoshelf.stac.cli`` to build
its parser, which must not pull in pystac and the loaders for every other command."""

from __future__ import annotations

from importlib import import_module
from typing import Any

_WHERE = {"ExportSummary": ".export", "export_stac": ".export", "ImportSummary": ".ingest",
          "import_stac": ".ingest"}


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(import_module(_WHERE[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["ExportSummary", "ImportSummary", "export_stac", "import_stac"]
