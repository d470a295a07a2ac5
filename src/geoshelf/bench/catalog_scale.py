"""Rows 8 and 8b: large catalogs (10,000 entries against stock intake; 1,000,000 entries: search time and memory)."""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import intake
import yaml

from ..catalog import Catalog, Entry
from ..catalog.splice import locate
from ..catalog.yamlio import parse_text
from .context import Context
from .convert import stores
from .report import Row, median_time


def write_big_catalog(path: Path, n: int, root: Path) -> None:
    """A catalog of ``n`` entries written by PyYAML (``sort_keys=False``), as row 8 always used."""
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
    yaml.load(head.read_text(), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
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




# -- 14. the cost of an edit -------------------------------------------------------------------------

#: Entries of the large catalogs of rows 14a / 14b, and of the campaign commits of 14c / 14d, by size.
EDIT_SIZES = {"tiny": (600, 2_000), "small": (10_000, 100_000), "medium": (10_000, 100_000),
              "large": (10_000, 100_000)}
COMMIT_SIZES = {"tiny": (100, 500), "small": (2_000, 10_000), "medium": (2_000, 10_000), "large": (2_000, 10_000)}

_EDIT_CHILD = """
import json, sys, time
t0 = time.perf_counter()
from geoshelf.catalog import Catalog, Entry, add_entry, remove_entry, update_entry
t_import = time.perf_counter() - t0
path = sys.argv[1]
entry = Entry(name="zz_edit_probe", description="probe", urlpath="/data/probe/*.nc", variables=["sst"],
              time_range=("2020-01-01T00:00:00", "2020-12-31T00:00:00"), bbox=(0.0, -90.0, 360.0, 90.0),
              bytes=1234, files=12, tags=["probe"])
times = {}
t0 = time.perf_counter(); add_entry(path, entry); times["add"] = time.perf_counter() - t0
t0 = time.perf_counter(); update_entry(path, entry.replace(description="probe, updated"))
times["update"] = time.perf_counter() - t0
t0 = time.perf_counter(); remove_entry(path, "zz_edit_probe"); times["remove"] = time.perf_counter() - t0
hwm = [int(l.split()[1]) * 1024 for l in open("/proc/self/status") if l.startswith("VmHWM:")]
print(json.dumps({"times": times, "import": t_import, "peak_rss": hwm[0] if hwm else 0}))
"""


def _run_child(code: str, args: list[str], index_dir: Path) -> dict[str, Any]:
    r = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, check=False,
                       env={**os.environ, "GEOSHELF_INDEX_DIR": str(index_dir), "PYTHONWARNINGS": "ignore"})
    if r.returncode:
        raise RuntimeError(f"child failed: {r.stderr[-2000:]}")
    return json.loads(r.stdout.strip().splitlines()[-1])


def _edit_costs(path: Path, repeat: int, index_dir: Path) -> tuple[float, dict[str, float], int]:
    """Median seconds per edit (add, update, remove of one entry, each in a fresh process), per kind, and peak RSS."""
    runs = [_run_child(_EDIT_CHILD, [str(path)], index_dir) for _ in range(max(1, repeat))]
    kinds = {k: statistics.median(r["times"][k] for r in runs) for k in ("add", "update", "remove")}
    per_edit = statistics.median(sum(r["times"].values()) / 3 for r in runs)
    return per_edit, kinds, max(r["peak_rss"] for r in runs)


def edit_cost(ctx: Context) -> list[Row]:
    """Rows 14a / 14b: add, update, remove of one entry in a 10,000- and a 100,000-entry catalog, each in a fresh
    process (time of the call, peak RSS of the process), against the same edits of a 10-entry catalog."""
    index_dir = ctx.root / "index-14"
    shutil.rmtree(index_dir, ignore_errors=True)
    small = ctx.root / "edit10.yaml"
    write_geoshelf_catalog(small, 10)
    base, base_kinds, base_peak = _edit_costs(small, ctx.repeat, index_dir)
    rows = []
    for rid, n in zip(("14a", "14b"), EDIT_SIZES[ctx.size], strict=True):
        path = ctx.root / f"edit{n}.yaml"
        write_geoshelf_catalog(path, n)
        original = path.read_bytes()
        t0 = time.perf_counter()
        first = _run_child(_EDIT_CHILD, [str(path)], index_dir)  # the first edit also builds the derived index
        t_first = time.perf_counter() - t0
        per_edit, kinds, peak = _edit_costs(path, ctx.repeat, index_dir)
        if path.read_bytes() != original:
            raise RuntimeError(f"{path}: add + update + remove did not give the original bytes back")
        limit, mib = (0.3, None) if n <= 10_000 else (1.0, 500)
        mb = path.stat().st_size / 1e6
        ctx.log(f"edit {n:,} entries ({mb:.0f} MB): {per_edit:.3f} s per edit {kinds}, peak {peak / 2**20:.0f} MiB; "
                f"10 entries {base:.3f} s")
        rows.append(Row(
            measurement=f"{rid}. one-entry edit (add, update, remove; each a fresh process, warm index) of a "
                        f"{n:,}-entry "
                        f"catalog ({mb:,.0f} MB, geoshelf layout) vs the same edits of a 10-entry catalog",
            geoshelf=round(per_edit, 4), baseline=round(base, 4), unit="s",
            target=f"< {limit:g} s beyond the 10-entry edit" + (f", < {mib} MB peak RSS" if mib else ""),
            met=per_edit - base < limit and (mib is None or peak < mib * 1e6),
            note=f"add {kinds['add']:.3f} s, update {kinds['update']:.3f} s, remove {kinds['remove']:.3f} s (10 "
                 "entries: "
                 f"{base_kinds['add']:.3f} / {base_kinds['update']:.3f} / {base_kinds['remove']:.3f} s); peak RSS "
                 f"{peak / 2**20:,.0f} MiB (10 entries {base_peak / 2**20:,.0f} MiB); the first edit after the file "
                 f"was written by another program also builds the derived index: {sum(first['times'].values()):.2f} s "
                 f"for the three ({t_first:.1f} s with the process)"))
    return rows


def _done_units(names: list[str], root: Path) -> list[dict[str, Any]]:
    """State rows of a files-mode campaign (shelve only) that scanned one NetCDF file per entry."""
    units = []
    for i, name in enumerate(names):
        e = Entry(name=name, description="", urlpath=f"{{{{ CATALOG_DIR }}}}/data/obs/obs_{i:05d}.nc",
                  variables=["sst"],
                  dims={"time": 1, "lat": 4, "lon": 8}, time_range=(f"2020-01-{1 + i % 28:02d}T00:00:00",) * 2,
                  bbox=(0.0, -90.0, 360.0, 90.0), crs="EPSG:4326", bytes=4000 + i, files=1,
                  fingerprint=f"sha256:{i * 7919:064x}")
        units.append({"name": name, "status": "done", "action": "shelved",
                      "result": json.dumps({"entry": e.to_source()})})
    return units


_COMMIT_CHILD = """
import json, sys, time
from pathlib import Path
from geoshelf.campaign.commit import commit
units = json.loads(Path(sys.argv[2]).read_text())
t0 = time.perf_counter()
changed = commit(Path(sys.argv[1]), units)
t = time.perf_counter() - t0
hwm = [int(l.split()[1]) * 1024 for l in open("/proc/self/status") if l.startswith("VmHWM:")]
print(json.dumps({"seconds": t, "changed": len(changed), "peak_rss": hwm[0] if hwm else 0}))
"""


def _ruamel_parse_time(cat: Path, n: int, most: int) -> tuple[float, str]:
    """Seconds ruamel takes to parse the catalog (round trip, as the old writer did); above ``most`` entries the
    first ``most`` are parsed and the time scaled linearly (and the note says so)."""
    data = cat.read_bytes()
    note = ""
    if n > most:
        cut = locate(data, [f"obs_{i:05d}" for i in range(n)]).keys[most][1]
        data, note = data[:cut], f"; ruamel parse timed on the first {most:,} entries and scaled to {n:,}"
    t0 = time.perf_counter()
    parse_text(data.decode())
    return (time.perf_counter() - t0) * (n / most if n > most else 1), note


def campaign_commit(ctx: Context) -> list[Row]:
    """Rows 14c / 14d: a campaign's catalog commit (``campaign.commit.commit``, fresh process) when nothing changed
    over 2,000 entries, and when 10,000 new entries are added; vs ruamel parsing the resulting catalog, which every
    edit cost before (twice)."""
    index_dir = ctx.root / "index-14"
    n_noop, n_new = COMMIT_SIZES[ctx.size]
    rows = []
    for rid, n in (("14d", n_new), ("14c", n_noop)):
        base = ctx.root / f"commit{n}"
        shutil.rmtree(base, ignore_errors=True)
        base.mkdir(parents=True)
        cat = base / "catalog.yaml"
        units_file = base / "units.json"
        units_file.write_text(json.dumps(_done_units([f"obs_{i:05d}" for i in range(n)], base)))
        first = _run_child(_COMMIT_CHILD, [str(cat), str(units_file)], index_dir)
        if first["changed"] != n:
            raise RuntimeError(f"the commit recorded {first['changed']} of {n} entries")
        t_ruamel, sampled = _ruamel_parse_time(cat, n, 200 if ctx.size == "tiny" else 2_000)
        if rid == "14d":
            times = [first["seconds"]]
            for _ in range(max(1, ctx.repeat) - 1):
                cat.unlink()
                times.append(_run_child(_COMMIT_CHILD, [str(cat), str(units_file)], index_dir)["seconds"])
            t = sorted(times)[len(times) // 2]
            rows.append(Row(measurement=f"14d. campaign commit of {n:,} new entries (files mode, one file each) into "
                                        "an "
                            "empty catalog vs ruamel parsing the resulting catalog once",
                            geoshelf=round(t, 3), baseline=round(t_ruamel, 3), unit="s", target="< 10 s", met=t < 10,
                            note=f"{cat.stat().st_size / 1e6:.1f} MB written; peak RSS "
                                 f"{first['peak_rss'] / 2**20:,.0f} "
                                 f"MiB{sampled}"))
        else:
            before = cat.stat()
            runs = [_run_child(_COMMIT_CHILD, [str(cat), str(units_file)], index_dir)
                    for _ in range(max(1, ctx.repeat))]
            if any(r["changed"] for r in runs) or cat.stat().st_mtime_ns != before.st_mtime_ns:
                raise RuntimeError("a no-op commit wrote the catalog")
            t = sorted(r["seconds"] for r in runs)[len(runs) // 2]
            rows.append(Row(measurement=f"14c. campaign commit with nothing to record ({n:,} done entries, all "
                            "unchanged: a no-op rerun) vs ruamel parsing the catalog once",
                            geoshelf=round(t, 3), baseline=round(t_ruamel, 3), unit="s", target="< 2 s", met=t < 2,
                            note=f"the catalog file is not written at all{sampled}"))
        ctx.log(f"commit {rid}: {rows[-1].geoshelf} s, ruamel parse {t_ruamel:.2f} s")
    return sorted(rows, key=lambda r: r.id)


__all__ = ["BIG_ENTRIES", "campaign_commit", "catalog_10k", "catalog_1m", "edit_cost", "write_big_catalog",
           "write_geoshelf_catalog"]
