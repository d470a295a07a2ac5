"""Where a source file stores each variable, read by readers other than kerchunk's.

kerchunk finds the chunks of a NetCDF4/HDF5 file through h5py's chunk index; the reference
check (:mod:`geoshelf.convert.refcheck`) asks someone else: pyfive, a pure-Python HDF5
reader, for NetCDF4/HDF5, and :mod:`geoshelf.convert.netcdf3`'s own header parser for
NetCDF3.  Each file becomes a :class:`SourceFile` of :class:`SourceVar` values: per
variable its stored dtype, shape, chunk shape, filters, attributes, and the byte range of
every chunk (keyed by chunk-grid index, as Zarr keys them).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import Any

import numpy as np

from ..errors import SourceError, one_line
from .base import dask_client
from .netcdf3 import read_netcdf3, read_netcdf3_region
from .sourcefile import SMALL_BYTES, SourceFile, SourceVar, plain

#: HDF5's "undefined address": a contiguous dataset with no storage allocated (all fill value).
_UNDEFINED = 0xFFFFFFFFFFFFFFFF


def _hdf5_var(path: str, name: str, d: Any) -> SourceVar:
    did = d.id
    shape = tuple(int(s) for s in d.shape)
    filters = tuple((int(f["filter_id"]), tuple(int(c) for c in f.get("client_data", ()))) for f in
                    (did.filter_pipeline or []))
    ranges: dict[tuple[int, ...], tuple[int, int]] = {}
    inline: dict[tuple[int, ...], bytes] = {}
    masked: list[tuple[int, ...]] = []
    layout = did.layout_class
    if layout == 2:
        chunks = tuple(int(c) for c in d.chunks)
        for coord, info in did.index.items():
            key = tuple(int(c) // k for c, k in zip(coord, chunks, strict=True))
            ranges[key] = (int(info.byte_offset), int(info.size))
            if info.filter_mask:
                masked.append(key)
    else:
        chunks = shape
        key = (0,) * len(shape)
        if layout == 1:
            if did.data_offset != _UNDEFINED:
                ranges[key] = (int(did.data_offset), int(np.dtype(d.dtype).itemsize * int(np.prod(shape))))
        else:  # compact: the data live in the header
            inline[key] = np.ascontiguousarray(d[()]).tobytes()
    raw_attrs = {k: v for k, v in d.attrs.items() if k not in ("DIMENSION_LIST", "REFERENCE_LIST")}
    attrs = {k: plain(v) for k, v in raw_attrs.items()}
    types = {k: np.asarray(v).dtype.str for k, v in raw_attrs.items()
             if isinstance(v, np.ndarray | np.generic) and np.asarray(v).dtype.kind in "iuf"}
    fill = d.fillvalue
    dtype = np.dtype(d.dtype)
    small = len(shape) <= 1 and dtype.itemsize * int(np.prod(shape)) <= SMALL_BYTES
    return SourceVar(name=name, dtype=dtype, shape=shape, chunks=chunks, ranges=ranges, inline=inline,
                     filters=filters, masked=tuple(masked), attrs=attrs, attr_types=types,
                     fill_value=None if fill is None else plain(np.asarray(fill)), path=path,
                     values=np.asarray(d[()]) if small else None)


@functools.lru_cache(maxsize=1)
def _pyfive() -> Any:
    # deferred: pyfive costs ~0.3 s at `convert --help`; only the reference check reads HDF5 with it
    import pyfive
    import pyfive.h5d

    # pyfive 1.3 looks its own version up (importlib.metadata, ~3 ms) for a log line every time it
    # builds a chunk index: half its cost per file here; the answer never changes in a process
    if hasattr(pyfive.h5d, "version"):
        pyfive.h5d.version = functools.lru_cache(maxsize=None)(pyfive.h5d.version)
    return pyfive


def read_hdf5(path: str, names: set[str] | None = None) -> SourceFile:
    """The variables of a NetCDF4/HDF5 file, read with pyfive (not h5py, which kerchunk uses)."""
    pyfive = _pyfive()

    try:
        h = pyfive.File(path)
    except Exception as exc:  # noqa: BLE001 - a corrupt file raises anything
        raise SourceError(f"{path}: cannot read as HDF5 (pyfive): {one_line(exc, 200)}") from None
    out: dict[str, SourceVar] = {}

    def walk(group: Any, prefix: str) -> None:
        for key in group:
            full = f"{prefix}{key}"
            if names is not None and full not in names and not any(n.startswith(full + "/") for n in names):
                continue
            obj = group[key]
            if isinstance(obj, pyfive.Group):
                walk(obj, full + "/")
            elif isinstance(obj, pyfive.Dataset):
                try:
                    out[full] = _hdf5_var(path, full, obj)
                except Exception as exc:  # noqa: BLE001
                    raise SourceError(f"{path}: variable {full!r}: cannot read its layout (pyfive): "
                                      f"{one_line(exc, 200)}") from None

    walk(h, "")
    return SourceFile(path=path, variables=out)


def read_source(path: str, kind: str, names: set[str] | None = None) -> SourceFile:
    """A source file's variables through the reader for its kind ("netcdf4" or "netcdf3")."""
    if kind == "netcdf3":
        return read_netcdf3(path)
    return read_hdf5(path, names)


def _read_batch(paths: list[str], kind: str) -> list[SourceFile]:
    return [read_source(p, kind) for p in paths]


def read_sources(paths: list[str], kind: str, *, tasks_per_thread: int = 4,
                 progress: Callable[[int], None] | None = None) -> list[SourceFile]:
    """:func:`read_source` of each file, in order: on the workers of an active dask.distributed client
    (a few files per task), otherwise one after the other here.  ``progress(n)``: ``n`` more files read."""
    client = dask_client() if len(paths) > 1 else None
    if client is None:
        out = []
        for p in paths:
            out.append(read_source(p, kind))
            if progress is not None:
                progress(1)
        return out
    # deferred: distributed costs ~0.4 s; only a run on a dask.distributed client needs it
    from distributed import as_completed

    threads = sum(client.nthreads().values()) or 1
    size = max(1, math.ceil(len(paths) / (threads * tasks_per_thread)))
    futures = client.map(_read_batch, [paths[i:i + size] for i in range(0, len(paths), size)], kind=kind, pure=False)
    try:
        done: dict[str, list[SourceFile]] = {}
        for fut, batch in as_completed(futures, with_results=True):
            done[fut.key] = batch
            if progress is not None:
                progress(len(batch))
        return [s for f in futures for s in done[f.key]]
    finally:
        for f in futures:
            f.release()


def read_region(sv: SourceVar, region: tuple[slice, ...]) -> np.ndarray:
    """Stored (packed) values of a region of ``sv``, read again from its file by the same reader."""
    if sv.kind == "netcdf3":
        return read_netcdf3_region(sv, region)
    h = _pyfive().File(sv.path)
    d = h[sv.name]
    return np.asarray(d[region] if region else d[()])


__all__ = ["SMALL_BYTES", "SourceFile", "SourceVar", "plain", "read_hdf5", "read_region", "read_source",
           "read_sources"]
