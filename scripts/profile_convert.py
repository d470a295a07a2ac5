#!/usr/bin/env python
"""Where the time of a NetCDF -> Zarr conversion goes (rows 4 and 4b of docs/benchmarks.md).

Converts the SST year of a benchmark work directory once, running the region tasks one after
another in this process, and prints the CPU seconds (``time.process_time``, all threads of the
process) and wall seconds of each phase: opening the sources, filling the region buffers from the
files (HDF5 deflate/shuffle decoding), zarr's sharded write, zarr's read-back, the comparison and
the validation (``shard write (geoshelf encoder)`` where geoshelf encodes the shards itself,
``zarr sharded write`` where zarr does).  Then, on a sample of the same maps, the bare codec costs beside zarr's: zstd-3
encode/decode of the same inner chunks vs ``zarr`` (and geoshelf's shard encoder) writing them
as shards and zarr reading them, and h5py's
decoding of a map vs ``zlib`` + an unshuffle.  CPU seconds stay meaningful on a shared machine,
where wall seconds do not.

    python scripts/profile_convert.py --workdir bench-work --size medium [--layout timeseries]

The work directory is one that ``python scripts/bench.py --size SIZE --workdir DIR`` filled.
"""

from __future__ import annotations

import argparse
import glob
import shutil
import tempfile
import time
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

PHASES: dict[str, list[float]] = {}


def _timed(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        c, w = time.process_time(), time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            acc = PHASES.setdefault(name, [0.0, 0.0, 0])
            acc[0] += time.process_time() - c
            acc[1] += time.perf_counter() - w
            acc[2] += 1
    return wrapper


def phases(catalog: Path, layout: str, out: Path) -> None:
    """Convert once with timers around each phase; print them."""
    import zarr.core.array as za

    import geoshelf.convert.shardenc as se
    import geoshelf.convert.shards as sh
    import geoshelf.convert.zarr as gz
    from geoshelf.catalog import Catalog
    from geoshelf.convert import convert_entry

    za.Array.__setitem__ = _timed("zarr sharded write", za.Array.__setitem__)
    za.Array.__getitem__ = _timed("zarr read (read-back)", za.Array.__getitem__)
    se.ShardEncoder.write = _timed("shard write (geoshelf encoder)", se.ShardEncoder.write)
    sh._read_pieces = _timed("fill buffers (decode inputs)", sh._read_pieces)
    gz.ZarrConverter._source = _timed("open sources (lazy)", gz.ZarrConverter._source)
    gz.ZarrConverter.validate = _timed("validate", gz.ZarrConverter.validate)

    def serial(tasks: list[Any], *, label: str, workers: int | None = None) -> int:
        print(f"{len(tasks)} region tasks, run one after another here")
        return sum(sh.write_region(t) for t in tasks)

    gz.run_tasks = serial
    c, w = time.process_time(), time.perf_counter()
    convert_entry(Catalog(catalog).sst, "zarr", catalog_path=catalog, output=out, layout=layout, record=False)
    print(f"conversion ({layout}): cpu {time.process_time() - c:.2f} s, wall {time.perf_counter() - w:.2f} s")
    for name, (cpu, wall, n) in PHASES.items():
        print(f"  {name:30s} cpu {cpu:7.2f} s  wall {wall:7.2f} s  calls {n}")


def codecs(files: list[str], n: int = 60) -> None:
    """Bare codec costs beside zarr's, on ``n`` daily maps."""
    import h5py
    import zarr
    from numcodecs import Zstd

    def t(label: str, fn: Callable[[], Any]) -> Any:
        c = time.process_time()
        r = fn()
        print(f"  {label:48s} cpu {time.process_time() - c:6.2f} s")
        return r

    files = files[:n]
    blobs = []
    for f in files:
        with h5py.File(f, "r") as h:
            blobs.append(h["sst"].id.read_direct_chunk((0,) * h["sst"].ndim)[1])

    def h5() -> list[np.ndarray]:
        out = []
        for f in files:
            with h5py.File(f, "r") as h:
                out.append(h["sst"][0])
        return out

    maps = t(f"h5py read of {len(files)} maps (inflate + unshuffle)", h5)
    year = np.stack(maps)
    inflated = t("zlib inflate of the same chunks", lambda: [zlib.decompress(b) for b in blobs])
    item = year.dtype.itemsize

    def unshuffle(d: bytes) -> np.ndarray:
        a = np.frombuffer(d, "u1").reshape(item, -1)
        o = np.empty((a.shape[1], item), "u1")
        for i in range(item):
            o[:, i] = a[i]
        return o

    t("unshuffle (numpy)", lambda: [unshuffle(d) for d in inflated])
    inner = (len(files), 32, 32)
    chunks = [np.ascontiguousarray(year[:, i:i + 32, j:j + 32]) for i in range(0, year.shape[1], 32)
              for j in range(0, year.shape[2], 32)]
    z = Zstd(level=3)
    enc = t(f"zstd-3 encode of {len(chunks)} inner chunks ({year.nbytes / 1e6:.0f} MB)",
            lambda: [z.encode(c) for c in chunks])
    t("zstd decode of them", lambda: [z.decode(e) for e in enc])
    with tempfile.TemporaryDirectory() as tmp:
        arr = zarr.create_array(f"{tmp}/m.zarr", shape=year.shape, chunks=inner, dtype=year.dtype,
                                shards=(len(files), min(480, -(-year.shape[1] // 32) * 32),
                                        -(-year.shape[2] // 32) * 32),
                                compressors=[zarr.codecs.ZstdCodec(level=3)])
        for conc in (2, 10):
            with zarr.config.set({"async.concurrency": conc}):
                t(f"zarr sharded write of the same (concurrency {conc})", lambda: arr.__setitem__(slice(None), year))
                t(f"zarr read of it (concurrency {conc})", lambda: arr[:])
        from geoshelf.convert.shardenc import shard_encoder

        enc = shard_encoder(arr)
        if enc is not None:
            region = tuple(slice(0, n) for n in year.shape)
            for threads in (1, 2):
                t(f"geoshelf shard encoder, same shards ({threads} thread{'s' * (threads > 1)})",
                  lambda n=threads: enc.write(region, year, threads=n))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--workdir", type=Path, default=Path("bench-work"))
    p.add_argument("--size", default="medium")
    p.add_argument("--layout", default="timeseries", choices=["timeseries", "map", "balanced"])
    a = p.parse_args()
    root = a.workdir.resolve() / a.size
    catalog = root / "catalog.yaml"
    files = sorted(glob.glob(str(root / "data" / "sst" / "*.nc")))
    if not catalog.exists() or not files:
        raise SystemExit(f"{root}: no benchmark catalog or SST files: run python scripts/bench.py --size {a.size} "
                         f"--workdir {a.workdir} --only 4 first")
    out = root / "profile.zarr"
    shutil.rmtree(out, ignore_errors=True)
    try:
        phases(catalog, a.layout, out)
    finally:
        shutil.rmtree(out, ignore_errors=True)
    codecs(files)


if __name__ == "__main__":
    main()
