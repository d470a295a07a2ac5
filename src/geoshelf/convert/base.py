"""The conversion pipeline every target shares, as named steps with typed values between them.

    check_request -> target.plan (options) -> read_sources -> prepare_output_dir
    -> decide (create / rebuild / append / unchanged)
    -> write to .NAME.partial-<id> beside the output -> validate against the source
    -> atomic publish (rename) -> make_representation (with provenance)

The contract a target implements (:class:`~geoshelf.contract.Converter`) lives in
:mod:`geoshelf.contract`; targets are found through :mod:`geoshelf.registry`.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import errno
import functools
import glob
import json
import os
import socket
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any, Literal

from filelock import FileLock, Timeout

from ..atomic import remove_path
from ..catalog import freshness
from ..catalog.model import Entry, Provenance, Representation
from ..catalog.paths import FileStat, common_root, is_url
from ..contract import Appended, Converter, Option, Plan, Sources, Validation
from ..errors import ConversionError, GeoshelfError, SourceError, ValidationError
from ..faults import fault_point
from ..registry import list_targets
from .journal import journal_path, recover_publish, remove_journal, write_journal

MANIFEST_NAME = ".geoshelf-manifest.json"


# -- helpers for targets ------------------------------------------------------------------------

def library_versions() -> dict[str, str]:
    """Versions of geoshelf and the libraries a conversion depends on."""
    return dict(_library_versions())


@functools.lru_cache(maxsize=1)
def _library_versions() -> tuple[tuple[str, str], ...]:
    # read once per process: ~8 ms of package metadata per call, paid by every unit of a campaign

    out = []
    for pkg in ("geoshelf", "xarray", "zarr", "numcodecs", "kerchunk", "dask", "rasterio", "rio-cogeo",
                "pyarrow", "h5netcdf", "netCDF4"):
        with contextlib.suppress(PackageNotFoundError):
            out.append((pkg, version(pkg)))
    return tuple(out)


def on_dask_worker() -> bool:
    """True inside a dask worker's task (e.g. a campaign unit): a conversion there does its work
    itself rather than submitting tasks that the busy worker would wait for."""
    if "distributed" not in sys.modules:  # no worker or client without it; importing it costs ~0.4 s
        return False
    try:
        # deferred: distributed costs ~0.4 s; only a run on a dask.distributed client needs it
        from distributed import get_worker

        get_worker()
        return True
    except (ImportError, ValueError):
        return False


def dask_client(*, on_worker: bool = False) -> Any:
    """The active dask.distributed client, or None.  Inside a worker's task: None, unless
    ``on_worker`` asks for the worker's own client (to read the cluster's limits, say)."""
    if "distributed" not in sys.modules or (not on_worker and on_dask_worker()):
        return None
    try:
        # deferred: distributed costs ~0.4 s; only a run on a dask.distributed client needs it
        from distributed import get_client

        return get_client()
    except (ImportError, ValueError):
        return None


def tree_size(path: Path) -> tuple[int, int]:
    """(bytes, files) of a file or directory tree."""
    if path.is_file():
        return path.stat().st_size, 1
    total = count = 0
    for root, _dirs, files in os.walk(path):
        for f in files:
            total += os.path.getsize(os.path.join(root, f))
            count += 1
    return total, count


def manifest_path(output: Path) -> Path:
    """Where the per-file manifest of an output lives (inside a directory, beside a file)."""
    return output / MANIFEST_NAME if output.is_dir() else output.with_name(output.name + ".manifest.json")


def write_manifest(output: Path, stats: list[FileStat]) -> None:
    """Record which source files (size, mtime) an output was made from: the same format as an entry's
    sidecar manifest (:func:`geoshelf.catalog.freshness.write_files_manifest`), so both compare alike."""
    base = common_root([s.path for s in stats])
    snap = freshness.Snapshot(taken_ns=time.time_ns(), base=base, dirs={}, stats=tuple(stats))
    freshness.write_files_manifest(manifest_path(output), snap)


def read_manifest(output: Path) -> list[FileStat] | None:
    """The manifest of a published output (this format or the earlier ``{"files": [...]}``), or None."""
    p = manifest_path(output)
    if not p.is_file():
        return None
    loaded = freshness.read_files(p)
    if loaded is not None:
        header, files = loaded
        return [FileStat(header.base + name, size, mtime) for name, (size, mtime) in files.items()]
    try:
        data = json.loads(p.read_text())
        return [FileStat(d["path"], int(d["size"]), int(d["mtime_ns"])) for d in data["files"]]
    except (ValueError, KeyError, TypeError):
        return None


def _now() -> str:
    return _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")


def _cleanup_partials(output: Path) -> None:
    name = glob.escape(output.name)  # a name with * or [ must not match other outputs' leftovers
    for stale in output.parent.glob(f".{name}.partial-*"):
        remove_path(stale)
    for stale in output.parent.glob(f".{name}.old-*"):
        remove_path(stale)
    # a journal write cut short (a worker killed mid-publish) leaves its temporary file; the journal
    # itself is only ever renamed into place whole, and recover_publish has already run under this lock
    journal = glob.escape(journal_path(output).name)
    for pattern in (f"{journal}.*.tmp", f".{journal}.*.tmp"):
        for stale in output.parent.glob(pattern):
            remove_path(stale)


def publish(partial: Path, output: Path) -> None:
    """Move a validated partial output into place (rename; the old output, if any, goes last).

    A journal beside the output (:mod:`geoshelf.convert.journal`) is written first, so a crash
    between the renames is finished by the next run; it stays until the catalog records the output.
    """
    old = output.with_name(f".{output.name}.old-{uuid.uuid4().hex[:8]}") if output.exists() else None
    write_journal(output, state="publishing", partial=partial.name, old=old.name if old else None)
    fault_point("publish:journaled")
    try:
        if old is not None:
            os.rename(output, old)
            fault_point("publish:between-renames")
        try:
            os.rename(partial, output)
        except BaseException:
            if old is not None:
                os.rename(old, output)
            raise
    except BaseException:
        remove_journal(output)
        raise
    with contextlib.suppress(OSError):  # published: a "publishing" journal is finished by the next run just the same
        write_journal(output, state="published")
    if old is not None:
        fault_point("publish:before-removing-old")
        remove_path(old)


# -- the pipeline: named steps, typed values between them --------------------------------------

#: What a conversion did.
Action = Literal["created", "appended", "rebuilt", "unchanged"]


@dataclass(frozen=True, kw_only=True)
class Outcome:
    """What a conversion did."""

    representation: Representation
    action: Action
    message: str = ""


@dataclass(frozen=True, kw_only=True)
class Decision:
    """What to do about an existing output (:func:`decide`)."""

    #: "create" (no output yet), "rebuild", "append" (only new files) or "unchanged".
    action: Literal["create", "rebuild", "append", "unchanged"]
    previous: Representation | None = None
    #: Files new since the previous output (action "append").
    new_files: tuple[str, ...] = ()


def check_request(converter: Converter[Any], entry: Entry, output: Path, validate: str) -> Path:
    """Refuse a request that cannot work (before anything is read); the absolute output path."""
    if validate not in converter.validations:
        raise ConversionError(f"--validate must be one of {', '.join(converter.validations)} for target "
                              f"{converter.name!r}, not {validate!r}")
    if not converter.can_convert(entry):
        others = sorted(n for n, cls in list_targets().items() if n != converter.name and entry.format in cls.formats)
        raise ConversionError(
            f"{entry.name}: target {converter.name!r} cannot convert {entry.format} data "
            f"(it accepts: {', '.join(converter.formats)})"
            + (f"; use {' or '.join('--to ' + n for n in others)}" if others else "")
        )
    if is_url(str(output)):
        raise ConversionError(f"{output}: outputs must be on a local or shared file system path")
    return output.expanduser().absolute()


def read_sources(entry: Entry) -> Sources:
    """The entry's files as they are now (the one freshness check, every file stat'ed); a SourceError
    if they changed since they were catalogued, naming what changed."""
    fresh = freshness.full_check(entry, must_exist=True)
    stats = tuple(fresh.stats or ())
    sources = Sources(files=tuple(s.path for s in stats), stats=stats)
    if entry.fingerprint and sources.fingerprint != entry.fingerprint:
        what = fresh.describe() if fresh.recorded else f"{sources.files[0]} ..."
        raise SourceError(
            f"{entry.name}: source files changed since they were catalogued ({what}); "
            f"run `geoshelf refresh {entry.name}` before converting (it re-scans the recorded files)"
        )
    return sources


def prepare_output_dir(output: Path) -> None:
    """Create the output's directory; refuse one that is not writable."""
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConversionError(f"{output.parent}: cannot create output directory: {exc.strerror}") from None
    if not os.access(output.parent, os.W_OK):
        raise ConversionError(f"{output.parent}: output directory is not writable")


@contextlib.contextmanager
def output_lock(output: Path) -> Iterator[None]:
    """Hold the output's lock (one writer at a time) and map OS errors to one-line ConversionErrors."""
    try:
        with FileLock(str(output.with_name(f".{output.name}.lock")), timeout=0):
            yield
    except Timeout:
        raise ConversionError(f"{output}: another conversion is writing this output right now") from None
    except OSError as exc:
        if exc.errno == errno.ENOSPC:
            raise ConversionError(f"{output}: disk full while writing the output; nothing was published") from None
        if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
            raise ConversionError(f"{exc.filename or output}: not writable: {exc.strerror}") from None
        raise


def decide(converter: Converter[Any], plan: Plan[Any], sources: Sources, parameters: dict[str, Any]) -> Decision:
    """Create, rebuild, append or nothing, from the previous representation and the output's manifest."""
    previous = plan.entry.representation(converter.kind)
    if previous is None or not plan.output.exists():
        return Decision(action="create")
    prov = previous.provenance
    same_parameters = prov is not None and prov.parameters == parameters
    if same_parameters and prov is not None and prov.source_fingerprint == sources.fingerprint:
        return Decision(action="unchanged", previous=previous)
    old = read_manifest(plan.output)
    old_set = {(s.path, s.size, s.mtime_ns) for s in old} if old else None
    new_set = {(s.path, s.size, s.mtime_ns) for s in sources.stats}
    if same_parameters and old_set is not None and old_set < new_set:
        return Decision(action="append", previous=previous, new_files=tuple(sorted(p for p, _, _ in new_set - old_set)))
    return Decision(action="rebuild", previous=previous)


def append_in_place(converter: Converter[Any], plan: Plan[Any], previous: Representation) -> Appended | None:
    """Let the target append the new files to the published output; None when it cannot."""
    write_journal(plan.output, state="appending")  # an interrupted append: the next run drops it and appends again
    appended = converter.append(plan, plan.output, previous)
    if appended is not None:
        write_manifest(plan.output, plan.stats)
        write_journal(plan.output, state="published")  # until the catalog records it
    else:
        remove_journal(plan.output)
    return appended


def write_validate_publish(converter: Converter[Any], plan: Plan[Any]) -> Validation:
    """Write to a partial path beside the output, validate it, publish it (nothing published on failure)."""
    output = plan.output
    partial = output.with_name(f".{output.name}.partial-{uuid.uuid4().hex[:8]}")
    try:
        converter.write(plan, partial)
        fault_point("convert:written")
        validation = converter.validate(plan, partial)
        fault_point("convert:validated")
        if partial.is_dir():  # the manifest moves in with the output: published together
            write_manifest(partial, plan.stats)
        publish(partial, output)
    except ValidationError as exc:
        remove_path(partial)
        raise refusal(converter, exc, partial, output) from None
    except BaseException:
        remove_path(partial)
        raise
    fault_point("convert:published")
    if not output.is_dir():  # a file's sidecar manifest: after publish (without it a rerun rebuilds, never appends)
        write_manifest(output, plan.stats)
    return validation


def refusal(converter: Converter[Any], exc: ValidationError, partial: Path, output: Path) -> ValidationError:
    """A validation refusal as the user should read it: naming the output, not its temporary partial
    location, and ending with the target's way out (:attr:`Converter.way_out`)."""
    msg = str(exc).replace(partial.name, output.name)
    if converter.way_out and "--to " not in msg:  # the check itself may name a better one
        msg = f"{msg}; {converter.way_out}"
    return ValidationError(msg)


def make_representation(converter: Converter[Any], plan: Plan[Any], sources: Sources, *, parameters: dict[str, Any],
                        validation: Validation, started: str) -> Representation:
    """The published output as a catalog representation, with its provenance."""
    output = plan.output
    bytes_out, files_out = tree_size(output)
    man = manifest_path(output)
    if man.exists() and man.parent != output:  # sidecar manifest counts as output
        bytes_out += man.stat().st_size
        files_out += 1
    return Representation(
        kind=converter.kind,
        path=str(output),
        format=converter.representation_format(plan, output),
        options=converter.representation_options(plan, output),
        provenance=Provenance(
            source_fingerprint=sources.fingerprint,
            source_files=len(sources.files),
            bytes_in=sources.bytes,
            bytes_out=bytes_out,
            files_out=files_out,
            parameters=parameters,
            versions=library_versions(),
            host=socket.gethostname(),
            started=started,
            finished=_now(),
            validation=validation,
        ),
    )


def run(converter: Converter[Any], entry: Entry, output: Path, options: dict[str, Any], *,
        validate: str = "full") -> Outcome:
    """Run the pipeline for one entry and target; the caller records the result in the catalog.

    check_request -> target.plan (options) -> read_sources -> prepare_output_dir -> under the
    output's lock: decide -> append_in_place or write_validate_publish -> make_representation.
    """
    output = check_request(converter, entry, output, validate)
    checked = converter.plan(entry, converter.check_output(entry, output, dict(options)))
    sources = read_sources(entry)
    prepare_output_dir(output)
    plan: Plan[Any] = Plan(entry=entry, files=list(sources.files), stats=list(sources.stats), options=checked,
                           output=output, validate=validate, state=converter.new_state())  # type: ignore[arg-type]
    parameters = _recordable(checked, validate)
    started = _now()
    with output_lock(output):
        recover_publish(output)  # a publish interrupted by a crash: finish or undo it first
        _cleanup_partials(output)
        decision = decide(converter, plan, sources, parameters)
        if decision.action == "unchanged":
            assert decision.previous is not None
            return Outcome(representation=decision.previous, action="unchanged",
                           message=f"{entry.name}: {converter.name} output {output} is up to date; nothing to do")
        appended = None
        if decision.action == "append":
            assert decision.previous is not None
            plan.new_files = list(decision.new_files)
            appended = append_in_place(converter, plan, decision.previous)
        validation = appended.validation if appended else write_validate_publish(converter, plan)
    rep = make_representation(converter, plan, sources, parameters=parameters, validation=validation, started=started)
    action: Action = "appended" if appended else "created" if decision.action == "create" else "rebuilt"
    what = f"appended {appended.files} new files to" if appended else action
    return Outcome(representation=rep, action=action, message=f"{entry.name}: {what} {converter.name} output {output}")


def _recordable(options: dict[str, Any], validate: str) -> dict[str, Any]:
    out = {k: (list(v) if isinstance(v, tuple) else v) for k, v in options.items() if v is not None}
    out["validate"] = validate
    recordable: dict[str, Any] = json.loads(json.dumps(out, default=str))
    return recordable


__all__ = ["Action", "Appended", "Converter", "Decision", "GeoshelfError", "Option", "Outcome", "Plan", "Sources",
           "append_in_place", "check_request", "dask_client", "decide", "library_versions", "make_representation",
           "manifest_path", "on_dask_worker", "output_lock", "prepare_output_dir", "publish", "read_manifest",
           "read_sources", "remove_path", "run", "tree_size", "write_manifest", "write_validate_publish"]
