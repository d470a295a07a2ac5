"""Rows 7, 7b, 7c: the year's kerchunk references, against bare kerchunk in the same run.

* 7b: ``convert --to references`` with its default (metadata) validation vs bare kerchunk,
  sequential, in this process (SingleHdf5ToZarr per file + MultiZarrToZarr with cf:time,
  written as JSON, no validation);
* 7c: the same with ``--validate values`` (every value compared; ``--skip 7c`` leaves it out, the
  slowest of the three);
* 7: a references campaign on a LocalCluster of 2 workers (default validation), end to end.

All measured interleaved (bare, metadata, values, campaign per repetition), medians.
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import numpy as np
from kerchunk.combine import MultiZarrToZarr
from kerchunk.hdf import SingleHdf5ToZarr

from ..catalog import Catalog, add_entry
from ..convert import convert_entry
from ..scan import scan
from .campaigns import WORKERS, _campaign, _fresh, _spec
from .context import Context
from .report import Row


def bare_kerchunk(files: list[str], out: Path) -> None:
    """What a user of kerchunk alone writes: index each file, combine along CF time, save JSON."""
    refs = [SingleHdf5ToZarr(f, inline_threshold=300).translate() for f in files]
    combined = MultiZarrToZarr(refs, concat_dims=["time"], identical_dims=["lat", "lon"],
                               coo_map={"time": "cf:time"}).translate()
    out.write_text(json.dumps(combined))


def references_rows(ctx: Context) -> list[Row]:
    """Rows 7, 7b and 7c (see the module docstring)."""
    files = ctx.files
    base = ctx.root / "references"
    _fresh(base)
    base.mkdir(parents=True)
    cat = base / "catalog.yaml"
    add_entry(cat, scan([str(Path(files[0]).parent)], "sst", catalog_dir=str(base)))
    entry = Catalog(cat).sst
    spec = _spec(base / "references.yaml", catalog=str(cat), inputs={"entries": ["sst"]}, target="references",
                 output=str(base / "campaign"))
    store = {}

    def convert(validate: str) -> float:
        out = base / f"sst.{validate}.refs.parq"
        shutil.rmtree(out, ignore_errors=True)
        t0 = time.perf_counter()
        rep = convert_entry(entry, "references", catalog_path=None, output=out, validate=validate, record=False)
        store[validate] = rep.representation.format
        prov = rep.representation.provenance
        assert prov is not None and prov.validation == {"full": "metadata"}.get(validate, validate)
        return time.perf_counter() - t0

    t_bare, t_meta, t_values, t_camp, t_unit = [], [], [], [], []
    for _ in range(max(1, ctx.repeat)):
        t0 = time.perf_counter()
        bare_kerchunk(files, base / "bare.refs.json")
        t_bare.append(time.perf_counter() - t0)
        t_meta.append(convert("full"))
        ctx.log(f"references: bare {t_bare[-1]:.1f} s, metadata {t_meta[-1]:.1f} s")
        if "7c" not in ctx.skip:
            t_values.append(convert("values"))
            ctx.log(f"references: bare {t_bare[-1]:.1f} s, metadata {t_meta[-1]:.1f} s, values {t_values[-1]:.1f} s")
        _fresh(base / "campaign")
        wall, report = _campaign(spec)
        t_camp.append(wall)
        t_unit.append(report["unit_seconds"])
        ctx.log(f"references: campaign {wall:.1f} s")
    b, m, c = (float(np.median(t)) for t in (t_bare, t_meta, t_camp))
    v = float(np.median(t_values)) if t_values else float("nan")
    ctx.log(f"references: bare kerchunk {b:.2f} s, geoshelf metadata {m:.2f} s, values {v:.2f} s, "
            f"campaign {c:.2f} s (unit {np.median(t_unit):.2f} s)")
    n = len(files)
    bare = (f"bare kerchunk sequential (SingleHdf5ToZarr per file + MultiZarrToZarr cf:time, JSON, no validation), "
            f"{n} files")
    rows = [
        Row(measurement=f"7. references of the year ({n} files) built by a campaign (local, {WORKERS} workers, "
                        f"default metadata validation) vs {bare}",
            geoshelf=round(c, 3), baseline=round(b, 3), unit="s", target=">= 1.5x",
            note=f"campaign wall time end to end (plan, cluster start and stop, state, catalog commit), of which the "
                 f"conversion unit {np.median(t_unit):.1f} s (on the workers, one task per few files: kerchunk "
                 f"indexing, the check's per-file reads with pyfive, and a first combine of the task's files; on the "
                 f"client: "
                 f"the final combine of the tasks' results, the store and the check); {store.get('full', '')} store"),
        Row(measurement=f"7b. convert --to references with full (metadata) validation vs {bare}",
            geoshelf=round(m, 3), baseline=round(b, 3), unit="s", target=">= 0.67x (within 1.5x of bare)",
            note=f"one process, no cluster; {store.get('full', '')} store (default above 200 files); validation "
                 "checks every chunk's byte range with pyfive, decodes a chunk per variable and filter pipeline "
                 "both ways, and the decoded coordinates file by file"),
    ]
    if t_values:
        rows.append(Row(measurement=f"7c. convert --to references --validate values (every value compared) vs {bare}",
                        geoshelf=round(v, 3), baseline=round(b, 3), unit="s", target="for reference",
                        note=f"the value-by-value check reads and decodes all {n} files; metadata validation is "
                             f"{v / m:.1f}x faster"))
    return rows


__all__ = ["bare_kerchunk", "references_rows"]
