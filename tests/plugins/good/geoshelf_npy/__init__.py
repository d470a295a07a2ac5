"""A third-party geoshelf target, defined outside geoshelf: NetCDF -> a directory of ``.npy`` arrays.

``NAME.npy/`` holds one ``VARIABLE.npy`` per variable (decoded values, memory-mapped when read)
and ``dataset.json`` (dimensions, coordinates, attributes).  It uses only geoshelf's public
contract (``geoshelf.contract``) and loader (``Entry.to_dask``); its entry point
(``geoshelf.converters: npy``) is all geoshelf learns about it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import dask.array as da
import numpy as np
import xarray as xr

from geoshelf.catalog.model import Entry, Representation
from geoshelf.contract import Converter, Option, Plan, Validation
from geoshelf.errors import ConversionError, SourceError, ValidationError

INDEX = "dataset.json"


def _plain(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return value


def read_npy_dir(path: Path, chunks: Any = None) -> xr.Dataset:
    """The dataset stored at ``path``, lazily (memory-mapped arrays wrapped in dask)."""
    try:
        index = json.loads((path / INDEX).read_text())
    except (OSError, ValueError) as exc:
        raise SourceError(f"{path / INDEX}: cannot read the npy dataset index: {exc}") from None
    variables = {}
    for name, meta in index["variables"].items():
        arr = np.load(path / meta["file"], mmap_mode="r", allow_pickle=False)
        data = da.from_array(arr, chunks=chunks or "auto", name=f"npy-{path}-{name}") if arr.ndim else arr[()]
        variables[name] = xr.Variable(meta["dims"], data, meta["attrs"])
    coords = {n: variables.pop(n) for n in index["coords"]}
    return xr.Dataset(variables, coords=coords, attrs=index["attrs"])


class NpyConverter(Converter[None]):
    """NetCDF -> a directory of .npy arrays (decoded values) with a JSON index."""

    description = "a directory of .npy arrays (decoded values) and a JSON index (a test plugin)"
    formats = ("netcdf",)
    suffix = ".npy"
    options = (
        Option(name="float_dtype", choices=("keep", "float64"), default="keep",
               help="store floating-point variables as they decode (keep) or widened to float64"),
        Option(name="max_bytes", type=int, default=2**30, help="refuse sources larger than this many bytes"),
    )

    def plan(self, entry: Entry, options: Mapping[str, Any]) -> dict[str, Any]:
        out = super().plan(entry, options)
        if out["max_bytes"] <= 0:
            raise ConversionError(f"{entry.name}: max_bytes must be positive, not {out['max_bytes']}")
        if entry.bytes > out["max_bytes"]:
            raise ConversionError(f"{entry.name}: {entry.bytes} bytes of source, more than max_bytes="
                                  f"{out['max_bytes']}; use --to zarr")
        return out

    def _source(self, plan: Plan[None]) -> xr.Dataset:
        ds = plan.entry.to_dask(representation="original")
        if plan.options["float_dtype"] == "float64":
            ds = ds.map(lambda v: v.astype("float64") if v.dtype.kind == "f" else v, keep_attrs=True)
        return ds

    def write(self, plan: Plan[None], path: Path) -> None:
        ds = self._source(plan)
        path.mkdir(parents=True)
        index: dict[str, Any] = {"attrs": {k: _plain(v) for k, v in ds.attrs.items()},
                                 "coords": [str(c) for c in ds.coords], "variables": {}}
        for name, var in ds.variables.items():
            if var.dtype.kind in "OSU":
                raise ConversionError(f"{plan.files[0]}: variable {name!r} holds strings; .npy stores numbers only")
            np.save(path / f"{name}.npy", np.asarray(var.values), allow_pickle=False)
            index["variables"][str(name)] = {"file": f"{name}.npy", "dims": list(map(str, var.dims)),
                                             "attrs": {k: _plain(v) for k, v in var.attrs.items()}}
        (path / INDEX).write_text(json.dumps(index))

    def validate(self, plan: Plan[None], path: Path) -> Validation:
        try:
            xr.testing.assert_identical(read_npy_dir(path).load(), self._source(plan).load())
        except AssertionError as exc:
            raise ValidationError(f"{path.name}: differs from the source: {' '.join(str(exc).split())[:200]}") from None
        return "full"

    def open(self, entry: Entry, rep: Representation, chunks: Any = None, **kwargs: Any) -> Any:
        return read_npy_dir(Path(entry.resolve(rep.path)), chunks=chunks)
