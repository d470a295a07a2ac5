"""Benchmarks: each geoshelf measurement beside its baseline, in the same run.

``python scripts/bench.py --size small`` (or ``geoshelf bench``) generates data, measures,
and writes ``docs/benchmarks.md`` plus a JSON file of the raw numbers.  Timings are the
median of ``--repeat`` runs.  Reads are warm (page cache) unless ``--cold`` is given, which
drops the page cache before each cold read (root only).
"""

from __future__ import annotations

import glob
import json
import os
import platform
import shutil
import statistics
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any


@dataclass
class Row:
    """One measurement: geoshelf beside its baseline."""

    measurement: str
    geoshelf: float
    baseline: float
    unit: str
    target: str
    #: True when the target is met.
    met: bool | None = None
    note: str = ""

    @property
    def ratio(self) -> float:
        if self.unit in ("s",):  # lower is better: speed-up
            return self.baseline / self.geoshelf if self.geoshelf else float("inf")
        return self.geoshelf / self.baseline if self.baseline else float("inf")


def _median(fn: Callable[[], Any], repeat: int, before: Callable[[], None] | None = None) -> float:
    times = []
    for _ in range(repeat):
        if before:
            before()
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def _drop_caches(enabled: bool) -> Callable[[], None] | None:
    if not enabled:
        return None

    def drop() -> None:
        os.sync()
        with open("/proc/sys/vm/drop_caches", "w") as fh:
            fh.write("3\n")

    return drop


def _files(path: Path) -> list[Path]:
    return [p for p in path.rglob("*") if p.is_file()]


def _bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in _files(path))


def run(size: str = "small", workdir: Path | None = None, repeat: int = 3, cold: bool = False,
        out_md: Path | None = None, out_json: Path | None = None, log: Callable[[str], None] = print) -> list[Row]:
    """Run every measurement at ``size``; write the Markdown and JSON reports if paths are given."""
    import dask
    import xarray as xr
    import zarr

    from . import open_catalog
    from .catalog import Catalog, add_entry
    from .convert import convert_entry
    from .demo.data import SIZES, make_sst
    from .scan import scan

    warnings.simplefilter("ignore")
    s = SIZES[size]
    root = (workdir or Path.cwd() / "bench-work").resolve() / size
    data = root / "data" / "sst"
    if not data.exists() or len(list(data.glob("*.nc"))) != s.days:
        shutil.rmtree(root, ignore_errors=True)
        t0 = time.perf_counter()
        make_sst(data, days=s.days, ny=s.ny, nx=s.nx)
        log(f"generated {s.days} files of {s.ny}x{s.nx} in {time.perf_counter() - t0:.1f} s")
    files = sorted(glob.glob(str(data / "*.nc")))
    cat_path = root / "catalog.yaml"
    if cat_path.exists():
        cat_path.unlink()
    add_entry(cat_path, scan([str(data)], "sst", catalog_dir=str(root)))
    shelf = root / "shelf"
    shutil.rmtree(shelf, ignore_errors=True)
    rows: list[Row] = []
    drop = _drop_caches(cold)
    temp = "cold" if cold else "warm"

    # -- conversion throughput (4) and file counts (6) ------------------------------------------
    entry = Catalog(cat_path).sst
    t0 = time.perf_counter()
    convert_entry(entry, "zarr", catalog_path=cat_path, output=shelf / "sst.map.zarr", layout="map", record=False)
    t_map = time.perf_counter() - t0
    t0 = time.perf_counter()
    out = convert_entry(entry, "zarr", catalog_path=cat_path, output=shelf / "sst.ts.zarr", layout="timeseries")
    t_ts = time.perf_counter() - t0
    ts_store = shelf / "sst.ts.zarr"
    map_store = shelf / "sst.map.zarr"
    inner = zarr.open_array(str(ts_store / "sst")).chunks

    def naive() -> None:
        target = shelf / "naive.zarr"
        shutil.rmtree(target, ignore_errors=True)
        ds = xr.open_mfdataset(files, combine="by_coords").chunk(dict(zip(("time", "lat", "lon"), inner, strict=True)))
        enc = {"sst": {"chunks": inner, "compressors": [zarr.codecs.ZstdCodec(level=3)]}}
        ds.to_zarr(target, mode="w", zarr_format=3, encoding=enc, consolidated=True)

    t0 = time.perf_counter()
    naive()
    t_naive = time.perf_counter() - t0
    rows.append(Row(measurement="4. convert year to Zarr (timeseries layout, incl. full validation) vs "
                    "open_mfdataset().to_zarr (no validation), same chunks+codec",
                    geoshelf=round(t_ts, 3), baseline=round(t_naive, 3), unit="s", target=">= 1.5x"))
    sharded_files = len(_files(ts_store))
    unsharded_files = len(_files(shelf / "naive.zarr"))
    gb = max(_bytes(ts_store), 1) / 1e9
    rows.append(Row(measurement="6. files per GB of Zarr output: sharded (geoshelf) vs unsharded, same inner chunks",
                    geoshelf=round(sharded_files / gb, 1), baseline=round(unsharded_files / gb, 1), unit="files/GB",
                    target="<= 10 files/GB", note=f"{sharded_files} vs {unsharded_files} files, {gb * 1e3:.1f} MB"))
    log(f"zarr conversion: map {t_map:.1f} s, timeseries {t_ts:.1f} s, naive {t_naive:.1f} s")

    # references for the open benchmark
    convert_entry(Catalog(cat_path).sst, "references", catalog_path=cat_path)

    # -- open (1) ----------------------------------------------------------------------------------
    def open_mf() -> None:
        xr.open_mfdataset(files, combine="by_coords")

    t_mf = _median(open_mf, repeat, drop)
    t_cat_zarr = _median(lambda: open_catalog(cat_path).sst.to_dask(representation="zarr"), repeat, drop)
    t_cat_refs = _median(lambda: open_catalog(cat_path).sst.to_dask(representation="references"), repeat, drop)
    t_bare_zarr = _median(lambda: xr.open_zarr(ts_store, chunks={}), repeat, drop)
    rep = Catalog(cat_path).sst.representation("references")
    from .load.references import open_references

    refs_path = Catalog(cat_path).sst.resolve(rep.path) if rep else ""
    t_bare_refs = _median(lambda: open_references(refs_path, rep.options.get("store", "json")), repeat, drop)
    rows += [
        Row(measurement=f"1a. open year via catalog -> Zarr vs xr.open_mfdataset of {len(files)} files ({temp})",
            geoshelf=round(t_cat_zarr, 4), baseline=round(t_mf, 4), unit="s", target=">= 200x"),
        Row(measurement="1b. open year via catalog -> references vs xr.open_mfdataset",
            geoshelf=round(t_cat_refs, 4), baseline=round(t_mf, 4), unit="s", target=">= 100x"),
        Row(measurement="1c. catalog layer cost: catalog -> Zarr vs bare xr.open_zarr of the same store",
            geoshelf=round(t_cat_zarr, 4), baseline=round(t_bare_zarr, 4), unit="s", target="<= 2x cost (ratio >= 0.5)"),
        Row(measurement="1d. catalog layer cost: catalog -> references vs bare reference open",
            geoshelf=round(t_cat_refs, 4), baseline=round(t_bare_refs, 4), unit="s", target="<= 2x cost (ratio >= 0.5)"),
    ]

    # -- time series (2) and maps (3) -------------------------------------------------------------
    y, x = s.ny // 3, s.nx // 2

    def point_files() -> None:
        xr.open_mfdataset(files, combine="by_coords").sst.isel(lat=y, lon=x).compute()

    def point_ts() -> None:
        open_catalog(cat_path).sst.to_dask(representation="zarr").sst.isel(lat=y, lon=x).compute()

    with dask.config.set(scheduler="threads"):
        t_pf = _median(point_files, max(1, repeat // 2), drop)
        t_pt = _median(point_ts, repeat, drop)
    rows.append(Row(measurement="2. one grid point over the year: timeseries-layout Zarr vs the original files",
                    geoshelf=round(t_pt, 4), baseline=round(t_pf, 4), unit="s", target=">= 300x"))

    day = len(files) // 2

    def map_file() -> None:
        with xr.open_dataset(files[day]) as ds:
            ds.sst.values  # noqa: B018

    def map_zarr() -> None:
        xr.open_zarr(map_store, chunks=None).sst.isel(time=day).values  # noqa: B018

    t_mapf = _median(map_file, repeat, drop)
    t_mapz = _median(map_zarr, repeat, drop)
    rows.append(Row(measurement="3a. one day's full field: map-layout Zarr vs the original file",
                    geoshelf=round(t_mapz, 4), baseline=round(t_mapf, 4), unit="s", target=">= 1.0x"))

    def full(store: Path) -> Callable[[], None]:
        return lambda: xr.open_zarr(store, chunks={}).sst.sum().compute()

    t_full_sh = _median(full(ts_store), repeat, drop)
    t_full_un = _median(full(shelf / "naive.zarr"), repeat, drop)
    rows.append(Row(measurement="3b. full read: sharded vs unsharded store, same inner chunks",
                    geoshelf=round(t_full_sh, 4), baseline=round(t_full_un, 4), unit="s", target=">= 0.8x"))

    # -- catalog scale (8) ----------------------------------------------------------------------------
    n_big = 1_000 if size == "tiny" else 10_000
    big = root / f"big{n_big}.yaml"
    _write_big_catalog(big, n_big, root)
    Catalog(big)  # builds the derived index once (reported below)
    t0 = time.perf_counter()
    import intake

    intake.open_catalog(str(big))
    t_intake = time.perf_counter() - t0

    def scale_open() -> None:
        c = Catalog(big)
        hits = c.search(variable="sst", tags="team3")
        c[next(iter(hits))].to_dask(representation="zarr")

    t_scale = _median(scale_open, repeat)
    rows.append(Row(measurement=f"8. {n_big:,}-entry catalog: open + search + to_dask(one entry) vs stock "
                    "intake.open_catalog",
                    geoshelf=round(t_scale, 4), baseline=round(t_intake, 4), unit="s",
                    target="< 0.3 s and faster than intake"))

    for r in rows:
        if r.target.startswith(">="):
            r.met = r.ratio >= float(r.target.split()[1].rstrip("x"))
        elif "files/GB" in r.unit:
            r.met = r.geoshelf <= 10
        elif "cost" in r.target:
            r.met = r.ratio >= 0.5
        elif r.measurement.startswith("8."):
            r.met = r.geoshelf < 0.3 and r.geoshelf < r.baseline
    if out_md:
        write_markdown(rows, out_md, size, repeat, temp)
    if out_json:
        out_json.write_text(json.dumps({"size": size, "repeat": repeat, "reads": temp, "machine": machine(),
                                        "rows": [asdict(r) | {"ratio": r.ratio} for r in rows]}, indent=2))
    return rows


def _write_big_catalog(path: Path, n: int, root: Path) -> None:
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


def machine() -> str:
    """CPU, cores, memory and OS of this machine."""
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name"))
    except (OSError, StopIteration):
        cpu = platform.processor()
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return f"{cpu}, {os.cpu_count()} cores, {mem:.0f} GiB, {platform.platform()}, Python {platform.python_version()}"


def write_markdown(rows: list[Row], path: Path, size: str, repeat: int, temp: str) -> None:
    cmd = f"python scripts/bench.py --size {size} --repeat {repeat}" + (" --cold" if temp == "cold" else "")
    lines = [
        "# Benchmarks", "",
        f"Measured by the committed `scripts/bench.py`; command: `{cmd}`.",
        f"Machine: {machine()}.",
        f"Every timing is the median of {repeat} runs, geoshelf and baseline measured in the same run; reads are {temp}.",
        "", "| measurement | geoshelf | baseline | ratio | target | met |", "|---|---|---|---|---|---|",
    ]
    for r in rows:
        unit = r.unit
        lines.append(f"| {r.measurement} | {r.geoshelf} {unit} | {r.baseline} {unit} | {r.ratio:.2f}x | {r.target} | "
                     f"{'yes' if r.met else 'NO'} |" + (f" {r.note}" if r.note else ""))
    path.parent.mkdir(parents=True, exist_ok=True)
    existing = path.read_text() if path.exists() else ""
    notes = existing.split("<!-- notes -->", 1)[1] if "<!-- notes -->" in existing else "\n"
    path.write_text("\n".join(lines) + "\n\n<!-- notes -->" + notes)


def main(argv: list[str] | None = None) -> int:
    import argparse

    p = argparse.ArgumentParser(prog="geoshelf bench", description=__doc__)
    p.add_argument("--size", default="small", choices=["tiny", "small", "medium", "large"])
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--cold", action="store_true", help="drop the page cache before each read (root)")
    p.add_argument("--workdir", type=Path, default=None)
    p.add_argument("--out", type=Path, default=Path("docs/benchmarks.md"))
    p.add_argument("--json", type=Path, default=Path("docs/benchmarks.json"))
    a = p.parse_args(argv)
    rows = run(a.size, a.workdir, a.repeat, a.cold, a.out, a.json, log=lambda m: print(m, file=sys.stderr))
    for r in rows:
        print(f"{r.ratio:9.2f}x  {'ok ' if r.met else 'MISS'}  {r.measurement}")
    return 0




def memory_bound(size: str = "medium", workdir: Path | None = None, worker_memory: str = "600MB",
                 workers: int = 2, log: Callable[[str], None] = print) -> Row:
    """Row 5: convert an input several times larger than the workers' memory on a LocalCluster
    whose workers have ``worker_memory`` each; sample the peak RSS of every process (driver +
    workers) beside the naive ``open_mfdataset().to_zarr`` on the same cluster."""
    import threading

    import psutil
    import xarray as xr
    import zarr
    from dask.utils import parse_bytes
    from distributed import Client, LocalCluster

    from .catalog import Catalog, add_entry
    from .convert import convert_entry
    from .demo.data import SIZES, make_sst
    from .scan import scan

    warnings.simplefilter("ignore")
    s = SIZES[size]
    root = (workdir or Path.cwd() / "bench-work").resolve() / size
    data = root / "data" / "sst"
    if not data.exists() or len(list(data.glob("*.nc"))) != s.days:
        make_sst(data, days=s.days, ny=s.ny, nx=s.nx)
    files = sorted(glob.glob(str(data / "*.nc")))
    cat_path = root / "memory.yaml"
    cat_path.unlink(missing_ok=True)
    add_entry(cat_path, scan([str(data)], "sst", catalog_dir=str(root)))
    decoded = s.days * s.ny * s.nx * 8
    limit = parse_bytes(worker_memory)

    def peak_of(fn: Callable[[], None], cluster: Any) -> tuple[int, int]:
        procs = [psutil.Process()] + [psutil.Process(w.process.pid) for w in cluster.workers.values()
                                      if getattr(w, "process", None) and w.process.pid]
        peak_total = peak_worker = 0
        stop = threading.Event()

        def sample() -> None:
            nonlocal peak_total, peak_worker
            while not stop.is_set():
                rss = []
                for p in procs:
                    try:
                        rss.append(p.memory_info().rss + sum(c.memory_info().rss for c in p.children(recursive=True)))
                    except psutil.Error:
                        rss.append(0)
                peak_total = max(peak_total, sum(rss))
                peak_worker = max(peak_worker, max(rss[1:] or [0]))
                stop.wait(0.05)

        t = threading.Thread(target=sample, daemon=True)
        t.start()
        try:
            fn()
        finally:
            stop.set()
            t.join()
        return peak_total, peak_worker

    with LocalCluster(n_workers=workers, threads_per_worker=1, memory_limit=worker_memory, processes=True,
                      dashboard_address=None) as cluster, Client(cluster):
        out = root / "shelf-memory"
        shutil.rmtree(out, ignore_errors=True)
        g_total, g_worker = peak_of(lambda: convert_entry(Catalog(cat_path).sst, "zarr", catalog_path=None,
                                                          output=out / "geoshelf.zarr", record=False, layout="map"),
                                    cluster)
        restarts_ok = len(cluster.workers) == workers

        def naive() -> None:
            ds = xr.open_mfdataset(files, combine="by_coords")
            ds.to_zarr(out / "naive.zarr", mode="w", zarr_format=3,
                       encoding={"sst": {"compressors": [zarr.codecs.ZstdCodec(level=3)]}})

        try:
            n_total, n_worker = peak_of(naive, cluster)
        except Exception as exc:  # noqa: BLE001 - the baseline may die of memory: that is a result
            log(f"naive baseline failed: {exc}")
            n_total = n_worker = -1
    log(f"memory: input decoded {decoded / 2**30:.2f} GiB, worker limit {worker_memory} x {workers}; geoshelf peak "
        f"worker {g_worker / 2**20:.0f} MiB, all processes {g_total / 2**20:.0f} MiB; naive worker {n_worker / 2**20:.0f}"
        f" MiB, all {n_total / 2**20:.0f} MiB")
    return Row(measurement=f"5. peak RSS of one worker converting {decoded / 2**30:.1f} GiB (decoded) with "
               f"{workers} workers of {worker_memory} ({decoded / limit:.1f}x a worker's memory); all processes "
               f"incl. driver in the note",
               geoshelf=round(g_worker / 2**20, 1), baseline=round(n_worker / 2**20, 1), unit="MiB",
               target=f"< {worker_memory} per worker",
               met=bool(g_worker < limit and restarts_ok),
               note=f"all processes: geoshelf {g_total / 2**20:.0f} MiB, naive {n_total / 2**20:.0f} MiB")
