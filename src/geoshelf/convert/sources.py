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
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import SourceError, one_line

#: HDF5's "undefined address": a contiguous dataset with no storage allocated (all fill value).
_UNDEFINED = 0xFFFFFFFFFFFFFFFF


@dataclass(frozen=True, kw_only=True)
class SourceVar:
    """One variable of one source file, as stored."""

    name: str
    dtype: np.dtype
    shape: tuple[int, ...]
    #: Chunk shape (the whole shape for contiguous storage).
    chunks: tuple[int, ...]
    #: Chunk-grid index -> (byte offset, byte length) in the file; absent chunks are fill.
    ranges: dict[tuple[int, ...], tuple[int, int]]
    #: Stored bytes of chunks kept inside the header (HDF5 compact storage) by chunk-grid index.
    inline: dict[tuple[int, ...], bytes] = field(default_factory=dict)
    #: Filters as the file declares them (write order): ((id, client data), ...); () if none.
    filters: tuple[tuple[int, tuple[int, ...]], ...] = ()
    #: Chunks stored with some filter skipped (HDF5 filter mask != 0): no Zarr codec can say so.
    masked: tuple[tuple[int, ...], ...] = ()
    #: Attributes decoded to plain Python / numpy values (bytes -> str, 1-element arrays -> scalars).
    attrs: dict[str, Any] = field(default_factory=dict)
    #: The stored type (numpy dtype string) of each numeric attribute: a float32 ``scale_factor``
    #: unpacks to float32, which ``attrs`` (plain Python values) no longer says.
    attr_types: dict[str, str] = field(default_factory=dict)
    #: The file's fill value for unwritten chunks (None if not declared).
    fill_value: Any = None
    #: The file (for :func:`read_region`) and how to read it ("netcdf4" or "netcdf3").
    path: str = ""
    kind: str = "netcdf4"
    #: Stored (packed, undecoded) values of small variables of at most one dimension (coordinates,
    #: scalars), read with the layout; None for the others (see :func:`read_region`).
    values: np.ndarray | None = field(default=None, compare=False)


@dataclass(frozen=True, kw_only=True)
class SourceFile:
    """The variables of one source file, by name (group paths joined with ``/``)."""

    path: str
    variables: dict[str, SourceVar]


def plain(value: Any) -> Any:
    """An attribute value as JSON would hold it: str for bytes, scalars for 1-element arrays."""
    if isinstance(value, (bytes, np.bytes_)):
        return bytes(value).decode("utf-8", "replace")
    if isinstance(value, np.ndarray):
        if value.dtype.kind in "SO" and value.size == 1:
            return plain(value.reshape(-1)[0])
        if value.size == 1:
            return value.reshape(-1)[0].item()
        return [plain(v) for v in value.tolist()]
    if isinstance(value, np.generic):
        return value.item()
    return value


#: Variables of at most one dimension and this many bytes keep their stored values (coordinates).
SMALL_BYTES = 1 << 20


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
        from .netcdf3 import read_netcdf3  # not at the top: netcdf3 imports this module

        return read_netcdf3(path)
    return read_hdf5(path, names)


def _read_batch(paths: list[str], kind: str) -> list[SourceFile]:
    return [read_source(p, kind) for p in paths]


def read_sources(paths: list[str], kind: str, *, tasks_per_thread: int = 4,
                 progress: Callable[[int], None] | None = None) -> list[SourceFile]:
    """:func:`read_source` of each file, in order: on the workers of an active dask.distributed client
    (a few files per task), otherwise one after the other here.  ``progress(n)``: ``n`` more files read."""
    import math

    from .base import dask_client  # not at the top: convert.base pulls in the convert package (a cycle)

    client = dask_client() if len(paths) > 1 else None
    if client is None:
        out = []
        for p in paths:
            out.append(read_source(p, kind))
            if progress is not None:
                progress(1)
        return out
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
        from .netcdf3 import read_netcdf3_region  # not at the top: netcdf3 imports this module

        return read_netcdf3_region(sv, region)
    h = _pyfive().File(sv.path)
    d = h[sv.name]
    return np.asarray(d[region] if region else d[()])


__all__ = ["SMALL_BYTES", "SourceFile", "SourceVar", "plain", "read_hdf5", "read_region", "read_source",
           "read_sources"]
