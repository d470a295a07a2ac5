"""The comparisons a conversion must pass before it is published."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from geoshelf.convert.validate import compare_datasets, compare_file_samples
from geoshelf.errors import ValidationError


def _parts(n: int = 5) -> list[tuple[str, xr.Dataset]]:
    rng = np.random.default_rng(0)
    out = []
    for i, day in enumerate(pd.date_range("2020-02-27", periods=n, freq="D")):
        values = rng.random((1, 4, 6)).astype("f4")
        values[0, 0, 0] = np.nan
        out.append((f"sst_{i}.nc", xr.Dataset({"sst": (("time", "lat", "lon"), values)},
                                              coords={"time": [day], "lat": np.arange(4.0), "lon": np.arange(6.0)})))
    return out


def test_file_samples_pass_on_a_faithful_output() -> None:
    parts = _parts()
    out = xr.concat([p for _, p in parts], "time")
    assert compare_file_samples("sst", parts, out["sst"], {"lat": 2, "lon": 3}, n=5) == 5
    compare_datasets(xr.concat([p for _, p in parts], "time"), out)


def test_file_samples_find_a_changed_value_and_name_the_file() -> None:
    parts = _parts()
    out = xr.concat([p for _, p in parts], "time").load()
    out["sst"][3, 2, 4] += 0.5
    with pytest.raises(ValidationError, match=r"sst_3\.nc"):
        compare_file_samples("sst", parts, out["sst"], {}, n=5)


def test_file_samples_find_misplaced_time_steps() -> None:
    """Data written one step off (the placement bug a reference combine can make) does not pass."""
    parts = _parts()
    out = xr.concat([p for _, p in parts], "time").load()
    out["sst"].values[:] = np.roll(out["sst"].values, 1, axis=0)
    with pytest.raises(ValidationError, match="output differs from sst_"):
        compare_file_samples("sst", parts, out["sst"], {}, n=5)


def test_file_samples_find_missing_time_steps() -> None:
    parts = _parts()
    out = xr.concat([p for _, p in parts[:4]], "time")
    with pytest.raises(ValidationError, match=r"coordinates of sst_4\.nc are missing"):
        compare_file_samples("sst", parts, out["sst"], {}, n=5)
