"""json_exact_packing: whether packed values unpack alike from typed attributes and from JSON numbers."""

from __future__ import annotations

import json

import numpy as np
import xarray as xr
from hypothesis import given, settings
from hypothesis import strategies as st

from geoshelf.convert.packing import json_exact_packing

STORED = st.sampled_from(["i1", "u1", "i2", ">i2", "u2", "i4", "f4", "f8"])
ATTR = st.one_of(st.none(), st.sampled_from(["f4", "f8"]))


def _decode(stored: np.ndarray, attrs: dict) -> np.ndarray:
    return xr.conventions.decode_cf_variable("v", xr.Variable(("x",), stored, attrs)).values


@settings(max_examples=60, deadline=None)
@given(stored=STORED, scale=ATTR, offset=ATTR, sf=st.floats(1e-4, 10), ao=st.floats(-500, 500), seed=st.integers(0, 9))
def test_answer_matches_a_json_round_trip_of_the_attributes(stored: str, scale: str | None, offset: str | None,
                                                             sf: float, ao: float, seed: int) -> None:
    dtype = np.dtype(stored)
    rng = np.random.default_rng(seed)
    info = np.iinfo(dtype) if dtype.kind in "iu" else None
    values = (rng.integers(info.min, info.max, 200) if info else rng.normal(0, 100, 200)).astype(dtype)
    attrs = {}
    if scale:
        attrs["scale_factor"] = np.dtype(scale).type(sf)
    if offset:
        attrs["add_offset"] = np.dtype(offset).type(ao)
    as_json = json.loads(json.dumps({k: v.item() for k, v in attrs.items()}))
    typed, from_json = _decode(values, attrs), _decode(values, as_json)
    same = typed.dtype == from_json.dtype and np.array_equal(typed, from_json, equal_nan=True)
    assert json_exact_packing(dtype, attrs) == same
    if not same:  # only a float32 unpacking is lost
        assert typed.dtype == np.float32 and from_json.dtype == np.float64


def test_reduced_nc_packing_is_not_json_exact() -> None:
    """r-cran-stars reduced.nc: int16 with float32 scale_factor 0.01 and add_offset 0."""
    assert not json_exact_packing(np.dtype(">i2"), {"scale_factor": np.float32(0.01), "add_offset": np.float32(0)})
    assert json_exact_packing(np.dtype("i2"), {"scale_factor": 0.01, "add_offset": 20.0})
    assert json_exact_packing(np.dtype("i2"), {})
    assert json_exact_packing(np.dtype("i2"), {"scale_factor": "c"})  # not numbers: scan refuses those
