"""The derived intake catalog: ``NAME.intake.yaml`` beside the curated ``NAME.yaml``.

Stock intake (with intake-xarray) reading the curated catalog always opens the original files: that is
what its ``driver:`` and ``args:`` say, so it is never silently stale.  For users of stock intake who
want the shelf's faster copies, geoshelf writes this second catalog, with one source per entry opening
its best *fresh* representation with intake-xarray's own drivers:

- Zarr -> ``driver: zarr`` on the store;
- JSON references -> ``driver: zarr`` on ``reference://`` with the references as ``fo``;
- anything else (COG directories, Parquet tables, no fresh representation) -> the curated source as it is.

``geoshelf intake-view`` writes it; from then on ``convert`` and campaign commits rewrite it (a catalog
without a view gets none: rewriting costs a freshness check of every entry).  Nothing is added to the
curated file.  A source
changed after the last rewrite is noticed by geoshelf's own loader, not by stock intake: rerun
``geoshelf convert`` (or any command that rewrites the view) after the data changed.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Any

import yaml

from .atomic import write_file
from .catalog import Catalog, Entry
from .catalog.paths import relativize
from .errors import GeoshelfError, GeoshelfWarning
from .load import is_stale


def view_path(catalog_path: str | os.PathLike[str]) -> Path:
    """``catalogs/site.yaml`` -> ``catalogs/site.intake.yaml``."""
    p = Path(catalog_path)
    return p.with_name(p.stem + ".intake.yaml")


def _fresh(entry: Entry, kind: str) -> Any:
    rep = entry.representation(kind)
    if rep is None or kind == "original":
        return None
    path = entry.resolve(rep.path)
    if "://" not in path and not os.path.exists(path):
        return None
    try:
        return None if is_stale(entry, rep) else rep
    except GeoshelfError:
        return None


def view_source(entry: Entry, catalog_dir: str) -> dict[str, Any]:
    """One entry as a stock intake source opening its best fresh representation."""
    src = entry.to_source()
    note = "the original files (no fresh representation)"
    zarr = _fresh(entry, "zarr")
    refs = _fresh(entry, "references")
    if zarr is not None:
        args: dict[str, Any] = {"urlpath": relativize(entry.resolve(zarr.path), catalog_dir), "chunks": {}}
        if zarr.options.get("consolidated") is not None:
            args["consolidated"] = bool(zarr.options["consolidated"])
        src = {"description": entry.description, "driver": "zarr", "args": args, "metadata": src["metadata"]}
        note = f"the Zarr copy ({zarr.format or 'zarr'})"
    elif refs is not None and refs.options.get("store", "json") == "json":
        source = entry.resolve(entry.original.path)
        protocol = source.split("://", 1)[0] if "://" in source else "file"
        args = {"urlpath": "reference://", "chunks": {}, "consolidated": False,
                "storage_options": {"fo": relativize(entry.resolve(refs.path), catalog_dir),
                                    "remote_protocol": protocol}}
        src = {"description": entry.description, "driver": "zarr", "args": args, "metadata": src["metadata"]}
        note = "the kerchunk references (JSON)"
    src.setdefault("metadata", {})["opens"] = note
    return src


def write_intake_view(catalog_path: str | os.PathLike[str]) -> Path:
    """(Re)write the derived intake catalog of ``catalog_path`` atomically; return its path."""
    cat = Catalog(catalog_path)
    out = view_path(cat.path)
    sources = {}
    for name, entry in cat.walk():
        sources[name.replace(".", "__")] = view_source(entry, str(cat.path.parent))
    doc = {"description": f"derived from {cat.path.name} by geoshelf: each entry opens its best fresh "
                          "representation; do not edit (rewritten by geoshelf convert)",
           "metadata": {"version": 1, "derived_from": cat.path.name}, "sources": sources}
    text = "# Derived by geoshelf from " + cat.path.name + ": do not edit (rewritten by convert).\n" + \
        yaml.safe_dump(doc, sort_keys=False)
    write_file(out, text, sync=False)  # derived: written again by the next convert
    return out


def refresh_intake_view(catalog_path: str | os.PathLike[str] | None) -> None:
    """After an edit, rewrite the view if the catalog has one (best effort: a failure warns, never fails
    the edit)."""
    if catalog_path is None or not view_path(Path(catalog_path).expanduser().resolve()).exists():
        return
    try:
        write_intake_view(catalog_path)
    except (GeoshelfError, OSError) as exc:
        warnings.warn(f"{view_path(catalog_path)}: derived intake catalog not rewritten: {exc}", GeoshelfWarning,
                      stacklevel=2)
