"""What a server may publish of a catalog, and under which URLs.

Served: the catalog (rewritten so that every path is one of the server's URLs), the files of fresh
representations (Zarr stores, reference JSON rewritten to point at the server, COG files), and the
source files the entries name.  Nothing else: every request path is mapped back to one of those
files by name, resolved, and checked to lie inside what that entry publishes and inside the served
roots (:mod:`geoshelf.serve.roots`: the catalog's directory, the shelf root, the user's
``serve.roots``), so a shared catalog naming ``/home/someone/private.nc`` publishes nothing.
"""

from __future__ import annotations

import json
import os
import threading
import urllib.parse
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..catalog import Catalog, Entry
from ..catalog.paths import common_root, is_url
from ..errors import GeoshelfError
from ..load import is_stale
from .roots import Roots, served_roots

#: Representation kinds whose files a client can open over HTTP (a COG directory and a Parquet dataset
#: are served with the list of their files in the representation's options: HTTP has no directory listing).
SERVED_KINDS: tuple[str, ...] = ("zarr", "references", "cog", "parquet")
#: The files a served directory representation lists, by kind.
_LISTED: dict[str, str] = {"cog": "*.tif", "parquet": "**/*.parquet"}


@dataclass(frozen=True)
class Published:
    """One entry as served: its source files by URL-relative name, and its fresh representations."""

    name: str
    entry: Entry
    sources: dict[str, str]
    #: kind -> local root (a directory, or the reference JSON file)
    representations: dict[str, str]
    #: local files or representations the entry names outside the served roots (not served)
    refused: tuple[str, ...] = ()


def _quote(rel: str) -> str:
    return "/".join(urllib.parse.quote(p) for p in rel.split("/"))


class Shelf:
    """A catalog as a server sees it; re-read when the file changes."""

    def __init__(self, catalog_path: str | os.PathLike[str], *, roots: Roots | None = None) -> None:
        self.path = Path(catalog_path).absolute()
        #: where served files may lie (default: :func:`~geoshelf.serve.roots.served_roots` of the catalog)
        self.roots = roots if roots is not None else served_roots(self.path)
        self._lock = threading.Lock()
        self._stamp: tuple[int, int] | None = None
        self._cat: Catalog | None = None
        self._published: dict[str, Published] = {}

    # -- the catalog ------------------------------------------------------------------------------
    def catalog(self) -> Catalog:
        """The catalog as it is now (re-read when its size or mtime changed)."""
        st = self.path.stat()
        stamp = (st.st_size, st.st_mtime_ns)
        with self._lock:
            if self._cat is None or stamp != self._stamp:
                self._cat = Catalog(self.path)
                self._stamp = stamp
                self._published = {}
            return self._cat

    def entries(self) -> dict[str, Entry]:
        """Every entry by qualified name (included catalogs expanded)."""
        return dict(self.catalog().walk())

    def published(self, name: str) -> Published:
        """What is served of one entry (raises KeyError for an unknown name)."""
        cat = self.catalog()
        with self._lock:
            if name in self._published:
                return self._published[name]
        entry = dict(cat.walk())[name]
        try:
            files = [f for f in entry.source_files() if not is_url(f)]
        except GeoshelfError:
            files = []
        refused = [f for f in files if not self.roots.allows(f)]
        for f in refused:
            self.roots.refuse(f, f"source file of {name!r}")
        files = [f for f in files if f not in refused]
        root = common_root(files) if files else ""
        sources = {f[len(root):]: f for f in files}
        reps: dict[str, str] = {}

        for rep in entry.representations:
            if rep.kind not in SERVED_KINDS:
                continue
            if rep.kind == "references" and rep.options.get("store", "json") != "json":
                continue  # Parquet reference stores hold the source paths in binary columns: not rewritten
            local = entry.resolve(rep.path)
            if is_url(local) or not os.path.exists(local) or is_stale(entry, rep):
                continue
            if not self.roots.allows(local):
                self.roots.refuse(local, f"{rep.kind} representation of {name!r}")
                refused.append(local)
                continue
            reps[rep.kind] = local
        pub = Published(name=name, entry=entry, sources=sources, representations=reps, refused=tuple(refused))
        with self._lock:
            self._published[name] = pub
        return pub

    def confined(self, name: str) -> bool:
        """True when every local file entry ``name`` names lies inside the served roots (its pages may
        then read its data for quicklooks and variable lists)."""
        return not self.published(name).refused

    # -- files ------------------------------------------------------------------------------------
    def local_file(self, name: str, kind: str, rel: str) -> str | None:
        """The local file behind ``/data/NAME/KIND/REL``, or None when it is not published."""
        target = self._local_file(name, kind, rel)
        if target is not None and not self.roots.allows(target):  # e.g. a source file that is a symlink out
            self.roots.refuse(target, f"file of {name!r}")
            return None
        return target

    def _local_file(self, name: str, kind: str, rel: str) -> str | None:
        try:
            pub = self.published(name)
        except KeyError:
            return None
        if kind == "original":
            return pub.sources.get(rel)
        root = pub.representations.get(kind)
        if root is None or kind == "references":
            return None
        base = os.path.realpath(root)
        target = os.path.realpath(os.path.join(base, rel))
        if not target.startswith(base + os.sep) or not os.path.isfile(target):
            return None
        return target

    def references_json(self, name: str, base_url: str) -> bytes | None:
        """The entry's JSON references with every source path rewritten to the server's URL."""
        pub = self.published(name)
        root = pub.representations.get("references")
        if root is None:
            return None
        refs = json.loads(Path(root).read_text())
        by_path = {path: f"{base_url}/data/{_quote(name)}/original/{_quote(rel)}" for rel, path in pub.sources.items()}

        def rewrite(value: Any) -> Any:
            if isinstance(value, list) and value and isinstance(value[0], str):
                src = value[0][len("file://"):] if value[0].startswith("file://") else value[0]
                if src in by_path:
                    return [by_path[src], *value[1:]]
                if not is_url(src) and os.path.isabs(src):
                    raise GeoshelfError(f"{root}: references point at {src}, which the entry does not name")
            return value

        table = refs.get("refs", refs)
        for key in list(table):
            table[key] = rewrite(table[key])
        return json.dumps(refs).encode()

    # -- the served catalog -------------------------------------------------------------------------
    def served_source(self, name: str, base_url: str) -> dict[str, Any]:
        """One entry as an intake v1 source whose every path is a URL of this server."""
        pub = self.published(name)
        entry = pub.entry
        urls = [f"{base_url}/data/{_quote(name)}/original/{_quote(rel)}" for rel in pub.sources]
        args: dict[str, Any] = {k: v for k, v in entry.args.items() if k in ("chunks", "xarray_kwargs", "csv_kwargs")}
        xkw = dict(args.get("xarray_kwargs") or {})
        if entry.format == "netcdf" and xkw.get("engine") == "netcdf4":
            xkw["engine"] = "h5netcdf"  # netCDF-C cannot read an HTTP file object; h5netcdf can (NetCDF4/HDF5)
        if xkw:
            args["xarray_kwargs"] = xkw
        reps = []
        for rep in entry.representations:
            if rep.kind not in pub.representations:
                continue
            url = f"{base_url}/data/{_quote(name)}/{rep.kind}"
            if rep.kind == "references":
                url += "/references.json"
            served = rep.to_dict()
            served["path"] = url
            if rep.kind in _LISTED:
                root = Path(pub.representations[rep.kind])
                files = sorted(p.relative_to(root).as_posix() for p in root.glob(_LISTED[rep.kind])
                               if not any(part.startswith(".") for part in p.relative_to(root).parts))
                served["options"] = {**dict(served.get("options") or {}), "files": files}
            prov = dict(served.get("provenance") or {})
            if prov:  # the server checked freshness; a client cannot stat the server's files
                prov["source_fingerprint"] = ""
                served["provenance"] = prov
            reps.append(served)
        data = entry.replace(urlpath=urls if len(urls) != 1 else urls[0], args=args, fingerprint="",
                             representations=[]).to_source()
        geo = data["metadata"]["geoshelf"]
        for key in ("files_manifest",):
            geo.pop(key, None)
        if reps:
            geo["representations"] = reps
        return data

    def served_catalog(self, base_url: str) -> dict[str, Any]:
        """The whole catalog, flattened (included catalogs' entries under their qualified names)."""
        cat = self.catalog()
        sources = {name.replace(".", "__"): self.served_source(name, base_url) for name in self.entries()
                   if not (self.published(name).refused and not self.published(name).sources)}
        return {"description": cat.description or f"served by geoshelf from {cat.path.name}",
                "metadata": {"version": 1, "served_from": cat.name}, "sources": sources}
