"""STAC in and out: ``export_stac`` writes a static STAC catalog of a geoshelf catalog;
``import_stac`` shelves the data assets of an existing one."""

from __future__ import annotations

from .export import ExportSummary, export_stac
from .ingest import ImportSummary, import_stac

__all__ = ["ExportSummary", "ImportSummary", "export_stac", "import_stac"]
