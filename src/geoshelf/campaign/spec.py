"""A campaign spec: a YAML file in ``converters/`` saying what to convert, how, and where.

Validated completely by :func:`load_spec` before anything runs; every problem is one
:class:`~geoshelf.errors.CampaignError` line naming the spec file and the key.  Keys may
be written with ``_`` or ``-``.  Relative paths are relative to the spec's directory.
"""

from __future__ import annotations

import difflib
import os
import re
import string
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ..cluster import get_profile, parse_duration, settings
from ..errors import CampaignError, ClusterError, ConversionError, one_line
from ..registry import get_target, target_names

#: Top-level keys of a spec and what they are for (also the error hint).
KEYS: dict[str, str] = {
    "name": "campaign name (default: the spec file's stem)",
    "description": "free text",
    "catalog": "catalog file entries are read from and results recorded in",
    "inputs": "what to convert: {entries: [...]}, {files: [...], name: ..., pattern: ...} or {listing: FILE, ...}",
    "target": "an installed conversion target (zarr, references, cog, parquet, ...), or null to shelve files only",
    "options": "the target's options (as `geoshelf convert --option`; checked against the target's declared options)",
    "validate": "full or sample (references also: metadata, values)",
    "output": "directory of the outputs (default: the shelf beside the catalog)",
    "placement": "auto, client or worker: where a conversion runs",
    "batch_size": "files per Dask task",
    "max_jobs": "cap on concurrent scheduler jobs",
    "retries": "retries of a failed unit after its first attempt",
    "retry_backoff": "wait before the first retry (doubled for each further retry)",
    "retry_backoff_max": "longest wait between retries (default: campaign.retry-backoff-max, 10 min)",
    "cluster": "cluster profile and its settings: {profile: pbs, walltime: ...}",
    "state": "state directory (default: beside the spec)",
}
INPUT_KEYS = ("entries", "files", "listing", "name", "pattern")
PLACEMENTS = ("auto", "client", "worker")
#: Name template fields always available in files mode.
NAME_FIELDS = ("stem", "name", "parent", "suffix")
#: Targets whose conversion spreads its own work over the cluster (zarr: a dask graph; references: per-file
#: indexing tasks combined on the client): driven from the client so that work reaches every worker.
STREAMING_TARGETS = frozenset({"zarr", "references"})


@dataclass(frozen=True, kw_only=True)
class CampaignSpec:
    """A validated campaign spec."""

    #: The spec file (absolute).
    path: Path
    name: str
    description: str = ""
    #: Catalog file (None: the default catalog).
    catalog: Path | None = None
    #: Catalog entries to convert (entries mode) ...
    entries: tuple[str, ...] = ()
    #: ... or files/globs to shelve first (files mode), absolute ...
    files: tuple[str, ...] = ()
    #: ... or a listing file naming them with size and mtime (files mode, no stat while planning).
    listing: Path | None = None
    #: Entry name template of files mode (``{stem}`` = one entry per file).
    name_template: str = "{stem}"
    #: Regex searched in each file name; its named groups are name-template fields.
    pattern: str | None = None
    #: Conversion target, or None to shelve only.
    target: str | None = None
    options: dict[str, Any] = field(default_factory=dict)
    validate: str = "full"
    #: Directory of the outputs (None: the shelf beside the catalog).
    output: Path | None = None
    placement: str = "auto"
    batch_size: int = 20
    #: Cap on concurrent scheduler jobs (None: the profile's max-jobs).
    max_jobs: int | None = None
    retries: int = 2
    #: Seconds before the first retry; doubled for each further one, up to ``retry_backoff_max``.
    retry_backoff: float = 10.0
    retry_backoff_max: float = 600.0
    #: The spec's ``cluster:`` section (profile name and overrides).
    cluster: dict[str, Any] = field(default_factory=dict)
    #: Directory of the state database and reports.
    state_dir: Path = Path(".")

    @property
    def mode(self) -> str:
        """"entries" or "files"."""
        return "entries" if self.entries else "files"

    @property
    def state_path(self) -> Path:
        """The SQLite state database."""
        return self.state_dir / "state.sqlite"

    def runs_on_client(self) -> bool:
        """True when conversions are driven from the client process (their dask graphs run on the cluster).

        ``auto``: whole catalog entries to a streaming target (zarr, references) are; files are converted
        inside the worker tasks they are packed into.
        """
        if self.placement == "auto":
            return self.mode == "entries" and self.target in STREAMING_TARGETS
        return self.placement == "client"


def _norm(data: dict[str, Any]) -> dict[str, Any]:
    return {str(k).replace("-", "_"): v for k, v in data.items()}


def _unknown(where: str, key: str, known: list[str]) -> CampaignError:
    close = difflib.get_close_matches(key, known, n=1)
    hint = f"did you mean {close[0]!r}?" if close else f"known keys: {', '.join(known)}"
    return CampaignError(f"{where}: unknown key {key!r} ({hint})")


def _positive_int(where: str, key: str, value: Any, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        what = "a positive integer" if minimum == 1 else f"an integer >= {minimum}"
        raise CampaignError(f"{where}: {key} must be {what}, not {value!r}")
    return value


def _str_list(where: str, key: str, value: Any) -> list[str]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not value or not all(isinstance(v, str) and v for v in value):
        raise CampaignError(f"{where}: {key} must be a non-empty list of strings")
    return list(value)


def template_fields(template: str, where: str) -> list[str]:
    """The ``{field}`` names of a name template (a CampaignError if it is malformed)."""
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError as exc:
        raise CampaignError(f"{where}: inputs.name {template!r} is not a valid template: {exc}") from None
    fields = []
    for _lit, fname, spec, conv in parsed:
        if fname is None:
            continue
        if not fname or not fname.isidentifier() or spec or conv:
            raise CampaignError(f"{where}: inputs.name {template!r}: use plain fields like {{stem}} or {{year}}")
        fields.append(fname)
    return fields


def _inputs(where: str, base: Path, inputs: Any) -> tuple[list[str], list[str], Path | None, str, str | None]:
    """(entries, files, listing, name template, pattern) of the ``inputs:`` section."""
    if not isinstance(inputs, dict):
        raise CampaignError(f"{where}: inputs is required: {{entries: [NAME, ...]}} or {{files: [GLOB, ...]}}")
    inputs = _norm(inputs)
    for key in inputs:
        if key not in INPUT_KEYS:
            raise _unknown(f"{where}: inputs", key, list(INPUT_KEYS))
    if sum(k in inputs for k in ("entries", "files", "listing")) != 1:
        raise CampaignError(f"{where}: inputs needs exactly one of 'entries' (catalogued data), 'files' "
                            "(files/globs to shelve first) or 'listing' (a file listing them: path, size, mtime)")
    if "entries" in inputs:
        entries = _str_list(where, "inputs.entries", inputs["entries"])
        if len(set(entries)) != len(entries):
            raise CampaignError(f"{where}: inputs.entries lists an entry twice")
        for key in ("name", "pattern"):
            if key in inputs:
                raise CampaignError(f"{where}: inputs.{key} applies to files, not to catalog entries")
        return entries, [], None, "{stem}", None
    files = []
    listing: Path | None = None
    if "listing" in inputs:
        value = inputs["listing"]
        if not isinstance(value, str) or not value:
            raise CampaignError(f"{where}: inputs.listing must be the path of a listing file")
        listing = Path(os.path.expanduser(value))
        listing = listing if listing.is_absolute() else base / listing
        if not listing.is_file():
            raise CampaignError(f"{where}: inputs.listing {listing}: no such file")
    for f in _str_list(where, "inputs.files", inputs["files"]) if "files" in inputs else []:
        f = os.path.expanduser(f)
        files.append(f if os.path.isabs(f) else str(base / f))
    template = inputs.get("name", "{stem}")
    if not isinstance(template, str) or not template:
        raise CampaignError(f"{where}: inputs.name must be a template string like 'sst_{{stem}}'")
    pattern = inputs.get("pattern")
    groups: list[str] = []
    if pattern is not None:
        if not isinstance(pattern, str):
            raise CampaignError(f"{where}: inputs.pattern must be a regular expression string")
        try:
            groups = list(re.compile(pattern).groupindex)
        except re.error as exc:
            raise CampaignError(f"{where}: inputs.pattern {pattern!r} is not a valid regex: {exc}") from None
    for f in template_fields(template, where):
        if f not in NAME_FIELDS and f not in groups:
            raise CampaignError(f"{where}: inputs.name uses {{{f}}}, which is neither a file field "
                                f"({', '.join(NAME_FIELDS)}) nor a named group of inputs.pattern")
    return [], files, listing, template, pattern


def _read(p: Path) -> dict[str, Any]:
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise CampaignError(f"{p}: campaign spec not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise CampaignError(f"{p}: cannot read campaign spec: {exc}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise CampaignError(f"{p}: malformed YAML: {one_line(exc)}") from None
    if not isinstance(data, dict):
        raise CampaignError(f"{p}: a campaign spec must be a YAML mapping (keys: {', '.join(KEYS)})")
    data = _norm(data)
    for key in data:
        if key not in KEYS:
            raise _unknown(str(p), key, list(KEYS))
    return data


def check_catalog_is_not_spec(spec_path: Path, catalog_path: Path) -> None:
    """Refuse a campaign whose catalog is its own spec file (its results would be written into the spec)."""
    try:
        same = catalog_path.resolve() == spec_path.resolve() or (
            catalog_path.exists() and os.path.samefile(catalog_path, spec_path))
    except OSError:
        same = False
    if same:
        raise CampaignError(f"{spec_path}: catalog is the spec file itself; name the catalog file the results "
                            "go into (catalog: ... or --catalog)")


def _spec_name(where: str, data: dict[str, Any], p: Path) -> str:
    name = data.get("name", p.stem)
    if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", name):
        raise CampaignError(f"{where}: name must be letters, digits, '_', '-' or '.', not {name!r}")
    return name


def _conversion(where: str, data: dict[str, Any], entries: list[str]) -> tuple[str | None, dict[str, Any], str]:
    """(target, its checked options, validate) of the spec: unknown or ill-typed options fail here, at plan time."""
    if "target" not in data:
        raise CampaignError(f"{where}: target is required ({', '.join(target_names())}, or null to shelve only)")
    target = data["target"]
    options = data.get("options") or {}
    if not isinstance(options, dict):
        raise CampaignError(f"{where}: options must be a mapping of target options")
    if target is not None:
        try:  # unknown or ill-typed options fail here, at plan time (also --dry-run)
            options = get_target(str(target)).check_options(options, "options: ")
        except ConversionError as exc:
            raise CampaignError(f"{where}: {exc}") from None
        target = str(target)
    elif entries:
        raise CampaignError(f"{where}: target is null, but catalog entries are already shelved: name a target")
    elif options:
        raise CampaignError(f"{where}: options are given but target is null (nothing is converted)")
    validate = data.get("validate", "full")
    accepted: tuple[str, ...] = ("full", "sample")
    if target is not None:
        accepted = get_target(str(target)).validations
    if validate not in accepted:
        raise CampaignError(f"{where}: validate must be {', '.join(repr(v) for v in accepted[:-1])} or "
                            f"{accepted[-1]!r} for target {target!r}, not {validate!r}")
    return target, dict(options), validate


def _scheduling(where: str, data: dict[str, Any],
                defaults: dict[str, Any]) -> tuple[int, int | None, int, float, float]:
    """(batch_size, max_jobs, retries, retry_backoff, retry_backoff_max) of the spec, else the configured defaults."""
    batch_size = _positive_int(where, "batch_size", data.get("batch_size", defaults["batch-size"]))
    retries = _positive_int(where, "retries", data.get("retries", defaults["retries"]), minimum=0)
    max_jobs = data.get("max_jobs")
    if max_jobs is not None:
        max_jobs = _positive_int(where, "max_jobs", max_jobs)
    try:
        backoff = parse_duration(data.get("retry_backoff", defaults["retry-backoff"]), "retry_backoff")
        backoff_max = parse_duration(data.get("retry_backoff_max", defaults["retry-backoff-max"]),
                                     "retry_backoff_max")
    except ClusterError as exc:
        raise CampaignError(f"{where}: {exc}") from None
    return batch_size, max_jobs, retries, backoff, backoff_max


def _cluster(where: str, data: dict[str, Any]) -> dict[str, Any]:
    """The spec's ``cluster:`` as a mapping; its profile must be valid (``--cluster`` may pick another later)."""
    cluster = data.get("cluster") or {}
    if isinstance(cluster, str):
        cluster = {"profile": cluster}
    if not isinstance(cluster, dict):
        raise CampaignError(f"{where}: cluster must be a profile name or a mapping {{profile: pbs, ...}}")
    try:
        get_profile(None, cluster)
    except ClusterError as exc:
        raise CampaignError(f"{where}: cluster: {exc}") from None
    return dict(cluster)


def _path_of(where: str, base: Path, value: Any, key: str) -> Path | None:
    """A path setting of the spec (``~`` and ``$VARS`` expanded), relative to the spec's directory."""
    if value is None:
        return None
    if not isinstance(value, str) or not value:
        raise CampaignError(f"{where}: {key} must be a path")
    q = Path(os.path.expandvars(os.path.expanduser(value)))
    return q if q.is_absolute() else (base / q)


def _state_dir(where: str, p: Path, data: dict[str, Any], name: str, defaults: dict[str, Any],
               state_dir: str | os.PathLike[str] | None) -> Path:
    """Where the campaign keeps its state: the argument, the spec's ``state:``, the configured directory, or
    ``SPEC.state`` beside the spec."""
    if state_dir is not None:
        return Path(state_dir).expanduser().absolute()
    if data.get("state") is not None:
        state = _path_of(where, p.parent, data["state"], "state")
        assert state is not None
        return state
    if defaults.get("state-dir"):
        return Path(os.path.expanduser(str(defaults["state-dir"]))) / name
    return p.with_name(p.stem + ".state")


def load_spec(path: str | os.PathLike[str], *, catalog: str | os.PathLike[str] | None = None,
              state_dir: str | os.PathLike[str] | None = None) -> CampaignSpec:
    """Read and validate a campaign spec (``catalog``/``state_dir`` override the spec's)."""
    p = Path(path).expanduser().absolute()
    where = str(p)
    data = _read(p)
    base = p.parent
    defaults = settings()["campaign"]
    name = _spec_name(where, data, p)
    entries, files, listing, template, pattern = _inputs(where, base, data.get("inputs"))
    target, options, validate = _conversion(where, data, entries)
    placement = data.get("placement", "auto")
    if placement not in PLACEMENTS:
        raise CampaignError(f"{where}: placement must be one of {', '.join(PLACEMENTS)}, not {placement!r}")
    batch_size, max_jobs, retries, backoff, backoff_max = _scheduling(where, data, defaults)
    cluster = _cluster(where, data)
    catalog_path = Path(catalog).expanduser().absolute() if catalog else _path_of(where, base, data.get("catalog"),
                                                                                  "catalog")
    if catalog_path is not None:
        check_catalog_is_not_spec(p, catalog_path)
    output = _path_of(where, base, data.get("output"), "output")
    state = _state_dir(where, p, data, name, defaults, state_dir)
    return CampaignSpec(
        path=p, name=name, description=str(data.get("description") or ""), catalog=catalog_path,
        entries=tuple(entries), files=tuple(files), listing=listing, name_template=template, pattern=pattern,
        target=target, options=options, validate=validate, output=output, placement=placement,
        batch_size=batch_size, max_jobs=max_jobs, retries=retries, retry_backoff=backoff,
        retry_backoff_max=backoff_max, cluster=cluster, state_dir=state,
    )


__all__ = ["KEYS", "CampaignSpec", "check_catalog_is_not_spec", "load_spec", "template_fields"]
