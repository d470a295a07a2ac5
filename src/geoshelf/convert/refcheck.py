"""Validating kerchunk references at the cost of their metadata, not of the data.

A reference store holds no data: it names byte ranges of the source files and the codecs
that decode them.  It is right when every range is the source's and the codecs decode the
bytes as the source's reader does, so values need not be read in full.  Checked here with
readers other than kerchunk's (:mod:`geoshelf.convert.sources`: pyfive for HDF5, our own
NetCDF3 header parser), for every variable of every file:

* every chunk the reference names: file, offset and length equal the source's chunk index;
  every chunk the source stores is referenced, and no other; inlined chunks equal the
  source's stored bytes; no chunk has an HDF5 filter skipped (a filter mask Zarr cannot say);
* dtype, shape, chunk shape, packing (``scale_factor``, ``add_offset``), fill and missing
  values, as xarray reads them from the reference, equal the source's attributes; a ``float32``
  scale factor or offset is refused (it unpacks to float32; a JSON number unpacks to float64);
* codecs: one chunk per variable and per distinct filter pipeline among the files (and in
  the first and the last file) is decoded through both paths, the reference's Zarr codecs
  and the source reader's own filters, and must be identical;
* coordinates decode exactly as the sources' do: the concatenation coordinate (time) file by
  file with each file's own CF units, each file's steps at the place the reference puts them;
  the other coordinates equal the first file's decoded values and the other files' stored
  bytes; scalar coordinates stacked along time equal each file's value.
"""

from __future__ import annotations

import base64
import json
import math
import os
from collections.abc import Mapping
from typing import Any

import numpy as np
import xarray as xr
from xarray.conventions import decode_cf_variable

from ..contract import Validation
from ..errors import ValidationError, one_line
from .packing import json_exact_packing
from .sources import SourceFile, SourceVar, plain, read_region, read_sources

#: Attributes that change decoded values; the reference must say what the source says.
PACKING = ("scale_factor", "add_offset", "_FillValue", "missing_value", "_Unsigned")
#: Attributes xarray's CF decoding reads (for decoding coordinates of the sources).
_DECODE = (*PACKING, "units", "calendar")


def _load(value: Any) -> Any:
    if isinstance(value, (bytes, str)):
        return json.loads(value)
    return value


def variables(refs: Mapping[str, Any]) -> dict[str, tuple[dict[str, Any], dict[str, Any]]]:
    """variable -> (.zarray, .zattrs) of a reference set."""
    out = {}
    for key in list(refs):
        if key.endswith("/.zarray"):
            name = key[: -len("/.zarray")]
            attrs_key = f"{name}/.zattrs"
            out[name] = (_load(refs[key]), _load(refs[attrs_key]) if attrs_key in refs else {})
    return out


def _chunk_refs(keys: list[str], names: set[str]) -> dict[str, list[str]]:
    by_var: dict[str, list[str]] = {n: [] for n in names}
    for key in keys:
        name, _, tail = key.rpartition("/")
        if name in by_var and tail and not tail.startswith("."):
            by_var[name].append(key)
    return by_var


def _index(tail: str, sep: str) -> tuple[int, ...]:
    return tuple(int(i) for i in tail.split(sep)) if tail else ()


def _path(url: str) -> str:
    url = url.removeprefix("file://")
    return os.path.normpath(url)


def _inline_bytes(value: str | bytes) -> bytes:
    if isinstance(value, bytes):
        return value
    if value.startswith("base64:"):
        return base64.b64decode(value[len("base64:"):])
    return value.encode()


def _read_range(path: str, offset: int, size: int) -> bytes:
    with open(path, "rb") as f:
        f.seek(offset)
        return f.read(size)


def _same(a: Any, b: Any) -> bool:
    a, b = plain(a), plain(b)
    if isinstance(a, float) and isinstance(b, float):
        return a == b or (math.isnan(a) and math.isnan(b))
    if isinstance(a, float) and isinstance(b, int) or isinstance(a, int) and isinstance(b, float):
        return float(a) == float(b)
    return bool(a == b)


def _masked(dtype: np.dtype, *values: Any) -> set[float | str]:
    """The stored values that xarray masks as missing, given _FillValue and missing_value.

    NaN is left out for floats: masking NaN to NaN changes nothing, so a float stored without a
    fill value and one with a NaN fill decode the same.
    """
    out: set[float | str] = set()
    for v in values:
        for x in (plain(v) if isinstance(plain(v), list) else [plain(v)]):
            if x is None:
                continue
            if isinstance(x, str):
                x = float(x) if x.lower() in ("nan", "inf", "-inf") else x
            if isinstance(x, (int, float)) and not isinstance(x, bool):
                if math.isnan(x):
                    if dtype.kind != "f":
                        out.add("nan")
                    continue
                out.add(float(x))
            else:
                out.add(str(x))
    return out


def _decoded(name: str, sv: SourceVar, raw: np.ndarray) -> np.ndarray:
    """Values of a source variable as xarray decodes them when it opens the file."""
    attrs = {k: v for k, v in sv.attrs.items() if k in _DECODE}
    var = xr.Variable(tuple(f"_d{i}" for i in range(raw.ndim)), raw, attrs)
    return np.asarray(decode_cf_variable(name, var).values)


def _equal(a: np.ndarray, b: np.ndarray) -> bool:
    if a.shape != b.shape:
        return False
    if a.dtype.kind in "fc" and b.dtype.kind in "fc":
        return bool(np.array_equal(a, b, equal_nan=True))
    if a.dtype.kind == "M" and b.dtype.kind == "M":
        return bool(np.array_equal(a.astype("M8[ns]"), b.astype("M8[ns]"), equal_nan=True))
    return bool(np.array_equal(a, b))


def _decode_ref(raw: bytes, zarray: dict[str, Any]) -> np.ndarray:
    # deferred: numcodecs costs ~0.17 s at `convert --help`; only a chunk check needs it
    from numcodecs import get_codec

    buf: Any = raw
    if zarray.get("compressor"):
        buf = get_codec(zarray["compressor"]).decode(buf)
    for f in reversed(zarray.get("filters") or []):
        buf = get_codec(f).decode(buf)
    raw = bytes(buf) if not isinstance(buf, np.ndarray) else buf.tobytes()
    arr = np.frombuffer(raw, dtype=np.dtype(zarray["dtype"]))
    chunks = tuple(zarray["chunks"])
    return arr.reshape(chunks, order=zarray.get("order", "C"))


class _Check:
    """One reference set against its source files (see the module docstring)."""

    def __init__(self, refs: Mapping[str, Any], files: list[str], out: xr.Dataset, *, concat_dim: str,
                 kind: str, where: str, sources: list[SourceFile] | None = None) -> None:
        self.refs, self.files, self.out, self.dim, self.where = refs, files, out, concat_dim, where
        self.meta = variables(refs)
        self.keys = _chunk_refs(list(refs), set(self.meta))
        self.sources: list[SourceFile] = sources if sources is not None else read_sources(files, kind)
        self.norm = {_path(f): i for i, f in enumerate(files)}

    def fail(self, msg: str) -> ValidationError:
        return ValidationError(f"{self.where}{msg}")

    # -- per variable -------------------------------------------------------------------------

    def run(self) -> None:
        first = self.sources[0]
        missing = sorted(n for n, v in first.variables.items() if n not in self.meta and _is_variable(v))
        if missing:
            raise self.fail(f"variable {missing[0]!r} of {first.path} is missing from the references")
        starts = self.positions()
        for name, (zarray, zattrs) in self.meta.items():
            dims = list(zattrs.get("_ARRAY_DIMENSIONS", []))
            svs = []
            for s in self.sources:
                sv = s.variables.get(name)
                if sv is None:
                    raise self.fail(f"{s.path}: has no variable {name!r}, which the references name")
                svs.append(sv)
            if name == self.dim and len(self.files) > 1:
                continue  # kerchunk rewrote it (cf:time); checked decoded in positions()
            self.attributes(name, zarray, svs)
            if self.dim not in dims and len(self.files) > 1 and name not in self.out.coords:
                self.same_in_every_file(name, svs)
            if self.inlined_whole(name, zarray, dims, svs):
                continue
            expected = self.expected(name, zarray, dims, svs, starts)
            self.chunks(name, zarray, expected)
            self.codecs(name, zarray, dims, svs, starts)
        self.coordinates(starts)

    def inlined_whole(self, name: str, zarray: dict[str, Any], dims: list[str], svs: list[SourceVar]) -> bool:
        """A small array kerchunk re-encoded into one inlined chunk (its own codec): its decoded stored values
        must equal the first file's."""
        keys = self.keys[name]
        if len(keys) != 1 or isinstance(self.refs[keys[0]], (list, tuple)) or \
                list(zarray["chunks"]) != list(zarray["shape"]) or (self.dim in dims and len(self.files) > 1):
            return False
        sv = svs[0]
        if tuple(zarray["shape"]) != sv.shape:
            raise self.fail(f"{name}: references say shape {tuple(zarray['shape'])} but {sv.path} stores {sv.shape}")
        try:
            got = _decode_ref(_inline_bytes(self.refs[keys[0]]), zarray)
        except Exception as exc:  # noqa: BLE001
            raise self.fail(f"{name}: its inlined data cannot be decoded: {one_line(exc, 160)}") from None
        if not _equal(got.astype(got.dtype.newbyteorder("=")), stored_values(sv).astype(sv.dtype.newbyteorder("="))):
            raise self.fail(f"{name}: inlined data differ from what {sv.path} stores")
        return True

    def same_in_every_file(self, name: str, svs: list[SourceVar]) -> None:
        """A variable without the time dimension is taken from the first file: the others must hold the same."""
        first = svs[0]
        for sv in svs[1:]:
            same = sv.shape == first.shape and _same_decoding(sv, first)
            if same and first.values is not None and sv.values is not None:
                same = _equal(sv.values, first.values)
            elif same:
                same = sv.ranges.keys() == first.ranges.keys() and sv.inline == first.inline and all(
                    _read_range(sv.path, *sv.ranges[k]) == _read_range(first.path, *first.ranges[k]) for k in sv.ranges)
            if not same:
                raise self.fail(f"{name}: {sv.path} holds other values than {first.path}, and the references keep "
                                "only the first file's (a variable without time is not combined); convert with "
                                "--to zarr instead")

    def attributes(self, name: str, zarray: dict[str, Any], svs: list[SourceVar]) -> None:
        dtype = np.dtype(zarray["dtype"])
        enc = self.out[name].encoding if name in self.out.variables else {}
        att = self.out[name].attrs if name in self.out.variables else {}
        for sv, path in zip(svs, self.files, strict=True):
            if sv.dtype != dtype:
                raise self.fail(f"{name}: references say dtype {dtype.str} but {path} stores {sv.dtype.str}")
            if sv.masked:
                raise self.fail(f"{path}: {name}: chunk {sv.masked[0]} is stored with a filter skipped (HDF5 filter "
                                "mask), which no Zarr codec can express; convert with --to zarr instead")
            typed: dict[str, Any] = {k: np.asarray(sv.attrs[k], dtype=sv.attr_types[k])
                                     for k in ("scale_factor", "add_offset")
                                     if sv.attrs.get(k) is not None and k in sv.attr_types}
            if not json_exact_packing(sv.dtype, typed):
                kinds = ", ".join(f"{k} {v.dtype.name}" for k, v in typed.items())
                raise self.fail(f"{path}: {name}: its packing ({kinds}) unpacks in float32, and the references "
                                "hold it as JSON numbers, which unpack in float64 (other values)")  # + way_out
            for key in ("scale_factor", "add_offset", "_Unsigned"):
                ref = enc.get(key, att.get(key))
                src = sv.attrs.get(key)
                if not ((src is None and ref is None) or (src is not None and ref is not None and _same(src, ref))):
                    raise self.fail(f"{name}: {key} is {plain(ref)!r} in the references but {src!r} in {path}")
            ref_masks = _masked(dtype, enc.get("_FillValue", att.get("_FillValue")),
                                enc.get("missing_value", att.get("missing_value")))
            src_masks = _masked(dtype, sv.attrs.get("_FillValue"), sv.attrs.get("missing_value"))
            if ref_masks != src_masks:
                raise self.fail(f"{name}: the references mask {sorted(ref_masks) or 'no values'} as missing, "
                                f"{path} masks {sorted(src_masks) or 'no values'} (_FillValue, missing_value); "
                                "convert with --to zarr instead")

    def positions(self) -> list[int]:
        """Where each file's steps start along the concatenation dimension (the time check)."""
        dim = self.dim
        if len(self.files) == 1 or dim not in self.meta:
            return [0] * len(self.files)
        got = np.asarray(self.out[dim].values)
        keyed = got.astype("M8[ns]").astype("i8").tolist() if got.dtype.kind == "M" else got.tolist()
        where_in = {v: i for i, v in enumerate(keyed)}
        starts, total = [], 0
        for s in self.sources:
            sv = s.variables[dim]
            mine = _decoded(dim, sv, stored_values(sv))
            if mine.size == 0:
                starts.append(0)
                continue
            first = mine.reshape(-1)[0]
            k = int(np.datetime64(first, "ns").astype("i8")) if mine.dtype.kind == "M" else (
                first.item() if isinstance(first, np.generic) else first)
            if k not in where_in:
                raise self.fail(f"{dim}: {first} of {s.path} (decoded with its own units "
                                f"{sv.attrs.get('units')!r}) is missing from the references")
            start = where_in[k]
            if not _equal(got[start:start + mine.size], mine.reshape(-1)):
                raise self.fail(f"{dim}: the references' {dim}[{start}:{start + mine.size}] differs from the decoded "
                                f"{dim} of {s.path} (units {sv.attrs.get('units')!r})")
            starts.append(start)
            total += mine.size
        if total != got.size:
            raise self.fail(f"{dim}: the references have {got.size} steps, the files {total}")
        return starts

    def expected(self, name: str, zarray: dict[str, Any], dims: list[str], svs: list[SourceVar],
                 starts: list[int]) -> dict[tuple[int, ...], tuple[int, SourceVar, tuple[int, ...]]]:
        """Chunk index in the reference -> (file number, source variable, chunk index in that file)."""
        shape, chunks = tuple(zarray["shape"]), tuple(zarray["chunks"])
        axis = dims.index(self.dim) if self.dim in dims and len(self.files) > 1 else None
        out: dict[tuple[int, ...], tuple[int, SourceVar, tuple[int, ...]]] = {}
        for i, sv in enumerate(svs):
            if axis is None and i > 0:
                break  # kerchunk takes variables without the time dimension from the first file
            stacked = axis is not None and len(sv.shape) == len(shape) - 1
            if stacked and axis is not None:
                if sv.shape != shape[:axis] + shape[axis + 1:]:
                    raise self.fail(f"{name}: {self.files[i]} stores shape {sv.shape}, not {shape} without {self.dim}")
            else:
                want = shape if axis is None else shape[:axis] + (sv.shape[axis],) + shape[axis + 1:]
                if sv.shape != want or sv.chunks != chunks:
                    raise self.fail(f"{name}: references say shape {shape}, chunks {chunks} but {self.files[i]} stores "
                                    f"shape {sv.shape}, chunks {sv.chunks}")
            local = set(sv.ranges) | set(sv.inline)
            for key in local:
                if axis is None:
                    out[key] = (i, sv, key)
                elif stacked:
                    out[key[:axis] + (starts[i] // chunks[axis],) + key[axis:]] = (i, sv, key)
                else:
                    if starts[i] % chunks[axis]:
                        raise self.fail(f"{name}: {self.files[i]} starts at {self.dim}={starts[i]}, inside a chunk of "
                                        f"{chunks[axis]} steps")
                    shifted = list(key)
                    shifted[axis] += starts[i] // chunks[axis]
                    out[tuple(shifted)] = (i, sv, key)
        return out

    def chunks(self, name: str, zarray: dict[str, Any], expected: dict[tuple[int, ...], Any]) -> None:
        sep = zarray.get("dimension_separator", ".")
        keys = self.keys[name]
        got = {_index(k.rpartition("/")[2], sep) if zarray["shape"] else (): k for k in keys}
        extra = sorted(set(got) - set(expected))
        if extra:
            raise self.fail(f"{name}: the references name chunk {extra[0]} that no source file stores")
        lost = sorted(set(expected) - set(got))
        if lost:
            i, _sv, _key = expected[lost[0]]
            raise self.fail(f"{name}: chunk {lost[0]} stored in {self.files[i]} is missing from the references")
        for idx, key in got.items():
            i, sv, local = expected[idx]
            value = self.refs[key]
            if isinstance(value, (list, tuple)):
                url = _path(str(value[0]))
                if self.norm.get(url) != i:
                    raise self.fail(f"{name}: chunk {idx} points at {value[0]}, but it is stored in {self.files[i]}")
                if len(value) < 3 or local not in sv.ranges:
                    raise self.fail(f"{name}: chunk {idx} names the whole of {value[0]}, not a byte range")
                off, size = int(value[1]), int(value[2])
                if (off, size) != sv.ranges[local]:
                    eo, es = sv.ranges[local]
                    raise self.fail(f"{name}: chunk {idx} points at bytes {off}+{size} of {self.files[i]}, but the "
                                    f"file stores it at {eo}+{es}")
            else:  # inlined: kerchunk may re-encode it, so compare what it decodes to
                try:
                    got_chunk = _decode_ref(_inline_bytes(value), zarray)
                except Exception as exc:  # noqa: BLE001
                    raise self.fail(f"{name}: inlined chunk {idx} cannot be decoded: "
                                    f"{one_line(exc, 160)}") from None
                region = tuple(slice(k * c, min((k + 1) * c, s)) for k, c, s in
                               zip(local, sv.chunks, sv.shape, strict=True))
                want = read_region(sv, region) if region else stored_values(sv)
                got_chunk = got_chunk.reshape(-1)[:1].reshape(()) if want.ndim < got_chunk.ndim and want.size == 1 \
                    else got_chunk[tuple(slice(0, r.stop - r.start) for r in region)]
                if not _equal(got_chunk.astype(got_chunk.dtype.newbyteorder("=")),
                              want.astype(want.dtype.newbyteorder("="))):
                    raise self.fail(f"{name}: inlined chunk {idx} differs from what {self.files[i]} stores")

    def codecs(self, name: str, zarray: dict[str, Any], dims: list[str], svs: list[SourceVar],
               starts: list[int]) -> None:
        """Decode one chunk through both paths per distinct filter pipeline (and in the first and last file)."""
        picks: dict[Any, int] = {}
        for i, sv in enumerate(svs):
            picks.setdefault(sv.filters, i)
        chosen = sorted({*picks.values(), 0, len(svs) - 1})
        shape, chunks = tuple(zarray["shape"]), tuple(zarray["chunks"])
        axis = dims.index(self.dim) if self.dim in dims and len(self.files) > 1 else None
        sep = zarray.get("dimension_separator", ".")
        for i in chosen:
            sv = svs[i]
            if axis is None and i > 0:
                break
            local = set(sv.ranges) | set(sv.inline)
            if not local:
                continue
            key = min(local, key=lambda k: (sv.ranges.get(k, (0, 0))[1], k))  # the smallest stored chunk
            stacked = axis is not None and len(sv.shape) == len(shape) - 1
            gkey = list(key)
            if stacked and axis is not None:
                gkey.insert(axis, starts[i] // chunks[axis])
            elif axis is not None:
                gkey[axis] += starts[i] // chunks[axis]
            ref_key = f"{name}/{sep.join(str(k) for k in gkey) or '0'}"
            value = self.refs[ref_key]
            raw = _read_range(self.files[i], int(value[1]), int(value[2])) if isinstance(value, (list, tuple)) \
                else _inline_bytes(value)
            try:
                via_ref = _decode_ref(raw, zarray)
            except Exception as exc:  # noqa: BLE001 - a wrong codec fails in its own way
                raise self.fail(f"{name}: chunk {tuple(gkey)} of {self.files[i]} cannot be decoded with the "
                                f"references' codecs: {one_line(exc, 160)}") from None
            region = tuple(slice(k * c, min((k + 1) * c, s)) for k, c, s in zip(key, sv.chunks, sv.shape, strict=True))
            via_src = read_region(sv, region)
            if stacked:
                via_ref = via_ref.reshape(-1)[:1].reshape(())
            else:
                via_ref = via_ref[tuple(slice(0, r.stop - r.start) for r in region)]
            same_dtype = via_ref.dtype.newbyteorder("=") == via_src.dtype.newbyteorder("=")
            if not same_dtype or not np.array_equal(via_ref, via_src, equal_nan=via_ref.dtype.kind in "fc"):
                raise self.fail(f"{name}: chunk {tuple(gkey)} of {self.files[i]} decodes differently through the "
                                "references' codecs than through the file's own filters")

    def coordinates(self, starts: list[int]) -> None:
        """Coordinates other than the concatenation one, decoded on both sides."""
        for name in self.out.coords:
            name = str(name)
            if name == self.dim and len(self.files) > 1 or name not in self.meta:
                continue
            got = np.asarray(self.out[name].values)
            first = self.sources[0].variables[name]
            dims = self.out[name].dims
            if self.dim in dims and len(first.shape) < len(dims) and len(self.files) > 1:  # stacked scalar
                for s, start in zip(self.sources, starts, strict=True):
                    sv = s.variables[name]
                    mine = _decoded(name, sv, stored_values(sv))
                    if not _equal(got[start:start + 1].reshape(mine.shape), mine):
                        raise self.fail(f"coordinate {name!r}: {got[start]} in the references, {mine} in {s.path}")
                continue
            mine = _decoded(name, first, stored_values(first))
            if not _equal(got, mine):
                raise self.fail(f"coordinate {name!r} differs between the references and {self.files[0]}")
            if self.dim in dims:
                continue
            for s in self.sources[1:]:  # the other files must store the same coordinate
                sv = s.variables[name]
                if not _same_decoding(sv, first) or \
                        not _equal(stored_values(sv), stored_values(first)):
                    raise self.fail(f"coordinate {name!r} of {s.path} differs from {self.files[0]}'s, which the "
                                    "references hold")


def _same_decoding(a: SourceVar, b: SourceVar) -> bool:
    """Whether two variables' attributes decode their stored values the same way."""
    for k in _DECODE:
        x, y = a.attrs.get(k), b.attrs.get(k)
        if (x is None) != (y is None) or (x is not None and not _same(x, y)):
            return False
    return True


def stored_values(sv: SourceVar) -> np.ndarray:
    """Stored values of a coordinate (kept by the reader when small, else read again)."""
    return sv.values if sv.values is not None else read_region(sv, (slice(None),) * len(sv.shape))


def _is_variable(sv: SourceVar) -> bool:
    """False for NetCDF4's dimension-only datasets (a dimension without a coordinate variable)."""
    return "not a netCDF variable" not in str(sv.attrs.get("NAME", ""))


def check_references(refs: Mapping[str, Any], files: list[str], out: xr.Dataset, *, concat_dim: str = "time",
                     kind: str = "netcdf4", where: str = "", sources: list[SourceFile] | None = None) -> Validation:
    """Check a reference set against its source files at metadata cost; raise ValidationError; return "metadata".

    ``refs`` maps reference keys to values (a JSON store's ``refs`` or a Parquet store's lazy
    mapper); ``out`` is the same references opened by xarray (what a user gets); ``sources``
    are the files as :func:`.sources.read_sources` reads them (read here when not given).
    """
    _Check(refs, files, out, concat_dim=concat_dim, kind=kind, where=where, sources=sources).run()
    return "metadata"


__all__ = ["PACKING", "check_references", "stored_values", "variables"]
