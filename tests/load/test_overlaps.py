"""Files holding the same coordinates (two versions of the same dates) are refused at ``add``,
naming both files; files split by variable on one grid still combine."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from geoshelf.errors import SourceError
from geoshelf.scan import scan


def _day(path: Path, day: int, value: float, name: str = "sst") -> Path:
    t = np.datetime64("2022-06-01") + np.timedelta64(day, "D")
    ds = xr.Dataset({name: (("time", "lat", "lon"), np.full((1, 3, 4), value, "f4"), {"units": "K"})},
                    coords={"time": [t], "lat": [10.0, 11.0, 12.0], "lon": [0.0, 1.0, 2.0, 3.0]})
    ds.to_netcdf(path, encoding={"time": {"units": f"days since {str(t)[:10]}"}})
    return path


def test_two_versions_of_the_same_dates_are_refused_naming_both(tmp_path: Path) -> None:
    files = [_day(tmp_path / "v1.day0.nc", 0, 1.0), _day(tmp_path / "v1.day1.nc", 1, 1.0),
             _day(tmp_path / "v2.day1.nc", 1, 2.0)]
    with pytest.raises(SourceError, match=r"v1\.day1\.nc and .*v2\.day1\.nc: time 2022-06-02.*add only one"):
        scan([str(f) for f in files], "sst", catalog_dir=str(tmp_path))


def test_same_variable_twice_on_one_grid_is_refused(tmp_path: Path) -> None:
    files = [_day(tmp_path / "a.nc", 0, 1.0), _day(tmp_path / "b.nc", 0, 2.0)]
    with pytest.raises(SourceError, match=r"a\.nc and .*b\.nc: both hold 'sst'"):
        scan([str(f) for f in files], "sst", catalog_dir=str(tmp_path))


def test_files_split_by_variable_or_time_still_combine(tmp_path: Path) -> None:
    files = [_day(tmp_path / "sst.nc", 0, 1.0), _day(tmp_path / "chl.nc", 0, 2.0, name="chl"),
             _day(tmp_path / "sst1.nc", 1, 3.0)]
    entry = scan([str(f) for f in files], "mixed", catalog_dir=str(tmp_path))
    assert sorted(entry.variables) == ["chl", "sst"] and entry.dims["time"] == 2
