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
