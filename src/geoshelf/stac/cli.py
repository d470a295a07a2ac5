"""``geoshelf stac export OUT/`` and ``geoshelf stac import URL|PATH``: thin parsing over :mod:`geoshelf.stac`."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ..catalog import Catalog
from ..catalog.locate import default_catalog_path


def cmd_export(args: argparse.Namespace) -> int:
    # deferred: export imports pystac (~50 ms at start-up)
    from .export import export_stac

    cat = Catalog(Path(args.catalog).expanduser() if args.catalog else default_catalog_path())
    summary = export_stac(cat, args.out)
    print(f"wrote {summary.root}: {summary.collections} collections, {summary.items} items, {summary.assets} assets")
    for name, why in summary.metadata_only.items():
        print(f"  {name}: exported from catalog metadata only (no datacube fields): {why}")
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    # deferred: ingest imports pystac (~40 ms at start-up)
    from .ingest import import_stac

    path = Path(args.catalog).expanduser() if args.catalog else default_catalog_path()
    summary = import_stac(args.source, path, prefix=args.prefix or "", tags=tuple(args.tag or ()))
    for name in summary.added:
        print(f"added {name}")
    for where, why in summary.skipped:
        print(f"skipped {where}: {why}")
    print(f"{len(summary.added)} entries added to {path}, {len(summary.skipped)} assets skipped")
    return 0 if summary.added or not summary.skipped else 1


def add_stac_commands(sub: Any, common: argparse.ArgumentParser) -> None:
    """Register ``stac export`` and ``stac import`` on the ``geoshelf`` parser."""
    st = sub.add_parser("stac", help="STAC in and out: export the catalog, import a static STAC catalog")
    ss = st.add_subparsers(dest="stac_command", required=True, parser_class=type(st))
    ex = ss.add_parser("export", parents=[common], help="write the catalog as a static STAC catalog")
    ex.add_argument("out", metavar="OUT", help="output directory (new, empty, or an earlier export)")
    ex.set_defaults(func=cmd_export)
    im = ss.add_parser("import", parents=[common], help="shelve the NetCDF / COG / Zarr assets of a STAC catalog")
    im.add_argument("source", metavar="URL|PATH", help="a STAC catalog, collection or item (JSON)")
    im.add_argument("--prefix", help="prefix of the new entry names")
    im.add_argument("--tag", action="append", help="tag for the new entries (repeatable)")
    im.set_defaults(func=cmd_import)
