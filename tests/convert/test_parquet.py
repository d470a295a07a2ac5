"""Parquet target: partitioned GeoParquet equal to the CSV, returned as a dask DataFrame."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

from geoshelf import convert
from geoshelf.catalog import Catalog
from geoshelf.errors import ConversionError


@pytest.mark.parametrize("partition", ["year", "month"])
def test_csv_to_geoparquet(catalog_path: Path, data_copy: dict[str, list[Path]], partition: str) -> None:
    rep = convert("stations", "parquet", catalog=catalog_path, partition=partition)
    out = Path(Catalog(catalog_path).stations.resolve(rep.path))
    assert list(out.glob("year=2020" + ("/month=1" if partition == "month" else "") + "/*.parquet"))
    part = next(out.rglob("*.parquet"))
    geo = json.loads(pq.read_schema(part).metadata[b"geo"])
    assert geo["primary_column"] == "geometry" and geo["columns"]["geometry"]["encoding"] == "WKB"
    assert pq.ParquetFile(part).metadata.row_group(0).num_rows > 0
    df = Catalog(catalog_path).stations.to_dask()
    assert hasattr(df, "npartitions")  # a dask DataFrame
    src = pd.read_csv(data_copy["stations"][0], parse_dates=["time"])
    got = df.compute()[list(src.columns)].sort_values(["time", "station_id"]).reset_index(drop=True)
    pd.testing.assert_frame_equal(got, src.sort_values(["time", "station_id"]).reset_index(drop=True),
                                  check_dtype=False)


def test_gridded_netcdf_refused(catalog_path: Path) -> None:
    before = catalog_path.read_bytes()
    with pytest.raises(ConversionError, match="not tabular.*--to zarr"):
        convert("sst", "parquet", catalog=catalog_path)
    assert catalog_path.read_bytes() == before
