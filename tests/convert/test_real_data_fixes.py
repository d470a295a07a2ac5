"""Failures found on real third-party files (tests/corpus), reproduced on small generated files:
float variables stored without a fill value, projected and multi-dimensional fields to COG,
GeoParquet's CRS."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from geoshelf import convert
from geoshelf.catalog import Catalog, add_entry
from geoshelf.errors import ConversionError
from geoshelf.scan import scan


def _add(tmp_path: Path, files: list[Path], name: str) -> Path:
    cat = tmp_path / "catalog.yaml"
    add_entry(cat, scan([str(f) for f in files], name, catalog_dir=str(tmp_path)))
    return cat


def _nofill_files(root: Path, fmt: str) -> list[Path]:
    """Daily NetCDF files whose float variables have no _FillValue (as NOAA/NCEP archives and bounds
    variables often are), a NaN in the data, and per-file time units."""
    root.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(3)
    out = []
    for day in range(3):
        t = np.datetime64("2021-03-01") + np.timedelta64(day, "D")
        values = (rng.normal(280, 5, (1, 4, 6))).astype("float32")
        values[0, 1, 2] = np.nan
        ds = xr.Dataset(
            {"air": (("time", "lat", "lon"), values, {"units": "K", "standard_name": "air_temperature"}),
             "lat_bnds": (("lat", "nv"), np.stack([np.arange(4.0) - 0.5, np.arange(4.0) + 0.5], axis=1))},
            coords={"time": [t], "lat": ("lat", np.arange(4.0), {"units": "degrees_north", "bounds": "lat_bnds"}),
                    "lon": ("lon", np.arange(6.0) * 2, {"units": "degrees_east"})},
        )
        enc = {v: {"_FillValue": None} for v in ("air", "lat_bnds", "lat", "lon")}
        enc["time"] = {"units": f"days since {str(t)[:10]}", "calendar": "standard"}
        path = root / f"air.{day}.nc"
        ds.to_netcdf(path, format=fmt, encoding=enc, engine="scipy" if fmt == "NETCDF3_CLASSIC" else "netcdf4")
        out.append(path)
    return out


@pytest.mark.parametrize(("fmt", "options"), [
    ("NETCDF3_CLASSIC", {}),
    ("NETCDF4", {}),
    ("NETCDF4", {"zarr_version": 2}),
    ("NETCDF3_CLASSIC", {"validate": "sample"}),
])
def test_floats_without_fill_value_convert_to_zarr_and_stay_unfilled(tmp_path: Path, fmt: str, options: dict) -> None:
    files = _nofill_files(tmp_path / "data", fmt)
    cat = _add(tmp_path, files, "air")
    rep = convert("air", "zarr", catalog=cat, **options)
    store = Catalog(cat).air.resolve(rep.path)
    raw = xr.open_zarr(store, mask_and_scale=False)
    assert "_FillValue" not in raw["air"].attrs and "_FillValue" not in raw["lat_bnds"].attrs
    with xr.open_mfdataset([str(f) for f in files], combine="by_coords", data_vars="minimal", coords="minimal",
                           compat="override") as src:
        got = Catalog(cat).air.to_dask().load()
        np.testing.assert_array_equal(got.air.values, src.air.values)  # NaN where the source has NaN
        np.testing.assert_array_equal(got.lat_bnds.values, src.lat_bnds.values)


def _projected_file(root: Path) -> Path:
    """A Lambert conformal y/x grid (metres) with a CF grid mapping, two extra dims and a time axis."""
    root.mkdir(parents=True, exist_ok=True)
    y = 1000.0 * np.arange(5) - 2000
    x = 1000.0 * np.arange(7) + 5000
    values = np.arange(2 * 2 * 3 * 5 * 7, dtype="float32").reshape(2, 2, 3, 5, 7)
    ds = xr.Dataset(
        {"t": (("time", "member", "level", "y", "x"), values, {"units": "K", "grid_mapping": "lcc"}),
         "lcc": ((), 0, {"grid_mapping_name": "lambert_conformal_conic", "standard_parallel": [33.0, 45.0],
                         "longitude_of_central_meridian": -97.0, "latitude_of_projection_origin": 40.0,
                         "false_easting": 0.0, "false_northing": 0.0})},
        coords={"time": np.array(["2020-01-01T00", "2020-01-01T06"], dtype="datetime64[ns]"),
                "member": [0, 1], "level": [850.0, 500.0, 250.0],
                "y": ("y", y, {"units": "m", "standard_name": "projection_y_coordinate"}),
                "x": ("x", x, {"units": "m", "standard_name": "projection_x_coordinate"})},
    )
    path = root / "lcc.nc"
    ds.to_netcdf(path)
    return path


def test_projected_grid_with_two_extra_dims_to_cog(tmp_path: Path) -> None:
    import rioxarray
    from pyproj import CRS

    path = _projected_file(tmp_path / "data")
    cat = _add(tmp_path, [path], "lcc")
    with pytest.raises(ConversionError, match=r"--option select=member:VALUE,level:VALUE"):
        convert("lcc", "cog", catalog=cat, variable="t", level="500")
    rep = convert("lcc", "cog", catalog=cat, variable="t", select="member:1,level:500")
    tifs = sorted(Path(Catalog(cat).lcc.resolve(rep.path)).glob("*.tif"))
    assert len(tifs) == 2
    with xr.open_dataset(path) as src, rioxarray.open_rasterio(tifs[1], masked=True) as cog:
        want = CRS.from_cf(src.lcc.attrs)
        assert CRS.from_wkt(cog.rio.crs.to_wkt()).equals(want, ignore_axis_order=True)
        assert cog.rio.crs.to_epsg() != 4326
        np.testing.assert_allclose(cog.x.values, src.x.values)
        np.testing.assert_allclose(cog.y.values, src.y.values[::-1])
        field = src.t.sel(member=1, level=500.0).isel(time=1).values[::-1]
        np.testing.assert_array_equal(cog.values[0], field)


def test_cog_refusals_name_a_way_out(tmp_path: Path) -> None:
    path = _projected_file(tmp_path / "data")
    with xr.open_dataset(path) as ds:
        ds.assign_coords(x=ds.x.values ** 1.01).to_netcdf(tmp_path / "irregular.nc")
    cat = _add(tmp_path, [tmp_path / "irregular.nc"], "irregular")
    before = cat.read_bytes()
    with pytest.raises(ConversionError, match="not evenly spaced.*--to zarr"):
        convert("irregular", "cog", catalog=cat, variable="t", select="member:0,level:850")
    assert cat.read_bytes() == before
    convert("irregular", "zarr", catalog=cat)  # the way out works


def test_geoparquet_crs_is_omitted_meaning_crs84(tmp_path: Path) -> None:
    import pyarrow.parquet as pq

    csv = tmp_path / "stations.csv"
    pd.DataFrame({"time": pd.date_range("2020-01-01", periods=4, freq="D"), "lon": [1.0, 2.0, 3.0, 4.0],
                  "lat": [50.0, 51.0, 52.0, 53.0], "t2m": [1.5, 2.5, np.nan, 4.5]}).to_csv(csv, index=False)
    cat = _add(tmp_path, [csv], "stations")
    rep = convert("stations", "parquet", catalog=cat)
    part = next(Path(Catalog(cat).stations.resolve(rep.path)).rglob("*.parquet"))
    geo = json.loads(pq.read_schema(part).metadata[b"geo"])
    assert "crs" not in geo["columns"]["geometry"]  # absent = OGC:CRS84; null would mean unknown
