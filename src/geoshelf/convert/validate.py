"""Comparing a converted output with its source before it is published.

Coordinates must be exactly equal, data values exactly equal (NaN == NaN) or within a
declared tolerance, and times decoded identically.  Data are compared block by block
along the first dimension so memory stays bounded.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import xarray as xr

from ..contract import Validation
from ..errors import ValidationError

#: Bytes of one comparison block per array.  Blocks run along the first (time) dimension; an
#: output chunked for time series (each chunk spans the whole time axis) is decompressed once
#: per block, so blocks are large (but bounded) rather than small.
BLOCK_BYTES = 256 * 2**20


def _values_equal(a: np.ndarray, b: np.ndarray, atol: float) -> tuple[bool, str]:
    if a.shape != b.shape:
        return False, f"shape {a.shape} != {b.shape}"
    if a.dtype.kind in "fc" or b.dtype.kind in "fc":
        a64, b64 = a.astype("f8"), b.astype("f8")
        nan_a, nan_b = np.isnan(a64), np.isnan(b64)
        if not np.array_equal(nan_a, nan_b):
            idx = np.argwhere(nan_a != nan_b)[0]
            return False, f"missing values differ at index {tuple(int(i) for i in idx)}"
        diff = np.abs(np.where(nan_a, 0, a64) - np.where(nan_b, 0, b64))
        bad = diff > atol
        if bad.any():
            idx = np.argwhere(bad)[0]
            return False, (f"value {a64[tuple(idx)]!r} != {b64[tuple(idx)]!r} at index "
                           f"{tuple(int(i) for i in idx)} (tolerance {atol})")
        return True, ""
    if not np.array_equal(a, b):
        diff = np.argwhere(a != b) if a.shape else [()]
        return False, f"values differ (first at {tuple(int(i) for i in diff[0]) if len(diff) else ()})"
    return True, ""


def compare_arrays(name: str, src: xr.DataArray, out: xr.DataArray, *, atol: float = 0.0,
                   sample: bool = False, seed: int = 0, where: str = "") -> None:
    """Compare two DataArrays block by block; raise :class:`ValidationError` on the first difference."""
    if src.dims != out.dims:
        raise ValidationError(f"{where}{name}: dims {src.dims} != {out.dims}")
    if src.shape != out.shape:
        raise ValidationError(f"{where}{name}: shape {src.shape} != {out.shape}")
    if src.ndim == 0 or src.size == 0:
        ok, why = _values_equal(np.asarray(src.values), np.asarray(out.values), atol)
        if not ok:
            raise ValidationError(f"{where}{name}: {why}")
        return
    dim = src.dims[0]
    row_bytes = max(1, src.size // src.shape[0]) * max(src.dtype.itemsize, 8)
    step = max(1, BLOCK_BYTES // row_bytes)
    starts = list(range(0, src.shape[0], step))
    if sample and len(starts) > 8:
        rng = np.random.default_rng(seed)
        starts = sorted({starts[0], starts[-1], *rng.choice(starts, size=6, replace=False).tolist()})
    for start in starts:
        sl = {dim: slice(start, start + step)}
        a = np.asarray(src.isel(sl).values)
        b = np.asarray(out.isel(sl).values)
        if a.dtype.kind == "M" or b.dtype.kind == "M" or a.dtype == object:
            if not np.array_equal(a, b):
                raise ValidationError(f"{where}{name}: decoded times differ in {dim}[{start}:{start + step}]")
            continue
        ok, why = _values_equal(a, b, atol)
        if not ok:
            raise ValidationError(f"{where}{name}: {why} in {dim}[{start}:{start + step}]")


def compare_datasets(src: xr.Dataset | xr.DataArray, out: xr.Dataset | xr.DataArray, *,
                     variables: list[str] | None = None, atol: float | dict[str, float] = 0.0,
                     sample: bool = False, where: str = "") -> Validation:
    """Compare a converted dataset with its source; return "full" or "sample".

    ``atol`` may be a per-variable mapping (for lossy codecs the user asked for).
    """
    if isinstance(src, xr.DataArray):
        src = src.to_dataset(name=src.name or "band_data")
    if isinstance(out, xr.DataArray):
        out = out.to_dataset(name=out.name or "band_data")
    for c in src.coords:
        if c == "spatial_ref":
            continue
        if c not in out.coords:
            raise ValidationError(f"{where}coordinate {c!r} is missing from the output")
        a, b = src[c].values, out[c].values
        if a.shape != b.shape or not (np.array_equal(a, b) if a.dtype.kind in "OMmUS" else
                                      np.array_equal(a, b, equal_nan=True)):
            raise ValidationError(f"{where}coordinate {c!r} differs between source and output")
    names = variables if variables is not None else [str(v) for v in src.data_vars if v != "spatial_ref"]
    for v in names:
        if v not in out:
            raise ValidationError(f"{where}variable {v!r} is missing from the output")
        tol = atol.get(v, 0.0) if isinstance(atol, dict) else atol
        compare_arrays(v, src[v], out[v], atol=tol, sample=sample, where=where)
    return "sample" if sample else "full"


def compare_file_samples(name: str, parts: Sequence[tuple[str, xr.Dataset]], out: xr.DataArray,
                         window: dict[str, int], *, n: int = 16, seed: int = 0, where: str = "") -> int:
    """Compare windows of single source files with the output, located by coordinate *values*.

    Independent of how the output was written: each sampled file (the first, the last and
    random others) is decoded on its own, a random ``window``-sized block of ``name`` is
    taken from it and the output block at the same coordinate labels (``.sel``) must hold
    the same decoded values.  Returns the number of blocks compared.
    """
    rng = np.random.default_rng(seed)
    having = [(f, p) for f, p in parts if name in p.variables]
    if not having:
        return 0
    middle = range(1, len(having) - 1)
    others = rng.choice(middle, size=min(max(n - 2, 0), len(middle)), replace=False).tolist() if len(middle) else []
    picks = sorted({0, len(having) - 1, *others})
    for i in picks:
        path, part = having[i]
        var = part[name]
        isel, sel = {}, {}
        for d in var.dims:
            size, length = var.sizes[d], min(window.get(str(d), var.sizes[d]), var.sizes[d])
            start = int(rng.integers(0, size - length + 1))
            isel[d] = slice(start, start + length)
            if d in part.indexes and d in out.indexes:
                if not out.indexes[d].is_unique and len(parts) == 1:
                    continue  # one file whose index repeats values: located by position, as it was written
                sel[d] = part.indexes[d][start:start + length]
        a = var.isel(isel)
        try:
            b = out.sel({d: v for d, v in sel.items()}).isel({d: s for d, s in isel.items() if d not in sel})
        except KeyError as exc:
            raise ValidationError(f"{where}{name}: coordinates of {path} are missing from the output: {exc}") from None
        ok, why = _values_equal(np.asarray(a.values), np.asarray(b.values), 0.0)
        if not ok:
            block = ", ".join(f"{d}={s.start}:{s.stop}" for d, s in isel.items())
            raise ValidationError(f"{where}{name}: output differs from {path} ({block}): {why}")
    return len(picks)


__all__: list[Any] = ["compare_arrays", "compare_datasets", "compare_file_samples"]
