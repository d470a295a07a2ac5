"""Catalog edits as small transactions: an edit of one entry costs that entry, and never loses another.

:func:`edit_sources` is the one way geoshelf changes a catalog file:

1. take the file lock (two geoshelf processes never interleave);
2. wait until the file is *settled*: as a geoshelf write left it, or not modified for a moment
   (another program, e.g. an editor writing it in place, may be half-way through);
3. read its bytes and the entries a safe parser validated (the derived index when it is fresh:
   no YAML parsed at all; see :class:`~geoshelf.catalog.Catalog`); the index also keeps where
   each entry starts, so an edit of a few entries reads only those (and their neighbours);
4. ask the caller which entries change (a pure function of the entries: it may run again);
5. splice: only the changed entries are rendered (ruamel round trip of that entry's text, so its
   comments survive; new entries by the fast emitter); every other byte is copied
   (:mod:`.splice`);
6. write a temporary file beside the catalog, fsync, then *compare*: if the file is not exactly
   what step 3 read, discard and start again from step 2 (the edit is merged onto the new
   text) until the lock timeout, then refuse in one line; else rename it into place;
7. keep the derived index fresh by changing just those rows (and shifting the recorded offsets).

Errors of the file system (read-only, full, permission denied) are one :class:`CatalogError`
line; the catalog is then untouched.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from filelock import Timeout
from ruamel.yaml.comments import CommentedMap

from ..atomic import fsync_dir, temp_beside
from ..errors import CatalogError
from ..faults import fault_point
from .index import Index, Moves, key_offsets, save_offsets, update_rows
from .limits import read_regular_bytes
from .splice import Layout, Spliced, Unhandled, layout_from_lines, locate, merge, sparse_layout, splice
from .yamlio import LOCK_TIMEOUT_S, dump_text, lock_for, parse_text

#: A file modified longer ago than this is settled (no writer is still busy with it).
SETTLE_S = 1.0
#: Otherwise it must stay unchanged for this long while we watch it.
QUIET_S = 0.5
#: Edits of at most this many entries use the offsets the derived index recorded (no search of the file).
SPARSE_MAX = 16

#: The changes an edit makes: entry name -> its new source (plain data), or None to remove it.
Changes = dict[str, dict[str, Any] | None]
#: What the caller of :func:`edit_sources` gives: the current entries -> the changes.
Plan = Callable[[Mapping[str, dict[str, Any]]], Mapping[str, dict[str, Any] | None]]
#: How the caller reads a catalog file's validated entries (``catalog.read_sources``: the safe loader,
#: or the fresh derived index); the writer sits below the catalog class and does not open catalogs itself.
Reader = Callable[[Path], Mapping[str, dict[str, Any]]]

NEW_CATALOG = (b"# geoshelf catalog: an intake v1 catalog; geoshelf keeps its fields under metadata.geoshelf\n"
               b"metadata:\n  version: 1\nsources: {}\n")
_RECORD = b"geoshelf-wrote "
#: Top-level keys of an intake v1 catalog: a YAML file with others and no ``sources:`` is not one.
CATALOG_KEYS = frozenset({"metadata", "sources", "description", "name", "version", "plugins"})


@dataclass(frozen=True)
class _Base:
    """The file an edit is based on."""

    data: bytes
    stat: os.stat_result | None


def _sig(st: os.stat_result) -> tuple[int, ...]:
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def _stat(p: Path) -> os.stat_result | None:
    try:
        return p.stat()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise CatalogError(f"{p}: cannot read catalog: {exc.strerror or exc}") from None


def _lock_path(p: Path) -> Path:
    return p.with_name(p.name + ".lock")


def _recorded(p: Path) -> bytes:
    """What the last geoshelf write of ``p`` left (kept in the lock file, written under the lock)."""
    try:
        with open(_lock_path(p), "rb") as fh:
            return fh.read(200)
    except OSError:
        return b""


def _record(p: Path, st: os.stat_result) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(_lock_path(p), os.O_WRONLY | getattr(os, "O_NOFOLLOW", 0))
        try:
            data = _RECORD + " ".join(map(str, _sig(st))).encode() + b"\n"
            os.pwrite(fd, data, 0)
            os.ftruncate(fd, len(data))
        finally:
            os.close(fd)


def _ours(p: Path, st: os.stat_result) -> bool:
    return _recorded(p) == _RECORD + " ".join(map(str, _sig(st))).encode() + b"\n"


def _settled(p: Path, deadline: float) -> os.stat_result | None:
    """The file's stat once no other program is writing it (None: it does not exist)."""
    seen: tuple[int, ...] | None = None
    since = 0.0
    while True:
        st = _stat(p)
        if st is None or _ours(p, st):
            return st
        if time.time() - max(st.st_mtime, st.st_ctime) >= SETTLE_S:
            return st
        now = time.monotonic()
        if _sig(st) != seen:
            seen, since = _sig(st), now
        elif now - since >= QUIET_S:
            return st
        if now > deadline:
            raise CatalogError(f"{p}: the catalog is being written by another program (it kept changing for "
                               f"{LOCK_TIMEOUT_S:.0f} s); nothing was written: try again once it is saved")
        time.sleep(0.05)


def _changed_since(p: Path, st: os.stat_result | None) -> bool:
    now = _stat(p)
    return (now is None) != (st is None) or (now is not None and st is not None and _sig(now) != _sig(st))


def _unchanged(p: Path, base: _Base) -> bool:
    """Whether ``p`` is still exactly the file the edit was based on (stat and every byte)."""
    st = _stat(p)
    if base.stat is None or st is None:
        return base.stat is None and st is None
    if _sig(st) != _sig(base.stat):
        return False
    pos = 0
    try:
        with open(p, "rb") as fh:
            while chunk := fh.read(1 << 22):
                if base.data[pos:pos + len(chunk)] != chunk:
                    return False
                pos += len(chunk)
    except OSError:
        return False
    return pos == len(base.data)


def _write_error(p: Path, exc: OSError) -> CatalogError:
    reason = {errno.EROFS: "read-only file system", errno.ENOSPC: "no space left on device",
              errno.EDQUOT: "disk quota exceeded", errno.EACCES: "permission denied",
              errno.EPERM: "permission denied"}.get(exc.errno or 0, exc.strerror or str(exc))
    return CatalogError(f"{p}: cannot write catalog: {reason}; the catalog is unchanged")


@dataclass
class _View:
    """The validated entries of the base file (a mapping in file order)."""

    sources: Mapping[str, dict[str, Any]]


def _blank(data: bytes) -> bool:
    return len(data) < 65536 and not data.strip()


def _view(p: Path, base: _Base, read: Reader) -> _View:
    if base.stat is None or _blank(base.data):
        return _View(sources={})
    return _View(sources=read(p))  # validates (safe loader; refuses unsafe or malformed catalogs) or the index


def _layout(data: bytes, names: list[str], p: Path) -> Layout:
    """Where the entries are: found by searching their names, else from ruamel's line numbers."""
    try:
        return locate(data, names)
    except Unhandled:
        pass

    doc = parse_text(data.decode("utf-8"), str(p))
    if not isinstance(doc, CommentedMap) or "sources" not in doc:
        raise Unhandled("no sources mapping")
    sources = doc["sources"]
    if sources is not None and (not isinstance(sources, CommentedMap) or sources.fa.flow_style()) and sources:
        raise Unhandled("flow-style sources")
    keys = list(doc)
    after = keys.index("sources") + 1
    end_line = doc.lc.key(keys[after])[0] if after < len(keys) else None
    key_lines = [(str(k), *sources.lc.key(k)) for k in sources] if sources else []
    if not key_lines:
        return locate(data, [])  # an empty block: "sources:" / "sources: {}"
    layout = layout_from_lines(data, doc.lc.key("sources")[0], key_lines, end_line)
    if layout.names != names:
        raise Unhandled("entries")
    return layout


def _splice(p: Path, base: _Base, data: bytes, view: _View, changes: Changes) -> Spliced:
    """The file with ``changes`` spliced in.  With a fresh derived index that recorded where the entries are
    (after an earlier edit), a few changes need no search of the file: only the entries around them are
    located and checked; otherwise every entry is located, and the offsets recorded for the next edit."""
    if base.stat is None or data is not base.data:
        return splice(data, _layout(data, list(view.sources), p), changes, view.sources)
    if isinstance(view.sources, Index) and len(changes) <= SPARSE_MAX:
        recorded = key_offsets(p, base.stat, changes)
        if recorded is not None:
            try:
                return splice(data, sparse_layout(data, recorded.sources, recorded.keys, recorded.total), changes,
                              view.sources)
            except Unhandled:
                pass  # not where they were recorded (or not checkable alone): locate every entry
    layout = _layout(data, list(view.sources), p)
    save_offsets(p, base.stat, layout.sources_line[0], layout.keys)  # when the catalog has a fresh index
    return splice(data, layout, changes, view.sources)


def _render_whole(data: bytes, changes: Changes, p: Path) -> bytes:
    """Last resort for layouts the splicer does not handle: ruamel re-renders the whole document."""
    doc = parse_text(data.decode("utf-8"), str(p)) if not _blank(data) else None
    if doc is None:
        doc = parse_text(NEW_CATALOG.decode())
    if not isinstance(doc, dict):
        raise CatalogError(f"{p}: a catalog must be a YAML mapping with a 'sources:' key")
    if "sources" not in doc and set(map(str, doc)) - CATALOG_KEYS:
        raise CatalogError(f"{p}: not a catalog (no 'sources:', and keys a catalog does not have: "
                           f"{', '.join(sorted(set(map(str, doc)) - CATALOG_KEYS))}); nothing was written")
    if doc.get("sources") is None:
        doc["sources"] = CommentedMap()
    sources = doc["sources"]
    for name, source in changes.items():
        if source is None:
            sources.pop(name, None)
        elif name in sources and isinstance(sources[name], dict):
            merge(sources[name], source)
        else:
            sources[name] = source
    return dump_text(doc).encode("utf-8")


def _effective(changes: Mapping[str, dict[str, Any] | None], sources: Mapping[str, dict[str, Any]]) -> Changes:
    """The changes that change something (writing an entry as it is, or removing a missing one, does not)."""
    out: Changes = {}
    for name, source in changes.items():
        current = sources.get(name) if name in sources else None
        if source is None and name not in sources:
            continue
        if source is not None and current is not None and current == source:
            continue
        out[name] = source
    return out


def _index_rows(rendered: Mapping[str, str], changes: Changes) -> dict[str, dict[str, Any] | None] | None:
    """The changed entries as the safe loader reads them (what the derived index stores), or None."""
    rows: dict[str, dict[str, Any] | None] = {}
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    for name, source in changes.items():
        if source is None:
            rows[name] = None
            continue
        try:
            parsed = yaml.load(rendered[name], Loader=loader)
        except (KeyError, yaml.YAMLError):
            return None
        if not isinstance(parsed, dict) or list(parsed) != [name]:
            return None
        rows[name] = parsed[name]
    return rows


def edit_sources(path: str | os.PathLike[str], plan: Plan, *, read: Reader, create: bool = False) -> Changes:
    """Change some entries of the catalog file at ``path`` in one locked, atomic, verified write.

    ``plan(entries)`` gets the current entries (name -> plain source, in file order; validated by
    the safe loader) and returns the changes: name -> new source (replaces the entry, keeping the
    comments inside it, or appends a new one), or None (removes it).  It may be called more than
    once (when another program changed the file meanwhile) and must not have side effects.
    Returns the changes written (none when nothing would change: the file is not touched).
    ``read(path)`` gives the file's validated entries (:func:`geoshelf.catalog.catalog.read_sources`).
    With ``create=True`` a missing file starts as an empty catalog.
    """
    p = Path(path)
    deadline = time.monotonic() + LOCK_TIMEOUT_S
    try:
        lock = lock_for(p)
        lock.acquire()
    except Timeout:
        raise CatalogError(f"{p}: catalog is locked by another process "
                           f"(gave up after {LOCK_TIMEOUT_S:.0f} s)") from None
    except OSError as exc:
        if _stat(p) is None and not create:
            raise CatalogError(f"{p}: catalog file not found") from None
        raise _write_error(p, exc) from None
    try:
        while True:
            st = _settled(p, deadline)
            if st is None and not create:
                raise CatalogError(f"{p}: catalog file not found")
            if st is not None and not stat.S_ISREG(st.st_mode):
                raise CatalogError(f"{p}: is a directory, not a catalog file" if stat.S_ISDIR(st.st_mode) else
                                   f"{p}: not a regular file (a FIFO, device or socket cannot be a catalog)")
            base = _Base(data=read_regular_bytes(p) if st is not None else b"", stat=st)
            try:
                view = _view(p, base, read)
            except CatalogError:
                if _changed_since(p, st):
                    continue  # half-written by another program while it was read: settle again
                raise
            if _changed_since(p, st):
                continue  # changed while it was being read: settle again
            changes = _effective(plan(view.sources), view.sources)
            if not changes:
                return {}
            data = NEW_CATALOG if _blank(base.data) else base.data
            spliced: Spliced | None = None
            new: Sequence[bytes | memoryview]
            try:
                spliced = _splice(p, base, data, view, changes)
                new = spliced.pieces
            except Unhandled:
                new = [_render_whole(data, changes, p)]
            if _publish(p, base, new, deadline):
                if base.stat is not None:  # the index may also have been built just now, by this view
                    _update_index(p, base.stat, changes, spliced)
                return changes
    finally:
        lock.release()


def _publish(p: Path, base: _Base, new: Sequence[bytes | memoryview], deadline: float) -> bool:
    """Rename ``new`` into place if ``p`` is still the base; False when it changed (the caller retries)."""
    mode = base.stat.st_mode & 0o7777 if base.stat is not None else 0o644
    try:
        p.parent.mkdir(parents=True, exist_ok=True)
        tmp = temp_beside(p, new, mode)
    except OSError as exc:
        raise _write_error(p, exc) from None
    try:
        if not _unchanged(p, base):
            if time.monotonic() > deadline:
                raise CatalogError(f"{p}: the catalog changed while geoshelf was editing it (another program is "
                                   "writing it); nothing was written: try again once it is saved")
            return False
        fault_point("catalog:before-replace")
        os.replace(tmp, p)
    except OSError as exc:
        raise _write_error(p, exc) from None
    finally:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
    fsync_dir(p.parent)
    st = _stat(p)
    if st is not None:
        _record(p, st)
    return True


def _update_index(p: Path, old: os.stat_result, changes: Changes, spliced: Spliced | None) -> None:
    rows = _index_rows(spliced.rendered if spliced is not None else {}, changes)
    st = _stat(p)
    if rows is not None and st is not None:
        update_rows(p, old, st, rows, Moves(spliced.shifts, spliced.placed) if spliced is not None else None)


__all__ = ["QUIET_S", "SETTLE_S", "SPARSE_MAX", "Changes", "Plan", "Reader", "edit_sources"]
