"""Files geoshelf did not write: the NetCDF samples shipped inside xarray and scipy."""

from __future__ import annotations

from pathlib import Path

import pytest
import scipy
import xarray as xr

from geoshelf.catalog import Catalog, add_entry
from geoshelf.scan import scan

SAMPLES = [
    Path(xr.__file__).parent / "tests" / "data" / "example_1.nc",
    Path(xr.__file__).parent / "tests" / "data" / "bears.nc",
    Path(scipy.__file__).parent / "io" / "tests" / "data" / "example_3_maskedvals.nc",
    Path(scipy.__file__).parent / "io" / "tests" / "data" / "example_2.nc",
]


@pytest.mark.parametrize("sample", [s for s in SAMPLES if s.exists()], ids=lambda p: p.name)
def test_third_party_netcdf(tmp_path: Path, sample: Path) -> None:
    path = tmp_path / "c.yaml"
    add_entry(path, scan([str(sample)], "sample", catalog_dir=str(tmp_path)))
    entry = Catalog(path).sample
    assert entry.files == 1 and entry.dims
    got = entry.to_dask()
    with xr.open_dataset(sample) as expected:
        xr.testing.assert_identical(got.load(), expected.load())


def test_samples_present() -> None:
    assert sum(s.exists() for s in SAMPLES) >= 3
