"""geoshelf: catalog it once, convert it once, open it lazily."""

from __future__ import annotations

import os
from typing import Any

from . import _libguard
from .catalog import Catalog, Entry, Provenance, Representation
from .catalog.locate import default_catalog_path
from .errors import GeoshelfError

__version__ = "0.1.0"

_libguard.install()  # PROJ before ecCodes (see _libguard)


def open_catalog(path: str | os.PathLike[str] | None = None) -> Catalog:
    """Open a geoshelf catalog.

    With no argument: ``$GEOSHELF_CATALOG``, else ``catalog:`` from the user or site
    config file, else the demo catalog written by ``geoshelf demo``.
    """
    return Catalog(path if path is not None else default_catalog_path())


def convert(entry: Entry | str, to: str, *, catalog: Catalog | str | os.PathLike[str] | None = None,
            **options: Any) -> Representation:
    """Convert a catalogued entry to ``to`` ("zarr", "references", "cog", "parquet") and record it."""
    # deferred: the convert package costs ~5-10 ms; `import geoshelf` stays light for readers
    from .convert import convert as _convert

    return _convert(entry, to, catalog=catalog, **options)


__all__ = ["Catalog", "Entry", "GeoshelfError", "Provenance", "Representation", "__version__", "convert",
           "open_catalog"]
