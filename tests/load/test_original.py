"""The loader on original files: values equal the sources, lazy, CF time per file, stock intake."""

from __future__ import annotations

from pathlib import Path

import dask
import numpy as np
import pytest
import rioxarray
import xarray as xr

from geoshelf import open_catalog
from geoshelf.catalog import Catalog
from geoshelf.errors import GeoshelfError, SourceError


def test_sst_equals_sources_and_is_lazy(catalog: Catalog, data_copy: dict[str, list[Path]]) -> None:
    ds = catalog.sst.to_dask()
    assert isinstance(ds, xr.Dataset)
    assert dask.is_dask_collection(ds.sst)  # nothing read yet
    expected = xr.concat([xr.open_dataset(f) for f in data_copy["sst"]], dim="time")
    assert ds.sizes["time"] == len(data_copy["sst"])  # per-file time units combined correctly
    assert np.all(np.diff(ds.time.values) == np.timedelta64(1, "D"))
    xr.testing.assert_identical(ds.sst.load(), expected.sst)
    assert np.isnan(ds.sst.values).any()  # land is _FillValue -> NaN
    assert ds.sst.encoding.get("dtype") == np.dtype("int16")


def test_opening_reads_no_data(catalog: Catalog, monkeypatch: pytest.MonkeyPatch) -> None:
    import h5py

    reads: list[object] = []
    original = h5py.Dataset.__getitem__

    def spy(self, key):  # type: ignore[no-untyped-def]
        if self.name == "/sst":
            reads.append(key)
        return original(self, key)

    monkeypatch.setattr(h5py.Dataset, "__getitem__", spy)
    ds = catalog.sst.to_dask(engine="h5netcdf")  # h5py can be watched; netCDF4-C cannot
    assert reads == []
    float(ds.sst.isel(time=0, lat=0, lon=0).compute())
    assert reads


def test_air_is_4d_with_levels(catalog: Catalog, data_copy: dict[str, list[Path]]) -> None:
    ds = catalog.air.to_dask(chunks={"time": 1})
    assert ds.air.dims == ("time", "level", "lat", "lon")
    assert ds.air.chunks[0] == (1,) * ds.sizes["time"]
    xr.testing.assert_identical(ds.load(), xr.open_dataset(data_copy["air"][0]).load())


def test_elevation_tiles_mosaic_equals_tiles(catalog: Catalog, data_copy: dict[str, list[Path]]) -> None:
    ds = catalog.elevation.to_dask()
    assert isinstance(ds, xr.Dataset) and dask.is_dask_collection(ds)
    da = ds["band_data"]
    assert da.rio.crs.to_epsg() == 32633
    nodata = 0
    for f in data_copy["elevation"]:
        tile = rioxarray.open_rasterio(f, masked=True)  # nodata -> NaN, as xarray's rasterio engine
        part = da.sel(x=tile.x, y=tile.y)
        np.testing.assert_array_equal(part.values, tile.values)
        nodata += int(tile.isnull().sum())
    assert nodata > 0  # the demo tiles have nodata pixels: masking is exercised
    assert da.encoding["_FillValue"] == -9999
    assert catalog.elevation.bbox is not None and catalog.elevation.crs == "EPSG:32633"


def test_geotiff_entry_is_what_stock_intake_gives(catalog_path: Path) -> None:
    """One type for a GeoTIFF entry: geoshelf's to_dask() is identical to stock intake's (a Dataset
    with ``band_data`` from xarray's rasterio engine), values, coordinates and attributes."""
    import intake

    ours = Catalog(catalog_path).elevation.to_dask()
    stock = intake.open_catalog(str(catalog_path)).elevation.to_dask()
    assert type(ours) is type(stock) is xr.Dataset
    xr.testing.assert_identical(ours.load(), stock.load())


def test_stations_table(catalog: Catalog, data_copy: dict[str, list[Path]]) -> None:
    import pandas as pd

    df = catalog.stations.to_dask()
    assert hasattr(df, "npartitions")
    pd.testing.assert_frame_equal(df.compute().reset_index(drop=True), pd.read_csv(data_copy["stations"][0]),
                                  check_dtype=False)


def test_scan_metadata(catalog: Catalog, data_copy: dict[str, list[Path]]) -> None:
    e = catalog.sst
    assert e.variables == ["sst"] and e.files == len(data_copy["sst"])
    assert e.dims["time"] == len(data_copy["sst"])
    assert e.time_range[0].startswith("2020-01-01")
    assert e.bbox[1] < -80 and e.bbox[3] > 80
    assert e.bytes == sum(f.stat().st_size for f in data_copy["sst"])
    assert e.fingerprint.startswith("sha256:")
    assert e.urlpath.startswith("{{ CATALOG_DIR }}/") and e.urlpath.endswith("*.nc")


def test_stock_intake_opens_netcdf_entries(catalog_path: Path, catalog: Catalog) -> None:
    import intake

    stock = intake.open_catalog(str(catalog_path))
    for name in ("sst", "air"):
        ds = stock[name].to_dask()
        xr.testing.assert_identical(ds.load(), catalog[name].to_dask().load())


def test_corrupt_file_named_in_error(catalog: Catalog, data_copy: dict[str, list[Path]]) -> None:
    bad = data_copy["sst"][3]
    bad.write_bytes(bad.read_bytes()[:500])
    with pytest.raises(SourceError, match=bad.name):
        catalog.sst.to_dask()


def test_missing_representation_is_refused(catalog: Catalog) -> None:
    with pytest.raises(GeoshelfError, match="has no 'zarr' representation"):
        catalog.sst.to_dask(representation="zarr")


def test_default_catalog_resolution(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, catalog_path: Path) -> None:
    monkeypatch.setenv("GEOSHELF_DEMO_DIR", str(tmp_path / "nodemo"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "cfg"))
    monkeypatch.delenv("GEOSHELF_CATALOG", raising=False)
    with pytest.raises(GeoshelfError, match="run `geoshelf demo` first"):
        open_catalog()
    (tmp_path / "cfg" / "geoshelf").mkdir(parents=True)
    (tmp_path / "cfg" / "geoshelf" / "config.yaml").write_text(f"catalog: {catalog_path}\n")
    assert open_catalog().path == catalog_path.resolve()
    monkeypatch.setenv("GEOSHELF_CATALOG", str(catalog_path))
    cat = open_catalog()
    assert "sst" in dir(cat) and "sst" in cat._ipython_key_completions_()


def test_search(catalog: Catalog) -> None:
    assert list(catalog.search(variable="sst")) == ["sst"]
    assert list(catalog.search(time="2020-01")) == ["sst", "stations"] or "sst" in catalog.search(time="2020-01")
    assert "sst" not in catalog.search(time="1990")
    assert list(catalog.search(tags="land")) == ["elevation"]
    assert "elevation" in catalog.search(bbox=(10, 40, 20, 50))  # UTM 33N tiles lie near 15 E, 48 N
    assert "elevation" not in catalog.search(bbox="-100,30,-90,40")
    assert "sst" in catalog.search("sst daily")
    html = catalog._repr_html_()
    assert "<table>" in html and "sst" in html


@pytest.mark.parametrize(("dtype", "fill"), [("f8", None), ("f4", None), ("i4", None)])
def test_times_never_written_are_named_as_such(tmp_path: Path, dtype: str, fill: float | None) -> None:
    """A file whose time variable was defined but never written (header-only files, as r-cran-ncmeta's
    gridmet_sample.nc and compliance-checker's bad_reference.nc are) is refused naming the variable and
    why, with a way out that works."""
    import netCDF4

    from geoshelf.catalog import add_entry
    from geoshelf.scan import scan

    path = tmp_path / "header_only.nc"
    with netCDF4.Dataset(path, "w") as nc:
        nc.createDimension("day", 2)
        nc.createDimension("x", 3)
        t = nc.createVariable("day", dtype, ("day",), fill_value=fill)
        t.units, t.calendar = "days since 1900-01-01 00:00:00", "gregorian"
        nc.createVariable("x", "f4", ("x",))[:] = [1.0, 2.0, 3.0]
        nc.createVariable("pr", "f4", ("day", "x"))[:] = np.ones((2, 3), "f4")
    with pytest.raises(SourceError) as err:
        add_entry(tmp_path / "c.yaml", scan([str(path)], "hdr", catalog_dir=str(tmp_path)))
    msg = str(err.value)
    assert msg.startswith(f"{path}: time variable 'day' holds only fill values (") and "\n" not in msg
    assert "no time was written" in msg and "decode_times=False" in msg
    assert not (tmp_path / "c.yaml").exists()

    with netCDF4.Dataset(path, "a") as nc:  # the way out: the times written, the same file is added
        nc["day"][:] = [0, 1]
    add_entry(tmp_path / "c.yaml", scan([str(path)], "hdr", catalog_dir=str(tmp_path)))
    got = Catalog(tmp_path / "c.yaml").hdr.to_dask()
    assert list(got.day.values) == list(np.array(["1900-01-01", "1900-01-02"], "datetime64[ns]"))
