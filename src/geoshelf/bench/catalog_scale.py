"""Rows 8 and 8b: large catalogs (10,000 entries against stock intake; 1,000,000 entries: search time and memory)."""

from __future__ import annotations

import time
from pathlib import Path

from .context import Context
from .report import Row, median_time


def write_big_catalog(path: Path, n: int, root: Path) -> None:
    """A catalog of ``n`` entries written by PyYAML (``sort_keys=False``), as row 8 always used."""
    import yaml

    sources = {}
    for i in range(n):
        sources[f"ds{i:05d}"] = {
            "description": f"dataset {i}", "driver": "netcdf",
            "args": {"urlpath": "{{ CATALOG_DIR }}/data/sst/*.nc", "chunks": {}},
            "metadata": {"geoshelf": {
                "format": "netcdf", "variables": ["sst"], "tags": ["ocean", f"team{i % 20}"],
                "time_range": [f"{1950 + i % 70}-01-01T00:00:00", f"{1950 + i % 70}-12-31T00:00:00"],
                "bbox": [0.0, -90.0, 360.0, 90.0], "bytes": 1, "files": 1,
                "representations": [{"kind": "zarr", "path": "{{ CATALOG_DIR }}/shelf/sst.ts.zarr", "format": "zarr3"}],
            }},
        }
    path.write_text(yaml.safe_dump({"metadata": {"version": 1}, "sources": sources}, sort_keys=False))


def catalog_10k(ctx: Context) -> list[Row]:
    """Row 8: open + search + to_dask of one entry in a 10,000-entry catalog (1,000 at tiny) vs intake."""
    import intake

    from ..catalog import Catalog
    from .convert import stores

    stores(ctx)  # the entries point at the timeseries store
    n_big = 1_000 if ctx.size == "tiny" else 10_000
    big = ctx.root / f"big{n_big}.yaml"
    write_big_catalog(big, n_big, ctx.root)
    Catalog(big)  # builds the derived index once
    t0 = time.perf_counter()
    intake.open_catalog(str(big))
    t_intake = time.perf_counter() - t0

    def scale_open() -> None:
        c = Catalog(big)
        hits = c.search(variable="sst", tags="team3")
        c[next(iter(hits))].to_dask(representation="zarr")

    t_scale = median_time(scale_open, ctx.repeat)
    return [Row(measurement=f"8. {n_big:,}-entry catalog: open + search + to_dask(one entry) vs stock "
                "intake.open_catalog",
                geoshelf=round(t_scale, 4), baseline=round(t_intake, 4), unit="s",
                target="< 0.3 s and faster than intake")]


__all__ = ["catalog_10k", "write_big_catalog"]
