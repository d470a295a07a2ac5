"""Is a campaign's driver alive?  The driver's heartbeat in the state database, and its pid on its host.

The driver records its host and pid when a run starts (:meth:`State.start_run`) and a
:class:`Heartbeat` thread refreshes ``runs.heartbeat`` every few seconds.  ``campaign status``
tells a running driver from a dead one with :func:`driver_liveness`: on the driver's own host
the pid must exist; on any host the heartbeat must be recent.
"""

from __future__ import annotations

import os
import socket
import sqlite3
import threading
import time
from dataclasses import dataclass
from typing import Any, Literal

#: Seconds between two heartbeats of a driver.
HEARTBEAT_INTERVAL = 5.0
#: A running driver whose heartbeat is older than this is taken for dead (seconds).
HEARTBEAT_STALE = 120.0


class Heartbeat:
    """A daemon thread that stamps ``runs.heartbeat`` of one run (own connection); a context manager."""

    def __init__(self, state_path: str | os.PathLike[str], run_id: int, interval: float = HEARTBEAT_INTERVAL) -> None:
        self.path, self.run_id, self.interval = str(state_path), run_id, interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name="geoshelf-heartbeat", daemon=True)

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _beat(self) -> None:
        db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        try:
            while not self._stop.wait(self.interval):
                try:
                    db.execute("UPDATE runs SET heartbeat = ? WHERE id = ?", (time.time(), self.run_id))
                except sqlite3.Error:  # a busy or briefly unavailable file: the next beat tries again
                    continue
        finally:
            db.close()


@dataclass(frozen=True, kw_only=True)
class Liveness:
    """What ``campaign status`` says about the driver of the last run."""

    #: "running", "died" or "stopped" (the last run ended, or there is none).
    state: Literal["running", "died", "stopped"]
    #: One human-readable line.
    text: str
    pid: int | None = None
    host: str | None = None
    #: Seconds since the last heartbeat (None without one).
    heartbeat_age: float | None = None


def _pid_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: it exists
        return True
    return True


def _ago(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def driver_liveness(last_run: dict[str, Any] | None, spec_path: str, *, lock_held: bool | None = None,
                    now: float | None = None, stale_after: float = HEARTBEAT_STALE) -> Liveness:
    """Tell a running driver from a dead one, from the last run's row (host, pid, heartbeat).

    ``lock_held`` is whether the driver lock is held as seen from here (None: unknown).
    """
    if not last_run or last_run.get("status") != "running":
        if lock_held:
            return Liveness(state="running", text="running (planning or committing; the driver lock is held)")
        ended = last_run.get("status") if last_run else None
        return Liveness(state="stopped", text=f"not running (last run {ended})" if ended else "not running")
    now = time.time() if now is None else now
    pid, host = last_run.get("pid"), last_run.get("host")
    beat = last_run.get("heartbeat") or last_run.get("started")
    age = max(0.0, now - float(beat)) if beat else None
    resume = f"; run `geoshelf campaign run {spec_path}` to resume"
    where = f"pid {pid} on {host}"
    if host == socket.gethostname() and pid is not None and (not _pid_exists(int(pid)) or lock_held is False):
        return Liveness(state="died", text=f"driver died ({where} gone){resume}", pid=pid, host=host,
                        heartbeat_age=age)
    if age is None or age > stale_after:
        silent = f"no heartbeat for {_ago(age)}" if age is not None else "no heartbeat"
        return Liveness(state="died", text=f"driver died ({where}: {silent}){resume}", pid=pid, host=host,
                        heartbeat_age=age)
    return Liveness(state="running", text=f"running ({where}, heartbeat {_ago(age)} ago)", pid=pid, host=host,
                    heartbeat_age=age)


__all__ = ["HEARTBEAT_INTERVAL", "HEARTBEAT_STALE", "Heartbeat", "Liveness", "driver_liveness"]
