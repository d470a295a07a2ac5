"""``geoshelf serve`` (a read-only HTTP server: HTML pages, a STAC API, files with byte ranges) and
``geoshelf html`` (the same pages as a static site)."""

from __future__ import annotations

from .app import GeoshelfServer, serve
from .static import write_site

__all__ = ["GeoshelfServer", "serve", "write_site"]
