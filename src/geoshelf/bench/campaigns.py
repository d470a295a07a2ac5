"""Rows 9, 10 (and helpers of row 7, :mod:`.references`): campaigns on a LocalCluster of 2 workers
against single-process baselines.

Every campaign is timed end to end, as a user runs it (``run_campaign``: planning, state,
starting the cluster, the work, the catalog commit, the report), from a fresh state.
"""

from __future__ import annotations

import io
import re
import shutil
import time
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
import yaml
from rasterio.transform import from_origin
from rio_cogeo.cogeo import cog_translate
from rio_cogeo.profiles import cog_profiles

from ..campaign import build_plan, load_spec, plan_campaign, run_campaign
from ..campaign.work import execute_unit
from ..demo.data import _smooth_noise, make_sst
from .context import Context
from .report import Row, bytes_under

WORKERS = 2
#: GeoTIFF tiles of row 9: (number, edge in pixels); float32, uncompressed, so bytes on disk = decoded bytes.
TILES = {"tiny": (8, 256), "small": (32, 1024), "medium": (128, 2048), "large": (256, 2048)}
#: Tiny files of row 10.
OVERHEAD_FILES = {"tiny": 100, "small": 500, "medium": 2000, "large": 2000}


def _spec(path: Path, **fields: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fields.setdefault("cluster", {"profile": "local", "n-workers": WORKERS, "dashboard-address": ":0"})
    path.write_text(yaml.safe_dump(fields, sort_keys=False))
    return path


def _fresh(*paths: Path) -> None:
    for p in paths:
        if p.is_dir():
            shutil.rmtree(p)
        elif p.exists():
            p.unlink()


def _campaign(spec: Path) -> tuple[float, dict[str, Any]]:
    """Run a campaign from a fresh state; (wall seconds, report)."""
    state = spec.with_suffix(".state")
    _fresh(state)
    t0 = time.perf_counter()
    summary = run_campaign(spec, out=io.StringIO(), progress_stream=io.StringIO())
    wall = time.perf_counter() - t0
    assert not isinstance(summary, str)
    report = summary.report
    if report["units"]["failed"] or report["units"]["pending"]:
        raise RuntimeError(f"campaign {spec.name} did not finish: {report['failures'][:3]}")
    return wall, report


def _median(values: list[float]) -> float:
    return float(np.median(values))


# -- 9. COG ----------------------------------------------------------------------------------------

def make_bench_tiles(outdir: Path, n: int, size: int, seed: int = 4) -> list[Path]:
    """``n`` adjacent float32 elevation tiles of ``size``^2 pixels, uncompressed (regenerated only when missing).

    A variant of :func:`geoshelf.demo.data.make_tiles` for many large tiles: a few smooth base
    fields (the demo's spectral noise) shifted, scaled and tilted per tile, instead of one field
    over the whole mosaic (which would not fit in memory at 2 GB).
    """
    files = [outdir / f"tile_{i:04d}.tif" for i in range(n)]
    if all(f.exists() for f in files):
        return files
    _fresh(outdir)
    outdir.mkdir(parents=True)
    rng = np.random.default_rng(seed)
    bases = [(200 + 300 * _smooth_noise(rng, size, size, scale=size / 8)).astype("f4") for _ in range(min(n, 4))]
    ramp = np.linspace(0, 1, size, dtype="f4")
    cols = int(np.ceil(np.sqrt(n)))
    res, x0, y0 = 30.0, 500000.0, 5300000.0
    for i, path in enumerate(files):
        r, c = divmod(i, cols)
        tile = np.roll(bases[i % len(bases)], shift=int(rng.integers(size)), axis=int(i % 2))
        tile = np.maximum(tile * float(rng.uniform(0.8, 1.5)) + float(rng.uniform(-50, 400))
                          + float(rng.uniform(-200, 200)) * ramp[None, :], 0).astype("f4")
        tile[: size // 16, : size // 16] = -9999.0  # a nodata corner
        profile = {"driver": "GTiff", "height": size, "width": size, "count": 1, "dtype": "float32",
                   "crs": "EPSG:32633", "transform": from_origin(x0 + c * size * res, y0 - r * size * res, res, res),
                   "nodata": -9999.0}
        with rasterio.open(path, "w", **profile) as dst:
            dst.write(tile, 1)
    return files


def cog_campaign(ctx: Context) -> list[Row]:
    """Row 9: tiles -> COG by a campaign vs rio-cogeo cog_translate one file after another in one thread."""
    n, size = TILES[ctx.size]
    tiles = make_bench_tiles(ctx.root / "data" / "tiles", n, size)
    mb = sum(f.stat().st_size for f in tiles) / 1e6
    base = ctx.root / "campaign-cog"
    _fresh(base)
    spec = _spec(base / "cog.yaml", catalog=str(base / "catalog.yaml"), inputs={"files": [str(t) for t in tiles],
                 "name": "t{stem}"}, target="cog", options={"profile": "deflate"}, output=str(base / "shelf"),
                 batch_size=max(1, n // (4 * WORKERS)))
    out = base / "single"

    def single() -> None:
        _fresh(out)
        out.mkdir(parents=True)
        prof = cog_profiles.get("deflate")
        prof.update(blockxsize=256, blockysize=256)
        with rasterio.Env(GDAL_NUM_THREADS=1):
            for t in tiles:
                cog_translate(str(t), str(out / t.name), prof, overview_resampling="nearest", quiet=True,
                              in_memory=False, config={"GDAL_NUM_THREADS": "1"})

    t_single, t_camp, t_units = [], [], []
    for _ in range(max(1, ctx.repeat)):
        t0 = time.perf_counter()
        single()
        t_single.append(time.perf_counter() - t0)
        _fresh(base / "shelf", base / "catalog.yaml")
        wall, report = _campaign(spec)
        t_camp.append(wall)
        t_units.append(report["unit_seconds"])
    g, b = mb / _median(t_camp), mb / _median(t_single)
    ctx.log(f"cog: campaign {_median(t_camp):.2f} s ({g:.1f} MB/s), single thread {_median(t_single):.2f} s "
            f"({b:.1f} MB/s), {n} tiles, {mb:.0f} MB")
    out_mb = bytes_under(base / "shelf") / 1e6
    units = _median(t_units)
    return [Row(measurement=f"9. COG of {n} GeoTIFF tiles ({size}x{size} float32, {mb:,.0f} MB) by a campaign (local, "
                f"{WORKERS} workers, incl. scan, cog_validate and value comparison) vs rio-cogeo cog_translate one "
                "file after another in one thread", geoshelf=round(g, 2), baseline=round(b, 2), unit="MB/s",
                target=">= 1.7x",
                note=f"campaign {_median(t_camp):.1f} s, single thread {_median(t_single):.1f} s; sum of the units' "
                     f"times (scan, cog_translate, cog_validate, value comparison, manifest) {units:.1f} s, so "
                     f"{WORKERS} workers can at best reach {WORKERS * _median(t_single) / units:.2f}x; "
                     f"COG output {out_mb:,.0f} MB, {report['units']['done']} units")]


# -- 10. campaign overhead and jobs planned ----------------------------------------------------------

def campaign_overhead(ctx: Context) -> list[Row]:
    """Row 10a: per-file overhead of a campaign of tiny files beyond the conversion work itself."""
    n = OVERHEAD_FILES[ctx.size]
    data = ctx.root / "data" / f"tiny{n}"
    if len(list(data.glob("*.nc"))) != n:
        _fresh(data)
        make_sst(data, days=n, ny=4, nx=8)
    base = ctx.root / "campaign-overhead"
    _fresh(base)
    fields: dict[str, Any] = {"inputs": {"files": [str(data / "*.nc")]}, "target": "references",
                              "options": {"store": "json"}, "batch_size": 50}
    spec = _spec(base / "tiny.yaml", catalog=str(base / "catalog.yaml"), output=str(base / "shelf"), **fields)
    loop_spec = _spec(base / "loop.yaml", catalog=str(base / "loop-catalog.yaml"), output=str(base / "loop-shelf"),
                      **fields)

    def plain_loop() -> float:
        _fresh(base / "loop-shelf")
        plan = build_plan(load_spec(loop_spec))
        t0 = time.perf_counter()
        for u in plan.units:
            r = execute_unit(u, plan.work, inline=True)
            if r["status"] != "done":
                raise RuntimeError(f"{u.name}: {r.get('error')}")
        return time.perf_counter() - t0

    walls, works, unit_sums = [], [], []
    for _ in range(max(1, ctx.repeat)):
        works.append(plain_loop())
        _fresh(base / "shelf", base / "catalog.yaml")
        wall, report = _campaign(spec)
        walls.append(wall)
        unit_sums.append(report["unit_seconds"])
    wall, work, unit_sum = _median(walls), _median(works), _median(unit_sums)
    per_file = (wall - work / WORKERS) / n
    loose = (wall - work) / n
    ctx.log(f"overhead: {n} files, campaign {wall:.2f} s, plain loop {work:.2f} s, units {unit_sum:.2f} s")
    rows = [Row(measurement=f"10a. campaign overhead per file, {n:,} tiny NetCDF files -> references (local, {WORKERS} "
                "workers, batch_size 50): (campaign wall - plain-loop work / workers) / files, vs the work per file",
                geoshelf=round(per_file * 1e3, 2), baseline=round(work / n * 1e3, 2), unit="ms/file",
                target="< 20 ms/file", met=per_file * 1e3 < 20,
                note=f"campaign {wall:.1f} s; the same {n} conversions in a plain loop (execute_unit) {work:.1f} s; "
                     f"sum of unit times in the campaign {unit_sum:.1f} s; (wall - work) / files = "
                     f"{loose * 1e3:.1f} ms")]

    return rows


def jobs_planned(ctx: Context) -> list[Row]:
    """Row 10b: the scheduler jobs a dry run plans for 10,000 files on the slurm profile (at most the cap)."""
    base = ctx.root / "campaign-overhead"
    many = ctx.root / "data" / "empty10000"
    if len(list(many.glob("*.nc"))) != 10_000:
        _fresh(many)
        many.mkdir(parents=True)
        for i in range(10_000):
            (many / f"obs_{i:05d}.nc").touch()
    cap = 4
    dry = _spec(base / "dry.yaml", catalog=str(base / "dry-catalog.yaml"), inputs={"files": [str(many / "*.nc")]},
                target=None, batch_size=50, max_jobs=cap,
                cluster={"profile": "slurm", "scheduler-host": "127.0.0.1", "dashboard-address": ":0"})
    text = plan_campaign(dry, out=io.StringIO())
    m = re.search(r"slurm: (\d+) jobs would be submitted \(cap (\d+)", text)
    if m is None:
        raise RuntimeError(f"dry run printed no job count:\n{text[:2000]}")
    jobs, shown_cap = int(m.group(1)), int(m.group(2))
    tasks = re.search(r"in (\d+) Dask tasks", text)
    # the baseline: what a job array (one job per input file) would submit for the same plan, counted
    # from the units the dry run planned (not assumed from the number of files written above)
    plan = build_plan(load_spec(dry), allow_missing=True, keep_files=False)
    per_file = plan.n_files
    return [Row(measurement=f"10b. scheduler jobs planned for {per_file:,} files (--dry-run, slurm profile, batch_size "
                    f"50, max_jobs {cap}) vs a job per file", geoshelf=jobs, baseline=per_file, unit="jobs",
                    target=f"<= cap ({cap})", met=jobs <= cap and shown_cap == cap,
                note=f"{tasks.group(1) if tasks else '?'} Dask tasks")]


__all__ = ["campaign_overhead", "cog_campaign", "jobs_planned", "make_bench_tiles"]
