"""COG target: rio-cogeo validation, exact values, nodata/CRS kept, NetCDF fields, bad input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import rasterio
import rioxarray
import xarray as xr
from rio_cogeo.cogeo import cog_validate
from rio_cogeo.utils import get_maximum_overview_level

from geoshelf import convert
from geoshelf.catalog import Catalog
from geoshelf.errors import ConversionError


def test_tiles_to_cog(catalog_path: Path, data_copy: dict[str, list[Path]]) -> None:
    original = Catalog(catalog_path).elevation.to_dask().load()
    rep = convert("elevation", "cog", catalog=catalog_path)
    out = Path(Catalog(catalog_path).elevation.resolve(rep.path))
    tifs = sorted(out.glob("*.tif"))
    assert len(tifs) == len(data_copy["elevation"])
    for t, src in zip(tifs, sorted(data_copy["elevation"]), strict=True):
        assert cog_validate(str(t), quiet=True)[0]
        with rasterio.open(t) as r, rasterio.open(src) as s:
            assert r.crs == s.crs and r.transform == s.transform and r.nodata == s.nodata == -9999
            assert r.profile["tiled"]
            # rio-cogeo's rule: halve until a side fits in one 256-pixel block (tiny tiles: none)
            levels = get_maximum_overview_level(r.width, r.height, minsize=256)
            assert r.overviews(1) == [2**j for j in range(1, levels + 1)]
            np.testing.assert_array_equal(r.read(), s.read())
    da = Catalog(catalog_path).elevation.to_dask()  # picks the COG representation
    xr.testing.assert_identical(da.load().drop_attrs(), original.drop_attrs())


def test_netcdf_fields_to_cog(catalog_path: Path, data_copy: dict[str, list[Path]]) -> None:
    rep = convert("sst", "cog", catalog=catalog_path)
    tifs = sorted(Path(Catalog(catalog_path).sst.resolve(rep.path)).glob("*.tif"))
    assert len(tifs) == len(data_copy["sst"])
    with xr.open_dataset(data_copy["sst"][0]) as ds, rioxarray.open_rasterio(tifs[0], masked=True) as cog:
        assert cog.rio.crs.to_epsg() == 4326
        np.testing.assert_array_equal(cog.values[0], ds.sst.values[0, ::-1].astype("float32"))
    stack = Catalog(catalog_path).sst.to_dask(representation="cog")
    assert stack.sizes["time"] == len(data_copy["sst"])


@pytest.mark.parametrize(("name", "options", "message"), [
    ("air", {}, "dimension\\(s\\) level"),
    ("sst", {"variable": "chl"}, "no variable 'chl'"),
    ("sst", {"profile": "jpeg2000"}, "unknown COG profile"),
    ("stations", {}, "cannot convert csv"),
])
def test_bad_input_refused(catalog_path: Path, name: str, options: dict, message: str) -> None:
    before = catalog_path.read_bytes()
    with pytest.raises(ConversionError, match=message):
        convert(name, "cog", catalog=catalog_path, **options)
    assert catalog_path.read_bytes() == before
    assert not (catalog_path.parent / "shelf" / f"{name}.cog").exists()


def _tile(path: Path, data: np.ndarray, nodata: float | None = -9999.0) -> Path:
    from rasterio.transform import from_origin

    with rasterio.open(path, "w", driver="GTiff", height=data.shape[-2], width=data.shape[-1], count=data.shape[0],
                       dtype=data.dtype, crs="EPSG:32633", transform=from_origin(500000, 5300000, 30, 30),
                       nodata=nodata) as dst:
        dst.write(data)
    return path


def _field(rng: np.random.Generator, ny: int = 600, nx: int = 700) -> np.ndarray:
    """A smooth float32 field with a nodata corner and a few NaNs, one band."""
    y, x = np.mgrid[0:ny, 0:nx]
    data = (300 + 40 * np.sin(y / 37.0) * np.cos(x / 53.0) + rng.normal(0, 0.5, (ny, nx))).astype("f4")
    data[:40, :50] = -9999.0
    data[rng.integers(0, ny, 20), rng.integers(0, nx, 20)] = np.nan
    return data[None]


def test_uncompressed_temporary_overviews_give_the_same_cog(tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """The temporary overview file is left uncompressed (no codec work) only when small, and the COG
    is byte for byte the one GDAL writes with its default (ZSTD) temporary file."""
    from geoshelf.convert import cog

    src = _tile(tmp_path / "src.tif", _field(np.random.default_rng(3)))
    cog._translate(str(src), tmp_path / "fast.tif", "deflate", 256, "nearest")
    monkeypatch.setattr(cog, "TMP_OVERVIEWS_UNCOMPRESSED_MAX", 0)
    cog._translate(str(src), tmp_path / "default.tif", "deflate", 256, "nearest")
    assert (tmp_path / "fast.tif").read_bytes() == (tmp_path / "default.tif").read_bytes()
    with rasterio.open(tmp_path / "fast.tif") as r:
        assert r.overviews(1) == [2, 4]  # 700x600 -> 350x300 -> 175x150 (rio-cogeo's rule)
        assert r.profile["compress"] == "deflate" and r.profile["blockxsize"] == 256
    monkeypatch.undo()
    assert cog.tmp_overview_config(2048, 2048, 1, 4, 3) == {"COG_TMP_COMPRESSION": "NONE"}
    assert cog.tmp_overview_config(2048, 2048, 1, 4, 0) == {}  # no overviews: no temporary file
    assert cog.tmp_overview_config(100_000, 100_000, 1, 4, 9) == {}  # 13 GB of overviews: GDAL's default


@pytest.mark.parametrize(("row", "col", "new"), [
    (0, 0, 1.5),        # first block
    (599, 699, 1.5),    # last, partial block (600x700 is not a multiple of 256)
    (300, 260, np.nan),  # a value became NaN
    (10, 20, np.nan),   # inside the nodata corner
])
def test_compare_tiles_finds_any_changed_value_by_block(tmp_path: Path, row: int, col: int, new: float) -> None:
    from geoshelf.convert import cog
    from geoshelf.errors import ValidationError

    data = _field(np.random.default_rng(5))
    data[0, 250:262, 250:262] = -0.0  # signed zeros stay what they are
    src = _tile(tmp_path / "src.tif", data)
    cog._translate(str(src), tmp_path / "ok.tif", "deflate", 256, "nearest")
    cog.compare_tiles(str(src), tmp_path / "ok.tif")  # equal, NaN where NaN: no error
    changed = data.copy()
    changed[0, row, col] = new
    cog._translate(str(_tile(tmp_path / "changed.tif", changed)), tmp_path / "bad.tif", "deflate", 256, "nearest")
    first, last = row // 256 * 256, min(row // 256 * 256 + 255, 599)
    with pytest.raises(ValidationError, match=rf"bad.tif: values differ from .*src.tif in rows {first}-{last}, "
                                              rf"columns {col // 256 * 256}-"):
        cog.compare_tiles(str(src), tmp_path / "bad.tif")


def test_compare_tiles_refuses_other_shape_type_or_nodata(tmp_path: Path) -> None:
    from geoshelf.convert import cog
    from geoshelf.errors import ValidationError

    data = _field(np.random.default_rng(6), 300, 300)
    src = _tile(tmp_path / "src.tif", data)
    for name, other, nodata, message in (
            ("crop.tif", data[:, :299], -9999.0,
             "1 band\\(s\\) of 299 rows x 300 columns float32, the source .* 300 x 300"),
            ("f8.tif", data.astype("f8"), -9999.0, "float64"),
            ("nodata.tif", data, -1.0, "CRS, transform or nodata differ")):
        with pytest.raises(ValidationError, match=message):
            cog.compare_tiles(str(src), _tile(tmp_path / name, other, nodata))
    assert cog.same_values(np.array([0.0, np.nan]), np.array([-0.0, np.nan]))
    assert not cog.same_values(np.array([1.0, np.nan]), np.array([1.0, 2.0]))
    assert not cog.same_values(np.arange(3), np.arange(3.0))
