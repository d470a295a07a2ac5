"""``geoshelf serve``: a read-only HTTP server for people (HTML), STAC clients (a STAC API) and xarray
on machines without the shared file system (every published file with byte ranges).

Routes::

    /                                   the catalog: search box, facets, matching entries
    /entry/NAME[?variable=V&time=I]     an entry: variables, map, quicklook, provenance, the line to paste
    /entry/NAME/quicklook.png?...       the quicklook image
    /catalog.yaml                       the catalog with every path rewritten to this server's URLs
    /data/NAME/original/REL             a source file of NAME
    /data/NAME/zarr/KEY                 a key of NAME's Zarr store
    /data/NAME/references/references.json  NAME's references, pointing at /data/NAME/original/...
    /data/NAME/cog/FILE.tif             a COG of NAME
    /data/NAME/parquet/K=V/FILE.parquet a file of NAME's Parquet dataset
    /stac, /stac/conformance, /stac/collections[/ID[/items[/ID]]], /stac/search (GET, POST)

Bound to 127.0.0.1 unless told otherwise.  Nothing is served but the catalog, the fresh
representations and the source files the entries name (see :mod:`geoshelf.serve.shelf`), and of
those only the files inside the served roots (:mod:`geoshelf.serve.roots`).
"""

from __future__ import annotations

import json
import os
import re
import sys
import threading
import traceback
import urllib.parse
from collections import OrderedDict
from collections.abc import Callable, Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import yaml

from ..errors import GeoshelfError
from . import pages
from .fields import pick_field, time_labels, variable_dims
from .maps import quicklook_png
from .roots import served_roots
from .shelf import Shelf
from .stacapi import StacAPI

_HOST = re.compile(r"^[A-Za-z0-9.\-\[\]:]+$")
CHUNK = 1 << 20


class _NotFound(Exception):
    pass


class GeoshelfServer(ThreadingHTTPServer):
    """The server: one :class:`Shelf`, its STAC API, and a small cache of quicklooks."""

    daemon_threads = True

    def __init__(self, catalog_path: str | os.PathLike[str], host: str = "127.0.0.1", port: int = 0,
                 *, quiet: bool = False, roots: Iterable[str | os.PathLike[str]] = ()) -> None:
        self.shelf = Shelf(catalog_path, roots=served_roots(catalog_path, roots))
        self.shelf.catalog()  # a bad catalog fails now, in one line, not at the first request
        self.stac = StacAPI(self.shelf)
        self.quiet = quiet
        self.served: list[str] = []  # request paths, for tests and logs
        self._looks: OrderedDict[tuple[Any, ...], bytes] = OrderedDict()
        self._looks_lock = threading.Lock()
        super().__init__((host, port), _Handler)

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}"

    def quicklook(self, name: str, variable: str | None, index: int) -> bytes:
        key = (self.shelf.catalog(), name, variable, index)
        with self._looks_lock:
            if key in self._looks:
                self._looks.move_to_end(key)
                return self._looks[key]
        entry = self.shelf.entries()[name]
        if not self.shelf.confined(name):  # its files lie outside the served roots: not read for anyone
            raise _NotFound
        field, _label = pick_field(entry, variable, index)
        png = quicklook_png(field)
        with self._looks_lock:
            self._looks[key] = png
            while len(self._looks) > 64:
                self._looks.popitem(last=False)
        return png


class _Handler(BaseHTTPRequestHandler):
    server: GeoshelfServer
    protocol_version = "HTTP/1.1"

    # -- plumbing -----------------------------------------------------------------------------------
    def log_message(self, format: str, *args: Any) -> None:
        if not self.server.quiet:
            sys.stderr.write(f"serve: {self.address_string()} {format % args}\n")

    def _base(self) -> str:
        host = self.headers.get("Host", "")
        return f"http://{host}" if host and _HOST.match(host) else self.server.url

    def _send(self, status: int, body: bytes, ctype: str, extra: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-Content-Type-Options", "nosniff")
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, data: Any, ctype: str = "application/json") -> None:
        self._send(200, json.dumps(data).encode(), ctype)

    def _html(self, text: str) -> None:
        self._send(200, text.encode(), "text/html; charset=utf-8",
                   {"Content-Security-Policy": "default-src 'self'; style-src 'unsafe-inline'; "
                                               "script-src 'unsafe-inline'; img-src 'self' data:"})

    def _error(self, status: int, message: str) -> None:
        self._send(status, (message + "\n").encode(), "text/plain; charset=utf-8")

    def _file(self, path: str, ctype: str = "application/octet-stream") -> None:
        """A file with byte ranges (one range per request, as fsspec and GDAL ask)."""
        size = os.path.getsize(path)
        st = os.stat(path)
        headers = {"Accept-Ranges": "bytes", "ETag": f'"{st.st_size:x}-{st.st_mtime_ns:x}"'}
        start, end, status = 0, size - 1, 200
        rng = self.headers.get("Range")
        if rng:
            m = re.fullmatch(r"bytes=(\d*)-(\d*)", rng.strip())
            if not m or (not m.group(1) and not m.group(2)):
                return self._send(416, b"", "text/plain", {"Content-Range": f"bytes */{size}"})
            if m.group(1):
                start = int(m.group(1))
                end = min(int(m.group(2)), size - 1) if m.group(2) else size - 1
            else:
                start, end = max(size - int(m.group(2)), 0), size - 1
            if start >= size or start > end:
                return self._send(416, b"", "text/plain", {"Content-Range": f"bytes */{size}"})
            status = 206
            headers["Content-Range"] = f"bytes {start}-{end}/{size}"
        length = end - start + 1 if size else 0
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(length))
        for k, v in headers.items():
            self.send_header(k, v)
        self.end_headers()
        if self.command == "HEAD" or not length:
            return
        with open(path, "rb") as f:
            f.seek(start)
            left = length
            while left:
                block = f.read(min(CHUNK, left))
                if not block:
                    break
                self.wfile.write(block)
                left -= len(block)

    # -- verbs --------------------------------------------------------------------------------------
    def do_HEAD(self) -> None:
        self.do_GET()

    def do_GET(self) -> None:
        self._dispatch(self._get)

    def do_POST(self) -> None:
        self._dispatch(self._post)

    def _dispatch(self, fn: Callable[[str, dict[str, list[str]]], None]) -> None:
        parts = urllib.parse.urlsplit(self.path)
        path = urllib.parse.unquote(parts.path)
        self.server.served.append(path)
        try:
            fn(path, urllib.parse.parse_qs(parts.query))
        except _NotFound:
            self._error(404, f"not found: {parts.path}")
        except GeoshelfError as exc:
            self._error(400, str(exc))
        except (BrokenPipeError, ConnectionResetError):
            pass
        except Exception:  # noqa: BLE001 - a bug: logged, the client gets a 500, the server keeps serving
            traceback.print_exc(file=sys.stderr)
            self._error(500, "internal error (see the server's log)")

    def _post(self, path: str, query: dict[str, list[str]]) -> None:
        if path.rstrip("/") != "/stac/search":
            self._error(405, "read-only server: POST only to /stac/search")
            return
        length = int(self.headers.get("Content-Length") or 0)
        if length > 1 << 20:
            raise GeoshelfError("search body larger than 1 MiB")
        try:
            body = json.loads(self.rfile.read(length) or b"{}")
        except ValueError:
            raise GeoshelfError("search body is not JSON") from None
        if not isinstance(body, dict):
            raise GeoshelfError("search body must be a JSON object")
        self._json(self.server.stac.search(body, self._base()), "application/geo+json")

    def _get(self, path: str, query: dict[str, list[str]]) -> None:
        base = self._base()
        if path in ("/", "/index.html"):
            return self._html(self._catalog_page(query, base))
        if path == "/catalog.yaml":
            data = self.server.shelf.served_catalog(base)
            return self._send(200, yaml.safe_dump(data, sort_keys=False).encode(), "application/yaml")
        if path.startswith("/stac"):
            return self._stac(path[len("/stac"):].strip("/"), query, base)
        if path.startswith("/entry/"):
            return self._entry(path[len("/entry/"):], query, base)
        if path.startswith("/data/"):
            return self._data(path[len("/data/"):])
        raise _NotFound

    # -- pages --------------------------------------------------------------------------------------
    def _links(self, base: str) -> pages.Links:
        return pages.Links(home="/", entry=lambda n: f"/entry/{urllib.parse.quote(n)}",
                           quicklook=lambda n, v, i: pages.quicklook_href("", n, v, i),
                           paste=lambda n: f'from geoshelf import open_catalog\n'
                                           f'ds = open_catalog("{base}/catalog.yaml")'
                                           f'["{n.replace(".", "__")}"].to_dask()')

    def _catalog_page(self, query: dict[str, list[str]], base: str) -> str:
        cat = self.server.shelf.catalog()
        text = " ".join(query.get("q", [])).strip()
        table = cat.df
        base_columns = __import__("geoshelf.catalog.table", fromlist=["x"]).BASE_COLUMNS
        facet_cols = ["format", "tags", "variables"] + [c for c in table.columns if c not in base_columns]
        facets = cat.unique(facet_cols) if len(table) else {c: [] for c in facet_cols}
        chosen = {k: v for k, v in query.items() if k in facet_cols}
        kwargs: dict[str, Any] = {}
        for col, values in chosen.items():
            if col == "tags":
                kwargs["tags"] = values
            elif col == "variables":
                kwargs["variable"] = values
            elif col == "format":
                continue
            else:
                kwargs[col] = values
        hits = cat.search(text or None, **kwargs)
        if "format" in chosen:
            hits = type(hits)({n: e for n, e in hits.items() if e.format in chosen["format"]})
        return pages.catalog_page(cat.description or cat.name, hits, facets, chosen, text, self._links(base),
                                  total=len(table))

    def _entry(self, rest: str, query: dict[str, list[str]], base: str) -> None:
        shelf = self.server.shelf
        name, _, tail = rest.partition("/")
        entries = shelf.entries()
        if name not in entries:
            raise _NotFound
        entry = entries[name]
        variable = query.get("variable", [None])[0]
        try:
            index = int(query.get("time", ["0"])[0])
        except ValueError:
            raise GeoshelfError("time must be the index of a time step") from None
        if tail == "quicklook.png":
            return self._send(200, self.server.quicklook(name, variable, index), "image/png")
        if tail:
            raise _NotFound
        look = None
        dims: dict[str, list[str]] = {}
        times: list[str] = []
        if entry.format not in ("csv", "parquet") and entry.variables and shelf.confined(name):
            try:
                dims = variable_dims(entry)
                times = time_labels(entry)
            except GeoshelfError:
                dims, times = {}, []
            var = variable or entry.variables[0]
            look = (var, times[index] if 0 <= index < len(times) else None, index)
        self._html(pages.entry_page(name, entry, self._links(base), quicklook=look, variables_dims=dims,
                                    time_values=times))

    def _stac(self, rest: str, query: dict[str, list[str]], base: str) -> None:
        api = self.server.stac
        parts = [p for p in rest.split("/") if p]
        try:
            if not parts:
                return self._json(api.landing(base))
            if parts == ["conformance"]:
                return self._json(api.conformance())
            if parts == ["search"]:
                params = {k: v[0] if len(v) == 1 else v for k, v in query.items()}
                return self._json(api.search(params, base), "application/geo+json")
            if parts[0] == "collections":
                if len(parts) == 1:
                    return self._json(api.collections(base))
                if len(parts) == 2:
                    return self._json(api.collection(parts[1], base))
                if len(parts) == 3 and parts[2] == "items":
                    return self._json(api.items(parts[1], base), "application/geo+json")
                if len(parts) == 4 and parts[2] == "items":
                    return self._json(api.item(parts[1], parts[3], base), "application/geo+json")
        except KeyError:
            raise _NotFound from None
        raise _NotFound

    def _data(self, rest: str) -> None:
        name, _, tail = rest.partition("/")
        kind, _, rel = tail.partition("/")
        if not name or not kind or not rel or "\x00" in rel:
            raise _NotFound
        shelf = self.server.shelf
        if name not in shelf.entries():
            raise _NotFound
        if kind == "references" and rel == "references.json":
            body = shelf.references_json(name, self._base())
            if body is None:
                raise _NotFound
            return self._send(200, body, "application/json")
        local = shelf.local_file(name, kind, rel)
        if local is None:
            raise _NotFound
        ctype = "image/tiff" if local.endswith((".tif", ".tiff")) else "application/octet-stream"
        self._file(local, ctype)


def serve(catalog_path: str | os.PathLike[str], host: str = "127.0.0.1", port: int = 8000,
          roots: Iterable[str | os.PathLike[str]] = ()) -> None:
    """Serve until interrupted (Ctrl-C); ``roots``: directories to publish besides the default served roots."""
    try:
        server = GeoshelfServer(catalog_path, host, port, roots=roots)
    except OSError as exc:
        raise GeoshelfError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    print(f"serving {Path(catalog_path)} at {server.url}/ (STAC API at {server.url}/stac; Ctrl-C to stop)",
          flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
