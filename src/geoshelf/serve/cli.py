"""``geoshelf serve`` and ``geoshelf html``: thin parsing over :mod:`geoshelf.serve`."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ..catalog import Catalog
from ..catalog.locate import default_catalog_path
from ..errors import GeoshelfError


def _catalog_path(args: argparse.Namespace) -> Path:
    return Path(args.catalog).expanduser() if args.catalog else default_catalog_path()


def cmd_serve(args: argparse.Namespace) -> int:
    # deferred: the server imports starlette, pystac and numpy (~0.4 s at start-up)
    from .app import serve

    if args.port < 0 or args.port > 65535:
        raise GeoshelfError(f"--port {args.port} is not a port number (0..65535)")
    serve(_catalog_path(args), args.host, args.port, roots=args.root or ())
    return 0


def cmd_html(args: argparse.Namespace) -> int:
    # deferred: the static site imports numpy (~60 ms at start-up)
    from .static import write_site

    index, n, no_look = write_site(Catalog(_catalog_path(args)), args.out)
    print(f"wrote {index} ({n} pages)")
    for line in no_look:
        print(f"  no quicklook: {line}")
    return 0


def add_serve_commands(sub: Any, common: argparse.ArgumentParser) -> None:
    """Register ``serve`` and ``html`` on the ``geoshelf`` parser."""
    sv = sub.add_parser("serve", parents=[common], help="serve the catalog read-only over HTTP (pages, STAC API, "
                                                        "files)")
    sv.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)")
    sv.add_argument("--port", type=int, default=8000, help="port (default 8000; 0 picks a free one)")
    sv.add_argument("--root", action="append", metavar="DIR",
                    help="also publish files under DIR (repeatable; default: only the catalog's directory, the "
                         "shelf root and serve.roots of your config)")
    sv.set_defaults(func=cmd_serve)
    ht = sub.add_parser("html", parents=[common], help="write the catalog's pages as a static site")
    ht.add_argument("out", metavar="OUT", help="output directory (new, empty, or an earlier site)")
    ht.set_defaults(func=cmd_html)
