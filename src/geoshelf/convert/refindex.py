"""Indexing source files for kerchunk references: kerchunk's per-file references, plus the
facts the reference check needs, read in the same pass (one task per few files on a cluster).

* :func:`single_refs`: kerchunk's references of one NetCDF4/HDF5 (``SingleHdf5ToZarr``) or
  NetCDF3 (``NetCDF3ToZarr``) file.  HDF5 files go through :func:`indexer`, a subclass that
  writes the same references, byte for byte (tested), without kerchunk's trips through
  Zarr's event-loop thread (see there).
* :func:`index_files`: the references of each file *and* its :class:`.sources.SourceFile`
  (pyfive / the NetCDF3 header reader), on the workers of an active dask.distributed client
  (one round trip per few files), otherwise here, one file after the other.
"""

from __future__ import annotations

import asyncio
import functools
import math
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

from ..errors import SourceError, one_line
from ..load.formats import sniff
from ..load.locks import hdf5_locked
from .base import dask_client
from .refcombine import Partial, combine_batch
from .sources import SourceFile, read_source


class _Attrs:
    """Stands in for a Zarr object while kerchunk collects the attributes it would set on it."""

    def __init__(self) -> None:
        self.attrs: dict[str, Any] = {}


#: Zarr's writes for a metadata call it has seen before: (call, its arguments, the metadata it starts from) ->
#: {store key: value written}.  Zarr's metadata is a pure function of these, so the memory store gets the same
#: bytes; the files of one collection share their arrays' layout, so Zarr runs once per distinct call.
_WRITES: dict[tuple[Any, ...], dict[str, Any]] = {}
_WRITES_MAX = 512


def _replayed(store: dict[str, Any], key: tuple[Any, ...], call: Callable[[], Any]) -> Any:
    """Run ``call`` (a Zarr metadata call on ``store``) or replay what it wrote for the same ``key`` before.

    Returns the call's result, or None when the writes were replayed."""
    cached = _WRITES.get(key)
    if cached is not None:
        store.update(cached)
        return None
    before = dict(store)
    result = call()
    if before.keys() <= store.keys():  # nothing deleted: the writes say it all
        if len(_WRITES) >= _WRITES_MAX:
            _WRITES.clear()
        _WRITES[key] = {k: v for k, v in store.items() if before.get(k) is not v}
    return result


def _bytes(value: Any) -> bytes | None:
    if value is None:
        return None
    return bytes(value.to_bytes()) if hasattr(value, "to_bytes") else bytes(value)


class _LocalArray:
    """A Zarr array (async API) whose calls run on the indexer's own event loop, in this thread; metadata
    calls seen before are replayed (:func:`_replayed`)."""

    def __init__(self, group: _LocalGroup, name: str, array: Any = None) -> None:
        self._parent, self._name, self._array = group, name, array

    def _real(self) -> Any:
        if self._array is None:
            self._array = self._parent.run(self._parent.group.getitem(self._name))
        return self._array

    @property
    def path(self) -> str:
        return self._name

    def update_attributes(self, attrs: dict[str, Any]) -> None:
        store, name = self._parent.store, self._name
        key = ("attrs", name, _bytes(store.get(f"{name}/.zarray")), _bytes(store.get(f"{name}/.zattrs")),
               repr(list(attrs.items())))

        def call() -> Any:
            return self._parent.run(self._real().update_attributes(attrs))

        result = _replayed(store, key, call)
        self._array = result  # None after a replay: read back from the store when needed

    def __setitem__(self, selection: Any, value: Any) -> None:
        self._parent.run(self._real().setitem(selection, value))

    def __repr__(self) -> str:
        return f"<zarr array {self._name!r} (local loop)>"


class _LocalGroup:
    """A Zarr group (async API) whose calls run on the indexer's own event loop, in this thread."""

    def __init__(self, group: Any, run: Callable[[Coroutine[Any, Any, Any]], Any], store: dict[str, Any]) -> None:
        self.group, self.run, self.store = group, run, store

    def require_array(self, name: str, **kwargs: Any) -> _LocalArray:
        if "/" in name or any(k == name or k.startswith(f"{name}/") for k in self.store) or "data" in kwargs:
            return _LocalArray(self, name, self.run(self.group.require_array(name, **kwargs)))
        key = ("array", name, repr(sorted(kwargs.items())))
        result = _replayed(self.store, key, lambda: self.run(self.group.require_array(name, **kwargs)))
        return _LocalArray(self, name, result)

    def require_group(self, name: str, **kwargs: Any) -> _LocalGroup:
        return _LocalGroup(self.run(self.group.require_group(name, **kwargs)), self.run, self.store)

    def update_attributes(self, attrs: dict[str, Any]) -> None:
        self.group = self.run(self.group.update_attributes(attrs))

    def __repr__(self) -> str:
        return f"<zarr group {self.group.path!r} (local loop)>"


def _loop_running_here() -> bool:
    try:
        asyncio.get_running_loop()
        return True
    except RuntimeError:
        return False


@functools.lru_cache(maxsize=1)
def indexer() -> type:
    """kerchunk's SingleHdf5ToZarr, with the same references, byte for byte, at a fraction of the Zarr cost.

    kerchunk builds each file's ``.zarray``/``.zattrs`` through a Zarr group in a memory store.
    Every call of Zarr's synchronous API hops to Zarr's event-loop thread and back (about 16
    hops per NetCDF4 file: one per array and one per attribute), which is most of the time
    of indexing a file, and far more on a loaded machine.  Here the same Zarr calls (its async
    API: same metadata code) run on an event loop of the indexer's own, in the calling thread,
    and each variable's attributes are set in one call instead of one per attribute.  Where
    an event loop already runs in the calling thread (a notebook's), kerchunk's own path is
    kept.
    """
    # deferred: kerchunk costs ~0.4 s at `convert --help`; only indexing needs it
    from kerchunk.hdf import SingleHdf5ToZarr

    class LocalLoopHdf5ToZarr(SingleHdf5ToZarr):  # type: ignore[misc]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._own_loop: asyncio.AbstractEventLoop | None = None
            if not _loop_running_here():
                self._own_loop = asyncio.new_event_loop()
                root: Any = self.__dict__["_zroot"]
                self._zroot = _LocalGroup(root._async_group, self._own_loop.run_until_complete, self.store_dict)

        def translate(self, preserve_linked_dsets: bool = False) -> Any:
            try:
                return super().translate(preserve_linked_dsets)
            finally:
                if self._own_loop is not None:
                    self._own_loop.close()
                    self._own_loop = None

        def _transfer_attrs(self, h5obj: Any, zobj: Any) -> None:
            box = _Attrs()
            super()._transfer_attrs(h5obj, box)
            if box.attrs:
                zobj.update_attributes(box.attrs)

    return LocalLoopHdf5ToZarr


@hdf5_locked
def single_refs(path: str) -> dict[str, Any]:
    """kerchunk references of one NetCDF4/HDF5 or NetCDF3 file (raises SourceError naming the file)."""
    if "://" not in path and sniff(path) == "netcdf3":
        # deferred: kerchunk costs ~0.4 s at `convert --help`; only indexing NetCDF3 needs it
        from kerchunk.netCDF3 import NetCDF3ToZarr

        try:
            refs: dict[str, Any] = NetCDF3ToZarr(path, inline_threshold=300).translate()
            return refs
        except Exception as exc:  # noqa: BLE001 - scipy's reader raises many types on odd input
            raise SourceError(f"{path}: cannot index as NetCDF3: {one_line(exc, 200)}") from None
    try:
        refs = indexer()(path, inline_threshold=300).translate()
        return refs
    except Exception as exc:  # noqa: BLE001 - h5py raises many types on corrupt input
        raise SourceError(f"{path}: cannot index as NetCDF4/HDF5: {one_line(exc, 200)}") from None


def _refs_batch(paths: list[str]) -> list[dict[str, Any]]:
    """References of several files, in order (one Dask task)."""
    return [single_refs(p) for p in paths]


@dataclass(kw_only=True)
class Indexed:
    """What :func:`index_files` returns: per file (in order) its references and source facts; per task the
    first stage of the combine (``concat_dim`` given and a cluster used), and where the time went."""

    refs: list[dict[str, Any]]
    sources: list[SourceFile]
    partials: list[Partial | None] = field(default_factory=list)
    #: Seconds summed over the tasks: "index" (kerchunk), "sources" (pyfive / NetCDF3 headers), "combine" (first
    #: stage); "tasks" is the number of tasks.
    timings: dict[str, float] = field(default_factory=dict)


def _index_batch(paths: list[str], kind: str, concat_dim: str | None = None,
                 progress: Callable[[int], None] | None = None) -> Indexed:
    """References and source facts of several files, in order; with ``concat_dim`` also the batch combined
    along it (one Dask task).  ``progress(1)`` after each file."""
    refs, sources = [], []
    spent = {"index": 0.0, "sources": 0.0, "combine": 0.0, "tasks": 1.0}
    for p in paths:
        t0 = time.perf_counter()
        refs.append(single_refs(p))
        t1 = time.perf_counter()
        sources.append(read_source(p, kind))
        spent["index"] += t1 - t0
        spent["sources"] += time.perf_counter() - t1
        if progress is not None:
            progress(1)
    t2 = time.perf_counter()
    partials = [combine_batch(refs, sources, concat_dim)] if concat_dim else []
    spent["combine"] = time.perf_counter() - t2
    return Indexed(refs=refs, sources=sources, partials=partials, timings=spent)


def _batches(paths: list[str], client: Any, tasks_per_thread: int) -> list[list[str]]:
    threads = sum(client.nthreads().values()) or 1
    size = max(1, math.ceil(len(paths) / (threads * tasks_per_thread)))
    return [paths[i:i + size] for i in range(0, len(paths), size)]


def _gather(futures: list[Any], progress: Callable[[int], None], size: Callable[[Any], int]) -> list[Any]:
    """The futures' results in order, calling ``progress(size(result))`` as each comes back."""
    # deferred: distributed costs ~0.4 s; only a run on a dask.distributed client needs it
    from distributed import as_completed

    try:
        done: dict[str, Any] = {}
        for fut, result in as_completed(futures, with_results=True):
            done[fut.key] = result
            progress(size(result))
        return [done[f.key] for f in futures]
    finally:
        for f in futures:
            f.release()


def _quiet(n: int = 1) -> None:
    """No progress shown."""


def many_refs(paths: list[str], *, tasks_per_thread: int = 4,
              progress: Callable[[int], None] | None = None) -> list[dict[str, Any]]:
    """kerchunk references of each file, in order; ``progress(n)`` is called as ``n`` more files are indexed.

    With a dask.distributed Client active (a campaign driving this conversion from the client,
    or a user's own Client) the files are indexed on the workers, a few files per task
    (about ``tasks_per_thread`` tasks per worker thread); otherwise one after the other here.
    """
    advance = progress or _quiet
    client = dask_client() if len(paths) > 1 else None
    if client is None:
        out = []
        for p in paths:
            out.append(single_refs(p))
            advance(1)
        return out
    futures = client.map(_refs_batch, _batches(paths, client, tasks_per_thread), pure=False)
    return [r for batch in _gather(futures, advance, len) for r in batch]


def index_files(paths: list[str], kind: str, *, concat_dim: str | None = None, tasks_per_thread: int = 4,
                progress: Callable[[int], None] | None = None) -> Indexed:
    """Kerchunk references and source facts of each file, in order, read in one pass per file.

    On the workers of an active dask.distributed client, a few consecutive files per task (one
    round trip for both), each task also combining its files along ``concat_dim`` (if given:
    :func:`.refcombine.combine_batch`); otherwise one file after the other here, and no partial
    combine.  ``progress(n)`` is called as ``n`` more files are done (each file here, each task's files
    on a cluster).
    """
    advance = progress or _quiet
    client = dask_client() if len(paths) > 1 else None
    if client is None:
        parts = [_index_batch(paths, kind, progress=advance)]
    else:
        futures = client.map(_index_batch, _batches(paths, client, tasks_per_thread), kind=kind,
                             concat_dim=concat_dim, pure=False)
        parts = _gather(futures, advance, lambda part: len(part.refs))
    timings: dict[str, float] = {}
    for p in parts:
        for key, value in p.timings.items():
            timings[key] = timings.get(key, 0.0) + value
    return Indexed(refs=[r for p in parts for r in p.refs], sources=[s for p in parts for s in p.sources],
                   partials=[x for p in parts for x in p.partials], timings=timings)


__all__ = ["Indexed", "index_files", "indexer", "many_refs", "single_refs"]
