"""Numbers for the issue notes: scan/open of the demo year, per-target conversions, catalog scale.

Run after `geoshelf demo` from the repository root: `.venv/bin/python scripts/measure_demo.py`.
"""

from __future__ import annotations

import shutil
import statistics
import time
import warnings
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from geoshelf import open_catalog
from geoshelf.bench.catalog_scale import write_big_catalog
from geoshelf.catalog import Catalog, add_entry
from geoshelf.convert import convert_entry
from geoshelf.scan import scan

CONVERSIONS: list[tuple[str, str, dict[str, Any]]] = [
    ("sst", "zarr", {"layout": "balanced"}),
    ("sst", "zarr", {"layout": "map"}),
    ("sst", "zarr", {"layout": "timeseries"}),
    ("sst", "references", {"store": "json"}),
    ("sst", "references", {"store": "parquet"}),
    ("sst", "cog", {}),
    ("elevation", "cog", {}),
    ("stations", "parquet", {}),
]


def _times(fn: Callable[[], object], repeat: int) -> list[float]:
    out = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return out


def _open_rep(cat: Path, rep: str) -> object:
    return open_catalog(cat).sst.to_dask(representation=rep)


def main() -> None:
    warnings.simplefilter("ignore")
    root = Path("/tmp/measure")
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir()
    cat = root / "c.yaml"
    (dt,) = _times(lambda: add_entry(cat, scan(["demo/data/sst"], "sst", catalog_dir=str(root))), 1)
    print(f"geoshelf add (scan 365 files): {dt:.2f} s")
    add_entry(cat, scan(["demo/data/elevation"], "elevation", catalog_dir=str(root)))
    add_entry(cat, scan(["demo/data/stations"], "stations", catalog_dir=str(root)))
    ts = _times(lambda: open_catalog(cat).sst.to_dask(), 3)
    print(f"open_catalog()+to_dask() original 365 files: median {statistics.median(ts):.2f} s "
          f"{[round(x, 2) for x in ts]}")
    for name, target, opts in CONVERSIONS:
        e = Catalog(cat)[name]
        out = root / "shelf" / f"{name}.{target}.{'-'.join(map(str, opts.values()))}"
        t = time.perf_counter()
        o = convert_entry(e, target, catalog_path=cat, output=out, record=False, **opts)
        dt = time.perf_counter() - t
        p = o.representation.provenance
        print(f"{name:10s} -> {target:10s} {opts!s:25s} {dt:6.1f} s  in {p.bytes_in / 1e6:7.1f} MB  "
              f"out {p.bytes_out / 1e6:7.2f} MB  files {p.files_out}")
    convert_entry(Catalog(cat).sst, "zarr", catalog_path=cat)
    convert_entry(Catalog(cat).sst, "references", catalog_path=cat, store="json")
    for rep in ("zarr", "references"):
        ts = _times(partial(_open_rep, cat, rep), 5)
        print(f"open_catalog()+to_dask() via {rep}: median {statistics.median(ts) * 1000:.1f} ms")
    big = root / "big10k.yaml"
    write_big_catalog(big, 10_000, root)
    open_catalog(big)  # first open parses the YAML and builds the derived index
    ts = _times(lambda: open_catalog(big).search(variable="sst", tags="team3"), 5)
    hits = open_catalog(big).search(variable="sst", tags="team3")
    print(f"10,000-entry catalog open+search (index warm): median {statistics.median(ts) * 1000:.1f} ms, "
          f"{len(hits)} hits")


if __name__ == "__main__":
    main()
