#!/usr/bin/env python3
"""Consecutive entries-mode campaigns NetCDF4 -> Zarr on a local cluster, each checked crash-free.

Issue #10 found the driver segfaulting (exit 139 in 8 of 11 runs) when a campaign of 4 catalog
entries x 50 NetCDF4 files -> zarr drove several conversions from the client at once: threads
inside netCDF-C/HDF5, which is not thread-safe.  geoshelf.load.locks.HDF5_LOCK serialises them.
This script is the proof: N campaigns in a row, each a fresh ``geoshelf campaign run`` process
(fresh catalog copy, state and output), must exit 0 with every unit done on its first attempt,
and every Zarr must equal its source files; the first run that does not stops the script (exit 1).

    python scripts/campaign_lock_proof.py                          # 20 runs, 4 entries x 50 files
    python scripts/campaign_lock_proof.py --runs 2 --entries 2 --files 10 --dir /tmp/proof
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def make_archive(root: Path, entries: int, files: int) -> Path:
    """``entries`` daily NetCDF4 collections of ``files`` packed-int16 files each, in one catalog."""
    from geoshelf.catalog import add_entry
    from geoshelf.demo.data import make_sst
    from geoshelf.scan import scan

    catalog = root / "catalog.yaml"
    for i in range(entries):
        paths = make_sst(root / "data" / f"sst{i}", days=files, ny=45, nx=90, start=f"{2000 + i}-01-01", seed=i)
        add_entry(catalog, scan([str(p) for p in paths], f"sst{i}", catalog_dir=str(root)))
    return catalog


def write_spec(run_dir: Path, catalog: Path, entries: int, workers: int, threads: int) -> Path:
    spec = run_dir / "proof.yaml"
    names = ", ".join(f"sst{i}" for i in range(entries))
    spec.write_text(
        f"name: lock-proof\ncatalog: {catalog}\ninputs:\n  entries: [{names}]\ntarget: zarr\n"
        f"options: {{layout: map}}\nvalidate: full\noutput: {run_dir / 'shelf'}\nretries: 0\n"
        f"cluster: {{profile: local, n-workers: {workers}, threads-per-worker: {threads}, "
        f"dashboard-address: ':0'}}\n")
    return spec


def check_outputs(catalog: Path, entries: int) -> str | None:
    """None when every entry's Zarr representation equals its source files, else what differs."""
    import numpy as np

    from geoshelf.catalog import Catalog

    cat = Catalog(catalog)
    for i in range(entries):
        entry = cat[f"sst{i}"]
        if entry.representation("zarr") is None:
            return f"sst{i}: no zarr representation recorded"
        got = entry.to_dask(representation="zarr").sst.values
        want = entry.to_dask(representation="original").sst.values
        if not np.array_equal(got, want, equal_nan=True):
            return f"sst{i}: the Zarr differs from the source files"
    return None


def one_run(n: int, base: Path, catalog: Path, entries: int, workers: int, threads: int) -> tuple[bool, str]:
    run_dir = base / f"run{n:02d}"
    shutil.rmtree(run_dir, ignore_errors=True)
    run_dir.mkdir(parents=True)
    cat = catalog.parent / f"catalog-run{n:02d}.yaml"  # beside the archive: its relative paths hold
    shutil.copyfile(catalog, cat)
    spec = write_spec(run_dir, cat, entries, workers, threads)
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    t0 = time.monotonic()
    res = subprocess.run([sys.executable, "-m", "geoshelf", "campaign", "run", str(spec)], check=False,
                         capture_output=True, text=True, env=env, timeout=1800)
    took = time.monotonic() - t0
    if res.returncode != 0:
        tail = " | ".join(res.stderr.strip().splitlines()[-3:])
        return False, f"exit {res.returncode} after {took:.0f} s: {tail}"
    import json

    report = json.loads((spec.parent / "proof.state" / "report.json").read_text()) \
        if (spec.parent / "proof.state" / "report.json").exists() else None
    if report is not None and (report["units"]["done"] != entries or report["retried_attempts"]):
        return False, f"units {report['units']}, retried attempts {report['retried_attempts']}"
    problem = check_outputs(cat, entries)
    if problem:
        return False, problem
    shutil.rmtree(run_dir / "shelf", ignore_errors=True)
    return True, f"exit 0 in {took:.0f} s, {entries} units done on their first attempt, values equal"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--entries", type=int, default=4)
    ap.add_argument("--files", type=int, default=50, help="NetCDF4 files per entry")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--threads", type=int, default=2, help="threads per worker (HDF5 calls on threads)")
    ap.add_argument("--dir", help="working directory (default: a temporary one, removed at the end)")
    args = ap.parse_args(argv)
    base = Path(args.dir) if args.dir else Path(tempfile.mkdtemp(prefix="geoshelf-lock-proof-"))
    try:
        catalog = make_archive(base / "archive", args.entries, args.files)
        print(f"proof: {args.entries} entries x {args.files} NetCDF4 files, {args.workers} workers x "
              f"{args.threads} threads, {args.runs} campaigns", flush=True)
        for n in range(1, args.runs + 1):
            ok, what = one_run(n, base, catalog, args.entries, args.workers, args.threads)
            print(f"proof: run {n}/{args.runs}: {'ok' if ok else 'FAILED'}: {what}", flush=True)
            if not ok:
                return 1
        print(f"proof: {args.runs} consecutive campaigns crash-free", flush=True)
        return 0
    finally:
        if not args.dir:
            shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
