"""GRIB input through cfgrib + ecCodes wheels: add, lazy open, --to zarr; nothing written beside
the source; targets that cannot read GRIB refuse naming one that can."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from geoshelf import convert
from geoshelf.catalog import Catalog, add_entry
from geoshelf.errors import ConversionError, SourceError
from geoshelf.scan import scan

#: A real GRIB2 file shipped inside xarray's installed test data (ensemble members on pressure levels).
EXAMPLE = Path(xr.__file__).parent / "tests" / "data" / "example.grib"


def _listing(path: Path) -> dict[str, tuple[int, int]]:
    return {p.name: (p.stat().st_size, p.stat().st_mtime_ns) for p in path.iterdir()}


@pytest.fixture
def grib_catalog(tmp_path: Path) -> tuple[Path, Path]:
    data = tmp_path / "data"
    data.mkdir()
    shutil.copy(EXAMPLE, data / "example.grib")
    cat = tmp_path / "catalog.yaml"
    add_entry(cat, scan([str(data / "example.grib")], "fc", catalog_dir=str(tmp_path)))
    return cat, data


def test_grib_add_open_convert_writes_nothing_beside_the_source(grib_catalog: tuple[Path, Path]) -> None:
    cat, data = grib_catalog
    before = _listing(data)
    entry = Catalog(cat).fc
    assert entry.format == "grib" and sorted(entry.variables) == ["t", "z"]
    assert entry.args["xarray_kwargs"]["backend_kwargs"] == {"indexpath": ""}
    got = entry.to_dask()
    assert got.t.chunks is not None  # lazy
    with xr.open_dataset(data / "example.grib", engine="cfgrib", backend_kwargs={"indexpath": ""},
                         decode_timedelta=True) as ref:
        xr.testing.assert_identical(got.load(), ref.load())
        convert("fc", "zarr", catalog=cat)
        z = Catalog(cat).fc.to_dask()  # from the zarr representation
        assert Catalog(cat).fc.representation("zarr") is not None
        np.testing.assert_array_equal(z.t.values, ref.t.values)
        np.testing.assert_array_equal(z.valid_time.values, ref.valid_time.values)
        assert z.t.attrs["units"] == ref.t.attrs["units"]
    assert _listing(data) == before  # no .idx files, nothing rewritten


def test_targets_without_grib_refuse_naming_zarr(grib_catalog: tuple[Path, Path]) -> None:
    cat, _ = grib_catalog
    before = cat.read_bytes()
    for target in ("references", "cog", "parquet"):
        with pytest.raises(ConversionError, match="cannot convert grib data.*use --to zarr"):
            convert("fc", target, catalog=cat)
    assert cat.read_bytes() == before


def test_corrupt_grib_is_one_line_naming_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "cut.grib"
    bad.write_bytes(EXAMPLE.read_bytes()[:100])
    with pytest.raises(SourceError, match="cut.grib"):
        scan([str(bad)], "cut", catalog_dir=str(tmp_path))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cut.grib"]
