"""A small reader of NetCDF3 headers (classic and 64-bit offset): where each variable's bytes are.

kerchunk builds NetCDF3 references through scipy's reader; the reference check reads the
header itself, from the format specification
(https://docs.unidata.ucar.edu/netcdf-c/current/file_format_specifications.html):

* a fixed-size variable is one block of ``prod(shape) * itemsize`` bytes at its ``begin``;
* a record variable stores record ``i`` at ``begin + i * recsize``, where ``recsize`` is the
  sum of the record variables' ``vsize`` (padded to 4 bytes), except that a file with a
  single record variable does not pad it;
* data are big-endian and uncompressed.
"""

from __future__ import annotations

import struct
from typing import Any, BinaryIO

import numpy as np

from ..errors import SourceError
from .sourcefile import SMALL_BYTES, SourceFile, SourceVar

_TYPES = {1: ">i1", 2: "S1", 3: ">i2", 4: ">i4", 5: ">f4", 6: ">f8"}
_DIMENSION, _VARIABLE, _ATTRIBUTE = 10, 11, 12


class _Header:
    def __init__(self, f: BinaryIO, path: str) -> None:
        self.f, self.path = f, path
        magic = f.read(4)
        if magic[:3] != b"CDF" or magic[3] not in (1, 2):
            kind = "CDF5 (64-bit data)" if magic[:4] == b"CDF\x05" else "not NetCDF3 classic or 64-bit offset"
            raise SourceError(f"{path}: {kind}: references cannot be checked; convert with --to zarr instead")
        self.offset_size = 8 if magic[3] == 2 else 4

    def int32(self) -> int:
        return int(struct.unpack(">i", self.f.read(4))[0])

    def begin(self) -> int:
        return int(struct.unpack(">q" if self.offset_size == 8 else ">i", self.f.read(self.offset_size))[0])

    def name(self) -> str:
        n = self.int32()
        raw = self.f.read(n)
        self.f.read(-n % 4)
        return raw.decode("utf-8", "replace")

    def values(self, types: dict[str, str] | None = None, key: str = "") -> Any:
        """One attribute's value; its stored numeric type goes to ``types[key]``."""
        nc_type, n = self.int32(), self.int32()
        dtype = np.dtype(_TYPES.get(nc_type, "V1"))
        if nc_type not in _TYPES:
            raise SourceError(f"{self.path}: attribute of unknown NetCDF3 type {nc_type}")
        size = n * dtype.itemsize
        raw = self.f.read(size)
        self.f.read(-size % 4)
        if nc_type == 2:
            return raw.rstrip(b"\x00").decode("utf-8", "replace")
        arr = np.frombuffer(raw, dtype=dtype)
        if types is not None:
            types[key] = dtype.newbyteorder("=").str
        return arr[0].item() if n == 1 else arr.astype(dtype.newbyteorder("=")).tolist()

    def attributes(self, types: dict[str, str] | None = None) -> dict[str, Any]:
        tag, n = self.int32(), self.int32()
        if tag not in (0, _ATTRIBUTE):
            raise SourceError(f"{self.path}: malformed NetCDF3 header (attribute list)")
        out = {}
        for _ in range(n):
            key = self.name()
            out[key] = self.values(types, key)
        return out


def read_netcdf3(path: str) -> SourceFile:
    """The variables of a NetCDF3 file: byte ranges of each (record) chunk, attributes, small values."""
    try:
        with open(path, "rb") as f:
            h = _Header(f, path)
            numrecs = h.int32()
            tag, n = h.int32(), h.int32()
            if tag not in (0, _DIMENSION):
                raise SourceError(f"{path}: malformed NetCDF3 header (dimension list)")
            dims = [(h.name(), h.int32()) for _ in range(n)]
            h.attributes()  # global attributes
            tag, n = h.int32(), h.int32()
            if tag not in (0, _VARIABLE):
                raise SourceError(f"{path}: malformed NetCDF3 header (variable list)")
            raw_vars = []
            for _ in range(n):
                name = h.name()
                ids = [h.int32() for _ in range(h.int32())]
                types: dict[str, str] = {}
                attrs = h.attributes(types)
                nc_type, vsize, begin = h.int32(), h.int32(), h.begin()
                if nc_type not in _TYPES:
                    raise SourceError(f"{path}: variable {name!r} has unknown NetCDF3 type {nc_type}")
                raw_vars.append((name, ids, attrs, types, np.dtype(_TYPES[nc_type]), vsize, begin))
    except (struct.error, IndexError, UnicodeDecodeError) as exc:
        raise SourceError(f"{path}: truncated or malformed NetCDF3 header ({exc})") from None
    record = [v for v in raw_vars if v[1] and dims[v[1][0]][1] == 0]
    if len(record) == 1:
        _, ids, _, _, dtype, _, _ = record[0]
        recsize = dtype.itemsize * int(np.prod([dims[i][1] for i in ids[1:]], dtype=np.int64))
    else:
        recsize = sum(v[5] for v in record)
    out: dict[str, SourceVar] = {}
    for name, ids, attrs, types, dtype, _vsize, begin in raw_vars:
        is_record = bool(ids) and dims[ids[0]][1] == 0
        shape = tuple(numrecs if (j == 0 and is_record) else dims[i][1] for j, i in enumerate(ids))
        inner = int(np.prod(shape[1:] if is_record else shape, dtype=np.int64)) * dtype.itemsize
        if is_record:
            chunks = (1, *shape[1:])
            ranges = {(r, *(0,) * (len(shape) - 1)): (begin + r * recsize, inner) for r in range(numrecs)}
        else:
            chunks = shape
            ranges = {(0,) * len(shape): (begin, inner)} if inner else {}
        sv = SourceVar(name=name, dtype=dtype, shape=shape, chunks=chunks, ranges=ranges, attrs=attrs,
                       attr_types=types, fill_value=attrs.get("_FillValue"), path=path, kind="netcdf3")
        small = len(shape) <= 1 and dtype.itemsize * int(np.prod(shape, dtype=np.int64)) <= SMALL_BYTES
        out[name] = SourceVar(**{**sv.__dict__, "values": read_netcdf3_region(sv, ()) if small else None})
    return SourceFile(path=path, variables=out)


def read_netcdf3_region(sv: SourceVar, region: tuple[slice, ...]) -> np.ndarray:
    """Stored values of ``sv`` (a region of it, or all with ``()``), read by the header's offsets."""
    full = tuple(slice(0, s) for s in sv.shape) if not region else region
    is_record = sv.chunks != sv.shape and len(sv.shape) > 0
    with open(sv.path, "rb") as f:
        if not is_record:
            key = (0,) * len(sv.shape)
            if key not in sv.ranges:
                return np.full(sv.shape, sv.fill_value if sv.fill_value is not None else 0, sv.dtype)[full]
            off, size = sv.ranges[key]
            f.seek(off)
            arr = np.frombuffer(f.read(size), dtype=sv.dtype).reshape(sv.shape)
            return arr[full] if sv.shape else arr.reshape(())
        rows = []
        for r in range(full[0].start or 0, full[0].stop if full[0].stop is not None else sv.shape[0]):
            off, size = sv.ranges[(r, *(0,) * (len(sv.shape) - 1))]
            f.seek(off)
            rows.append(np.frombuffer(f.read(size), dtype=sv.dtype).reshape(sv.shape[1:])[full[1:]])
    return np.stack(rows) if rows else np.empty((0, *sv.shape[1:]), sv.dtype)[full[1:]]


__all__ = ["read_netcdf3", "read_netcdf3_region"]
