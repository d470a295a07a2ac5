"""The conversion pipeline every target shares, and the :class:`Converter` plugin base.

    plan -> write to NAME.partial-<id> beside the output -> validate against the source
         -> atomic publish (rename) -> record a Representation with provenance

A target is a small class (like xarray's ``BackendEntrypoint``) registered under the
``geoshelf.converters`` entry-point group.  It implements :meth:`Converter.write` and
:meth:`Converter.validate`; optionally :meth:`Converter.append` for incremental updates.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import functools
import errno
import json
import os
import shutil
import socket
import sys
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from filelock import FileLock, Timeout

from ..catalog.model import Entry, Provenance, Representation
from ..catalog.paths import FileStat, fingerprint, is_url, stat_files
from ..errors import ConversionError, GeoshelfError, SourceError
from ..faults import fault_point

MANIFEST_NAME = ".geoshelf-manifest.json"


@dataclass(kw_only=True)
class Plan:
    """Everything a target needs to write one output."""

    entry: Entry
    #: The source files (globs expanded, sorted) and their stats.
    files: list[str]
    stats: list[FileStat]
    #: Target options as given by the user (recorded in provenance).
    options: dict[str, Any]
    #: Final output path (local) and the partial path being written.
    output: Path
    #: "full" or "sample".
    validate: str = "full"
    #: Files new since the existing representation was made (incremental runs).
    new_files: list[str] = field(default_factory=list)
    #: Free-form target state (e.g. chosen chunks) shared between write and validate.
    state: dict[str, Any] = field(default_factory=dict)

    @property
    def source_fingerprint(self) -> str:
        return fingerprint(self.stats)


class Converter:
    """Base class of conversion targets.  Subclasses set the class attributes and implement
    :meth:`write` and :meth:`validate`."""

    #: Target name used on the command line (``--to NAME``).
    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    #: Source formats this target accepts (entry.format values).
    formats: ClassVar[tuple[str, ...]] = ()
    #: Suffix of the output name (``sst`` -> ``sst.zarr``).
    suffix: ClassVar[str] = ""
    #: Representation kind recorded in the catalog (defaults to ``name``).
    kind: ClassVar[str] = ""

    def can_convert(self, entry: Entry) -> bool:
        """True when this target accepts the entry's format."""
        return entry.format in self.formats

    def check_options(self, entry: Entry, options: dict[str, Any]) -> dict[str, Any]:
        """Validate and normalise options before anything is written (raise ConversionError)."""
        return options

    def output_name(self, entry: Entry, options: dict[str, Any]) -> str:
        """File or directory name of the output."""
        return entry.name + self.suffix

    def write(self, plan: Plan, path: Path) -> None:
        """Write the whole output at ``path`` (a partial location)."""
        raise NotImplementedError

    def validate(self, plan: Plan, path: Path) -> str:
        """Compare the output at ``path`` with the source; raise ValidationError; return "full"/"sample"."""
        raise NotImplementedError

    def append(self, plan: Plan, path: Path, previous: Representation) -> bool:
        """Append ``plan.new_files`` to the published output at ``path`` in place.

        Return False when this target cannot append (the pipeline then rebuilds).
        Must leave the output valid for the old files if interrupted.
        """
        return False

    def representation_format(self, plan: Plan, path: Path) -> str:
        """Format string recorded in the catalog (e.g. ``zarr3``)."""
        return self.name

    def representation_options(self, plan: Plan, path: Path) -> dict[str, Any]:
        """Opener options recorded in the catalog."""
        return {}


# -- helpers for targets ------------------------------------------------------------------------

def library_versions() -> dict[str, str]:
    """Versions of geoshelf and the libraries a conversion depends on."""
    return dict(_library_versions())


@functools.lru_cache(maxsize=1)
def _library_versions() -> tuple[tuple[str, str], ...]:
    # read once per process: ~8 ms of package metadata per call, paid by every unit of a campaign
    from importlib.metadata import PackageNotFoundError, version

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


def remove_path(path: Path) -> None:
    """Delete a file or directory tree if it exists."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


def manifest_path(output: Path) -> Path:
    """Where the per-file manifest of an output lives (inside a directory, beside a file)."""
    return output / MANIFEST_NAME if output.is_dir() else output.with_name(output.name + ".manifest.json")


def write_manifest(output: Path, stats: list[FileStat]) -> None:
    """Record which source files (size, mtime) an output was made from."""
    data = {"files": [{"path": s.path, "size": s.size, "mtime_ns": s.mtime_ns} for s in stats]}
    manifest_path(output).write_text(json.dumps(data, indent=0))


def read_manifest(output: Path) -> list[FileStat] | None:
    """The manifest of a published output, or None."""
    p = manifest_path(output)
    if not p.is_file():
        return None
    try:
        data = json.loads(p.read_text())
        return [FileStat(d["path"], int(d["size"]), int(d["mtime_ns"])) for d in data["files"]]
    except (ValueError, KeyError, TypeError):
        return None


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def _cleanup_partials(output: Path) -> None:
    for stale in output.parent.glob(f".{output.name}.partial-*"):
        remove_path(stale)
    for stale in output.parent.glob(f".{output.name}.old-*"):
        remove_path(stale)


def publish(partial: Path, output: Path) -> None:
    """Move a validated partial output into place (rename; the old output, if any, goes last)."""
    old = None
    if output.exists():
        old = output.with_name(f".{output.name}.old-{uuid.uuid4().hex[:8]}")
        os.rename(output, old)
        fault_point("publish:between-renames")
    try:
        os.rename(partial, output)
    except BaseException:
        if old is not None:
            os.rename(old, output)
        raise
    if old is not None:
        fault_point("publish:before-removing-old")
        remove_path(old)


@dataclass(kw_only=True)
class Outcome:
    """What a conversion did."""

    representation: Representation
    #: "created", "appended", "rebuilt" or "unchanged".
    action: str
    message: str = ""


def run(converter: Converter, entry: Entry, output: Path, options: dict[str, Any], *,
        validate: str = "full", progress: Any = None) -> Outcome:
    """Run the pipeline for one entry and target; the caller records the result in the catalog."""
    if validate not in ("full", "sample"):
        raise ConversionError(f"--validate must be 'full' or 'sample', not {validate!r}")
    if not converter.can_convert(entry):
        raise ConversionError(
            f"{entry.name}: target {converter.name!r} cannot convert {entry.format} data "
            f"(it accepts: {', '.join(converter.formats)})"
        )
    if is_url(str(output)):
        raise ConversionError(f"{output}: outputs must be on a local or shared file system path")
    files = entry.source_files()
    so = entry.storage_options
    stats = stat_files(files, so)
    current = fingerprint(stats)
    if entry.fingerprint and current != entry.fingerprint:
        raise SourceError(
            f"{entry.name}: source files changed since they were catalogued ({files[0]} ...); "
            f"re-scan with `geoshelf add ... --name {entry.name} --update` before converting"
        )
    options = converter.check_options(entry, dict(options))
    output = output.expanduser().absolute()
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConversionError(f"{output.parent}: cannot create output directory: {exc.strerror}") from None
    if not os.access(output.parent, os.W_OK):
        raise ConversionError(f"{output.parent}: output directory is not writable")
    plan = Plan(entry=entry, files=files, stats=stats, options=options, output=output, validate=validate)
    parameters = _recordable(options, validate)
    started = _now()
    try:
        with FileLock(str(output.with_name(f".{output.name}.lock")), timeout=0):
            _cleanup_partials(output)
            previous = entry.representation(converter.kind or converter.name)
            action = "created"
            if previous is not None and output.exists():
                prov = previous.provenance
                same_parameters = prov is not None and prov.parameters == parameters
                if same_parameters and prov.source_fingerprint == current:
                    return Outcome(representation=previous, action="unchanged",
                                   message=f"{entry.name}: {converter.name} output {output} is up to date; nothing to do")
                action = "rebuilt"
                old = read_manifest(output)
                old_set = {(s.path, s.size, s.mtime_ns) for s in old} if old else None
                new_set = {(s.path, s.size, s.mtime_ns) for s in stats}
                if same_parameters and old_set is not None and old_set < new_set:
                    plan.new_files = sorted(p for p, _, _ in new_set - old_set)
                    if converter.append(plan, output, previous):
                        write_manifest(output, stats)
                        action = "appended"
            if action != "appended":
                partial = output.with_name(f".{output.name}.partial-{uuid.uuid4().hex[:8]}")
                try:
                    converter.write(plan, partial)
                    fault_point("convert:written")
                    validation = converter.validate(plan, partial)
                    fault_point("convert:validated")
                    publish(partial, output)
                except BaseException:
                    remove_path(partial)
                    raise
                fault_point("convert:published")
                write_manifest(output, stats)  # after publish: without it a rerun rebuilds, never appends
            else:
                validation = plan.state.get("validation", validate)
    except Timeout:
        raise ConversionError(f"{output}: another conversion is writing this output right now") from None
    except OSError as exc:
        if exc.errno == errno.ENOSPC:
            raise ConversionError(f"{output}: disk full while writing the output; nothing was published") from None
        if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
            raise ConversionError(f"{exc.filename or output}: not writable: {exc.strerror}") from None
        raise
    bytes_out, files_out = tree_size(output)
    man = manifest_path(output)
    if man.exists() and man.parent != output:  # sidecar manifest counts as output
        bytes_out += man.stat().st_size
        files_out += 1
    rep = Representation(
        kind=converter.kind or converter.name,
        path=str(output),
        format=converter.representation_format(plan, output),
        options=converter.representation_options(plan, output),
        provenance=Provenance(
            source_fingerprint=current,
            source_files=len(files),
            bytes_in=sum(s.size for s in stats),
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
    msg = {"created": "created", "rebuilt": "rebuilt", "appended": f"appended {len(plan.new_files)} new files to"}[action]
    return Outcome(representation=rep, action=action, message=f"{entry.name}: {msg} {converter.name} output {output}")


def _recordable(options: dict[str, Any], validate: str) -> dict[str, Any]:
    out = {k: (list(v) if isinstance(v, tuple) else v) for k, v in options.items() if v is not None}
    out["validate"] = validate
    return json.loads(json.dumps(out, default=str))


__all__ = ["Converter", "GeoshelfError", "Outcome", "Plan", "dask_client", "library_versions", "on_dask_worker", "manifest_path", "publish",
           "read_manifest", "remove_path", "run", "tree_size", "write_manifest"]
