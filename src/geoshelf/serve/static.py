"""``geoshelf html OUT/``: the server's pages written as a static site, for sites without a server.

``index.html`` (the catalog; filtering needs a server, so every entry is listed with its facets),
``entry/NAME.html`` per entry with its map and a quicklook image ``entry/NAME.png`` (first variable,
first time step).  OUT must be new, empty, or an earlier ``geoshelf html`` site (marked by
``.geoshelf-html``); it is replaced as a whole.
"""

from __future__ import annotations

import os
import shutil
import urllib.parse
import uuid
from pathlib import Path

from ..atomic import replace_directory
from ..catalog import Catalog
from ..catalog.table import BASE_COLUMNS
from ..errors import GeoshelfError
from . import pages
from .fields import pick_field, time_labels, variable_dims
from .maps import quicklook_png

MARKER = ".geoshelf-html"


def _fname(name: str) -> str:
    return urllib.parse.quote(name, safe="")


def write_site(cat: Catalog, out: str | os.PathLike[str]) -> tuple[Path, int, list[str]]:
    """Write the site; returns (index path, pages written, entries without a quicklook and why)."""
    target = Path(out).absolute()
    if target.exists() and (not target.is_dir() or (any(target.iterdir()) and not (target / MARKER).exists())):
        raise GeoshelfError(f"{target}: exists and is not a geoshelf html site; refusing to replace it "
                            "(choose a new directory)")
    partial = target.with_name(f".{target.name}.partial-{uuid.uuid4().hex[:8]}")
    (partial / "entry").mkdir(parents=True)
    entries = dict(cat.walk())
    no_look: list[str] = []
    links = pages.Links(home="index.html", entry=lambda n: f"entry/{_fname(n)}.html", quicklook=None,
                        paste=lambda n: f'from geoshelf import open_catalog\nds = '
                                        f'open_catalog("{cat.path}")["{n}"].to_dask()')
    inner = pages.Links(home="../index.html", entry=lambda n: f"{_fname(n)}.html",
                        quicklook=lambda n, v, i: f"{_fname(n)}.png", paste=links.paste)
    try:
        table = cat.df
        facet_cols = [c for c in table.columns if c not in pages_base_columns()]
        facets = cat.unique(["format", "tags", "variables", *facet_cols]) if len(table) else {}
        (partial / "index.html").write_text(pages.catalog_page(cat.description or cat.name, entries, facets, {}, "",
                                                               links, search=False), encoding="utf-8")
        for name, entry in entries.items():
            look = None
            dims: dict[str, list[str]] = {}
            times: list[str] = []
            if entry.format not in ("csv", "parquet") and entry.variables:
                try:
                    field, label = pick_field(entry, entry.variables[0], 0)
                    (partial / "entry" / f"{_fname(name)}.png").write_bytes(quicklook_png(field))
                    dims, times = variable_dims(entry), time_labels(entry)
                    look = (entry.variables[0], label, 0)
                except GeoshelfError as exc:
                    no_look.append(f"{name}: {exc}")
            html = pages.entry_page(name, entry, inner, quicklook=look, variables_dims=dims, time_values=times[:1])
            (partial / "entry" / f"{_fname(name)}.html").write_text(html, encoding="utf-8")
        (partial / MARKER).write_text("written by geoshelf html\n")
        replace_directory(partial, target)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    return target / "index.html", len(entries) + 1, no_look


def pages_base_columns() -> tuple[str, ...]:
    return BASE_COLUMNS
