"""Row 5: the peak memory of a conversion whose input is several times the workers' memory.

Not part of ``run`` (it needs minutes at the medium size): ``geoshelf.bench.memory_bound('medium')``.
"""

from __future__ import annotations

import glob
import shutil
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .report import Row


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

    from ..catalog import Catalog, add_entry
    from ..convert import convert_entry
    from ..demo.data import SIZES, make_sst
    from ..scan import scan

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


__all__ = ["memory_bound"]
