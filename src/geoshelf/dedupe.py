"""Finding duplicated data by hashing *decoded* content, not file bytes.

The same data stored as NetCDF3 and as deflated NetCDF4 (or re-tiled GeoTIFF, or a CSV
with reordered quoting) hash the same: variables are decoded (mask, scale, CF time),
canonicalised (floats as float64 with one NaN, times as int64 ns) and hashed with their
names, dims and coordinates.  Attributes (history, dates) are ignored.  Hashes are cached
by (path, size, mtime) in a small SQLite file so re-runs are cheap.  Nothing is deleted.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .catalog import Catalog
from .errors import GeoshelfError, SourceError, one_line
from .load.formats import CSV_EXT, NETCDF_EXT, PARQUET_EXT, TIFF_EXT, engine_for, sniff

SUPPORTED_EXT = NETCDF_EXT | TIFF_EXT | CSV_EXT | PARQUET_EXT
HASH_VERSION = "decoded-v1"
#: Which copy of equal data to keep: lower is better (NetCDF4/HDF5 compresses and chunks; NetCDF3 cannot).
FORMAT_RANK = {"netcdf4": 0, "geotiff": 0, "parquet": 0, "netcdf3": 1, "csv": 1}
#: A directory holding this file is a geoshelf output (convert.base.MANIFEST_NAME); a file output
#: has ``NAME`` + SIDECAR beside it.
OUTPUT_MANIFEST = ".geoshelf-manifest.json"
SIDECAR = ".manifest.json"


def _cache_path() -> Path:
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "geoshelf" / "content-hashes.sqlite"


class HashCache:
    """(path, size, mtime_ns) -> content hash, in SQLite."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or _cache_path()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(self.path, timeout=30, check_same_thread=False)
        self.db.execute("CREATE TABLE IF NOT EXISTS h (path TEXT PRIMARY KEY, size INT, mtime INT, ver TEXT, hash "
                        "TEXT)")

    def get(self, path: str, st: os.stat_result) -> str | None:
        row = self.db.execute("SELECT size, mtime, ver, hash FROM h WHERE path=?", (path,)).fetchone()
        if row and row[0] == st.st_size and row[1] == st.st_mtime_ns and row[2] == HASH_VERSION:
            return str(row[3])
        return None

    def put(self, path: str, st: os.stat_result, digest: str) -> None:
        self.db.execute("INSERT OR REPLACE INTO h VALUES (?,?,?,?,?)",
                        (path, st.st_size, st.st_mtime_ns, HASH_VERSION, digest))
        self.db.commit()


def _update_array(h: Any, values: np.ndarray) -> None:
    if values.dtype.kind == "M":
        h.update(values.astype("datetime64[ns]").astype("i8").tobytes())
    elif values.dtype.kind in "fc":
        v = values.astype("f8" if values.dtype.kind == "f" else "c16")
        v = np.where(np.isnan(v), np.nan, v)  # one NaN bit pattern
        h.update(np.ascontiguousarray(v).tobytes())
    elif values.dtype.kind in "iub":
        h.update(values.astype("i8").tobytes())
    else:
        h.update("\x1f".join(map(str, values.ravel().tolist())).encode())


def _hash_variable(h: Any, name: str, var: Any) -> None:
    h.update(f"{name}|{','.join(map(str, var.dims))}|{var.shape}|".encode())
    if var.ndim == 0 or var.shape[0] == 0:
        _update_array(h, np.asarray(var.values))
        return
    step = max(1, (16 * 2**20) // max(1, (var.size // var.shape[0]) * 8))
    for start in range(0, var.shape[0], step):
        _update_array(h, np.asarray(var[start:start + step].values))


def content_hash(path: str) -> str:
    """Hash of a file's decoded content (see module docstring)."""
    kind = sniff(path)
    h = hashlib.sha256(HASH_VERSION.encode())
    try:
        if kind.startswith("netcdf"):
            # deferred: xarray costs ~0.7 s; only comparing NetCDF values needs it
            import xarray as xr

            with xr.open_dataset(path, engine=engine_for(kind, remote=True), cache=False) as ds:  # thread-safe
                for name in sorted(map(str, ds.variables)):
                    _hash_variable(h, name, ds.variables[name])
        elif kind == "geotiff":
            # deferred: rioxarray costs ~1.5 s; only comparing GeoTIFF values needs it
            import rioxarray
            import xarray as xr

            raster = rioxarray.open_rasterio(path, masked=True, cache=False)
            if not isinstance(raster, xr.DataArray):
                raise SourceError(f"{path}: not a single GeoTIFF raster")
            with raster as da:
                h.update(str(da.rio.crs).encode() + repr(tuple(da.rio.transform())).encode())
                _hash_variable(h, "band", da.variable)
        elif kind in ("csv", "parquet"):
            # deferred: pandas costs ~0.5 s; only comparing tables needs it
            import pandas as pd

            df = pd.read_csv(path) if kind == "csv" else pd.read_parquet(path)
            h.update(",".join(map(str, df.columns)).encode())
            h.update(pd.util.hash_pandas_object(df, index=False).values.tobytes())
        else:
            raise SourceError(f"{path}: dedupe does not handle {kind} data")
    except GeoshelfError:
        raise
    except Exception as exc:  # noqa: BLE001 - readers raise anything on corrupt input
        raise SourceError(f"{path}: cannot read for hashing: {one_line(exc, 200)}") from None
    return h.hexdigest()


@dataclass
class Group:
    """Files whose decoded content is identical."""

    digest: str
    files: list[str]
    sizes: list[int]
    #: Catalogued entries (qualified names) that reference a file of the group.
    catalogued: dict[str, str] = field(default_factory=dict)
    #: Storage format of each file (``netcdf4``, ``netcdf3``, ``geotiff``, ...), by path.
    kinds: dict[str, str] = field(default_factory=dict)

    @property
    def keep(self) -> str:
        """The copy to keep: the best-stored one (NetCDF4/HDF5 over NetCDF3, then the fewest bytes),
        a catalogued one among equals."""
        size = dict(zip(self.files, self.sizes, strict=True))
        return min(self.files, key=lambda f: (FORMAT_RANK.get(self.kinds.get(f, ""), 1), size[f],
                                              f not in self.catalogued, f))

    @property
    def repoint(self) -> list[str]:
        """Entries that use a copy other than :attr:`keep` (point them at it before removing copies)."""
        return sorted({q for f, q in self.catalogued.items() if f != self.keep})

    @property
    def reclaimable(self) -> int:
        """Bytes freed by removing every copy but :attr:`keep`."""
        return sum(s for f, s in zip(self.files, self.sizes, strict=True) if f != self.keep)


@dataclass
class DatasetDuplicate:
    """A directory (or catalogued entry) whose files all duplicate a catalogued entry."""

    location: str
    duplicates_entry: str
    files: int
    bytes: int


@dataclass
class DedupeReport:
    """Result of :func:`dedupe`."""

    groups: list[Group]
    datasets: list[DatasetDuplicate]
    errors: list[str]
    files_scanned: int

    @property
    def reclaimable(self) -> int:
        return sum(g.reclaimable for g in self.groups)

    def to_dict(self) -> dict[str, Any]:
        return {
            "files_scanned": self.files_scanned,
            "reclaimable_bytes": self.reclaimable,
            "groups": [{"digest": g.digest, "keep": g.keep, "files": g.files, "sizes": g.sizes, "kinds": g.kinds,
                        "catalogued": g.catalogued, "repoint": g.repoint, "reclaimable_bytes": g.reclaimable}
                       for g in self.groups],
            "datasets": [d.__dict__ for d in self.datasets],
            "errors": self.errors,
        }


def is_output(path: str) -> bool:
    """True for a geoshelf output (a converted representation): a file with its manifest sidecar, or
    anything inside a directory holding a geoshelf manifest."""
    if os.path.isfile(path + SIDECAR):
        return True
    parent = os.path.dirname(os.path.abspath(path))
    while parent and parent != os.path.dirname(parent):
        if os.path.isfile(os.path.join(parent, OUTPUT_MANIFEST)):
            return True
        parent = os.path.dirname(parent)
    return False


def _walk(paths: Iterable[str]) -> list[str]:
    """Data files under ``paths``, leaving out geoshelf's own outputs (representations of sources,
    not duplicates of them)."""
    out: list[str] = []
    for p in paths:
        if os.path.isdir(p):
            if is_output(os.path.join(p, "x")):
                continue
            for root, dirs, files in os.walk(p):
                dirs[:] = sorted(d for d in dirs if not d.startswith(".") and not d.endswith(".zarr")
                                 and not os.path.isfile(os.path.join(root, d, OUTPUT_MANIFEST)))
                out.extend(os.path.join(root, f) for f in sorted(files)
                           if os.path.splitext(f)[1].lower() in SUPPORTED_EXT
                           and not os.path.isfile(os.path.join(root, f + SIDECAR)))
        elif os.path.exists(p):
            if not is_output(p):
                out.append(p)
        else:
            raise SourceError(f"{p}: no such file or directory")
    return [os.path.abspath(f) for f in out]


def _kind(path: str) -> str:
    try:
        return sniff(path)
    except GeoshelfError:
        return ""


def dedupe(paths: Sequence[str], catalog: Catalog | None = None, *, threads: int = 4,
           progress: Callable[[int, int], None] | None = None, cache: HashCache | None = None) -> DedupeReport:
    """Group files under ``paths`` (and the catalog's files) by decoded content."""
    files = _walk(paths)
    owner: dict[str, str] = {}
    entry_files: dict[str, list[str]] = {}
    if catalog is not None:
        reps = {os.path.realpath(e.resolve(r.path)) for _, e in catalog.walk() for r in e.representations}
        files = [f for f in files if not any(f == r or f.startswith(r + os.sep) for r in reps)]
        for qname, entry in catalog.walk():
            if entry.format not in ("netcdf", "geotiff", "csv", "parquet"):
                continue
            try:
                ef = [os.path.abspath(f) for f in entry.source_files()]
            except GeoshelfError:
                continue
            entry_files[qname] = ef
            for f in ef:
                owner.setdefault(f, qname)
    all_files = sorted(set(files) | set(owner))
    cache = cache or HashCache()
    digests: dict[str, str] = {}
    errors: list[str] = []
    done = 0

    def one(f: str) -> tuple[str, str | None, str | None]:
        st = os.stat(f)
        hit = cache.get(f, st)
        if hit:
            return f, hit, None
        try:
            d = content_hash(f)
        except GeoshelfError as exc:
            return f, None, str(exc)
        return f, d, None

    with ThreadPoolExecutor(max_workers=threads) as pool:
        for f, d, err in pool.map(one, all_files):
            done += 1
            if err:
                errors.append(err)
            elif d:
                digests[f] = d
                cache.put(f, os.stat(f), d)
            if progress:
                progress(done, len(all_files))
    by_digest: dict[str, list[str]] = defaultdict(list)
    for f, d in digests.items():
        by_digest[d].append(f)
    groups = []
    for d, fs in sorted(by_digest.items(), key=lambda kv: sorted(kv[1])[0]):
        if len(fs) < 2:
            continue
        fs = sorted(fs)
        groups.append(Group(digest=d, files=fs, sizes=[os.path.getsize(f) for f in fs],
                            catalogued={f: owner[f] for f in fs if f in owner}, kinds={f: _kind(f) for f in fs}))
    # whole datasets: a directory's files, or an entry's files, all equal to another entry's
    datasets: list[DatasetDuplicate] = []
    entry_sigs = {q: sorted(digests.get(f, "") for f in ef) for q, ef in entry_files.items() if ef}
    candidates: dict[str, list[str]] = defaultdict(list)
    for f in files:
        candidates[os.path.dirname(f)].append(f)
    for q, ef in entry_files.items():
        candidates[f"entry {q}"] = ef
    for loc, fs in candidates.items():
        sig = sorted(digests.get(f, "") for f in fs)
        if "" in sig:
            continue
        for q, esig in entry_sigs.items():
            if loc == f"entry {q}" or set(fs) == set(entry_files[q]):
                continue
            if sig == esig:
                datasets.append(DatasetDuplicate(location=loc, duplicates_entry=q, files=len(fs),
                                                 bytes=sum(os.path.getsize(f) for f in fs)))
    return DedupeReport(groups=groups, datasets=datasets, errors=errors, files_scanned=len(all_files))
