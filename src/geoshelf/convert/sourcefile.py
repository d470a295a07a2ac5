"""What a source file stores, as values: a :class:`SourceFile` of :class:`SourceVar` (per variable its
stored dtype, shape, chunk shape, filters, attributes and the byte range of every chunk).

The readers (:mod:`geoshelf.convert.sources` for HDF5, :mod:`geoshelf.convert.netcdf3`) build them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np


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


__all__ = ["SMALL_BYTES", "SourceFile", "SourceVar", "plain"]
