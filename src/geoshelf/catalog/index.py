"""A derived SQLite index of a large catalog, so opening and searching do not re-parse YAML.

The YAML stays the source of truth: the index lives in the user's cache directory, is
keyed by the catalog's absolute path and is used only while the file's size and
modification time are those it was built from.  It holds each entry as JSON (already
validated by the safe loader) plus the columns search filters on, and, once the catalog
writer has edited the file, the byte offset of each entry's key line (:func:`key_offsets`),
so the next edit of one entry finds it without searching the file.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .search import Query

INDEX_VERSION = "4"  # 4: entries validated with duplicate-key and alias limits
#: Catalogs with fewer entries are just parsed (an index would not pay off).
MIN_ENTRIES = 500


def index_dir() -> Path:
    """``$GEOSHELF_INDEX_DIR`` or ``$XDG_CACHE_HOME/geoshelf/index``."""
    if os.environ.get("GEOSHELF_INDEX_DIR"):
        return Path(os.environ["GEOSHELF_INDEX_DIR"])
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "geoshelf" / "index"


def index_path(catalog: Path) -> Path:
    """Where the index of ``catalog`` is kept."""
    return index_dir() / (hashlib.sha256(str(catalog).encode()).hexdigest()[:24] + ".sqlite")


def _stamp(st: os.stat_result) -> str:
    return f"{INDEX_VERSION}:{st.st_size}:{st.st_mtime_ns}:{st.st_ino}"


def _geo(src: dict[str, Any]) -> dict[str, Any]:
    meta = src.get("metadata") or {}
    geo = meta.get("geoshelf") if isinstance(meta, dict) else None
    return geo if isinstance(geo, dict) else {}


def build(catalog: Path, st: os.stat_result, data: dict[str, Any]) -> None:
    """Write the index of an already validated catalog (best effort; errors are ignored)."""
    build_streaming(catalog, st, data["sources"].items(), lambda: {k: v for k, v in data.items() if k != "sources"})


def build_streaming(catalog: Path, st: os.stat_result, items: Iterable[tuple[Any, Any]],
                    document: Callable[[], dict[str, Any]], *, chunk: int = 20_000) -> bool:
    """Write the index from validated ``(name, entry)`` pairs, ``chunk`` rows at a time (bounded memory).

    ``document()`` gives the top-level keys other than ``sources`` once ``items`` is exhausted.
    Returns whether the index was written (OS and SQLite errors are ignored: it is only a cache);
    an exception raised by ``items`` propagates after the partial index is removed.
    """
    target = index_path(catalog)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp.unlink(missing_ok=True)
        db = sqlite3.connect(tmp)
        try:
            db.executescript(
                "PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF;"
                "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT);"
                "CREATE TABLE entries (pos INTEGER PRIMARY KEY, name TEXT UNIQUE, driver TEXT, hay TEXT,"
                " variables TEXT, tags TEXT, t0 TEXT, t1 TEXT, w REAL, s REAL, e REAL, n REAL, source TEXT);"
            )
            rows = []
            for pos, (name, src) in enumerate(items):
                rows.append(_row(pos, name, src))
                if len(rows) >= chunk:
                    db.executemany("INSERT INTO entries VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)", rows)
                    rows.clear()
            db.executemany("INSERT INTO entries VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)", rows)
            db.execute("CREATE INDEX entries_driver ON entries (driver)")  # includes() without a full scan
            db.executemany("INSERT INTO meta VALUES (?,?)",
                           [("stamp", _stamp(st)), ("doc", json.dumps(document(), default=str))])
            db.commit()
        finally:
            db.close()
        with open(tmp, "rb+") as fh:  # journal and sync were off while writing: sync once, then publish
            os.fsync(fh.fileno())
        os.replace(tmp, target)
        return True
    except (OSError, sqlite3.Error):
        return False
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)


@dataclass(frozen=True)
class Moves:
    """How an edit moved the entries' key lines: ``shifts`` (old offset, delta): every key line at or after
    that offset of the old file moved by delta (in file order); ``placed``: name -> offset in the new file of
    each entry written (replaced or appended)."""

    shifts: tuple[tuple[int, int], ...]
    placed: Mapping[str, int]


#: More shifts than this: the offsets are dropped (the next edit finds them again) rather than updated.
MAX_SHIFTS = 64


def _edit_fresh_index(catalog: Path, st: os.stat_result, edit: Callable[[sqlite3.Connection], bool]) -> bool:
    """Run ``edit`` in one transaction on the index of ``catalog`` if that index is fresh for the file as
    ``st`` says it is; whether it was and ``edit`` said so (errors: False, nothing changed)."""
    path = index_path(catalog)
    if not path.is_file():
        return False
    try:
        db = sqlite3.connect(path, timeout=5)
        try:
            with db:
                row = db.execute("SELECT value FROM meta WHERE key='stamp'").fetchone()
                if not row or row[0] != _stamp(st):
                    return False
                return edit(db)
        finally:
            db.close()
    except (OSError, sqlite3.Error):
        return False


def update_rows(catalog: Path, old: os.stat_result, new: os.stat_result,
                rows: Mapping[str, dict[str, Any] | None], moves: Moves | None = None) -> bool:
    """After an edit of ``catalog`` (``old`` -> ``new`` stat), change just these rows of its index: name ->
    the entry as the safe loader reads it (replaced in place, or appended), or None (removed).  The entries'
    offsets (:func:`key_offsets`), when fresh for ``old``, follow ``moves``; without ``moves`` they are dropped.

    Only an index that was fresh for ``old`` is changed; returns whether it was (errors are ignored: the
    next open rebuilds it).
    """
    def apply(db: sqlite3.Connection) -> bool:
        offsets = _offsets_fresh(db, old) and moves is not None and len(moves.shifts) <= MAX_SHIFTS
        if not offsets:
            db.execute("DELETE FROM meta WHERE key='offsets'")
        top = db.execute("SELECT coalesce(max(pos), -1) FROM entries").fetchone()[0]
        positions: dict[str, int] = {}
        for name, src in rows.items():
            at = db.execute("SELECT pos FROM entries WHERE name=?", (name,)).fetchone()
            if src is None:
                db.execute("DELETE FROM entries WHERE name=?", (name,))
                if at is not None and offsets:
                    db.execute("DELETE FROM offsets WHERE pos=?", (at[0],))
                continue
            if at is None:
                top += 1
                pos = top
            else:
                pos = at[0]
                db.execute("DELETE FROM entries WHERE pos=?", (pos,))
            db.execute("INSERT INTO entries VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)", _row(pos, name, src))
            positions[name] = pos
        if offsets:
            assert moves is not None
            for at_or_after, delta in sorted(moves.shifts, reverse=True):  # last first: see Moves
                db.execute("UPDATE offsets SET off = off + ? WHERE off >= ?", (delta, at_or_after))
            if set(positions) - set(moves.placed):
                db.execute("DELETE FROM meta WHERE key='offsets'")
            else:
                db.executemany("INSERT OR REPLACE INTO offsets VALUES (?,?)",
                               [(positions[n], moves.placed[n]) for n in positions])
                db.execute("UPDATE meta SET value=? WHERE key='offsets'", (_stamp(new),))
        db.execute("UPDATE meta SET value=? WHERE key='stamp'", (_stamp(new),))
        return True

    # one transaction: on an error the index is as it was, its stamp stale; the next open rebuilds it
    return _edit_fresh_index(catalog, old, apply)


def _offsets_fresh(db: sqlite3.Connection, st: os.stat_result) -> bool:
    row = db.execute("SELECT value FROM meta WHERE key='offsets'").fetchone()
    return bool(row) and row[0] == _stamp(st)


@dataclass(frozen=True)
class KeyOffsets:
    """Where some entries of a catalog file are (:func:`key_offsets`)."""

    #: Offset of the ``sources:`` line.
    sources: int
    #: (name, offset of its key line) of the entries asked for, of the entry before and after each, and of the
    #: last entry; in file order.
    keys: tuple[tuple[str, int], ...]
    #: Number of entries in the catalog.
    total: int


def save_offsets(catalog: Path, st: os.stat_result, sources: int, keys: Sequence[tuple[str, int]]) -> bool:
    """Record the offset of every entry's key line (``keys``: (name, offset) in file order, as the index holds
    the entries) and of the ``sources:`` line, for the file as ``st`` says it is; whether they were recorded."""
    def record(db: sqlite3.Connection) -> bool:
        have = db.execute("SELECT pos, name FROM entries ORDER BY pos").fetchall()
        if len(have) != len(keys) or any(name != key[0] for (_, name), key in zip(have, keys, strict=True)):
            return False
        db.execute("CREATE TABLE IF NOT EXISTS offsets (pos INTEGER PRIMARY KEY, off INTEGER NOT NULL)")
        db.execute("DELETE FROM offsets")
        db.executemany("INSERT INTO offsets VALUES (?,?)",
                       ((pos, key[1]) for (pos, _), key in zip(have, keys, strict=True)))
        db.executemany("INSERT OR REPLACE INTO meta VALUES (?,?)",
                       [("offsets", _stamp(st)), ("sources_at", str(sources))])
        return True

    return _edit_fresh_index(catalog, st, record)


def key_offsets(catalog: Path, st: os.stat_result, names: Iterable[str]) -> KeyOffsets | None:
    """Where the named entries are in the file as ``st`` says it is, from offsets the index recorded (None:
    none recorded for this file, or an error).  Names not in the catalog are left out."""
    path = index_path(catalog)
    if not path.is_file():
        return None
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            row = db.execute("SELECT value FROM meta WHERE key='stamp'").fetchone()
            if not row or row[0] != _stamp(st) or not _offsets_fresh(db, st):
                return None
            sources = int(db.execute("SELECT value FROM meta WHERE key='sources_at'").fetchone()[0])
            want: set[int] = set()
            for name in names:
                at = db.execute("SELECT pos FROM entries WHERE name=?", (name,)).fetchone()
                if at is None:
                    continue
                want.add(at[0])
                for sql in ("SELECT max(pos) FROM offsets WHERE pos < ?", "SELECT min(pos) FROM offsets WHERE pos > ?"):
                    near = db.execute(sql, (at[0],)).fetchone()[0]
                    if near is not None:
                        want.add(near)
            last = db.execute("SELECT max(pos) FROM offsets").fetchone()[0]
            if last is not None:
                want.add(last)
            keys = []
            for pos in sorted(want):
                got = db.execute("SELECT e.name, o.off FROM entries e JOIN offsets o ON o.pos = e.pos WHERE e.pos=?",
                                 (pos,)).fetchone()
                if got is None:
                    return None
                keys.append((str(got[0]), int(got[1])))
            total = int(db.execute("SELECT count(*) FROM offsets").fetchone()[0])
            return KeyOffsets(sources=sources, keys=tuple(keys), total=total)
        finally:
            db.close()
    except (OSError, sqlite3.Error, TypeError, ValueError):
        return None


def _row(pos: int, name: Any, src: dict[str, Any]) -> tuple[Any, ...]:
    geo = _geo(src)
    tr = geo.get("time_range") or [None, None]
    bb = geo.get("bbox") or [None] * 4
    variables = [str(v) for v in geo.get("variables") or []]
    tags = [str(t).lower() for t in geo.get("tags") or []]
    extra: list[str] = []
    vattrs = geo.get("variable_attrs")
    if isinstance(vattrs, dict):
        extra += [str(a.get(k)) for a in vattrs.values() if isinstance(a, dict)
                  for k in ("long_name", "standard_name") if a.get(k)]
    facets = geo.get("facets")
    if isinstance(facets, dict):
        extra += [str(x) for v in facets.values() for x in (v if isinstance(v, list) else [v])]
    hay = " ".join([str(name), str(src.get("description") or ""), " ".join(tags), " ".join(variables),
                    str(geo.get("contact") or ""), *extra]).lower()
    return (pos, str(name), str(src.get("driver")), hay, "|" + "|".join(variables) + "|",
            "|" + "|".join(tags) + "|", _iso(tr[0]), _iso(tr[1]), *[_num(x) for x in bb[:4]],
            json.dumps(src, default=str))


def _iso(v: Any) -> str | None:
    if v is None:
        return None
    s = str(v).replace(" ", "T")
    return s if "T" in s else s + "T00:00:00"


def _num(v: Any) -> float | None:
    try:
        return float(v)
    except (TypeError, ValueError):
        return None


class Index(Mapping[str, dict[str, Any]]):
    """Read access to a fresh index: a lazy mapping name -> source dict."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db
        self._names: list[str] | None = None  # read on first iteration (a million names take ~0.5 s)
        self._len: int | None = None
        self._cache: dict[str, dict[str, Any]] = {}

    @classmethod
    def open(cls, catalog: Path, st: os.stat_result) -> Index | None:
        """The index of ``catalog`` if it exists and matches the file as it is now."""
        path = index_path(catalog)
        if not path.is_file():
            return None
        try:
            db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False)
            row = db.execute("SELECT value FROM meta WHERE key='stamp'").fetchone()
            if not row or row[0] != _stamp(st):
                db.close()
                return None
            return cls(db)
        except sqlite3.Error:
            return None

    def document(self) -> dict[str, Any]:
        """The catalog's top-level keys other than ``sources``."""
        row = self.db.execute("SELECT value FROM meta WHERE key='doc'").fetchone()
        return json.loads(row[0]) if row else {}

    def __getitem__(self, name: str) -> dict[str, Any]:
        if name in self._cache:
            return self._cache[name]
        row = self.db.execute("SELECT source FROM entries WHERE name=?", (name,)).fetchone()
        if row is None:
            raise KeyError(name)
        src: dict[str, Any] = json.loads(row[0])
        self._cache[name] = src
        return src

    def __iter__(self) -> Iterator[str]:
        if self._names is None:
            self._names = [r[0] for r in self.db.execute("SELECT name FROM entries ORDER BY pos")]
        return iter(self._names)

    def __len__(self) -> int:
        if self._len is None:
            self._len = len(self._names) if self._names is not None else \
                int(self.db.execute("SELECT count(*) FROM entries").fetchone()[0])
        return self._len

    def __contains__(self, name: object) -> bool:
        if not isinstance(name, str):
            return False
        if name in self._cache:
            return True
        return self.db.execute("SELECT 1 FROM entries WHERE name=?", (name,)).fetchone() is not None

    def includes(self) -> list[str]:
        """Names of entries that include other catalogs."""
        return [r[0] for r in self.db.execute(
            "SELECT name FROM entries WHERE driver IN ('yaml_file_cat', 'intake.catalog.local.YAMLFileCatalog')"
            " ORDER BY pos")]

    def candidates(self, q: Query) -> list[str]:
        """Names that may match ``q`` (a superset: the caller applies :meth:`Query.matches`)."""
        where = ["driver NOT IN ('yaml_file_cat', 'intake.catalog.local.YAMLFileCatalog')"]
        args: list[str | float] = []
        if q.text:
            for word in q.text.split():
                where.append("instr(hay, ?) > 0")
                args.append(word)
        if q.variable and not q.variable.patterns:  # exact names only: any of them
            where.append("(" + " OR ".join("instr(variables, ?) > 0" for _ in q.variable.exact) + ")")
            args += [f"|{v}|" for v in sorted(q.variable.exact)]
        for tag in q.tags:
            where.append("instr(tags, ?) > 0")
            args.append(f"|{tag}|")
        if q.time:
            where.append("t0 IS NOT NULL AND t1 >= ? AND t0 <= ?")
            args += [q.time[0], q.time[1]]
        if q.bbox:
            where.append("s IS NOT NULL AND n >= ? AND s <= ?")
            args += [q.bbox[1], q.bbox[3]]
        sql = f"SELECT name, source FROM entries WHERE {' AND '.join(where)} ORDER BY pos"
        names = []
        for name, source in self.db.execute(sql, args):  # the sources come along: no query per hit
            names.append(name)
            if name not in self._cache:
                self._cache[name] = json.loads(source)
        return names
