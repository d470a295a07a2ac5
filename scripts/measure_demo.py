"""Numbers for the issue notes: scan/open of the demo year, per-target conversions, catalog scale.

Run after `geoshelf demo` from the repository root: `.venv/bin/python scripts/measure_demo.py`.
"""
import time, shutil, statistics, warnings, sys
warnings.simplefilter("ignore")
from pathlib import Path
from geoshelf import open_catalog
from geoshelf.catalog import Catalog, add_entry
from geoshelf.scan import scan
from geoshelf.convert import convert_entry
root = Path("/tmp/measure"); shutil.rmtree(root, ignore_errors=True); root.mkdir()
cat = root / "c.yaml"
t=time.perf_counter(); add_entry(cat, scan(["demo/data/sst"], "sst", catalog_dir=str(root))); print(f"geoshelf add (scan 365 files): {time.perf_counter()-t:.2f} s")
add_entry(cat, scan(["demo/data/elevation"], "elevation", catalog_dir=str(root)))
add_entry(cat, scan(["demo/data/stations"], "stations", catalog_dir=str(root)))
ts=[]
for i in range(3):
    t=time.perf_counter(); ds = open_catalog(cat).sst.to_dask(); ts.append(time.perf_counter()-t)
print(f"open_catalog()+to_dask() original 365 files: median {statistics.median(ts):.2f} s {[round(x,2) for x in ts]}")
for name, target, opts in [("sst","zarr",{"layout":"balanced"}),("sst","zarr",{"layout":"map"}),("sst","zarr",{"layout":"timeseries"}),("sst","references",{"store":"json"}),("sst","references",{"store":"parquet"}),("sst","cog",{}),("elevation","cog",{}),("stations","parquet",{})]:
    e = Catalog(cat)[name]
    out = root / "shelf" / f"{name}.{target}.{'-'.join(map(str,opts.values()))}"
    t=time.perf_counter(); o = convert_entry(e, target, catalog_path=cat, output=out, record=False, **opts); dt=time.perf_counter()-t
    p=o.representation.provenance
    print(f"{name:10s} -> {target:10s} {str(opts):25s} {dt:6.1f} s  in {p.bytes_in/1e6:7.1f} MB  out {p.bytes_out/1e6:7.2f} MB  files {p.files_out}")
convert_entry(Catalog(cat).sst, "zarr", catalog_path=cat)
convert_entry(Catalog(cat).sst, "references", catalog_path=cat, store="json")
for rep in ("zarr", "references"):
    ts=[]
    for i in range(5):
        t=time.perf_counter(); open_catalog(cat).sst.to_dask(representation=rep); ts.append(time.perf_counter()-t)
    print(f"open_catalog()+to_dask() via {rep}: median {statistics.median(ts)*1000:.1f} ms")
big = root / "big10k.yaml"
from geoshelf.bench import _write_big_catalog
_write_big_catalog(big, 10_000, root)
open_catalog(big)  # first open parses the YAML and builds the derived index
ts=[]
for i in range(5):
    t=time.perf_counter(); c = open_catalog(big); hits = c.search(variable="sst", tags="team3"); ts.append(time.perf_counter()-t)
print(f"10,000-entry catalog open+search (index warm): median {statistics.median(ts)*1000:.1f} ms, {len(hits)} hits")
