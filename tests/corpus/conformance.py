"""The conformance run over the real-data corpus: one file, every step a user takes.

For one corpus file: ``add`` it to a fresh catalog, open it with ``to_dask()`` and compare
with xarray / rioxarray / cfgrib opening the file directly; then for every target convert,
reopen the representation and compare values, coordinates and CF attributes with the direct
open; ``lint`` the catalog afterwards; the source directory must be unchanged (no index or
sidecar files written beside the data).  Each cell is ``ok``, ``refused: <message>`` (a
:class:`GeoshelfError`: one line) or ``FAIL: <what went wrong>``.

Used by tests/corpus/test_corpus_conformance.py (per file, against the manifest's ``expect``) and by
scripts/conformance.py (the whole table, written to docs/conformance.md).
"""

from __future__ import annotations

import math
import os
import re
import shutil
import tempfile
import traceback
import warnings
from pathlib import Path
from typing import Any

import numpy as np

TARGETS = ("zarr", "references", "cog", "parquet")
STEPS = ("add", "open", *TARGETS, "lint")
CF_ATTRS = ("units", "standard_name", "long_name", "calendar")
#: Entries built from several corpus files (a collection split per time step).
ROOT = Path(__file__).resolve().parents[2]


def corpus_root() -> Path:
    return Path(os.environ.get("GEOSHELF_CORPUS") or Path.home() / ".cache" / "geoshelf" / "corpus").expanduser()


def load_manifest() -> dict[str, Any]:
    from ruamel.yaml import YAML

    return YAML(typ="safe").load((ROOT / "tests" / "corpus" / "manifest.yaml").read_text())


def direct_open(paths: list[str], kind: str) -> Any:
    """The file(s) opened the way a user would without geoshelf (the reference)."""
    import xarray as xr

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if kind == "geotiff":  # as stock intake opens it: a Dataset of band_data, nodata masked
            return xr.open_dataset(paths[0], engine="rasterio")
        if kind == "grib":
            import pyproj  # noqa: F401 - before ecCodes (see geoshelf.load.grib)

            return xr.open_dataset(paths[0], engine="cfgrib", backend_kwargs={"indexpath": ""}, decode_timedelta=True)
        if len(paths) > 1:
            return xr.open_mfdataset(paths, combine="by_coords", data_vars="minimal", coords="minimal",
                                     compat="override")
        return xr.open_dataset(paths[0])


def _as_ds(obj: Any) -> Any:
    import xarray as xr

    if isinstance(obj, xr.DataArray):
        return obj.to_dataset(name=obj.name or "band_data")
    return obj


def _equal(a: np.ndarray, b: np.ndarray) -> bool:
    if a.shape != b.shape:
        return False
    if a.dtype.kind in "fc" and b.dtype.kind in "fc":
        return bool(np.array_equal(a.astype("f8"), b.astype("f8"), equal_nan=True))
    if a.dtype.kind == "M" and b.dtype.kind == "M":
        return bool(np.array_equal(a.astype("M8[ns]"), b.astype("M8[ns]"), equal_nan=True))
    if a.dtype.kind == "m" and b.dtype.kind == "m":
        return bool(np.array_equal(a.astype("m8[ns]"), b.astype("m8[ns]"), equal_nan=True))
    if a.dtype.kind == "O" or b.dtype.kind == "O":  # e.g. masked characters: bytes mixed with NaN
        return all(_same_item(x, y) for x, y in zip(a.ravel().tolist(), b.ravel().tolist(), strict=True))
    try:
        return bool(np.array_equal(a, b))
    except TypeError:
        return a.tolist() == b.tolist()


def _same_item(x: Any, y: Any) -> bool:
    if isinstance(x, float) and isinstance(y, float) and math.isnan(x) and math.isnan(y):
        return True  # both NaN
    if hasattr(x, "calendar") or hasattr(y, "calendar"):  # cftime dates: of the same calendar too
        return type(x) is type(y) and bool(x == y)
    return bool(x == y)


def compare(ref: Any, got: Any, *, what: str, raster: bool = False) -> str | None:
    """None when ``got`` holds the reference's variables, coordinates, values and CF attributes."""
    ref, got = _as_ds(ref), _as_ds(got)
    if raster and set(got.data_vars) != set(ref.data_vars) and len(got.data_vars) == len(ref.data_vars) == 1:
        got = got.rename({next(iter(got.data_vars)): next(iter(ref.data_vars))})
    for name in ref.variables:
        if name == "spatial_ref":
            continue
        if name not in got.variables:
            return f"{what}: {name!r} is missing"
        a, b = ref[name], got[name]
        if a.dims != b.dims:
            return f"{what}: {name!r} has dims {b.dims}, expected {a.dims}"
        if not _equal(np.asarray(a.values), np.asarray(b.values)):
            return f"{what}: values of {name!r} differ"
        for key in CF_ATTRS:
            if key in a.attrs and str(a.attrs.get(key)) != str(b.attrs.get(key)):
                return f"{what}: attribute {key!r} of {name!r} is {b.attrs.get(key)!r}, expected {a.attrs.get(key)!r}"
    return None


def compare_cog(ref: Any, got: Any, variable: str) -> str | None:
    """A NetCDF->COG representation (time, y, x float32 north-up) against the source variable."""
    from geoshelf.convert.cog import X_NAMES, Y_NAMES

    src = _as_ds(ref)[variable]
    ydim = next((d for d in src.dims if d in Y_NAMES), None)
    xdim = next((d for d in src.dims if d in X_NAMES), None)
    extra = [d for d in src.dims if d not in ("time", ydim, xdim)]
    if extra or ydim is None or xdim is None:
        return None  # a level was chosen: compared by the target's own validation
    if "time" not in src.dims:
        src = src.expand_dims(time=np.array(["NaT"], dtype="datetime64[ns]"))
    src = src.transpose("time", ydim, xdim)
    a = src.astype("float32").values
    if src[ydim].size > 1 and src[ydim].values[0] < src[ydim].values[-1]:
        a = a[:, ::-1]
    b = np.asarray((got[variable] if hasattr(got, "data_vars") else got).values)
    if not _equal(a, b):
        return f"cog: values of {variable!r} differ"
    return None


def _tree(path: Path) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(path)): (p.stat().st_size, p.stat().st_mtime_ns) for p in path.rglob("*")}


def run_file(paths: list[str], kind: str, name: str, work: Path, targets: tuple[str, ...] = TARGETS,
             options: dict[str, dict[str, Any]] | None = None) -> dict[str, str]:
    """Every step for one corpus file (or collection); returns step -> outcome."""
    import xarray as xr

    from geoshelf.catalog import Catalog, add_entry
    from geoshelf.catalog.lint import lint
    from geoshelf.convert import convert_entry
    from geoshelf.errors import GeoshelfError
    from geoshelf.load import open_entry
    from geoshelf.registry import get_target
    from geoshelf.scan import scan

    src_dir = work / "data"
    src_dir.mkdir(parents=True)
    local = []
    for p in paths:
        dst = src_dir / Path(p).name
        shutil.copyfile(p, dst)
        local.append(str(dst))
    before = _tree(src_dir)
    cat_path = work / "catalog.yaml"
    out: dict[str, str] = {}

    def attempt(step: str, fn: Any) -> Any:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                result = fn()
            out[step] = "ok"
            return result
        except GeoshelfError as exc:
            msg = str(exc)
            out[step] = "FAIL: multi-line refusal: " + msg if "\n" in msg else "refused: " + msg
        except Exception as exc:  # noqa: BLE001 - a crash is the finding
            tb = traceback.extract_tb(exc.__traceback__)[-1]
            out[step] = (f"FAIL: {type(exc).__name__}: {' '.join(str(exc).split())[:200]} "
                         f"({Path(tb.filename).name}:{tb.lineno})")
        return None

    entry = attempt("add", lambda: scan(local, name, catalog_dir=str(work)))
    if entry is None:
        for step in STEPS[1:]:
            out[step] = "-"
        return out
    add_entry(cat_path, entry)
    try:
        ref = direct_open(local, kind)
    except Exception as exc:  # noqa: BLE001
        out["open"] = f"FAIL: the reference reader cannot open it: {exc}"
        ref = None

    def check_open() -> None:
        got = Catalog(cat_path)[name].to_dask()
        problem = compare(ref, got, what="to_dask()", raster=kind == "geotiff")
        if problem:
            raise AssertionError(problem)

    if ref is not None:
        attempt("open", check_open)
    for target in targets:
        opts = dict((options or {}).get(target, {}))

        def convert_and_check(target: str = target, opts: dict[str, Any] = opts) -> None:
            e = Catalog(cat_path)[name]
            output = work / "shelf" / get_target(target).output_name(e, opts)  # the target's own naming
            convert_entry(e, target, catalog_path=cat_path, output=str(output), **opts)
            e = Catalog(cat_path)[name]
            got = open_entry(e, representation=target)
            if ref is None:
                return
            if opts.get("variables"):
                ref_vars = ref[list(opts["variables"])]  # only those were asked for
            else:
                ref_vars = ref
            if target == "cog" and kind != "geotiff":
                variable = e.representation("cog").provenance.parameters.get("variable")
                problem = compare_cog(ref, got, variable)
            else:
                problem = compare(ref_vars, got, what=target, raster=kind == "geotiff")
            if problem:
                raise AssertionError(problem)

        attempt(target, convert_and_check)
        refusal = out[target]
        named = OPTION_WAY_OUT.findall(refusal) if refusal.startswith("refused") else []
        if named and not any("VALUE" in v for _, v in named):  # a concrete way out: run it
            extra = get_target(target).parse_options({k: v.rstrip(".;,") for k, v in named})
            attempt(target, lambda t=target, o={**opts, **extra}: convert_and_check(t, o))
            out[target] = (f"{refusal} [way out ran: ok]" if out[target] == "ok"
                           else f"FAIL: the way out of '{refusal}' does not work: {out[target]}")
    problems = [p for p in lint(cat_path) if p.level == "error"]
    out["lint"] = "ok" if not problems else f"FAIL: lint: {problems[0]}"
    after = _tree(src_dir)
    if after != before:
        changed = sorted(set(after) ^ set(before)) or sorted(k for k in after if after[k] != before.get(k))
        out["lint"] = f"FAIL: the source directory changed: {', '.join(changed)[:200]}"
    xr.set_options(file_cache_maxsize=128)
    return out


WAY_OUT = re.compile(r"--to (\w+)")
#: A refusal naming target options to use (``--option NAME=VALUE``): the runner runs that way out.
OPTION_WAY_OUT = re.compile(r"--option (\w+)=(\S+)")


def ways_out(row: dict[str, str]) -> list[str]:
    """Problems with the refusals of one row: a refusal that names a target that refuses too."""
    bad = []
    for step, cell in row.items():
        if not cell.startswith("refused"):
            continue
        for target in WAY_OUT.findall(cell):
            if target in row and target != step and not row[target].startswith("ok") \
                    and "[way out ran: ok]" not in row[target]:
                bad.append(f"{step}: names --to {target}, which is {row[target].split(':')[0]}")
    return bad


def run_in_tmp(paths: list[str], kind: str, name: str, **kw: Any) -> dict[str, str]:
    with tempfile.TemporaryDirectory(prefix="geoshelf-conformance-") as tmp:
        return run_file(paths, kind, name, Path(tmp), **kw)
