"""The one freshness check: did an entry's source files change since they were catalogued?

Every command asks here: the loader (file-set integrity, stale representations), ``convert``
(is the source as catalogued? is the output up to date?), ``lint`` and ``refresh``.

What an entry's files were is recorded in a **sidecar file manifest** written when the entry
is added or updated: ``<catalog file>.d/<entry>.<fingerprint>.files.jsonl`` beside the catalog,
named by the entry's ``files_manifest`` key.  Line 1 is a small header (fingerprint, count,
bytes, when it was taken, and the modification time of every directory the files live in);
each further line is one file ``[name below the base directory, size, mtime_ns]``.  The YAML
stays small however many files an entry has.

Two depths of check:

- **full**: list and stat every file (O(files) metadata operations), compare with the manifest:
  files missing, added, or changed (size or modification time).  ``lint``, ``refresh``,
  ``convert``, and the loader at most every ``full-check-minutes`` (user config, default 60).
- **cheap** (every open otherwise): one ``stat`` per source *directory*.  Adding, removing or
  renaming a file changes its directory's modification time; when every directory is as the
  manifest (or this user's last full check, cached in ``~/.cache/geoshelf/freshness``) saw it,
  the file set is unchanged.  It cannot see a file rewritten in place (same name, no rename):
  only a full check does; see ``docs/catalog.md`` ("Freshness").

Directory times within :data:`RACY_NS` of the moment they were recorded are not trusted (as
git's "racy" index entries): a file system with coarse timestamps could hide a change made in
the same tick, so such a snapshot is re-checked in full.

No xarray or dask here; reading writes only this user's cache.
"""

from __future__ import annotations

import contextlib
import glob as _glob
import hashlib
import json
import os
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..atomic import write_file
from ..config import read_config, user_config_path
from ..errors import CatalogError, SourceError
from .paths import FileStat, fingerprint, has_glob, is_url, relativize, resolve, stat_files

if TYPE_CHECKING:
    from .model import Entry, Representation

#: Format version of the sidecar manifest (line 1, key ``geoshelf_files``).
SIDECAR_VERSION = 1
#: Directory times this close to (or after) the moment of recording are not trusted.
RACY_NS = 2_000_000_000
#: Default period of the full check at open, in minutes (``freshness: {full-check-minutes: N}``).
DEFAULT_FULL_CHECK_MINUTES = 60.0
ENV_FULL_CHECK = "GEOSHELF_FULL_CHECK_MINUTES"
ENV_CACHE_DIR = "GEOSHELF_CACHE_DIR"
#: Names of changed files kept per kind (missing/added/changed) in a result and in the cache.
MAX_NAMES = 200
_HEADER_LIMIT = 16 * 2**20


# -- values ---------------------------------------------------------------------------------------

@dataclass(frozen=True, kw_only=True)
class Snapshot:
    """An entry's files as seen at one moment: directories first, then every file."""

    #: When it was taken (``time.time_ns()`` before anything was stat'ed).
    taken_ns: int
    #: Directory the names are relative to (from the entry's urlpath; no I/O needed to find it).
    base: str
    #: Directory (relative to ``base``, ``""`` for base) -> modification time in ns (-1: missing).
    dirs: dict[str, int]
    stats: tuple[FileStat, ...]
    #: Files the urlpath names explicitly that do not exist.
    absent: tuple[str, ...] = ()

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.stats) if self.stats else ""


@dataclass(frozen=True, kw_only=True)
class Header:
    """Line 1 of a sidecar manifest."""

    path: str
    entry: str
    fingerprint: str
    count: int
    bytes: int
    taken_ns: int
    base: str
    dirs: dict[str, int]


@dataclass(frozen=True, kw_only=True)
class FileSetState:
    """What the freshness check found for one entry."""

    entry: str
    #: Fingerprint of the files as they are, as far as the check can tell ("" when none were found).
    fingerprint: str
    #: "directories" (every directory as recorded), "cache" (as this user's last full check saw them),
    #: "full" (every file stat'ed now).
    method: str
    #: True when the entry has a sidecar manifest to compare with (catalogues before it: count only).
    recorded: bool
    #: Files found (a cheap check: as recorded or as last seen).
    found: int
    #: Files the catalog lists.
    catalogued: int
    missing: tuple[str, ...] = ()
    added: tuple[str, ...] = ()
    changed: tuple[str, ...] = ()
    n_missing: int = 0
    n_added: int = 0
    n_changed: int = 0
    #: When every file was last stat'ed for this verdict (ns since the epoch).
    checked_ns: int = 0
    #: The files and their stats (full checks only).
    stats: tuple[FileStat, ...] | None = field(default=None, repr=False)

    @property
    def file_set_changed(self) -> bool:
        """Files missing or added since catalogued (by name with a manifest, else by count)."""
        if self.recorded:
            return bool(self.n_missing or self.n_added)
        return bool(self.catalogued) and self.found != self.catalogued

    def is_stale(self, rep: Representation) -> bool:
        """True when ``rep`` was made from other files than those found (never when none are found:
        sources archived away leave the converted copy as all there is)."""
        made_from = rep.provenance.source_fingerprint if rep.provenance is not None else ""
        return bool(made_from and self.fingerprint and made_from != self.fingerprint)

    def describe(self, limit: int = 5) -> str:
        """One line: what changed, naming up to ``limit`` files of each kind."""
        if not self.recorded:
            return f"catalogued {self.catalogued} files, {self.found} found now"
        parts = []
        for what, names, n in (("missing", self.missing, self.n_missing), ("added", self.added, self.n_added),
                               ("changed", self.changed, self.n_changed)):
            if n:
                shown = ", ".join(names[:limit]) + (f" and {n - min(limit, len(names))} more" if n > limit else "")
                parts.append(f"{n} {'file' if n == 1 else 'files'} {what}: {shown}")
        return "; ".join(parts) or "unchanged"


# -- configuration --------------------------------------------------------------------------------

def cache_dir() -> Path:
    """geoshelf's own cache: ``$GEOSHELF_CACHE_DIR``, else ``$XDG_CACHE_HOME/geoshelf``, else ``~/.cache/geoshelf``."""
    if os.environ.get(ENV_CACHE_DIR):
        return Path(os.environ[ENV_CACHE_DIR]).expanduser()
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "geoshelf"


def full_check_period_ns() -> int | None:
    """How old the last full check may be before an open does one: ns, 0 = every open, None = never.

    ``$GEOSHELF_FULL_CHECK_MINUTES``, else ``freshness: {full-check-minutes: N}`` in the user
    config, else 60.  ``never`` (or a negative number) leaves full checks to ``lint``/``refresh``.
    """
    where = ENV_FULL_CHECK
    value: Any = os.environ.get(ENV_FULL_CHECK)
    if value is None:
        cfg = user_config_path()
        section = read_config(cfg).get("freshness") or {}
        if not isinstance(section, dict):
            raise CatalogError(f"{cfg}: freshness must be a mapping like {{full-check-minutes: 60}}")
        where = f"{cfg}: freshness.full-check-minutes"
        value = section.get("full-check-minutes", section.get("full_check_minutes", DEFAULT_FULL_CHECK_MINUTES))
    if isinstance(value, str) and value.strip().lower() == "never":
        return None
    try:
        minutes = float(value)
    except (TypeError, ValueError):
        raise CatalogError(f"{where}: expected minutes (a number) or 'never', not {value!r}") from None
    if minutes != minutes:  # NaN
        raise CatalogError(f"{where}: expected minutes (a number) or 'never', not {value!r}")
    return None if minutes < 0 else int(minutes * 60e9)


# -- where files live -----------------------------------------------------------------------------

def _items(entry: Entry) -> list[str]:
    items = [entry.urlpath] if isinstance(entry.urlpath, str) else list(entry.urlpath)
    return [resolve(str(i), entry.catalog_dir) for i in items if str(i)]


def _fixed_prefix(path: str) -> str:
    """The directory part of ``path`` before its first glob character."""
    parts = path.split("/")
    fixed: list[str] = []
    for part in parts[:-1]:
        if has_glob(part):
            break
        fixed.append(part)
    return "/".join(fixed) or "/"


def base_of(entry: Entry) -> str:
    """Directory the entry's files are named relative to (ends with ``/``): from its urlpath, no I/O."""
    prefixes = [_fixed_prefix(i) for i in _items(entry)]
    if not prefixes:
        return ""
    if len(prefixes) == 1:
        base = prefixes[0]
    elif any(is_url(p) for p in prefixes):
        base = os.path.commonprefix(prefixes).rsplit("/", 1)[0]
    else:
        base = os.path.commonpath(prefixes)
    return base.rstrip("/") + "/"


def _rel(path: str, base: str) -> str:
    return path[len(base):] if base and path.startswith(base) else path


def source_dirs(entry: Entry) -> list[str]:
    """Absolute local directories whose listing decides the entry's file set (none for URLs):
    every directory a glob walks through, from its fixed prefix down."""
    out: set[str] = set()
    for item in _items(entry):
        if is_url(item):
            continue
        parent = os.path.dirname(item)
        if has_glob(parent):
            prefix = _fixed_prefix(item).rstrip("/") or "/"
            found = [d for d in _glob.glob(parent) if os.path.isdir(d)]
            for d in found:
                while len(d) >= len(prefix):
                    out.add(d)
                    if d == prefix:
                        break
                    d = os.path.dirname(d)
            out.add(prefix)
        else:
            out.add(parent or "/")
    return sorted(out)


def _mtime(path: str) -> int:
    try:
        return os.stat(path).st_mtime_ns
    except OSError:
        return -1


def snapshot(entry: Entry, *, must_exist: bool = False) -> Snapshot:
    """Directories, then the file list, then every file: the full check's O(files) look."""
    taken = time.time_ns()
    base = base_of(entry)
    dirs = {_rel(d.rstrip("/") + "/", base).rstrip("/"): _mtime(d) for d in source_dirs(entry)}
    try:
        files = entry.source_files(must_exist=False)
    except SourceError:
        if must_exist:
            raise
        files = []
    stats: list[FileStat] = []
    absent: list[str] = []
    so = entry.storage_options if any(is_url(f) for f in files) else None
    for f in files:
        if is_url(f):
            try:
                stats.extend(stat_files([f], so))
            except SourceError:
                absent.append(f)
            continue
        try:
            st = os.stat(f)
        except FileNotFoundError:
            absent.append(f)
            continue
        except OSError as exc:
            raise SourceError(f"{f}: cannot stat: {exc.strerror}") from None
        stats.append(FileStat(f, st.st_size, st.st_mtime_ns))
    if must_exist and (absent or not stats):
        raise SourceError(f"{absent[0] if absent else base}: no such file" if absent else f"{base}: no files match")
    return Snapshot(taken_ns=taken, base=base, dirs=dirs, stats=tuple(stats), absent=tuple(absent))


# -- the sidecar manifest --------------------------------------------------------------------------

def sidecar_dir(catalog_path: str | os.PathLike[str]) -> Path:
    """Where a catalog's sidecar manifests live: ``<catalog file>.d/`` beside it."""
    p = Path(catalog_path)
    return p.with_name(p.name + ".d")


def sidecar_path(catalog_path: str | os.PathLike[str], name: str, fp: str) -> Path:
    """The sidecar manifest of entry ``name`` with fingerprint ``fp`` (a new name per content: the
    catalog switches to it in one atomic write, never pointing at a half-written file)."""
    return sidecar_dir(catalog_path) / f"{name}.{fp.split(':')[-1][:16]}.files.jsonl"


def write_files_manifest(path: Path, snap: Snapshot, *, name: str = "") -> None:
    """Write a manifest (header line + one line per file) atomically: temp file beside it, then rename.

    The same format records an entry's files (sidecar) and a converted output's sources."""
    header = {"geoshelf_files": SIDECAR_VERSION, "entry": name, "fingerprint": snap.fingerprint,
              "count": len(snap.stats), "bytes": sum(s.size for s in snap.stats), "taken_ns": snap.taken_ns,
              "base": snap.base, "dirs": snap.dirs}
    lines = [json.dumps(header, separators=(",", ":"))]
    lines += [json.dumps([_rel(s.path, snap.base), s.size, s.mtime_ns], separators=(",", ":"))
              for s in sorted(snap.stats, key=lambda s: s.path)]
    write_file(path, "\n".join(lines) + "\n", mode=0o644)


def read_header(path: str | os.PathLike[str]) -> Header | None:
    """Line 1 of a manifest (one small read, whatever the number of files), or None if unusable."""
    try:
        with open(path, "rb") as fh:
            line = fh.readline(_HEADER_LIMIT)
        data = json.loads(line)
        if not isinstance(data, dict) or data.get("geoshelf_files") != SIDECAR_VERSION:
            return None
        return Header(path=str(path), entry=str(data.get("entry", "")), fingerprint=str(data["fingerprint"]),
                      count=int(data["count"]), bytes=int(data.get("bytes", 0)), taken_ns=int(data["taken_ns"]),
                      base=str(data.get("base", "")), dirs={str(k): int(v) for k, v in dict(data["dirs"]).items()})
    except (OSError, ValueError, KeyError, TypeError):
        return None


def read_files(path: str | os.PathLike[str]) -> tuple[Header, dict[str, tuple[int, int]]] | None:
    """Header and ``{name below base: (size, mtime_ns)}`` of a manifest, or None if unusable."""
    header = read_header(path)
    if header is None:
        return None
    out: dict[str, tuple[int, int]] = {}
    try:
        with open(path, encoding="utf-8") as fh:
            fh.readline(_HEADER_LIMIT)
            for line in fh:
                if line.strip():
                    name, size, mtime = json.loads(line)
                    out[str(name)] = (int(size), int(mtime))
    except (OSError, ValueError, TypeError):
        return None
    return header, out


def record(catalog_path: str | os.PathLike[str], entry: Entry) -> Entry:
    """Write the entry's sidecar manifest (a fresh snapshot) and return the entry naming it.

    Called by :func:`~geoshelf.catalog.add_entry` (``geoshelf add``, ``--update``) and by
    ``refresh``.  The snapshot must match the entry's fingerprint (a file that changed between
    the scan and now is a :class:`SourceError`: scan again).  An entry without fingerprint or
    whose files cannot be listed gets no manifest (the check then falls back to counting).
    """
    if not entry.fingerprint or not entry.urlpath:
        return entry
    snap = snapshot(entry)
    if not snap.stats:
        return entry
    if snap.fingerprint != entry.fingerprint:
        raise SourceError(f"{entry.name}: source files changed while being catalogued "
                          f"({snap.stats[0].path} ...); run the add again")
    catalog_path = Path(catalog_path).expanduser().resolve()
    path = sidecar_path(catalog_path, entry.name, snap.fingerprint)
    write_files_manifest(path, snap, name=entry.name)
    return entry.replace(files_manifest=relativize(str(path), str(catalog_path.parent)))


def prune(catalog_path: str | os.PathLike[str], name: str, keep: str | None = None) -> None:
    """Remove the entry's sidecar manifests other than ``keep`` (after the catalog stopped naming them)."""
    d = sidecar_dir(Path(catalog_path).expanduser().resolve())
    if not d.is_dir():
        return
    for p in d.glob(f"{_glob.escape(name)}.*.files.jsonl"):
        if keep is None or str(p) != keep:
            with contextlib.suppress(OSError):
                p.unlink()


def manifest_header(entry: Entry) -> Header | None:
    """The entry's sidecar header if it describes the entry as catalogued (same fingerprint)."""
    if not entry.files_manifest or not entry.files_manifest.endswith(".files.jsonl") or is_url(entry.files_manifest):
        return None  # a catalog names only a local sidecar manifest here, nothing else is read as one
    header = read_header(entry.resolve(entry.files_manifest))
    if header is None or header.fingerprint != entry.fingerprint:
        return None
    return header


# -- this user's cache of full checks ---------------------------------------------------------------

def _cache_file(header: Header) -> Path:
    key = hashlib.sha256(f"{os.path.abspath(header.path)}\x00{header.fingerprint}".encode()).hexdigest()[:32]
    return cache_dir() / "freshness" / f"{key}.json"


def _read_cache(header: Header) -> dict[str, Any] | None:
    try:
        data: dict[str, Any] = json.loads(_cache_file(header).read_bytes())
        if data.get("sidecar") != os.path.abspath(header.path) or data.get("recorded") != header.fingerprint:
            return None
        data["dirs"] = {str(k): int(v) for k, v in dict(data["dirs"]).items()}
        return data
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


def _write_cache(header: Header, state: FileSetState, dirs: dict[str, int]) -> None:
    data = {"sidecar": os.path.abspath(header.path), "recorded": header.fingerprint, "dirs": dirs,
            "checked_ns": state.checked_ns, "fingerprint": state.fingerprint, "found": state.found,
            "missing": list(state.missing), "added": list(state.added), "changed": list(state.changed),
            "n_missing": state.n_missing, "n_added": state.n_added, "n_changed": state.n_changed}
    path = _cache_file(header)
    with contextlib.suppress(OSError):  # best effort: an unwritable cache only makes the next open check again
        write_file(path, json.dumps(data), sync=False)


def _cached_state(entry: Entry, data: dict[str, Any]) -> FileSetState:
    return FileSetState(entry=entry.name, fingerprint=str(data["fingerprint"]), method="cache", recorded=True,
                        found=int(data["found"]), catalogued=entry.files, missing=tuple(data["missing"]),
                        added=tuple(data["added"]), changed=tuple(data["changed"]), n_missing=int(data["n_missing"]),
                        n_added=int(data["n_added"]), n_changed=int(data["n_changed"]),
                        checked_ns=int(data["checked_ns"]))


# -- the check --------------------------------------------------------------------------------------

def _racy(dirs: dict[str, int], taken_ns: int) -> bool:
    return any(m < 0 or m >= taken_ns - RACY_NS for m in dirs.values())


def _observe(base: str, names: Iterable[str], seen: dict[str, int]) -> dict[str, int]:
    out = {}
    for name in names:
        if name not in seen:
            seen[name] = _mtime(base + name if name else base.rstrip("/") or "/")
        out[name] = seen[name]
    return out


def full_check(entry: Entry, header: Header | None = None, *, must_exist: bool = False) -> FileSetState:
    """Stat every file and compare with the sidecar manifest (O(files)); cache the verdict for this user.

    ``must_exist``: a :class:`SourceError` when no file matches or a listed file is absent (``convert``)."""
    if header is None:
        header = manifest_header(entry)
    snap = snapshot(entry, must_exist=must_exist)
    current = snap.fingerprint
    if header is None:
        return FileSetState(entry=entry.name, fingerprint=current, method="full", recorded=False,
                            found=len(snap.stats), catalogued=entry.files, checked_ns=snap.taken_ns,
                            stats=snap.stats)
    loaded = read_files(header.path)
    recorded = loaded[1] if loaded is not None else {}
    base = base_of(entry)
    now = {_rel(s.path, base): (s.size, s.mtime_ns) for s in snap.stats}
    missing = sorted(set(recorded) - set(now))
    added = sorted(set(now) - set(recorded))
    changed = sorted(n for n, v in now.items() if n in recorded and recorded[n] != v)
    state = FileSetState(entry=entry.name, fingerprint=current, method="full", recorded=loaded is not None,
                         found=len(snap.stats), catalogued=entry.files,
                         missing=tuple(base + n for n in missing[:MAX_NAMES]),
                         added=tuple(base + n for n in added[:MAX_NAMES]),
                         changed=tuple(base + n for n in changed[:MAX_NAMES]),
                         n_missing=len(missing), n_added=len(added), n_changed=len(changed),
                         checked_ns=snap.taken_ns, stats=snap.stats)
    if loaded is not None:
        _write_cache(header, state, snap.dirs)
    return state


def check(entry: Entry, *, full: bool | None = None) -> FileSetState:
    """The entry's file set now: cheap (a stat per directory) unless a full check is asked for or due.

    ``full=True``: every file (``lint``, ``refresh``, ``convert``); ``full=None``: the loader's
    choice: a full check when the entry has no sidecar manifest, or this user's last one is older
    than :func:`full_check_period_ns`; else the directories' times against the manifest's.
    """
    header = manifest_header(entry)
    if header is None or full:
        return full_check(entry, header)
    period = full_check_period_ns()
    if period == 0:
        return full_check(entry, header)
    cache = _read_cache(header)
    last_full = max(header.taken_ns, int(cache["checked_ns"]) if cache else 0)
    if period is not None and time.time_ns() - last_full > period:
        return full_check(entry, header)
    base = base_of(entry)
    recorded_state = FileSetState(entry=entry.name, fingerprint=header.fingerprint, method="directories",
                                  recorded=True, found=header.count, catalogued=entry.files,
                                  checked_ns=header.taken_ns)
    if is_url(base):  # no directory times: trust the last full check within the period
        return _cached_state(entry, cache) if cache else recorded_state
    seen: dict[str, int] = {}
    if cache is not None:
        observed = _observe(base, cache["dirs"], seen)
        if observed == cache["dirs"] and not _racy(observed, int(cache["checked_ns"])):
            return _cached_state(entry, cache)
    observed = _observe(base, header.dirs, seen)
    if header.base == base and observed == header.dirs and not _racy(observed, header.taken_ns):
        return recorded_state
    return full_check(entry, header)


__all__ = ["DEFAULT_FULL_CHECK_MINUTES", "RACY_NS", "FileSetState", "Header", "Snapshot", "base_of", "cache_dir",
           "check", "full_check", "full_check_period_ns", "manifest_header", "prune", "read_files", "read_header",
           "record", "sidecar_dir", "sidecar_path", "snapshot", "source_dirs", "write_files_manifest"]
