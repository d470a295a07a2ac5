"""Rows 13a-13d: ``geoshelf campaign run --dry-run`` over a listing file of 10,000 .. 10,000,000 synthetic
paths (no files created: 1,000 files of 100 MB per directory, one entry per directory, so 10M files are
1 PB in 10,000 units), each in a fresh process: wall time, the driver's peak memory, Dask tasks,
scheduler jobs and the size of the state database the run would create.  The baseline is planning
from the files themselves (glob + a stat per file) measured on 10,000 real (empty) files in the same
run, scaled linearly to each size: what the stat-based plan would cost on this machine's local disk
(on a parallel file system each stat is a metadata round trip, far slower)."""

from __future__ import annotations

import os
import re
import resource
import subprocess
import sys
import time
from pathlib import Path

import yaml

from ..campaign.plan import build_plan
from ..campaign.spec import load_spec
from .context import Context
from .report import Row

SIZES = {"13a": 10_000, "13b": 100_000, "13c": 1_000_000, "13d": 10_000_000}
#: The tiny run (CI smoke test) keeps two small rows.
TINY = {"13a": 1_000, "13b": 10_000}
PER_DIR = 1_000
FILE_BYTES = 100_000_000


def write_listing(path: Path, n: int) -> None:
    """``n`` lines as ``find -printf '%p\\t%s\\t%T@\\n'`` writes them (written once per size)."""
    if path.exists() and path.stat().st_size > 0:
        with open(path, "rb") as fh:
            fh.seek(max(0, path.stat().st_size - 200))
            if fh.read().rstrip().endswith(f"obs_{n - 1:08d}.nc\t{FILE_BYTES}\t1700000000.{n - 1:010d}".encode()):
                return
    tmp = path.with_suffix(".partial")
    with open(tmp, "w") as fh:
        step = 100_000
        for start in range(0, n, step):
            fh.write("".join(f"/gpfs/archive/era/d{i // PER_DIR:06d}/obs_{i:08d}.nc\t{FILE_BYTES}"
                             f"\t1700000000.{i:010d}\n" for i in range(start, min(n, start + step))))
    tmp.replace(path)


def _spec(path: Path, inputs: dict, catalog: Path) -> Path:
    path.write_text(yaml.safe_dump({
        "catalog": str(catalog), "inputs": inputs, "target": "references", "batch_size": 50, "max_jobs": 100,
        "cluster": {"profile": "slurm", "scheduler-host": "127.0.0.1", "dashboard-address": ":0"}}, sort_keys=False))
    return path


def _stat_plan_time(ctx: Context, root: Path) -> float:
    """Planning 10,000 real (empty) files by glob + stat, in this process (the baseline per 10,000 files)."""
    many = ctx.root / "data" / "empty10000"
    if len(list(many.glob("*.nc"))) != 10_000:
        many.mkdir(parents=True, exist_ok=True)
        for i in range(10_000):
            (many / f"obs_{i:05d}.nc").touch()
    spec = _spec(root / "stat.yaml", {"files": [str(many / "*.nc")], "name": "obs_{parent}"}, root / "stat-cat.yaml")
    t0 = time.perf_counter()
    build_plan(load_spec(spec), keep_files=False)
    return time.perf_counter() - t0


def _dry_run(spec: Path) -> tuple[float, float, str]:
    """Wall and CPU seconds (user + system, of the child process) of the dry run, and what it printed."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "geoshelf", "campaign", "run", str(spec), "--dry-run"],
                          capture_output=True, text=True)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise RuntimeError(f"dry run of {spec} failed: {proc.stderr.strip()[-500:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, proc.stdout


def planning(ctx: Context) -> list[Row]:
    """Rows 13a-13d."""
    root = ctx.root / "planning"
    root.mkdir(parents=True, exist_ok=True)
    t_stat = _stat_plan_time(ctx, root)
    rows = []
    for rid, n in (TINY if ctx.size == "tiny" else SIZES).items():
        listing = root / f"listing-{n}.tsv"
        t0 = time.perf_counter()
        write_listing(listing, n)
        ctx.log(f"row {rid}: listing of {n:,} paths ({listing.stat().st_size / 2**20:.0f} MiB) "
                f"in {time.perf_counter() - t0:.1f} s")
        spec = _spec(root / f"plan-{n}.yaml", {"listing": str(listing), "name": "era_{parent}"}, root / "catalog.yaml")
        load = os.getloadavg()[0]
        wall, cpu, text = _dry_run(spec)
        m = re.search(r"planning: ([\d.]+) s, driver peak memory (\d+) MiB"
                      r"(?:, (\d+) listing readers (\d+) MiB each)?; the state database would be ([\d.]+) MiB "
                      r"\((\d+) units", text)
        tasks = re.search(r"in (\d+) Dask tasks", text)
        jobs = re.search(r"slurm: (\d+) jobs would be submitted", text)
        if m is None or tasks is None or jobs is None:
            raise RuntimeError(f"dry run printed no plan summary:\n{text[:2000]}")
        plan_s, rss_mib, state_mib, units = float(m.group(1)), int(m.group(2)), float(m.group(5)), int(m.group(6))
        procs, readers = int(m.group(3) or 0), int(m.group(4) or 0)
        total_mib = rss_mib + procs * readers  # the driver and every listing reader at their peaks
        baseline = t_stat * n / 10_000
        rows.append(Row(
            measurement=f"{rid}. campaign --dry-run over a listing of {n:,} paths ({n * FILE_BYTES / 1e15:g} PB, "
                        f"{PER_DIR:,} files per entry): wall time of the whole command vs glob + stat planning "
                        "(10,000 real files, scaled)",
            geoshelf=round(wall, 2), baseline=round(baseline, 2), unit="s",
            target="< 60 s and < 2 GiB at 10,000,000 paths",
            met=(wall < 60 and total_mib < 2048) if n >= 10_000_000 else None,
            note=f"CPU time of the command {cpu:.1f} s (all its processes), planning {plan_s:.1f} s (wall) of it, "
                 f"driver peak RSS {rss_mib} MiB"
                 + (f" + {procs} listing readers of at most {readers} MiB each (sum {total_mib} MiB)"
                    if readers else "")
                 + f", {units:,} units, "
                 f"{tasks.group(1)} Dask tasks, {jobs.group(1)} scheduler jobs (cap 100), state database "
                 f"{state_mib:.1f} MiB; stat planning measured {t_stat:.2f} s per 10,000 files; load average "
                 f"{load:.1f} at its start"))
    return rows


__all__ = ["planning", "write_listing"]
