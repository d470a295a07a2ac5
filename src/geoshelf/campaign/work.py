"""What a Dask task runs: units of a batch, one after the other, through the same
functions a user calls (:func:`geoshelf.scan.scan`, :func:`geoshelf.convert.base.run`).

Nothing here touches the catalog: a unit returns the entry and representation it made
and the client records them, once, at the end.  Every write is idempotent (the
conversion pipeline publishes atomically and cleans up partial outputs of a previous
attempt), so Dask may recompute a batch whose worker was lost.
"""

from __future__ import annotations

import os
import socket
import time
import traceback
from pathlib import Path
from typing import Any

import dask

from ..convert import get_target
from ..convert.base import run
from ..errors import GeoshelfError, one_line
from .plan import Unit, Work


def _worker_name() -> str:
    try:
        # deferred: distributed costs ~0.4 s; only a unit run on a worker has a worker name to ask
        from distributed import get_worker

        return str(get_worker().name)
    except (ImportError, ValueError):
        return f"client:{os.getpid()}"


def execute_unit(unit: Unit, work: Work, *, inline: bool = False) -> dict[str, Any]:
    """Shelve and/or convert one unit; never raises for a bad input: returns its result.

    ``inline`` runs the conversion's own dask graph (zarr) synchronously inside the
    calling task: a task that waited for tasks of its own could deadlock the workers.
    Without it the graph goes to the default scheduler (the campaign's client).
    """
    if inline:
        with dask.config.set(scheduler="sync"):
            return execute_unit(unit, work)
    # deferred: scan imports xarray (~1 s); a dry run and the driver plan units without it
    from ..scan import scan

    started = time.time()
    t0 = time.perf_counter()
    result: dict[str, Any] = {"id": unit.id, "started": started, "host": socket.gethostname(),
                              "worker": _worker_name(), "bytes_in": unit.bytes_in, "bytes_out": 0}
    try:
        if unit.kind == "files":
            entry = scan(list(unit.files), unit.name, catalog_dir=work.catalog_dir)
            result["entry"] = entry.to_source()
        else:
            assert unit.entry is not None
            entry = unit.entry
        action = "shelved"
        if work.target:
            assert unit.output is not None
            outcome = run(get_target(work.target), entry, Path(unit.output), dict(work.options),
                          validate=work.validate)
            rep = outcome.representation
            result["representation"] = rep.to_dict()
            result["bytes_out"] = rep.provenance.bytes_out if rep.provenance else 0
            action = outcome.action
        result.update(status="done", action=action)
    except Exception as exc:  # noqa: BLE001 - one bad file never stops a campaign: it is recorded
        result.update(status="failed", error=one_line(exc, 2000, with_type=True),
                      detail="" if isinstance(exc, GeoshelfError) else traceback.format_exc()[-4000:])
    result["finished"] = time.time()
    result["duration"] = time.perf_counter() - t0
    return result


def run_batch(units: list[Unit], work: Work) -> list[dict[str, Any]]:
    """One Dask task: the units of a batch in order, each result recorded even if others fail."""
    return [execute_unit(u, work, inline=True) for u in units]


__all__ = ["execute_unit", "run_batch"]
