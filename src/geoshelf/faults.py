"""Named fault points: cheap hooks at which the fault battery may kill the process.

``fault_point("publish:before-rename")`` costs one environment lookup and does nothing
unless a test asked for it:

``GEOSHELF_FAULT=NAME[@N][,NAME[@N]...]``
    SIGKILL the process (or, with ``GEOSHELF_FAULT_SCOPE=group``, its whole process
    group: the driver and its local Dask workers, like a node losing power) the N-th
    time (default: the first) the named point is reached.
``GEOSHELF_FAULT_TRACE=FILE``
    append the name of every point reached to FILE, one per line.  With a trace file,
    N counts hits across all the processes sharing it (driver and workers).

The harness that sets these is :mod:`geoshelf.testing.faults`; the points the code
exposes are listed in ``docs/reliability.md``.
"""

from __future__ import annotations

import fcntl
import os
import signal

ENV_FAULT = "GEOSHELF_FAULT"
ENV_TRACE = "GEOSHELF_FAULT_TRACE"
ENV_SCOPE = "GEOSHELF_FAULT_SCOPE"

_hits: dict[str, int] = {}


def fault_point(name: str) -> None:
    """A place where a crash is interesting; kills the process when ``GEOSHELF_FAULT`` names it."""
    spec = os.environ.get(ENV_FAULT)
    trace = os.environ.get(ENV_TRACE)
    if not spec and not trace:
        return
    count = _record(trace, name) if trace else _count_here(name)
    for item in (spec or "").split(","):
        point, _, nth = item.strip().partition("@")
        if point == name and count == (int(nth) if nth.isdigit() else 1):
            _die()


def _count_here(name: str) -> int:
    _hits[name] = _hits.get(name, 0) + 1
    return _hits[name]


def _record(trace: str, name: str) -> int:
    """Append ``name`` to the trace under an exclusive lock; return how often it is there now."""
    fd = os.open(trace, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        os.write(fd, f"{name}\n".encode())
        with open(trace, encoding="utf-8") as f:
            return sum(1 for line in f if line.rstrip("\n") == name)
    finally:
        os.close(fd)  # releases the lock


def _die() -> None:
    if os.environ.get(ENV_SCOPE) == "group":
        os.killpg(os.getpgid(0), signal.SIGKILL)
    os.kill(os.getpid(), signal.SIGKILL)


__all__ = ["ENV_FAULT", "ENV_SCOPE", "ENV_TRACE", "fault_point"]
