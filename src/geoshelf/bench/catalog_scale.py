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




#: Entries of row 8b's catalog by size (the 1,000,000-entry catalog only at medium and large; 10,000 entries
#: are ~9 MB, above catalog.STREAMING_MIN_BYTES, so even the tiny run builds the index by the streaming reader).
BIG_ENTRIES = {"tiny": 10_000, "small": 100_000, "medium": 1_000_000, "large": 1_000_000}

_ENTRY = """\
  {name}:
    description: dataset {i} of the generated catalog
    driver: netcdf
    args:
      urlpath: '{{{{ CATALOG_DIR }}}}/data/sst/*.nc'
      chunks: {{}}
      xarray_kwargs:
        engine: netcdf4
        combine: by_coords
    metadata:
      geoshelf:
        format: netcdf
        variables:
          - sst
        dims:
          time: 365
          lat: 90
          lon: 180
        time_range:
          - '{year}-01-01T00:00:00'
          - '{year}-12-31T00:00:00'
        bbox:
          - 0.0
          - -90.0
          - 360.0
          - 90.0
        crs: EPSG:4326
        bytes: {bytes}
        files: 365
        fingerprint: sha256:{fp:064x}
        tags:
          - ocean
          - team{team}
        representations:
          - kind: zarr
            path: '{{{{ CATALOG_DIR }}}}/shelf/sst.ts.zarr'
            format: zarr3
"""


def write_geoshelf_catalog(path: Path, n: int) -> None:
    """A catalog of ``n`` entries in the layout geoshelf itself writes (text templates: ~1 minute per million)."""
    header = ("# geoshelf catalog: an intake v1 catalog; geoshelf keeps its fields under metadata.geoshelf\n"
              "metadata:\n  version: 1\nsources:\n")
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(header)
        buf = []
        for i in range(n):
            buf.append(_ENTRY.format(name=f"ds{i:07d}", i=i, year=1950 + i % 70, bytes=1_000_000 + i, fp=i * 7919,
                                     team=i % 20))
            if len(buf) >= 10_000:
                fh.write("".join(buf))
                buf.clear()
        fh.write("".join(buf))
    tmp.replace(path)


_CHILD = """
import json, resource, sys, time
from geoshelf.catalog import Catalog
what, path, repeat = sys.argv[1], sys.argv[2], int(sys.argv[3])
times, hits = [], 0
for _ in range(repeat if what == "search" else 1):
    t0 = time.perf_counter()
    c = Catalog(path)
    if what == "search":
        hits = len(c.search(variable="sst", tags="team9", time="1999"))
    times.append(time.perf_counter() - t0)
    if what == "build" and c._index is None:
        sys.exit("the catalog was not indexed by the streaming reader")
times.sort()
# VmHWM: this process's own peak (ru_maxrss may carry the spawning process's peak over exec on Linux)
hwm = [int(l.split()[1]) * 1024 for l in open("/proc/self/status") if l.startswith("VmHWM:")]
peak = hwm[0] if hwm else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print(json.dumps({"seconds": times[len(times) // 2], "first": times[0] if what == "build" else None,
                  "hits": hits, "peak_rss": peak}))
"""


def _child(what: str, path: Path, repeat: int, index_dir: Path) -> dict[str, float]:
    import json
    import os
    import subprocess
    import sys

    r = subprocess.run([sys.executable, "-c", _CHILD, what, str(path), str(repeat)], capture_output=True, text=True,
                       env={**os.environ, "GEOSHELF_INDEX_DIR": str(index_dir), "PYTHONWARNINGS": "ignore"},
                       check=False)
    if r.returncode:
        raise RuntimeError(f"{what} of {path} failed: {r.stderr[-2000:]}")
    return json.loads(r.stdout.strip().splitlines()[-1])


def catalog_1m(ctx: Context) -> list[Row]:
    """Row 8b: open + search of a 1,000,000-entry catalog (smaller below medium) in under 1 s and 2 GB.

    Each step runs in a fresh process whose peak RSS is its ``getrusage`` maximum: the one-time
    index build (streaming reader) and the searches (warm index).  The baseline is the safe YAML
    parse the catalog needed before: measured whole up to 10,000 entries, else on the first
    10,000 entries and scaled linearly (said so in the note).
    """
    import shutil

    import yaml

    n = BIG_ENTRIES[ctx.size]
    path = ctx.root / f"geoshelf{n}.yaml"
    t0 = time.perf_counter()
    write_geoshelf_catalog(path, n)
    t_gen = time.perf_counter() - t0
    index_dir = ctx.root / "index-8b"
    shutil.rmtree(index_dir, ignore_errors=True)
    build = _child("build", path, 1, index_dir)
    search = _child("search", path, max(3, ctx.repeat), index_dir)
    sample = min(n, 10_000)
    head = path.with_name("head.yaml")
    write_geoshelf_catalog(head, sample)
    t0 = time.perf_counter()
    yaml.load(head.read_text(), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))  # noqa: S506
    t_parse = (time.perf_counter() - t0) * n / sample
    head.unlink()
    size_mb = path.stat().st_size / 1e6
    gib = 2**30
    ctx.log(f"catalog {n:,}: generated in {t_gen:.1f} s ({size_mb:,.0f} MB); index built in {build['seconds']:.1f} s "
            f"(peak {build['peak_rss'] / 2**20:,.0f} MiB); search {search['seconds']:.3f} s "
            f"(peak {search['peak_rss'] / 2**20:,.0f} MiB, {search['hits']} hits)")
    scaled = "" if sample == n else f", extrapolated from the first {sample:,} entries"
    return [Row(measurement=f"8b. {n:,}-entry catalog (geoshelf layout, {size_mb:,.0f} MB): open + search "
                "(variable, tag, year) on the derived index, fresh process, vs parsing the YAML (libyaml safe loader)",
                geoshelf=round(search["seconds"], 4), baseline=round(t_parse, 2), unit="s",
                target="< 1 s and < 2 GiB peak RSS",
                met=search["seconds"] < 1 and search["peak_rss"] < 2 * gib,
                note=f"search peak RSS {search['peak_rss'] / 2**20:,.0f} MiB, {search['hits']:,} hits; one-time index "
                     f"build by the streaming reader {build['seconds']:.1f} s, peak RSS "
                     f"{build['peak_rss'] / 2**20:,.0f} MiB; YAML parse{scaled}; generation {t_gen:.1f} s")]


__all__ = ["BIG_ENTRIES", "catalog_10k", "catalog_1m", "write_big_catalog", "write_geoshelf_catalog"]
