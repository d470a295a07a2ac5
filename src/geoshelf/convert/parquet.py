"""Parquet target: tabular / point data (CSV) to (Geo)Parquet, partitioned by time.

Row groups of up to ~1M rows, zstd, hive partitions ``year=YYYY/`` (or ``month``), and a
GeoParquet 1.1 ``geometry`` column (WKB points; no ``crs`` key, which GeoParquet defines
as OGC:CRS84 — ``null`` would mean unknown) when the table has
longitude/latitude columns.  Gridded NetCDF is refused (``--to zarr`` serves it).
"""

from __future__ import annotations

import json
import struct
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from ..catalog.model import Entry, Representation
from ..contract import Converter, Option, Plan, Validation
from ..errors import ConversionError, SourceError, ValidationError, one_line
from ..load.parquet import open_parquet_representation

ROW_GROUP = 1_000_000


def _find(columns: list[str], names: tuple[str, ...]) -> str | None:
    return next((c for c in columns if c.lower() in names), None)


def read_table(plan: Plan[None]) -> pd.DataFrame:
    """The source rows as pandas, times parsed."""
    frames = []
    for f in plan.files:
        try:
            frames.append(pd.read_csv(f, storage_options=plan.entry.storage_options or None))
        except (ValueError, OSError, pd.errors.ParserError) as exc:
            raise SourceError(f"{f}: cannot read as CSV: {one_line(exc, 200)}") from None
    df = pd.concat(frames, ignore_index=True)
    tcol = _find(list(df.columns), ("time", "date", "datetime"))
    if tcol:
        df[tcol] = pd.to_datetime(df[tcol])
    return df


def wkb_points(lon: np.ndarray, lat: np.ndarray) -> list[bytes]:
    """Little-endian WKB points."""
    return [struct.pack("<BIdd", 1, 1, float(x), float(y)) for x, y in zip(lon, lat, strict=True)]


class ParquetConverter(Converter[None]):
    """CSV tables -> partitioned (Geo)Parquet."""

    description = "Parquet (GeoParquet with point geometry), zstd, partitioned by year or month"
    formats = ("csv", "netcdf")
    suffix = ".parquet"

    options = (
        Option(name="partition", choices=("year", "month", "none"), default="year",
               help="hive partitioning by time (default year)"),
        Option(name="row_group_size", type=int, default=ROW_GROUP, help=f"rows per row group (default {ROW_GROUP})"),
    )

    def plan(self, entry: Entry, options: Mapping[str, Any]) -> dict[str, Any]:
        if entry.format == "netcdf":
            raise ConversionError(f"{entry.name}: gridded NetCDF is not tabular data; use --to zarr "
                                  "(discrete-sampling-geometry NetCDF is not supported yet)")
        out = super().plan(entry, options)
        if out["row_group_size"] <= 0:
            raise ConversionError(f"{entry.name}: row_group_size must be a positive integer, not "
                                  f"{out['row_group_size']}")
        return out

    def open(self, entry: Entry, rep: Representation, chunks: Any = None, **kwargs: Any) -> Any:
        return open_parquet_representation(entry, rep, chunks=chunks, **kwargs)

    def write(self, plan: Plan[None], path: Path) -> None:
        df = read_table(plan)
        cols = list(df.columns)
        tcol = _find(cols, ("time", "date", "datetime"))
        lon, lat = _find(cols, ("lon", "longitude")), _find(cols, ("lat", "latitude"))
        partition = plan.options["partition"] if tcol else "none"
        parts: list[str] = []
        if partition in ("year", "month"):
            df["year"] = df[tcol].dt.year.astype("int32")
            parts.append("year")
        if partition == "month":
            df["month"] = df[tcol].dt.month.astype("int32")
            parts.append("month")
        # deferred: pyarrow.dataset costs 20-30 ms at `convert --help` (every target is imported); only writing needs it
        import pyarrow.dataset as pads

        table = pa.Table.from_pandas(df, preserve_index=False)
        if lon and lat:
            table = table.append_column("geometry", pa.array(wkb_points(df[lon].to_numpy(), df[lat].to_numpy()),
                                                             pa.binary()))
            geo = {"version": "1.1.0", "primary_column": "geometry", "columns": {"geometry": {
                "encoding": "WKB", "geometry_types": ["Point"],  # no "crs": OGC:CRS84 (null would mean unknown)
                "bbox": [float(df[lon].min()), float(df[lat].min()), float(df[lon].max()), float(df[lat].max())]}}}
            table = table.replace_schema_metadata({**(table.schema.metadata or {}), b"geo": json.dumps(geo).encode()})
        rg = plan.options["row_group_size"]
        pads.write_dataset(table, path, format="parquet", partitioning=parts or None, partitioning_flavor="hive",
                           max_rows_per_group=rg, min_rows_per_group=min(rg, 100_000), max_rows_per_file=rg * 8,
                           file_options=pads.ParquetFileFormat().make_write_options(compression="zstd"))

    def validate(self, plan: Plan[None], path: Path) -> Validation:
        src = read_table(plan)
        out = pd.read_parquet(path)
        out = out[[c for c in src.columns]]
        key = [c for c in src.columns if src[c].dtype != float][:3]
        a = src.sort_values(key, kind="stable").reset_index(drop=True)
        b = out.sort_values(key, kind="stable").reset_index(drop=True)
        try:
            pd.testing.assert_frame_equal(a, b, check_dtype=False, check_categorical=False)
        except AssertionError as exc:
            raise ValidationError(f"{path.name}: rows differ from the source: {one_line(exc, 200)}") from None
        return "full"

    def representation_format(self, plan: Plan[None], path: Path) -> str:
        return "parquet"
