"""One process-wide lock for the HDF5 and netCDF-C libraries.

Neither library is thread-safe as built in the wheels: two threads of one process inside
them at once crash the process (a campaign driver converting several entries on threads
segfaulted in 8 of 11 runs).  Every open, read and close that geoshelf does through
netCDF4, h5netcdf/h5py or kerchunk's HDF5 scanner holds :data:`HDF5_LOCK`; xarray is given
the same lock (``lock=``) for the lazy reads of the datasets geoshelf opens, so those
serialize with geoshelf's own calls.  Parallel reading comes from processes (dask workers,
the region writer's process pool), as with xarray's own ``HDF5_LOCK``.

The lock is reentrant (an open that reads its index coordinates takes it again) and
picklable (dask.distributed ships the lazily-indexed arrays that hold it to workers, where
it maps to that process's own lock).
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])

_LOCKS: dict[str, threading.RLock] = {}
_GUARD = threading.Lock()


class SerializableRLock:
    """A reentrant lock that pickles to the lock of the same name in the receiving process."""

    def __init__(self, token: str) -> None:
        self.token = token
        with _GUARD:
            self.lock = _LOCKS.setdefault(token, threading.RLock())

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        return self.lock.acquire(blocking, timeout)

    def release(self) -> None:
        self.lock.release()

    def __enter__(self) -> bool:
        return self.lock.__enter__()

    def __exit__(self, *args: Any) -> None:
        self.lock.__exit__(*args)

    def locked(self) -> bool:
        """True when some thread holds the lock (a non-blocking probe)."""
        if self.lock.acquire(blocking=False):
            self.lock.release()
            return False
        return True

    def __getstate__(self) -> str:
        return self.token

    def __setstate__(self, token: str) -> None:
        self.__init__(token)  # type: ignore[misc]

    def __repr__(self) -> str:
        return f"<SerializableRLock {self.token!r}>"


#: Held around every call into netCDF-C / HDF5 that geoshelf makes or hands to xarray.
HDF5_LOCK = SerializableRLock("geoshelf-hdf5")



def hdf5_locked(fn: F) -> F:
    """Decorator: ``fn`` runs holding :data:`HDF5_LOCK` (it calls into HDF5 / netCDF-C)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with HDF5_LOCK:
            return fn(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


__all__ = ["HDF5_LOCK", "SerializableRLock", "hdf5_locked"]
