"""The entries-mode driver converts several entries on threads of one process: every call into
netCDF-C / HDF5 it makes must hold the process-wide HDF5 lock (the libraries are not thread-safe).

The fault battery's open finding (a campaign in entries mode whose rerun died without a traceback,
units and run left ``running``, nothing published) was this: on the code before the lock, the
entries-mode campaign of the battery segfaulted (SIGSEGV, rc -11) or failed a unit with
"NetCDF: HDF error" in 2 of 6 plain runs; with the lock, 0 of 8 (docs/reliability.md).
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import h5py
import netCDF4
import pytest

from geoshelf.catalog import Catalog
from geoshelf.convert import get_target
from geoshelf.convert.base import run
from geoshelf.load.locks import HDF5_LOCK


def _owned() -> bool:
    return bool(HDF5_LOCK.lock._is_owned())  # type: ignore[attr-defined]  # RLock: held by this thread


@pytest.mark.parametrize(("target", "suffix"), [("zarr", "zarr"), ("references", "json")])
def test_concurrent_conversions_open_hdf5_only_under_the_lock(catalog_path: Path, tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch, target: str,
                                                              suffix: str) -> None:
    opens: list[tuple[str, str, bool]] = []
    record = threading.Lock()

    def checked(real: type, lib: str) -> type:
        """A stand-in for ``real`` that records whether this thread holds the lock, then makes a real
        ``real`` instance (no subclass: isinstance checks still pass, and the instance is the library's own)."""

        class Meta(type):
            def __instancecheck__(cls, obj: Any) -> bool:
                return isinstance(obj, real)

            def __call__(cls, name: Any, *args: Any, **kwargs: Any) -> Any:
                with record:
                    opens.append((lib, str(name), _owned()))
                return real(name, *args, **kwargs)

        return Meta(real.__name__, (), {})

    monkeypatch.setattr(netCDF4, "Dataset", checked(netCDF4.Dataset, "netCDF4"))
    monkeypatch.setattr(h5py, "File", checked(h5py.File, "h5py"))
    cat = Catalog(catalog_path)
    names = ["sst", "air"]
    entries = {n: cat[n] for n in names}
    start = threading.Barrier(len(names))

    def convert(name: str) -> Any:
        start.wait()  # both threads enter the libraries at the same moment, as the driver's client threads do
        return run(get_target(target), entries[name], tmp_path / f"{name}.{suffix}", {}, validate="full")

    with ThreadPoolExecutor(len(names)) as pool:
        outcomes = list(pool.map(convert, names))
    assert [o.representation.kind for o in outcomes] == [target, target]
    assert opens, "no HDF5 open seen: the check did not run"
    unlocked = [(lib, f) for lib, f, owned in opens if not owned]
    assert not unlocked, f"opened without HDF5_LOCK: {unlocked[:5]}"
