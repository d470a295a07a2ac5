"""Row 5: the peak memory of a conversion whose input is several times the workers' memory.

``--only 5`` runs it alone; also ``geoshelf.bench.memory_bound('medium')``.
"""

from __future__ import annotations

import glob
import json
import shutil
import subprocess
import sys
import threading
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..catalog import Catalog, add_entry
from .report import Row


def _peak_of(fn: Callable[[], Any], cluster: Any) -> tuple[Any, int, int]:
    """Run ``fn``; sample every 50 ms the RSS of this process and of each worker (with children).

    Returns (result, peak of the sum over all processes, peak of one worker)."""
    # deferred: bench/__init__ imports this module; psutil costs ~12 ms at `geoshelf bench --help`
    import psutil

    me = psutil.Process()
    workers = [psutil.Process(w.process.pid) for w in cluster.workers.values()
               if getattr(w, "process", None) and w.process.pid]
    peak_total = peak_worker = 0
    stop = threading.Event()

    def rss(p: psutil.Process, recursive: bool) -> int:
        try:
            return p.memory_info().rss + (sum(c.memory_info().rss for c in p.children(recursive=True))
                                          if recursive else 0)
        except psutil.Error:
            return 0

    def sample() -> None:
        nonlocal peak_total, peak_worker
        while not stop.is_set():
            # every process once: this one and all its descendants (nannies, workers, their children)
            peak_total = max(peak_total, rss(me, recursive=True))
            peak_worker = max(peak_worker, max((rss(w, recursive=True) for w in workers), default=0))
            stop.wait(0.05)

    t = threading.Thread(target=sample, daemon=True)
    t.start()
    try:
        result = fn()
    finally:
        stop.set()
        t.join()
    return result, peak_total, peak_worker


def _memory_input(size: str, workdir: Path | None) -> tuple[Path, list[str], Path, int]:
    """Row 5's input, generated once per size and catalogued afresh: (work root, files, catalog, decoded bytes)."""
    # deferred: bench/__init__ imports this module; `geoshelf bench --help` needs no xarray/pandas (~1 s)
    from ..demo.data import SIZES, make_sst
    from ..scan import scan

    s = SIZES[size]
    root = (workdir or Path.cwd() / "bench-work").resolve() / size
    data = root / "data" / "sst"
    if not data.exists() or len(list(data.glob("*.nc"))) != s.days:
        make_sst(data, days=s.days, ny=s.ny, nx=s.nx)
    files = sorted(glob.glob(str(data / "*.nc")))
    cat_path = root / "memory.yaml"
    cat_path.unlink(missing_ok=True)
    add_entry(cat_path, scan([str(data)], "sst", catalog_dir=str(root)))
    return root, files, cat_path, s.days * s.ny * s.nx * 8


def memory_bound(size: str = "medium", workdir: Path | None = None, worker_memory: str = "600MB",
                 workers: int = 2, log: Callable[[str], None] = print, layout: str = "timeseries",
                 naive_timeout: float = 300.0) -> Row:
    """Row 5: convert an input several times larger than the workers' memory on a LocalCluster
    whose workers have ``worker_memory`` each; sample the peak RSS of every process (driver +
    workers) beside the naive ``open_mfdataset().to_zarr`` on the same cluster, which is given
    ``naive_timeout`` seconds (workers paused at 80% memory never finish it)."""
    # deferred: bench/__init__ imports this module; `geoshelf bench --help` needs no xarray/pandas (~1 s)
    import xarray as xr
    import zarr
    from dask.utils import parse_bytes
    from distributed import Client, LocalCluster
    from distributed import wait as dwait
    from zarr.codecs import ZstdCodec

    # deferred: bench/__init__ imports this module; `geoshelf bench --help` needs no convert package (~5-10 ms)
    from ..convert import convert_entry

    warnings.simplefilter("ignore")
    root, files, cat_path, decoded = _memory_input(size, workdir)
    limit = parse_bytes(worker_memory)
    out = root / "shelf-memory"
    shutil.rmtree(out, ignore_errors=True)
    with LocalCluster(n_workers=workers, threads_per_worker=1, memory_limit=worker_memory, processes=True,
                      dashboard_address=None) as cluster, Client(cluster) as client:
        t0 = time.perf_counter()
        _, g_total, g_worker = _peak_of(lambda: convert_entry(
            Catalog(cat_path).sst, "zarr", catalog_path=None, output=out / "geoshelf.zarr", record=False,
            layout=layout), cluster)
        g_time = time.perf_counter() - t0
        restarts_ok = len(cluster.workers) == workers
        inner = zarr.open_array(str(out / "geoshelf.zarr"), path="sst").chunks

        def naive() -> str:
            ds = xr.open_mfdataset(files, combine="by_coords").chunk(dict(zip(("time", "lat", "lon"), inner,
                                                                               strict=True)))
            enc: dict[str, dict[str, Any]] = {"sst": {"chunks": inner, "compressors": [ZstdCodec(level=3)]}}
            delayed = ds.to_zarr(out / "naive.zarr", mode="w", zarr_format=3, compute=False, encoding=enc)
            fut = client.compute(delayed)
            try:
                dwait(fut, timeout=naive_timeout)
            except Exception:  # noqa: BLE001 - distributed raises its own TimeoutError
                client.cancel(fut)
                return f"did not finish in {naive_timeout:.0f} s"
            if fut.status != "finished":
                return f"failed: {fut.exception()}"
            return f"finished in {time.perf_counter() - t1:.1f} s"

        t1 = time.perf_counter()
        try:
            naive_result, n_total, n_worker = _peak_of(naive, cluster)
        except Exception as exc:  # noqa: BLE001 - the baseline may die of memory: that is a result
            naive_result, n_total, n_worker = f"failed: {exc}", -1, -1
    ratio = decoded / limit
    log(f"memory: input decoded {decoded / 2**30:.2f} GiB, workers {workers} x {worker_memory}; geoshelf ({layout}) "
        f"{g_time:.1f} s, peak worker {g_worker / 2**20:.0f} MiB, all processes {g_total / 2**20:.0f} MiB; naive "
        f"{naive_result}, peak worker {n_worker / 2**20:.0f} MiB, all {n_total / 2**20:.0f} MiB")
    met = bool(g_worker < limit and g_total < workers * limit and restarts_ok)
    return Row(measurement=f"5. peak RSS of one worker converting {decoded / 2**30:.2f} GiB (decoded) to the "
               f"{layout} layout with {workers} workers of {worker_memory} ({ratio:.1f}x a worker's memory); "
               f"naive to_zarr with the same chunks on the same cluster",
               geoshelf=round(g_worker / 2**20, 1), baseline=round(n_worker / 2**20, 1), unit="MiB",
               target=f"< {worker_memory} per worker, all processes < {workers} x {worker_memory}",
               met=met if ratio >= 3 else None,
               note=f"geoshelf {g_time:.1f} s, all processes incl. driver peak {g_total / 2**20:.0f} MiB; naive "
                    f"{naive_result}, all processes {n_total / 2**20:.0f} MiB"
                    + ("" if ratio >= 3 else "; input under 3x a worker's memory at this size: target applies "
                       "at medium"))


def memory_row(ctx: Any) -> list[Row]:
    """Row 5 within a benchmark run (same work directory and size), in a fresh Python process so that
    "all processes" counts the conversion's driver, not the memory of the benchmark's other rows."""
    code = ("import json, sys; from dataclasses import asdict; from pathlib import Path; "
            "from geoshelf.bench.memory import memory_bound; "
            f"r = memory_bound({ctx.size!r}, Path({str(ctx.root.parent)!r}), naive_timeout={_timeout(ctx.size)}, "
            "log=lambda m: print(m, file=sys.stderr)); print(json.dumps(asdict(r)))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    for line in proc.stderr.splitlines():
        if line.startswith("memory:"):
            ctx.log(line)
    if proc.returncode != 0:
        raise RuntimeError(f"row 5 failed: {proc.stderr.strip().splitlines()[-1:]}")
    return [Row.from_dict(json.loads(proc.stdout.strip().splitlines()[-1]))]


def _timeout(size: str) -> float:
    return 180.0 if size in ("medium", "large") else 60.0


__all__ = ["memory_bound", "memory_row"]
