"""References to NetCDF3 files (classic, 64-bit offset) and to files with a scalar forecast ``step``."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from geoshelf import convert
from geoshelf.catalog import Catalog, add_entry
from geoshelf.convert.netcdf3 import read_netcdf3
from geoshelf.convert.refcheck import check_references
from geoshelf.convert.references import combine, single_refs
from geoshelf.errors import ValidationError
from geoshelf.load.references import open_references
from geoshelf.scan import scan


def _nc3_files(root: Path, fmt: str, n: int = 3, steps: int = 2) -> list[Path]:
    """Daily-ish NetCDF3 files: record (unlimited) time in "hours since <file start>", packed int16 with a
    fill value, a float field without one (NaNs), a fixed-size grid."""
    rng = np.random.default_rng(7)
    lat, lon = np.linspace(-45, 45, 7), np.linspace(0, 350, 36)
    root.mkdir(parents=True, exist_ok=True)
    out = []
    for i in range(n):
        start = pd.Timestamp("1999-12-31") + pd.Timedelta(hours=12 * steps * i)
        t = pd.date_range(start, periods=steps, freq="12h")
        slp = (101325 + 800 * rng.standard_normal((steps, lat.size, lon.size)))
        slp[0, 1, 1] = np.nan
        prate = rng.random((steps, lat.size, lon.size)).astype("f4")
        prate[-1, 0, :4] = np.nan
        ds = xr.Dataset({"slp": (("time", "lat", "lon"), slp, {"units": "Pa", "long_name": "sea level pressure"}),
                         "prate": (("time", "lat", "lon"), prate, {"units": "kg m-2 s-1"})},
                        coords={"time": t, "lat": ("lat", lat, {"units": "degrees_north"}),
                                "lon": ("lon", lon, {"units": "degrees_east"})})
        ds.time.encoding.update(units=f"hours since {start:%Y-%m-%d %H:%M:%S}", calendar="standard", dtype="f8")
        ds.slp.encoding.update(dtype="int16", scale_factor=0.5, add_offset=101325.0, _FillValue=np.int16(-32767))
        ds.prate.encoding.update(_FillValue=None)
        path = root / f"ncep_{i:02d}.nc"
        ds.to_netcdf(path, format=fmt, engine="scipy", unlimited_dims=["time"])
        out.append(path)
    return out


@pytest.mark.parametrize("fmt", ["NETCDF3_CLASSIC", "NETCDF3_64BIT"])
def test_netcdf3_references_are_checked_and_right(tmp_path: Path, fmt: str) -> None:
    files = _nc3_files(tmp_path / "data", fmt)
    cat = tmp_path / "c.yaml"
    add_entry(cat, scan([str(f) for f in files], "ncep", catalog_dir=str(tmp_path)))
    rep = convert("ncep", "references", catalog=cat, store="json")
    assert rep.provenance.validation == "metadata"
    got = Catalog(cat).ncep.to_dask(representation="references").load()
    expected = xr.open_mfdataset([str(f) for f in files], combine="by_coords", engine="scipy").load()
    xr.testing.assert_equal(got, expected)
    assert got.sizes["time"] == 6 and int(got.slp.isnull().sum()) == 3  # one NaN per file
    assert convert("ncep", "references", catalog=cat, store="json", validate="values",
                   output=tmp_path / "v.json").provenance.validation == "values"


def test_netcdf3_header_reader_agrees_with_scipy(tmp_path: Path) -> None:
    from scipy.io import netcdf_file

    for fmt in ("NETCDF3_CLASSIC", "NETCDF3_64BIT"):
        f = _nc3_files(tmp_path / fmt, fmt, n=1, steps=3)[0]
        mine = read_netcdf3(str(f))
        with netcdf_file(f, mmap=False, maskandscale=False) as nc:
            for name, var in nc.variables.items():
                sv = mine.variables[name]
                assert sv.shape == var.data.shape and sv.dtype == var.data.dtype
                from geoshelf.convert.netcdf3 import read_netcdf3_region

                np.testing.assert_array_equal(read_netcdf3_region(sv, ()), var.data)
                theirs = {k: (v.decode() if isinstance(v, bytes) else np.asarray(v).reshape(-1)[0].item()
                              if np.asarray(v).size == 1 else np.asarray(v).tolist())
                          for k, v in var._attributes.items()}
                assert json.dumps(sv.attrs, sort_keys=True) == json.dumps(theirs, sort_keys=True)  # NaN == NaN


def test_netcdf3_altered_record_offset_is_caught(tmp_path: Path) -> None:
    files = _nc3_files(tmp_path / "data", "NETCDF3_CLASSIC")
    refs = json.loads(json.dumps(combine([single_refs(str(f)) for f in files], "time", ["lat", "lon"])))
    url, off, size = refs["refs"]["slp/3.0.0"]
    refs["refs"]["slp/3.0.0"] = [url, off + 2, size]  # a record variable's chunk shifted by one value
    path = tmp_path / "r.json"
    path.write_text(json.dumps(refs))
    with pytest.raises(ValidationError, match=rf"slp: chunk \(3, 0, 0\) points at bytes {off + 2}\+{size} of "
                                              r".*ncep_01.nc"):
        check_references(refs["refs"], [str(f) for f in files], open_references(str(path)), kind="netcdf3")


def _step_files(root: Path, steps: list[float]) -> list[Path]:
    """One file per time step with a scalar float ``step`` in hours, as cfgrib writes it."""
    root.mkdir(parents=True, exist_ok=True)
    out = []
    rng = np.random.default_rng(1)
    for i, step in enumerate(steps):
        t = pd.Timestamp("2022-06-01") + pd.Timedelta(hours=6 * i)
        ds = xr.Dataset({"t2m": (("time", "latitude", "longitude"), (280 + rng.random((1, 5, 8))).astype("f4"),
                                 {"units": "K"})},
                        coords={"time": [t], "latitude": np.linspace(50, 40, 5), "longitude": np.linspace(0, 7, 8),
                                "step": ((), np.float64(step), {"units": "hours", "long_name": "time since forecast_"
                                                                "reference_time", "standard_name": "forecast_period"})})
        ds.time.encoding.update(units=f"hours since {t:%Y-%m-%d %H:%M:%S}")
        path = root / f"fc_{i:02d}.nc"
        ds.to_netcdf(path, engine="netcdf4")
        out.append(path)
    return out


@pytest.mark.parametrize("validate", ["full", "values"])
def test_a_scalar_step_equal_in_every_file_stays_scalar(tmp_path: Path, validate: str) -> None:
    files = _step_files(tmp_path / "data", [0.0, 0.0, 0.0])
    cat = tmp_path / "c.yaml"
    add_entry(cat, scan([str(f) for f in files], "fc", catalog_dir=str(tmp_path)))
    rep = convert("fc", "references", catalog=cat, store="json", validate=validate)
    assert rep.provenance.validation == ("metadata" if validate == "full" else "values")
    got = Catalog(cat).fc.to_dask(representation="references")
    assert got.step.dims == () and float(got.step) == 0.0 and got.step.attrs["units"] == "hours"
    src = Catalog(cat).fc.to_dask(representation="original")
    xr.testing.assert_equal(got.load(), src.load())


def test_a_scalar_step_that_differs_is_kept_per_time_step(tmp_path: Path) -> None:
    files = _step_files(tmp_path / "data", [0.0, 6.0, 12.0])
    cat = tmp_path / "c.yaml"
    add_entry(cat, scan([str(f) for f in files], "fc", catalog_dir=str(tmp_path)))
    rep = convert("fc", "references", catalog=cat, store="json")
    assert rep.provenance.validation == "metadata"
    got = Catalog(cat).fc.to_dask(representation="references")
    assert got.step.dims == ("time",)
    np.testing.assert_array_equal(got.step.values, [0.0, 6.0, 12.0])



def test_a_refusal_names_the_output_and_a_way_out_that_works(tmp_path: Path) -> None:
    """An unlimited dimension with no record yet (as r-cran-ncmeta's daymet_sample.nc has): kerchunk writes
    chunks of length 0 where the file declares 1, and the check refuses.  The refusal names the output (never
    the temporary partial path) and ends with the target's way out, `--to zarr`, which works."""
    import netCDF4

    src = tmp_path / "data" / "empty.nc"
    src.parent.mkdir()
    with netCDF4.Dataset(src, "w") as nc:
        nc.createDimension("time", None)
        nc.createDimension("y", 2)
        nc.createDimension("x", 3)
        t = nc.createVariable("time", "f8", ("time",))
        t.units, t.calendar = "days since 1980-01-01", "standard"
        nc.createVariable("y", "f4", ("y",))[:] = [10.0, 20.0]
        nc.createVariable("x", "f4", ("x",))[:] = [1.0, 2.0, 3.0]
        v = nc.createVariable("prcp", "f4", ("time", "y", "x"), fill_value=-9999.0)
        v.units = "mm/day"
    cat = tmp_path / "c.yaml"
    add_entry(cat, scan([str(src)], "empty", catalog_dir=str(tmp_path)))
    before = cat.read_bytes()
    with pytest.raises(ValidationError) as err:
        convert("empty", "references", catalog=cat, store="json")
    msg = str(err.value)
    assert msg.startswith("empty.refs.json: ") and ".partial-" not in msg
    assert msg.endswith("; use --to zarr, which copies the data")
    published = [p.name for p in (tmp_path / "shelf").iterdir() if not p.name.endswith(".lock")]
    assert cat.read_bytes() == before and published == []
    convert("empty", "zarr", catalog=cat)  # the way out works
    xr.testing.assert_identical(Catalog(cat).empty.to_dask(representation="zarr").load(),
                                xr.open_dataset(src).load())
