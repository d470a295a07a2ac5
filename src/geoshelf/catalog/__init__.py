"""The catalog: model, YAML I/O, search, fingerprints, lint.  No xarray or dask here."""

from __future__ import annotations

from ..registry import REPRESENTATION_ORDER
from .catalog import Catalog, SearchResult, add_entry, check_name, edit_entries, remove_entry, update_entry
from .locate import default_catalog_path, demo_catalog_path, demo_dir
from .model import ALLOWED_DRIVERS, FORMAT_DRIVERS, Entry, Provenance, Representation

__all__ = [
    "ALLOWED_DRIVERS", "FORMAT_DRIVERS", "REPRESENTATION_ORDER", "Catalog", "Entry", "Provenance",
    "Representation", "SearchResult", "add_entry", "check_name", "default_catalog_path",
    "demo_catalog_path", "demo_dir", "edit_entries", "remove_entry", "update_entry",
]
