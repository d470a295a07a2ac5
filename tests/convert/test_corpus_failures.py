"""Failures of the real-data corpus (tests/corpus, issue #10) reproduced on small generated files:
each converts with values equal to the source, or is refused in one line naming a way out that
this test then takes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import rioxarray
import xarray as xr
from scipy.io import netcdf_file

from geoshelf import convert
from geoshelf.catalog import Catalog, add_entry
from geoshelf.errors import ConversionError, SourceError, ValidationError
from geoshelf.scan import scan


def _add(tmp_path: Path, files: list[Path], name: str = "f") -> Path:
    cat = tmp_path / "catalog.yaml"
    add_entry(cat, scan([str(f) for f in files], name, catalog_dir=str(tmp_path)))
    return cat


def _zarr(cat: Path, name: str = "f", **options: object) -> xr.Dataset:
    convert(name, "zarr", catalog=cat, **options)
    return Catalog(cat)[name].to_dask(representation="zarr").load()


def _classic(path: Path, build: object) -> Path:
    """A NetCDF3 file written with scipy (attributes exactly as given, as the corpus files have them)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with netcdf_file(path, "w") as f:
        build(f)  # type: ignore[operator]
    return path


def test_zero_length_time_converts_to_an_empty_store(tmp_path: Path) -> None:
    """daymet_sample.nc: an unlimited time dimension with no records (ZeroDivisionError before)."""
    def build(f: netcdf_file) -> None:
        f.createDimension("time", None)
        f.createDimension("y", 2)
        f.createDimension("x", 3)
        t = f.createVariable("time", "f8", ("time",))
        t.units = "days since 1980-01-01"
        for d in ("y", "x"):
            f.createVariable(d, "f4", (d,))[:] = np.arange(f.dimensions[d], dtype="f4") * 1000
        p = f.createVariable("prcp", "f4", ("time", "y", "x"))
        p.units = "mm/day"

    src = _classic(tmp_path / "data" / "daymet.nc", build)
    out = _zarr(_add(tmp_path, [src]))
    assert out.prcp.shape == (0, 2, 3) and out.prcp.attrs["units"] == "mm/day"
    with xr.open_dataset(src, engine="scipy") as ref:
        xr.testing.assert_equal(out, ref.load())


def test_coordinate_that_repeats_values_converts(tmp_path: Path) -> None:
    """rasterwise-high-dim-test-1.nc: extra dimensions whose coordinates repeat a value (the
    validation located windows by label: InvalidIndexError before)."""
    rng = np.random.default_rng(5)
    ds = xr.Dataset({"a": (("c4", "c3", "y", "x"), rng.normal(size=(2, 2, 3, 2)))},
                    coords={"c4": [1.0, 1.0], "c3": [7.0, 7.0], "y": [0.0, 1.0, 2.0], "x": [0.0, 1.0]})
    src = tmp_path / "data" / "high-dim.nc"
    src.parent.mkdir()
    ds.to_netcdf(src, engine="scipy")
    out = _zarr(_add(tmp_path, [src]))
    np.testing.assert_array_equal(out.a.values, ds.a.values)


def _fill_and_missing(f: netcdf_file) -> None:
    f.createDimension("time", 3)
    f.createDimension("x", 2)
    t = f.createVariable("time", "i4", ("time",))
    t[:] = [0, 1, 2]
    t.units = "days since 2000-01-01"
    v = f.createVariable("v", "i4", ("time", "x"))
    v[:] = [[1, 2], [3, 4], [5, 2]]
    v._FillValue = np.int32(1)
    v.missing_value = np.int32(2)


def test_different_fill_value_and_missing_value_convert_to_zarr(tmp_path: Path) -> None:
    """scipy example_3_maskedvals.nc: _FillValue 1 and missing_value 2 both mask (xarray refused to
    encode: "conflicting _FillValue and missing_value")."""
    src = _classic(tmp_path / "data" / "masked.nc", _fill_and_missing)
    cat = _add(tmp_path, [src])
    out = _zarr(cat)
    with xr.open_dataset(src) as ref:
        np.testing.assert_array_equal(out.v.values, ref.v.values)  # NaN where 1 or 2 were stored
        assert int(np.isnan(out.v.values).sum()) == 3
    # the references cannot express two mask values: refused, naming the way out just taken
    with pytest.raises(ValidationError, match=r"masks \[1.0, 2.0\].*--to zarr instead"):
        convert("f", "references", catalog=cat)


def test_masked_character_variable_refused_naming_the_others(tmp_path: Path) -> None:
    """example_3_maskedvals.nc: a char variable with a _FillValue decodes to bytes mixed with NaN."""
    def build(f: netcdf_file) -> None:
        f.createDimension("n", 3)
        c = f.createVariable("flag", "c", ("n",))
        c[:] = np.array([b"a", b"b", b"c"])
        c._FillValue = b"b"
        f.createVariable("v", "f4", ("n",))[:] = [1.0, 2.0, 3.0]

    src = _classic(tmp_path / "data" / "chars.nc", build)
    cat = _add(tmp_path, [src])
    before = cat.read_bytes()
    with pytest.raises(ConversionError, match=r"character variable 'flag' has a _FillValue .*--option variables=v$"):
        convert("f", "zarr", catalog=cat)
    assert cat.read_bytes() == before
    out = _zarr(cat, variables=["v"])  # the way out named
    np.testing.assert_array_equal(out.v.values, [1.0, 2.0, 3.0])


@pytest.mark.parametrize(("what", "message"), [
    ("twice", r"variable 'temp' uses a dimension twice \(time, time\)"),
    ("offset", r"variable 'temp' has add_offset b?'c', not a number"),
])
def test_undecodable_variable_refused_at_add_and_the_way_out_works(tmp_path: Path, what: str, message: str) -> None:
    """compliance-checker bad_data_type.nc / bad_missing_data.nc: values came out wrong or crashed."""
    def build(f: netcdf_file) -> None:
        f.createDimension("time", 3)
        t = f.createVariable("time", "f8", ("time",))
        t[:] = [0.0, 1.0, 2.0]
        t.units = "hours since 2020-01-01"
        temp = f.createVariable("temp", "i4", ("time", "time") if what == "twice" else ("time",))
        temp[:] = np.arange(9 if what == "twice" else 3, dtype="i4").reshape(temp.shape)
        if what == "offset":
            temp.add_offset = b"c"
            temp.scale_factor = np.int32(5)
        f.createVariable("salinity", "f8", ("time",))[:] = [34.1, 34.2, 34.3]

    src = _classic(tmp_path / "data" / "bad.nc", build)
    with pytest.raises(SourceError, match=message) as err:
        scan([str(src)], "f", catalog_dir=str(tmp_path))
    assert "\n" not in str(err.value) and "drop_variables=['temp']" in str(err.value)
    fixed = tmp_path / "data2" / "bad.nc"
    fixed.parent.mkdir()
    with xr.open_dataset(src, drop_variables=["temp"]) as ds:  # the way out named
        ds.to_netcdf(fixed, engine="scipy")
    out = _zarr(_add(tmp_path, [fixed]))
    np.testing.assert_array_equal(out.salinity.values, [34.1, 34.2, 34.3])


def test_undecoded_numeric_time_with_nan_keeps_its_values(tmp_path: Path) -> None:
    """bad_missing_data.nc: a time coordinate without units (not decoded) with a fill value was
    cast to int64 ("coordinate 'time' differs" at validation)."""
    def build(f: netcdf_file) -> None:
        f.createDimension("time", 3)
        t = f.createVariable("time", "f8", ("time",))
        t[:] = [1.0, -999.9, 3.5]
        t._FillValue = -999.9
        f.createVariable("v", "f4", ("time",))[:] = [1.0, 2.0, 3.0]

    src = _classic(tmp_path / "data" / "t.nc", build)
    out = _zarr(_add(tmp_path, [src]))
    with xr.open_dataset(src, engine="scipy") as ref:
        np.testing.assert_array_equal(out.time.values, ref.time.values)
        np.testing.assert_array_equal(out.v.values, ref.v.values)


def test_cog_of_lon_lat_field_without_coordinate_attributes(tmp_path: Path) -> None:
    """3B42_Daily (TRMM): precipitation(lon, lat) whose lat/lon carry no attributes, no time
    (rioxarray could not find the y dimension before)."""
    rng = np.random.default_rng(7)
    lon, lat = np.arange(4) * 0.25 - 84.625, np.arange(5) * 0.25 - 49.875
    values = rng.gamma(1.0, 2.0, (4, 5)).astype("float32")
    ds = xr.Dataset({"precipitation": (("lon", "lat"), values, {"units": "mm"})}, coords={"lon": lon, "lat": lat})
    src = tmp_path / "data" / "3B42.nc"
    src.parent.mkdir()
    ds.to_netcdf(src, engine="scipy")
    cat = _add(tmp_path, [src])
    rep = convert("f", "cog", catalog=cat)
    (tif,) = sorted(Path(Catalog(cat)["f"].resolve(rep.path)).glob("*.tif"))
    with rioxarray.open_rasterio(tif, masked=True) as cog:
        assert cog.rio.crs.to_epsg() == 4326
        np.testing.assert_array_equal(cog.values[0], values.T[::-1])  # (lat, lon), north-up
        np.testing.assert_allclose(cog.x.values, lon)


def test_geotiff_with_a_mask_band_and_no_nodata_stays_masked_in_zarr(tmp_path: Path) -> None:
    """rasterstats dataset_mask.tif: pixels masked by an internal mask band, no nodata value; the
    Zarr held the values stored under the mask (0) as data."""
    import rasterio
    from rasterio.transform import from_origin

    rng = np.random.default_rng(11)
    values = rng.uniform(100, 200, (1, 40, 30)).astype("float32")
    mask = np.zeros((40, 30), dtype="uint8")
    mask[5:30, 4:25] = 255
    src = tmp_path / "data" / "masked.tif"
    src.parent.mkdir()
    profile = {"driver": "GTiff", "width": 30, "height": 40, "count": 1, "dtype": "float32",
               "crs": "EPSG:32610", "transform": from_origin(500000, 5200000, 30, 30)}
    with rasterio.Env(GDAL_TIFF_INTERNAL_MASK=True), rasterio.open(src, "w", **profile) as dst:
        dst.write(values)
        dst.write_mask(mask)
    out = _zarr(_add(tmp_path, [src]))
    with xr.open_dataset(src, engine="rasterio") as ref:
        expected = ref.band_data.values
    assert int(np.isnan(expected).sum()) == 40 * 30 - 25 * 21
    np.testing.assert_array_equal(out.band_data.values, expected)


def test_references_of_a_file_with_a_scalar_time(tmp_path: Path) -> None:
    """iris-sample-data rotated_pole.nc and others: time is a scalar coordinate (one time step);
    the references target's time-step count indexed its shape (IndexError before)."""
    rng = np.random.default_rng(13)
    ds = xr.Dataset({"psl": (("y", "x"), rng.normal(101000, 500, (6, 8)).astype("float32"), {"units": "Pa"})},
                    coords={"y": np.arange(6.0), "x": np.arange(8.0), "time": np.datetime64("2009-11-19T10:00", "ns")})
    src = tmp_path / "data" / "scalar_time.nc"
    src.parent.mkdir()
    ds.to_netcdf(src, engine="h5netcdf")
    cat = _add(tmp_path, [src])
    convert("f", "references", catalog=cat)
    out = Catalog(cat)["f"].to_dask(representation="references").load()
    with xr.open_dataset(src, engine="h5netcdf") as ref:
        np.testing.assert_array_equal(out.psl.values, ref.psl.values)
        assert out.time.values == ref.time.values


def _float32_packing(offset: float, files: int = 1) -> object:
    """OISST reduced.nc / NCEP reanalysis style: int16 packed with float32 scale_factor and add_offset."""
    def build(f: netcdf_file, day: int = 0) -> None:
        f.createDimension("time", None)
        f.createDimension("lat", 3)
        f.createDimension("lon", 4)
        t = f.createVariable("time", "f4", ("time",))
        t[:] = [float(day)]
        t.units = "days since 1978-01-01 00:00:00"
        t.calendar = "standard"
        f.createVariable("lat", "f4", ("lat",))[:] = [-1.0, 0.0, 1.0]
        f.createVariable("lon", "f4", ("lon",))[:] = [0.0, 1.0, 2.0, 3.0]
        v = f.createVariable("sst", "i2", ("time", "lat", "lon"))
        v[:] = np.array([[-165, 7, -999, 2999], [-1, 1, 12345, -32000], [0, -165, 333, 101]], dtype="i2")[None]
        v.scale_factor = np.float32(0.01)
        v.add_offset = np.float32(offset)
        v._FillValue = np.int16(-999)
        v.missing_value = np.int16(-999)
        v.units = "degree_C"

    return build


@pytest.mark.parametrize(("offset", "days"), [(0.0, 1), (477.66, 1), (0.0, 3)])
def test_float32_packing_decodes_in_zarr_exactly_as_the_source(tmp_path: Path, offset: float, days: int) -> None:
    """r-cran-stars reduced.nc: int16 with a float32 scale_factor decodes to float32 (-165 -> -1.65f
    = -1.649999976); the Zarr's scale_factor is a JSON number, read back as float64, so the same
    integers decoded to -1.649999963 and validation refused the store.  Now stored decoded."""
    build = _float32_packing(offset)
    srcs = [_classic(tmp_path / "data" / f"oisst_{d}.nc", lambda f, d=d: build(f, d)) for d in range(days)]  # type: ignore[operator, misc]
    cat = _add(tmp_path, srcs)
    out = _zarr(cat)
    with xr.open_mfdataset(srcs, combine="by_coords") as ref:
        assert ref.sst.dtype == np.float32  # CF: unpacked in the type of scale_factor
        assert out.sst.dtype == np.float32
        np.testing.assert_array_equal(out.sst.values, ref.sst.values)  # bit for bit, NaN where -999
        assert int(np.isnan(out.sst.values).sum()) == days
        assert out.sst.attrs["units"] == "degree_C"
    # any reader of the store, not only geoshelf's, sees the same values
    rep = Catalog(cat)["f"].representation("zarr")
    with xr.open_zarr(Catalog(cat)["f"].resolve(rep.path)) as plain:
        np.testing.assert_array_equal(plain.sst.values, out.sst.values)


def test_float64_packing_stays_packed_in_zarr(tmp_path: Path) -> None:
    """A float64 scale_factor survives Zarr's JSON attributes: the integers are copied as they are."""
    def build(f: netcdf_file) -> None:
        _float32_packing(0.0)(f)
        f.variables["sst"].scale_factor = np.float64(0.01)
        f.variables["sst"].add_offset = np.float64(20.0)

    src = _classic(tmp_path / "data" / "packed64.nc", build)
    cat = _add(tmp_path, [src])
    out = _zarr(cat)
    rep = Catalog(cat)["f"].representation("zarr")
    with xr.open_zarr(Catalog(cat)["f"].resolve(rep.path), mask_and_scale=False) as raw:
        assert raw.sst.dtype == np.int16 and raw.sst.attrs["scale_factor"] == 0.01
    with xr.open_dataset(src) as ref:
        np.testing.assert_array_equal(out.sst.values, ref.sst.values)


def test_multiband_geotiff_band_names_read_back_from_zarr(tmp_path: Path) -> None:
    """r-cran-terra logo.tif: three band descriptions open as long_name ('red', 'green', 'blue') (a
    tuple, as rioxarray gives them); the Zarr's JSON gave back a list and validation refused it."""
    import rasterio
    from rasterio.transform import from_origin

    rng = np.random.default_rng(17)
    values = rng.integers(0, 255, (3, 7, 9)).astype("uint8")
    src = tmp_path / "data" / "logo.tif"
    src.parent.mkdir()
    profile = {"driver": "GTiff", "width": 9, "height": 7, "count": 3, "dtype": "uint8",
               "crs": "EPSG:4326", "transform": from_origin(0, 77, 1, 1), "nodata": 0}
    with rasterio.open(src, "w", **profile) as dst:
        dst.write(values)
        dst.descriptions = ("red", "green", "blue")
        dst.units = ("dn", "dn", "dn")
    out = _zarr(_add(tmp_path, [src]))
    with xr.open_dataset(src, engine="rasterio") as ref:
        assert ref.band_data.attrs["long_name"] == ("red", "green", "blue")
        assert out.band_data.attrs["long_name"] == ref.band_data.attrs["long_name"]
        assert out.band_data.attrs["units"] == ref.band_data.attrs["units"] == ("dn", "dn", "dn")
        np.testing.assert_array_equal(out.band_data.values, ref.band_data.values)


@pytest.mark.parametrize("fmt", ["NETCDF4", "NETCDF3_CLASSIC"])
def test_references_refuse_float32_packing_and_zarr_is_the_way_out(tmp_path: Path, fmt: str) -> None:
    """reduced.nc's packing in references: JSON numbers unpack in float64.  For NetCDF4 the references
    were published, decoding to other values than the source (-1.649999963 for -1.65f) with the
    metadata check passing; for NetCDF3 the refusal named no way out."""
    import netCDF4

    src = tmp_path / "data" / "packed32.nc"
    src.parent.mkdir()
    with netCDF4.Dataset(src, "w", format=fmt) as f:
        f.createDimension("time", 3)
        f.createDimension("x", 4)
        t = f.createVariable("time", "f8", ("time",))
        t.units = "days since 2000-01-01"
        t[:] = [0.0, 1.0, 2.0]
        v = f.createVariable("sst", "i2", ("time", "x"), fill_value=np.int16(-999))
        v.scale_factor = np.float32(0.01)
        v.add_offset = np.float32(0.0)
        v.set_auto_maskandscale(False)
        v[:] = np.array([[-165, 7, -999, 2999], [1, 2, 3, 4], [-1, -2, -3, -4]], dtype="i2")
    cat = _add(tmp_path, [src])
    before = cat.read_bytes()
    with pytest.raises(ValidationError, match=r"sst: its packing \(scale_factor float32, add_offset float32\) unpacks "
                                              r"in float32.*; use --to zarr, which copies the data$") as err:
        convert("f", "references", catalog=cat)
    assert "\n" not in str(err.value) and cat.read_bytes() == before
    out = _zarr(cat)  # the way out named
    with xr.open_dataset(src) as ref:
        assert out.sst.dtype == ref.sst.dtype == np.float32
        np.testing.assert_array_equal(out.sst.values, ref.sst.values)


def test_character_variable_with_a_one_long_char_dimension_converts_to_zarr(tmp_path: Path) -> None:
    """ecgtools' CESM-LE POP history files: moc_components(moc_comp, nchar, string1) is a char array
    whose char dimension has length 1; xarray decodes it to S1 on (moc_comp, nchar), and the Zarr
    store read back joined nchar instead ("dims ('moc_comp', 'nchar') != ('moc_comp',)")."""
    import netCDF4

    src = tmp_path / "data" / "pop.h.nc"
    src.parent.mkdir()
    names = ["Eulerian Mean", "Eddy-Induced (bolus)", "Submeso"]
    with netCDF4.Dataset(src, "w") as f:
        for dim, n in (("moc_comp", 3), ("nchar", 24), ("string1", 1), ("time", 2)):
            f.createDimension(dim, n)
        t = f.createVariable("time", "f8", ("time",))
        t.units, t.calendar = "days since 0000-01-01 00:00:00", "noleap"
        t[:] = [146031.0, 146059.0]
        v = f.createVariable("moc_components", "S1", ("moc_comp", "nchar", "string1"))
        v.long_name = "MOC component names"
        v[:] = netCDF4.stringtochar(np.array(names, dtype="S24"))[..., None]
        f.createVariable("SHF", "f4", ("time",))[:] = [1.5, -2.25]
    out = _zarr(_add(tmp_path, [src]))
    with xr.open_dataset(src) as ref:
        assert ref.moc_components.dims == ("moc_comp", "nchar")
        assert out.moc_components.dims == ref.moc_components.dims
        np.testing.assert_array_equal(out.moc_components.values, ref.moc_components.values)
        assert [type(t) for t in out.time.values] == [type(t) for t in ref.time.values]  # DatetimeNoLeap
        np.testing.assert_array_equal(out.time.values, ref.time.values)
