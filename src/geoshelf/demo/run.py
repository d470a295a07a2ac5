"""``geoshelf demo``: generate demo data, shelve it, convert one entry locally, open it lazily."""

from __future__ import annotations

import time
from pathlib import Path

from ..catalog import Catalog, add_entry
from ..catalog.locate import demo_dir
from ..convert import convert_entry, list_targets
from ..scan import scan
from .data import generate_demo

ENTRIES = (
    ("sst", "sst", "Daily sea-surface temperature, global grid (demo)", ["ocean", "daily", "demo"]),
    ("air", "air", "Monthly air temperature on pressure levels (demo)", ["atmosphere", "monthly", "demo"]),
    ("elevation", "elevation", "Elevation tiles, UTM 33N, 30 m (demo)", ["land", "raster", "demo"]),
    ("stations", "stations", "Daily station observations (demo)", ["in-situ", "table", "demo"]),
)


def _say(msg: str) -> None:
    print(f"[demo] {msg}", flush=True)


def run_demo(directory: Path | None = None, *, size: str = "small", convert: bool = True) -> Path:
    """Generate data under ``directory/data``, write ``directory/demo.yaml``, convert, open.

    Returns the catalog path."""
    root = (directory or demo_dir()).expanduser().resolve()
    catalog_path = root / "demo.yaml"
    t0 = time.perf_counter()
    _say(f"generating {size} demo data in {root / 'data'} ...")
    files = generate_demo(root / "data", size, progress=lambda m: _say(m))
    _say(f"generated {sum(len(v) for v in files.values())} files in {time.perf_counter() - t0:.1f} s")

    existing = Catalog(catalog_path) if catalog_path.exists() else None
    for name, key, description, tags in ENTRIES:
        entry = scan([str(f) for f in files[key]], name, catalog_dir=str(root), description=description,
                     tags=tags, contact="geoshelf demo", license="CC0-1.0")
        if existing is not None and name in existing and existing[name].fingerprint == entry.fingerprint:
            entry = entry.replace(representations=existing[name].representations)
        add_entry(catalog_path, entry, overwrite=True)
        _say(f"shelved {name}: {entry.files} files, variables {', '.join(entry.variables)}")
    cat = Catalog(catalog_path)
    print()
    print(catalog_path.read_text())
    if convert:
        if "zarr" in list_targets():
            t1 = time.perf_counter()
            outcome = convert_entry(cat["sst"], "zarr", catalog_path=catalog_path, layout="balanced")
            _say(f"{outcome.message} ({time.perf_counter() - t1:.1f} s)")
            cat = Catalog(catalog_path)
    t2 = time.perf_counter()
    ds = cat.sst.to_dask()
    _say(f"opened sst lazily in {time.perf_counter() - t2:.2f} s:")
    print(ds)
    print()
    _say("done. Try: python -c \"from geoshelf import open_catalog; cat = open_catalog(); print(cat.sst.to_dask())\"")
    return catalog_path
