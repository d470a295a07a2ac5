"""Planning a campaign: units of work with deterministic ids, packed into Dask tasks.

A *unit* is one output: a catalog entry converted to the target (entries mode), or a
group of files shelved as one entry and converted (files mode; by default each file is
its own group).  Its id is the sha256 of its inputs (paths, sizes, modification times
or the entry's fingerprint) and parameters (target, options, validation, output path),
so a rerun recognises work already done and a changed input or option is new work.

Units that run on workers are packed into *batches* of at most ``batch_size`` files:
one Dask task per batch, never one task (let alone one scheduler job) per file.
"""

from __future__ import annotations

import glob
import hashlib
import json
import math
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from ..catalog import Catalog, check_name
from ..catalog.locate import default_catalog_path
from ..catalog.model import Entry
from ..catalog.paths import fingerprint, stat_files, visible_files
from ..contract import Converter
from ..convert import get_target, shelf_root
from ..convert.outputs import check_output_in_dir
from ..errors import CampaignError, GeoshelfError
from ..load.formats import format_from_suffix
from .listing import group_listing
from .spec import CampaignSpec, check_catalog_is_not_spec, template_fields

#: What a unit starts from: a catalogued entry, or files to shelve first.
UnitKind = Literal["entry", "files"]


@dataclass(frozen=True, kw_only=True)
class Unit:
    """One unit of work: one entry (to shelve and/or convert) and its output."""

    id: str
    #: Position in the plan (stable order of commits and reports).
    seq: int
    #: "entry" (a catalogued entry) or "files" (files to shelve first).
    kind: UnitKind
    #: Entry name in the catalog.
    name: str
    #: Source files (files mode) or the entry's source files (entries mode).
    files: tuple[str, ...] = ()
    bytes_in: int = 0
    #: Output path of the conversion (None: shelve only).
    output: str | None = None
    #: The catalog entry (entries mode).
    entry: Entry | None = field(default=None, compare=False, repr=False)
    #: Number of files when ``files`` is not kept (a dry run planned from a listing); 0: ``len(files)``.
    file_count: int = 0

    @property
    def n_files(self) -> int:
        return self.file_count or max(1, len(self.files))


@dataclass(frozen=True, kw_only=True)
class Work:
    """What every unit of a campaign shares: sent to the workers with each batch."""

    target: str | None
    options: dict[str, Any] = field(default_factory=dict)
    validate: str = "full"
    #: Directory of the catalog (paths of shelved entries are stored relative to it).
    catalog_dir: str = "."


@dataclass(kw_only=True)
class Plan:
    """Units of a campaign, the batches of those that run on workers, and the rest."""

    spec: CampaignSpec
    catalog_path: Path
    work: Work
    units: list[Unit]
    #: Units driven from the client (their dask graphs run on the cluster).
    client_units: list[Unit]
    #: Units packed into Dask tasks, at most ``batch_size`` files each.
    batches: list[list[Unit]]
    #: Why inputs are missing (a dry run's plan only: a real run stops on the first).
    missing: list[str] = field(default_factory=list)
    #: Processes that read the listing (0: read in this process).
    listing_readers: int = 0

    @property
    def by_id(self) -> dict[str, Unit]:
        return {u.id: u for u in self.units}

    @property
    def n_files(self) -> int:
        return sum(u.file_count or len(u.files) for u in self.units)

    @property
    def bytes_in(self) -> int:
        return sum(u.bytes_in for u in self.units)


def unit_id(payload: dict[str, Any]) -> str:
    """sha256 of a unit's inputs and parameters (canonical JSON)."""
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def pack(units: Sequence[Unit], batch_size: int) -> list[list[Unit]]:
    """Greedy packing in order: a batch holds at most ``batch_size`` files (a bigger unit is alone)."""
    batches: list[list[Unit]] = []
    current: list[Unit] = []
    count = 0
    for u in units:
        if current and count + u.n_files > batch_size:
            batches.append(current)
            current, count = [], 0
        current.append(u)
        count += u.n_files
    if current:
        batches.append(current)
    return batches


def jobs_needed(n_tasks: int, profile: Any, client_units: int = 0) -> int:
    """Scheduler jobs a campaign can use at once: enough for its tasks, never above the cap."""
    if not profile.batch:
        return 0
    slots = max(1, profile.workers_per_job * profile.threads_per_worker)
    want = math.ceil(n_tasks / slots) if n_tasks else 0
    if client_units:  # a streaming conversion spreads its graph over every job it can get
        want = profile.max_jobs
    return min(profile.max_jobs, want)


def _expand(patterns: Sequence[str], missing: list[str] | None = None) -> list[str]:
    """The files of ``inputs.files``; with ``missing`` (a dry run) absent inputs are listed there
    instead of stopping the plan."""
    files: list[str] = []
    for pat in patterns:
        if missing is not None:
            try:
                files.extend(_expand([pat]))
            except CampaignError as exc:
                missing.append(str(exc))
            continue
        if any(c in pat for c in "*?["):
            found = sorted(glob.glob(pat, recursive=True))
            if not found:
                raise CampaignError(f"{pat}: no files match")
            files.extend(f for f in found if os.path.isfile(f))
        elif os.path.isdir(pat):
            inside = visible_files(pat)
            if not inside:
                raise CampaignError(f"{pat}: directory has no files")
            files.extend(inside)
        elif os.path.isfile(pat):
            files.append(pat)
        else:
            raise CampaignError(f"{pat}: no such file or directory")
    return sorted(dict.fromkeys(os.path.abspath(f) for f in files))


def group_files(spec: CampaignSpec, files: Sequence[str]) -> dict[str, list[str]]:
    """Entry name -> its files, by the spec's name template (and pattern)."""
    rx = re.compile(spec.pattern) if spec.pattern else None
    groups: dict[str, list[str]] = {}
    for f in files:
        p = Path(f)
        fields = {"stem": p.stem, "name": p.name, "parent": p.parent.name, "suffix": p.suffix.lstrip(".")}
        if rx is not None:
            m = rx.search(p.name)
            if m is None:
                raise CampaignError(f"{f}: file name does not match inputs.pattern {spec.pattern!r}")
            fields.update({k: v for k, v in m.groupdict().items() if v is not None})
        try:
            name = spec.name_template.format(**fields)
        except KeyError as exc:
            raise CampaignError(f"{f}: inputs.pattern group {exc} did not match this file name") from None
        try:
            check_name(name)
        except GeoshelfError:
            raise CampaignError(f"{f}: inputs.name {spec.name_template!r} gives {name!r}, not a valid entry name "
                                "(letters, digits, '_' or '-', starting with a letter)") from None
        groups.setdefault(name, []).append(f)
    return groups


def _output_dir(spec: CampaignSpec, catalog_path: Path) -> Path:
    return spec.output if spec.output is not None else shelf_root(catalog_path)


def _output(spec: CampaignSpec, catalog_path: Path, out_dir: Path | None, name: str) -> str:
    """A unit's output path, checked before any work: directly in the output directory; in a
    directory of the user's (``output:``) only a new path or an existing geoshelf output."""
    assert out_dir is not None
    return str(check_output_in_dir(out_dir, name, shelf=spec.output is None, protect=[catalog_path]))


def _parameters(spec: CampaignSpec, output: str | None) -> dict[str, Any]:
    return {"target": spec.target, "options": spec.options, "validate": spec.validate, "output": output}


def resolve_catalog(spec: CampaignSpec) -> Path:
    """The campaign's catalog file: the spec's ``catalog:``, else the default catalog."""
    if spec.catalog is not None:
        return spec.catalog

    try:
        path = default_catalog_path().expanduser().absolute()
    except GeoshelfError as exc:
        raise CampaignError(f"{spec.path}: no catalog: set `catalog:` in the spec or pass --catalog ({exc})") from None
    check_catalog_is_not_spec(spec.path, path)  # e.g. $GEOSHELF_CATALOG pointing at the spec
    return path


def _entry_units(spec: CampaignSpec, catalog_path: Path, target: Converter, out_dir: Path | None) -> list[Unit]:
    """One unit per catalogued entry of ``inputs.entries`` (the target must accept each)."""
    cat = Catalog(catalog_path)
    units: list[Unit] = []
    for seq, name in enumerate(spec.entries):
        try:
            entry = cat[name]
        except GeoshelfError as exc:
            raise CampaignError(f"{spec.path}: inputs.entries: {exc}") from None
        if not isinstance(entry, Entry):
            raise CampaignError(f"{spec.path}: inputs.entries: {name!r} is an included catalog, not an entry")
        if not target.can_convert(entry):
            raise CampaignError(f"{spec.path}: entry {name!r} is {entry.format}; target {target.name!r} "
                                f"accepts {', '.join(target.formats)}")
        try:
            output = _output(spec, catalog_path, out_dir, target.output_name(entry, dict(spec.options)))
            target.plan(entry, spec.options)
            files = entry.source_files()
        except GeoshelfError as exc:
            raise CampaignError(f"{spec.path}: {exc}") from None
        stats = stat_files(files, entry.storage_options)
        uid = unit_id({"kind": "entry", "name": name, "fingerprint": fingerprint(stats),
                       **_parameters(spec, output)})
        units.append(Unit(id=uid, seq=seq, kind="entry", name=name, files=tuple(files),
                          bytes_in=sum(s.size for s in stats), output=output, entry=entry))
    return units


def _listing_units(spec: CampaignSpec, listing: Path, target: Converter | None, out_dir: Path | None, *,
                   keep_files: bool, stats: dict[str, int]) -> list[Unit]:
    """One unit per group of the files a listing names (``stats`` gets the listing reader's figures)."""
    groups = group_listing(listing, spec.name_template, spec.pattern,
                           template_fields(spec.name_template, str(spec.path)), keep_files=keep_files, stats=stats)
    units: list[Unit] = []
    for seq, (name, g) in enumerate(groups.items()):
        output = None
        if target is not None:
            fmt = format_from_suffix(g.first)
            probe = Entry(name=name, urlpath=[g.first], format=fmt, files=g.count)
            try:
                output = str(out_dir / target.output_name(probe, dict(spec.options)))  # type: ignore[operator]
            except GeoshelfError as exc:
                raise CampaignError(f"{spec.path}: {exc}") from None
        uid = unit_id({"kind": "files", "name": name, "listed": f"{g.count}:{g.digest:064x}",
                       **_parameters(spec, output)})
        units.append(Unit(id=uid, seq=seq, kind="files", name=name, files=tuple(g.files), bytes_in=g.bytes,
                          output=output, file_count=0 if keep_files else g.count))
    return units


def _file_units(spec: CampaignSpec, catalog_path: Path, target: Converter | None, out_dir: Path | None,
                missing: list[str] | None) -> list[Unit]:
    """One unit per group of the files ``inputs.files`` expands to (each file stat-ed); files that do not
    exist go into ``missing`` when it is given, else stop the plan."""
    files = _expand(spec.files, missing)
    units: list[Unit] = []
    for seq, (name, members) in enumerate(group_files(spec, files).items()):
        stats = stat_files(members)
        output = None
        if target is not None:
            fmt = format_from_suffix(members[0])
            probe = Entry(name=name, urlpath=list(members), format=fmt, files=len(members))
            try:
                output = _output(spec, catalog_path, out_dir, target.output_name(probe, dict(spec.options)))
            except GeoshelfError as exc:
                raise CampaignError(f"{spec.path}: {exc}") from None
        uid = unit_id({"kind": "files", "name": name, "files": [[s.path, s.size, s.mtime_ns] for s in stats],
                       **_parameters(spec, output)})
        units.append(Unit(id=uid, seq=seq, kind="files", name=name, files=tuple(members),
                          bytes_in=sum(s.size for s in stats), output=output))
    return units


def build_plan(spec: CampaignSpec, *, allow_missing: bool = False, keep_files: bool = True) -> Plan:
    """Resolve inputs into units and batches (stats files, or reads a listing; reads the catalog; writes nothing).

    ``allow_missing`` (dry runs): input files that do not exist here (a site's paths checked from
    another machine) are listed in ``Plan.missing`` instead of stopping the plan.
    ``keep_files=False`` (dry runs) keeps no paths of a listing's files, only their count per unit."""
    catalog_path = resolve_catalog(spec)
    target = get_target(spec.target) if spec.target else None
    out_dir = _output_dir(spec, catalog_path) if target else None
    missing: list[str] = []
    listing_stats: dict[str, int] = {}
    if spec.mode == "entries":
        assert target is not None
        units = _entry_units(spec, catalog_path, target, out_dir)
    elif spec.listing is not None:
        units = _listing_units(spec, spec.listing, target, out_dir, keep_files=keep_files, stats=listing_stats)
    else:
        units = _file_units(spec, catalog_path, target, out_dir, missing if allow_missing else None)
    outputs = [u.output for u in units if u.output]
    if len(set(outputs)) != len(outputs):
        dup = next(o for o in outputs if outputs.count(o) > 1)
        raise CampaignError(f"{spec.path}: two units would write the same output {dup}; give them distinct names")
    work = Work(target=spec.target, options=dict(spec.options), validate=spec.validate,
                catalog_dir=str(catalog_path.parent))
    on_client = spec.runs_on_client()
    client_units = [u for u in units if on_client]
    batches = pack([u for u in units if not on_client], spec.batch_size)
    return Plan(spec=spec, catalog_path=catalog_path, work=work, units=units, client_units=client_units,
                batches=batches, missing=missing, listing_readers=listing_stats.get("readers", 0))


__all__ = ["Plan", "Unit", "Work", "build_plan", "group_files", "jobs_needed", "pack", "resolve_catalog", "unit_id"]
