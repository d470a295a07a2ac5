"""The kill harness: run a geoshelf command in a child, SIGKILL it, rerun, check invariants.

A typical test::

    from geoshelf.testing.faults import run_child, kill_randomly, snapshot, check_invariants

    cmd = ["convert", "sst", "--to", "zarr", "--catalog", str(cat)]
    clean = run_child(cmd, trace=True)               # crash-free run in a copy: the reference
    expected = snapshot(reference_catalog)
    killed = kill_randomly(cmd, clean, random.Random(seed))   # SIGKILL at a point it reaches
    run_child(cmd)                                   # the rerun
    assert check_invariants(cat, expected) == []

``run_child`` runs ``python -m geoshelf ARGS...`` (a list of strings) or a picklable
callable in a new session, so a kill takes the whole process group (driver and local
Dask workers) at once.  It kills either after ``kill_after`` seconds or at a named fault
point (:func:`geoshelf.faults.fault_point`, chosen with ``fault="NAME[@N]"``).
"""

from __future__ import annotations

import os
import pickle
import random
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..catalog import Catalog
from ..faults import ENV_FAULT, ENV_SCOPE, ENV_TRACE

#: Names of leftovers that must never be found where an output is published or after a rerun.
LEFTOVER_MARKERS = (".partial-", ".old-")

#: A library call in a child: a GeoshelfError is one line and exit status 2, as the CLI gives it (a rerun of
#: a step that was done before the kill may refuse that way); anything else keeps its traceback.
_CALL = ("import pickle, sys\n"
         "from geoshelf.errors import GeoshelfError\n"
         "fn, args, kwargs = pickle.loads(sys.stdin.buffer.read())\n"
         "try:\n"
         "    fn(*args, **kwargs)\n"
         "except GeoshelfError as exc:\n"
         "    print(f'geoshelf: error: {exc}', file=sys.stderr)\n"
         "    sys.exit(2)\n")


@dataclass(frozen=True, kw_only=True)
class ChildRun:
    """What one child run did."""

    #: Exit status (negative: killed by that signal).
    returncode: int
    #: True when the child was SIGKILLed (by the harness or at a fault point).
    killed: bool
    #: Where it was killed: ``"NAME@N"``, ``"after 1.234 s"``, or ``""``.
    at: str
    #: Wall time of the run in seconds.
    duration: float
    stdout: str = ""
    stderr: str = ""
    #: Fault points reached, in order (only with ``trace=True`` or a fault).
    points: tuple[str, ...] = field(default_factory=tuple)


def run_child(command: Sequence[str] | Callable[..., Any], *args: Any, fault: str | None = None,
              kill_after: float | None = None, trace: bool = False, env: Mapping[str, str] | None = None,
              cwd: str | os.PathLike[str] | None = None, timeout: float = 600, **kwargs: Any) -> ChildRun:
    """Run ``geoshelf COMMAND...`` (a list of CLI arguments) or ``command(*args, **kwargs)`` in a child.

    ``fault="NAME[@N]"`` kills the child's process group the N-th time it reaches that fault
    point; ``kill_after`` kills it after that many seconds if it is still running.
    ``trace`` records the fault points reached (:attr:`ChildRun.points`).
    """
    child_env = dict(os.environ if env is None else env)
    for var in (ENV_FAULT, ENV_TRACE):
        child_env.pop(var, None)
    child_env[ENV_SCOPE] = "group"
    src = str(Path(__file__).resolve().parents[2])  # this copy of geoshelf wins in the child too
    child_env["PYTHONPATH"] = os.pathsep.join(p for p in (src, child_env.get("PYTHONPATH", "")) if p)
    if fault:
        child_env[ENV_FAULT] = fault
    trace_file = None
    if trace or fault:
        fd, trace_file = tempfile.mkstemp(prefix="geoshelf-fault-trace-")
        os.close(fd)
        child_env[ENV_TRACE] = trace_file
    if callable(command):
        argv = [sys.executable, "-c", _CALL]
        payload = pickle.dumps((command, args, kwargs))
    else:
        argv = [sys.executable, "-m", "geoshelf", *command]
        payload = b""
    start = time.monotonic()
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=out, stderr=err, env=child_env, cwd=cwd,
                                start_new_session=True)
        assert proc.stdin is not None
        try:
            proc.stdin.write(payload)
            proc.stdin.close()
        except BrokenPipeError:  # killed before reading its input
            pass
        at = ""
        try:
            proc.wait(timeout=kill_after if kill_after is not None else timeout)
        except subprocess.TimeoutExpired:
            if kill_after is None:
                _kill_group(proc.pid)
                proc.wait()
                raise RuntimeError(f"{argv[3:] or command}: still running after {timeout} s") from None
            _kill_group(proc.pid)
            proc.wait()
            at = f"after {kill_after:.3f} s"
        _kill_group(proc.pid)  # no orphaned workers of a killed driver
        duration = time.monotonic() - start
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read().decode(errors="replace"), err.read().decode(errors="replace")
    points: tuple[str, ...] = ()
    if trace_file is not None:
        points = tuple(Path(trace_file).read_text().split())
        os.unlink(trace_file)
    killed = proc.returncode == -signal.SIGKILL
    if killed and not at and fault:
        at = fault
    return ChildRun(returncode=proc.returncode, killed=killed, at=at, duration=duration, stdout=stdout,
                    stderr=stderr, points=points)


def _kill_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def choose_kill(reference: ChildRun, rng: random.Random) -> dict[str, Any]:
    """Keyword arguments for :func:`run_child` that kill at a random point of a run like ``reference``.

    Half of the time a fault point the reference reached (``NAME@N``), else a random delay
    within the reference's duration.
    """
    if reference.points and rng.random() < 0.5:
        i = rng.randrange(len(reference.points))
        name = reference.points[i]
        return {"fault": f"{name}@{reference.points[:i + 1].count(name)}"}
    return {"kill_after": round(rng.uniform(0.05, max(0.1, reference.duration)), 3)}


def kill_randomly(command: Sequence[str] | Callable[..., Any], reference: ChildRun, rng: random.Random,
                  *args: Any, **kwargs: Any) -> ChildRun:
    """Run ``command`` once and SIGKILL it at a random point (see :func:`choose_kill`)."""
    return run_child(command, *args, **choose_kill(reference, rng), **kwargs)


# -- invariants ------------------------------------------------------------------------------------

#: Provenance fields that differ between two correct runs.
VOLATILE_PROVENANCE = ("started", "finished", "host", "versions", "bytes_out", "files_out")


@dataclass(frozen=True, kw_only=True)
class Snapshot:
    """A catalog's entries (paths below ``root`` made relative) and the data of every representation."""

    #: Entry name -> its YAML form, volatile provenance fields removed.
    entries: dict[str, Any]
    #: (entry, representation kind) -> the loaded data (xarray or pandas).
    data: dict[tuple[str, str], Any]


def snapshot(catalog_path: str | os.PathLike[str], *, root: str | os.PathLike[str] | None = None,
             load: bool = True) -> Snapshot:
    """Read a catalog and load every representation it records (for comparing two runs).

    ``root`` (default: the catalog's directory) is replaced by ``{root}`` in every path.
    """
    catalog_path = Path(catalog_path)
    base = str(Path(root or catalog_path.parent).resolve())
    cat = Catalog(catalog_path)
    entries: dict[str, Any] = {}
    data: dict[tuple[str, str], Any] = {}
    for name, entry in cat.walk():
        src = entry.to_source()
        for rep in src.get("metadata", {}).get("geoshelf", {}).get("representations", []):
            for key in VOLATILE_PROVENANCE:
                rep.get("provenance", {}).pop(key, None)
        entries[name] = _relative(src, base)
        if load:
            for rep in entry.representations:
                try:
                    data[(name, rep.kind)] = _load(entry.to_dask(representation=rep.kind))
                except Exception as exc:  # noqa: BLE001 - a corrupt output is a finding, not a crash
                    data[(name, rep.kind)] = LoadFailure(f"{type(exc).__name__}: {exc}")
    return Snapshot(entries=entries, data=data)


class LoadFailure(str):
    """Stands in a :class:`Snapshot` for a representation that could not be loaded (the error)."""


def _relative(value: Any, base: str) -> Any:
    if isinstance(value, str):
        return value.replace(base, "{root}")
    if isinstance(value, dict):
        return {k: _relative(v, base) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_relative(v, base) for v in value]
    return value


def _load(obj: Any) -> Any:
    return obj.compute() if hasattr(obj, "compute") else obj


def check_invariants(catalog_path: str | os.PathLike[str], reference: Snapshot | None = None, *,
                     root: str | os.PathLike[str] | None = None) -> list[str]:
    """Problems left after a crash and a rerun (empty when none).

    - every recorded representation exists, is not a partial or set-aside copy, was made from
      the entry's current files (its fingerprint), and opens and loads in full;
    - no ``.partial-*`` / ``.old-*`` leftovers beside a recorded output, and no publish journal;
    - with ``reference`` (a :func:`snapshot` of a crash-free run): the same entries, equal
      catalog content, and equal data for every representation.
    """
    problems: list[str] = []
    catalog_path = Path(catalog_path)
    try:
        entries = list(Catalog(catalog_path).walk())
        got = snapshot(catalog_path, root=root)
    except Exception as exc:  # noqa: BLE001 - an unreadable catalog is the finding
        return [f"{catalog_path}: catalog unreadable: {type(exc).__name__}: {exc}"]
    dirs: set[Path] = set()
    for name, entry in entries:
        for rep in entry.representations:
            path = Path(entry.resolve(rep.path))
            dirs.add(path.parent)
            label = f"{name}/{rep.kind} ({path})"
            if any(m in path.name for m in LEFTOVER_MARKERS):
                problems.append(f"{label}: a partial or set-aside copy is recorded as the output")
            if not path.exists():
                problems.append(f"{label}: recorded output is missing")
                continue
            if rep.provenance is not None and entry.fingerprint and \
                    rep.provenance.source_fingerprint != entry.fingerprint:
                problems.append(f"{label}: made from other files than the entry's (stale)")
            loaded = got.data.get((name, rep.kind))
            if isinstance(loaded, LoadFailure):
                problems.append(f"{label}: does not load: {loaded}")
    for d in sorted(dirs):
        if d.is_dir():
            for p in sorted(d.iterdir()):
                if any(m in p.name for m in LEFTOVER_MARKERS) or p.name.endswith(".journal.json"):
                    problems.append(f"{p}: leftover of an interrupted conversion after the rerun")
    if reference is not None:
        problems.extend(compare_snapshots(got, reference))
    return problems


def compare_snapshots(got: Snapshot, expected: Snapshot) -> list[str]:
    """Differences between two snapshots (empty when equal)."""
    problems = [f"{n}: entry lost" for n in expected.entries if n not in got.entries]
    problems += [f"{n}: unexpected entry" for n in got.entries if n not in expected.entries]
    for n in expected.entries:
        if n in got.entries and got.entries[n] != expected.entries[n]:
            problems.append(f"{n}: catalog entry differs from the crash-free run: "
                            f"{_diff(got.entries[n], expected.entries[n])}")
    for key, value in expected.data.items():
        if key not in got.data:
            if key[0] in got.entries:
                problems.append(f"{key[0]}/{key[1]}: representation lost")
            continue
        if isinstance(got.data[key], LoadFailure):
            continue  # reported by check_invariants as "does not load"
        why = _differs(got.data[key], value)
        if why:
            problems.append(f"{key[0]}/{key[1]}: data differs from the crash-free run: {why}")
    return problems


def _diff(a: Any, b: Any, where: str = "") -> str:
    if isinstance(a, dict) and isinstance(b, dict):
        for k in sorted(set(a) | set(b), key=str):
            if a.get(k) != b.get(k):
                return _diff(a.get(k), b.get(k), f"{where}.{k}")
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            if x != y:
                return _diff(x, y, f"{where}[{i}]")
    return f"{where or 'value'}: {a!r} != {b!r}"


def _differs(a: Any, b: Any) -> str:
    if isinstance(b, LoadFailure):
        return f"the reference did not load: {b}"
    try:
        if hasattr(a, "equals") and hasattr(b, "equals") and "pandas" in type(a).__module__:
            # deferred: pandas (~0.5 s) is not for the battery's children, which import this module
            import pandas as pd

            pd.testing.assert_frame_equal(a.reset_index(drop=True), b.reset_index(drop=True))
        else:
            # deferred: xarray (~0.7 s) is not for the battery's children, which import this module
            import xarray as xr

            xr.testing.assert_identical(a, b)
    except AssertionError as exc:
        return str(exc).splitlines()[0] if str(exc) else "not equal"
    return ""


__all__ = ["LEFTOVER_MARKERS", "ChildRun", "LoadFailure", "Snapshot", "check_invariants", "choose_kill",
           "compare_snapshots", "kill_randomly", "run_child", "snapshot"]
