"""Writing the data of a Zarr store region by region, straight from the source files.

A multi-file NetCDF collection (one file per day, say) is written without a dask rechunk:
each task owns whole write regions (one shard in Zarr v3, a block of chunks in v2) of one
variable.  It reads the piece of every source file that overlaps its region into one
preallocated buffer, one file at a time, writes the region in one call and reads it back to
check it.  So a task holds about three times its region (buffer, read-back, codec
copies), whatever the layout, and no two tasks
touch the same shard: a task that is recomputed (a lost worker) writes the same bytes again.

Where every source file packs a variable the same way (dtype, ``scale_factor``,
``add_offset``, ``_FillValue``, ``missing_value``), the stored integers are copied as they
are (``raw``): no decoding, four times less memory than float64, and the output decodes to
exactly the source's values.  Otherwise the decoded values are read and stored unpacked; so are
values packed with a ``float32`` ``scale_factor`` or ``add_offset`` that would unpack otherwise from
Zarr's JSON attributes (:func:`.packing.json_exact_packing`).

The region -> files mapping comes from each file's own coordinate values located in the
combined coordinates, so files whose CF time units differ land on the right time steps.
"""

from __future__ import annotations

import hashlib
import math
import multiprocessing
import os
from collections.abc import Iterator, Sequence
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from typing import Any

import numpy as np
import xarray as xr

from ..catalog.paths import is_url
from ..errors import ConversionError, SourceError, ValidationError, one_line
from ..load.locks import HDF5_LOCK
from ..load.original import open_netcdf_file
from ..progress import Progress
from .base import dask_client, on_dask_worker
from .packing import json_exact_packing
from .shardenc import shard_encoder

#: The netCDF-C and HDF5 libraries are not thread-safe: one reader at a time per process
#: (parallel reading comes from worker processes; compression of the output still overlaps).
_READ_LOCK = HDF5_LOCK
#: Below this many bytes in all, local tasks run on threads; above, on worker processes.
PROCESS_MIN_BYTES = 64 * 2**20

#: Shards zarr encodes or decodes at once inside one region task.
ZARR_CONCURRENCY = 2

#: Threads that compress one region's inner chunks (zstd releases the GIL) in geoshelf's shard encoder.
ENCODE_THREADS = 2

#: Encoding keys that decide how stored values decode; equal in every file -> raw copy.
PACKING = ("dtype", "scale_factor", "add_offset", "_FillValue", "missing_value", "_Unsigned")


@dataclass(frozen=True, kw_only=True)
class Run:
    """A contiguous stretch of one file along one dimension."""

    #: First index in the file.
    source: int
    #: First index in the combined dataset.
    target: int
    #: Number of elements.
    length: int


@dataclass(frozen=True, kw_only=True)
class Piece:
    """What one file contributes to one region."""

    file: str
    #: Index into the file's variable.
    source: tuple[slice, ...]
    #: Index into the region's buffer.
    target: tuple[slice, ...]


@dataclass(frozen=True, kw_only=True)
class RegionTask:
    """Write ``region`` of ``variable`` from ``pieces``; everything a worker needs (picklable)."""

    store: str
    variable: str
    region: tuple[slice, ...]
    pieces: tuple[Piece, ...]
    #: Copy stored values as they are (True) or read decoded values (False).
    raw: bool
    dtype: str
    #: Value of the buffer where no file contributes (the stored _FillValue, NaN or None).
    fill: Any
    storage_options: dict[str, Any] | None = None

    @property
    def key(self) -> str:
        """A deterministic task name (same inputs, same key)."""
        text = repr((self.store, self.variable, self.region, self.raw))
        return f"geoshelf-region-{hashlib.sha256(text.encode()).hexdigest()[:16]}"

    @property
    def nbytes(self) -> int:
        return int(math.prod(s.stop - s.start for s in self.region)) * int(np.dtype(self.dtype).itemsize)


@dataclass(frozen=True, kw_only=True)
class VariablePlan:
    """How one variable is written: packing kept (raw) or not, and its source runs per file."""

    name: str
    raw: bool
    dtype: str
    fill: Any
    #: Per file: the runs along each of the variable's dims.
    runs: tuple[tuple[str, tuple[tuple[Run, ...], ...]], ...]


# -- planning (on the client) ---------------------------------------------------------------

def _runs(positions: np.ndarray) -> tuple[Run, ...]:
    """Contiguous runs of target positions (``positions[i]`` is where file index ``i`` goes)."""
    if positions.size == 0:
        return ()
    breaks = np.flatnonzero(np.diff(positions) != 1) + 1
    starts = np.concatenate([[0], breaks])
    ends = np.concatenate([breaks, [positions.size]])
    return tuple(Run(source=int(s), target=int(positions[s]), length=int(e - s))
                 for s, e in zip(starts, ends, strict=True))


def _positions(part: xr.Dataset, combined: xr.Dataset, dim: str, path: str) -> np.ndarray:
    n = part.sizes[dim]
    if dim in combined.indexes and dim in part.indexes and part.indexes[dim].equals(combined.indexes[dim]):
        return np.arange(n)  # the whole dimension (a single file's index may repeat values)
    if dim not in combined.indexes or dim not in part.indexes:
        if n != combined.sizes[dim]:
            raise SourceError(f"{path}: dimension {dim!r} has {n} elements, the collection {combined.sizes[dim]}")
        return np.arange(n)
    if not combined.indexes[dim].is_unique:
        raise SourceError(f"{path}: {dim} repeats values; a collection cannot be located by them")
    where: np.ndarray = combined.indexes[dim].get_indexer(part.indexes[dim])
    if (where < 0).any():
        bad = part[dim].values[int(np.flatnonzero(where < 0)[0])]
        raise SourceError(f"{path}: {dim} value {bad!r} is not in the combined collection")
    return where


def packing(var: xr.Variable) -> tuple[Any, ...]:
    """The encoding that decides how a variable's stored values decode (comparable)."""
    enc = var.encoding
    out = []
    for k in PACKING:
        v = enc.get(k)
        if isinstance(v, np.generic | np.ndarray):
            v = np.asarray(v).tolist()
        if k == "dtype" and v is not None:
            v = np.dtype(v).str
        out.append((k, "nan" if isinstance(v, float) and math.isnan(v) else v))
    return tuple(out)


def plan_variable(name: str, combined: xr.Dataset, parts: Sequence[xr.Dataset], files: Sequence[str]) -> VariablePlan:
    """Decide raw or decoded for ``name`` and locate every file's values in the combined variable."""
    var = combined[name].variable
    concat_dims = {d for p in parts for d in p.dims if d in combined.dims and p.sizes[d] != combined.sizes[d]}
    sources = [(f, p) for f, p in zip(files, parts, strict=True) if name in p.variables]
    if not concat_dims & set(var.dims):
        sources = sources[:1]  # a variable without the combined dims comes from the first file
    runs = []
    covered = 0
    for path, part in sources:
        per_dim = tuple(_runs(_positions(part, combined, str(d), path)) for d in var.dims)
        runs.append((path, per_dim))
        covered += math.prod(sum(r.length for r in dim_runs) for dim_runs in per_dim)
    gaps = covered < var.size
    first = sources[0][1][name].variable if sources else var
    same = all(packing(p[name].variable) == packing(first) for _, p in sources)
    raw_dtype = np.dtype(first.encoding.get("dtype", var.dtype))
    raw_fill = first.encoding.get("_FillValue")
    raw = (same and raw_dtype.kind in "iuf" and "_Unsigned" not in first.encoding
           and json_exact_packing(raw_dtype, first.encoding) and (not gaps or raw_fill is not None))
    if raw:
        dtype, fill = raw_dtype, (raw_fill if gaps else None)
    else:
        dtype = np.dtype(var.dtype)
        if dtype.kind not in "iufb":
            raise ConversionError(f"{files[0]}: variable {name!r} of dtype {dtype} cannot be written by region")
        if gaps and dtype.kind != "f":
            dtype = np.result_type(dtype, np.float32)
        fill = np.nan if dtype.kind == "f" else None
    return VariablePlan(name=name, raw=raw, dtype=dtype.str, fill=fill, runs=tuple(runs))


def _overlap(runs: tuple[Run, ...], start: int, stop: int) -> Iterator[tuple[slice, slice]]:
    """(file slice, buffer slice) of each run's part inside [start, stop)."""
    for r in runs:
        lo, hi = max(start, r.target), min(stop, r.target + r.length)
        if lo < hi:
            yield slice(r.source + lo - r.target, r.source + hi - r.target), slice(lo - start, hi - start)


def regions(shape: Sequence[int], block: Sequence[int]) -> Iterator[tuple[slice, ...]]:
    """The regions of a regular grid of ``block``-shaped blocks over ``shape``, in C order."""
    counts = [max(1, math.ceil(n / b)) for n, b in zip(shape, block, strict=True)]
    for idx in np.ndindex(*counts):
        yield tuple(slice(i * b, min(n, (i + 1) * b)) for i, b, n in zip(idx, block, shape, strict=True))


def region_shape(shape: Sequence[int], shard: Sequence[int], *, max_elements: int, min_regions: int = 1,
                 order: Sequence[int] | None = None) -> tuple[int, ...]:
    """A write region: whole shards, grown along ``order`` (dimension indices) while it stays within
    ``max_elements`` and the array still splits into at least ``min_regions`` regions.

    Bigger regions read each source file fewer times (a file whose one chunk is a whole map is
    decompressed once per region that overlaps it); ``min_regions`` keeps every worker busy.
    """
    region = [max(1, min(s, n)) for s, n in zip(shard, shape, strict=True)]  # a zero-length dim: one empty region

    def count(r: Sequence[int]) -> int:
        return math.prod(math.ceil(n / b) for n, b in zip(shape, r, strict=True))

    for d in (order if order is not None else reversed(range(len(shape)))):
        while region[d] < shape[d]:
            grown = list(region)
            grown[d] = min(shape[d], region[d] + shard[d])
            if math.prod(grown) > max_elements or count(grown) < min_regions:
                break
            region = grown
    # balance: the same number of regions along each dim, each as even as whole shards allow
    for d in range(len(shape)):
        shards_d = math.ceil(shape[d] / shard[d])
        regions_d = max(1, math.ceil(shape[d] / region[d]))
        region[d] = max(1, min(shape[d], shard[d] * math.ceil(shards_d / regions_d)))
    return tuple(region)


def parallelism() -> int:
    """How many region tasks can run at once: the active client's threads, one inside a worker's
    task, else this machine's cores."""
    if on_dask_worker():
        return 1
    client = dask_client()
    if client is not None:
        try:
            workers = client.scheduler_info(n_workers=-1)["workers"].values()
            return max(1, sum(int(w.get("nthreads", 1)) for w in workers))
        except (KeyError, TypeError, ValueError):
            return 1
    return os.cpu_count() or 1


def region_tasks(store: str, vplan: VariablePlan, shape: Sequence[int], block: Sequence[int],
                 storage_options: dict[str, Any] | None = None) -> list[RegionTask]:
    """One task per write region of the variable (none when it has no elements: nothing to write)."""
    tasks: list[RegionTask] = []
    if 0 in tuple(shape):
        return tasks
    for region in regions(shape, block):
        pieces = []
        for path, per_dim in vplan.runs:
            overlaps = [list(_overlap(dim_runs, s.start, s.stop)) for dim_runs, s in zip(per_dim, region, strict=True)]
            if not all(overlaps):
                continue
            for combo in np.ndindex(*(len(o) for o in overlaps)):
                src = tuple(overlaps[d][i][0] for d, i in enumerate(combo))
                dst = tuple(overlaps[d][i][1] for d, i in enumerate(combo))
                pieces.append(Piece(file=path, source=src, target=dst))
        tasks.append(RegionTask(store=store, variable=vplan.name, region=region, pieces=tuple(pieces),
                                raw=vplan.raw, dtype=vplan.dtype, fill=vplan.fill, storage_options=storage_options))
    return tasks


# -- the task (on a worker) ------------------------------------------------------------------

def write_region(task: RegionTask) -> int:
    """Fill the region's buffer from its files, write it, read it back and compare; return bytes written."""
    # deferred: zarr costs ~0.3 s at `convert --help`; only writing a region needs it
    import zarr

    shape = tuple(s.stop - s.start for s in task.region)
    dtype = np.dtype(task.dtype)
    buf = np.empty(shape, dtype=dtype) if task.fill is None else np.full(shape, task.fill, dtype=dtype)
    by_file: dict[str, list[Piece]] = {}
    for p in task.pieces:
        by_file.setdefault(p.file, []).append(p)
    for path, pieces in by_file.items():
        with _READ_LOCK:
            _read_pieces(task, path, pieces, buf)
    arr = zarr.open_array(task.store, path=task.variable, mode="r+")
    encoder = shard_encoder(arr)
    if encoder is not None and encoder.covers(task.region) and buf.dtype == encoder.dtype:
        # whole shards of a Zarr v3 array: encoded here with the array's own codecs, byte for byte
        # as zarr would (half zarr's CPU: no per-chunk asyncio/buffer machinery); checked below
        encoder.write(task.region, buf, threads=ENCODE_THREADS)
    else:
        # few shards at a time: zarr's default (10 concurrent, codecs on threads) thrashes a worker
        # process's core; measured 1.3-2.6x slower writes and reads of shards on this 2-core machine
        with zarr.config.set({"async.concurrency": ZARR_CONCURRENCY}):
            arr[task.region] = buf
    back = arr[task.region]  # read through zarr-python's own decoder, independent of the encoder above
    equal = np.array_equal(back, buf, equal_nan=True) if dtype.kind == "f" else np.array_equal(back, buf)
    if not equal:
        raise ValidationError(f"{task.store}/{task.variable}: region {_fmt(task.region)} reads back different values "
                              f"from those written")
    return buf.nbytes


def _read_pieces(task: RegionTask, path: str, pieces: list[Piece], buf: np.ndarray) -> None:
    """Copy the file's pieces into the buffer: stored values through h5py for local NetCDF4 files
    (half the cost of opening with xarray), else through xarray (NetCDF3, remote files, decoding)."""
    if task.raw and not is_url(path) and _read_raw_hdf5(task, path, pieces, buf):
        return

    ds = open_netcdf_file(path, storage_options=task.storage_options, mask_and_scale=not task.raw,
                          decode_times=False, decode_timedelta=False, decode_coords=False, cache=False)
    try:
        var = ds.variables[task.variable]
        for p in pieces:
            values = np.asarray(var[p.source].values)
            if task.raw and values.dtype != buf.dtype:
                raise SourceError(f"{path}: {task.variable} is stored as {values.dtype}, the collection as {buf.dtype}")
            buf[p.target] = values
    except SourceError:
        raise
    except Exception as exc:  # noqa: BLE001 - readers raise anything on corrupt data
        raise SourceError(f"{path}: cannot read {task.variable}: {one_line(exc, 300)}") from None
    finally:
        ds.close()


def _read_raw_hdf5(task: RegionTask, path: str, pieces: list[Piece], buf: np.ndarray) -> bool:
    """The stored values of a NetCDF4 (HDF5) variable, as netCDF4 returns them unscaled; False when
    the file is not readable this way (the xarray path then reads it or names the problem)."""
    # deferred: h5py costs ~0.15 s at `convert --help`; only raw HDF5 reads need it
    import h5py

    try:
        with h5py.File(path, "r") as h:
            dset = h.get(task.variable)
            if not isinstance(dset, h5py.Dataset) or dset.dtype != buf.dtype:
                return False
            for p in pieces:
                buf[p.target] = dset[p.source]
        return True
    except Exception:  # noqa: BLE001 - not HDF5, or damaged: let the xarray reader say what is wrong
        return False


def _fmt(region: tuple[slice, ...]) -> str:
    return "[" + ", ".join(f"{s.start}:{s.stop}" for s in region) + "]"


# -- running the tasks ----------------------------------------------------------------------

def run_tasks(tasks: Sequence[RegionTask], *, label: str, workers: int | None = None) -> int:
    """Run the tasks on the active dask.distributed client, else on local processes (``workers``,
    default one per core) or threads for small work; show progress.

    Returns the bytes written.  The first failure cancels what is left and is raised.
    """
    progress = Progress(label, len(tasks), interval=10.0, label="convert") if len(tasks) > 1 else None
    done = total = 0
    try:
        client = dask_client()
        if client is not None:
            # deferred: distributed costs ~0.4 s; only a run on a dask.distributed client needs it
            from distributed import as_completed as dist_completed

            futures = [client.submit(write_region, t, key=t.key, pure=False, retries=0) for t in tasks]
            try:
                for fut in dist_completed(futures):
                    total += fut.result()
                    done += 1
                    if progress:
                        progress.update(done, 0, len(tasks) - done)
            except BaseException:
                client.cancel(futures)
                raise
        else:
            for nbytes in _run_local(tasks, workers):
                total += nbytes
                done += 1
                if progress:
                    progress.update(done, 0, len(tasks) - done)
    finally:
        if progress:
            progress.update(done, 0, 0, force=True)
            progress.close()
    return total


def _run_local(tasks: Sequence[RegionTask], workers: int | None) -> Iterator[int]:
    """Results of the tasks, as they finish, run on this machine: worker processes for large work (HDF5 reads
    serialize within a process), threads for small work; the first failure cancels the rest."""
    n = 1 if on_dask_worker() else max(1, min(len(tasks), workers or os.cpu_count() or 1))
    pool: Executor
    if n > 1 and sum(t.nbytes for t in tasks) >= PROCESS_MIN_BYTES and \
            "fork" in multiprocessing.get_all_start_methods():
        # fork, not spawn: spawn re-runs the caller's script unless it has a __main__ guard; this
        # process reads no file while the pool starts (the children open their files themselves)
        pool = ProcessPoolExecutor(max_workers=n, mp_context=multiprocessing.get_context("fork"))
    else:
        pool = ThreadPoolExecutor(max_workers=n)
    with pool:
        pending = [pool.submit(write_region, t) for t in tasks]
        try:
            for fut in as_completed(pending):
                yield fut.result()
        except BaseException:
            pool.shutdown(wait=True, cancel_futures=True)
            raise


__all__ = ["Piece", "RegionTask", "Run", "VariablePlan", "packing", "parallelism", "plan_variable", "region_shape",
           "region_tasks", "regions",
           "run_tasks", "write_region"]
