"""The :class:`Catalog`: a curated intake v1 YAML file of geoshelf entries.

Reading uses libyaml's safe loader (fast; refuses any Python-constructing tag) and
builds :class:`Entry` objects lazily.  Edits go through :func:`~.writer.edit_sources`, which
locks, re-reads, rewrites only the changed entries (comments and untouched bytes kept), verifies
that nothing else changed the file meanwhile, and writes atomically.
"""

from __future__ import annotations

import contextlib
import difflib
import os
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from ..errors import (
    CatalogError,
    EntryNotFoundError,
    GeoshelfError,
    NameClashError,
    UnsafeCatalogError,
    UnusableEntryWarning,
    one_line,
)
from . import freshness
from .fastload import Irregular, read_streaming
from .html import catalog_html, entries_html
from .index import MIN_ENTRIES as INDEX_MIN_ENTRIES
from .index import Index, build_streaming
from .index import build as build_index
from .limits import load_yaml_documents
from .model import ALLOWED_DRIVERS, Entry
from .paths import resolve
from .remote_catalog import fetch
from .search import Query
from .table import entries_frame, unique_values
from .trust import check_entry, check_path
from .writer import edit_sources
from .yamlio import read_text

_NAME_OK = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-")
INCLUDE_DRIVERS = frozenset({"yaml_file_cat", "intake.catalog.local.YAMLFileCatalog"})


def is_allowed_driver(driver: object) -> bool:
    """Whether a source may name ``driver``: one geoshelf opens, or an included catalog (never an
    arbitrary import path)."""
    return isinstance(driver, str) and (driver in ALLOWED_DRIVERS or driver in INCLUDE_DRIVERS)
#: Longest entry name (names become file names of outputs: well below NAME_MAX).
MAX_NAME_LENGTH = 128


def check_name(name: Any) -> str:
    """Entry names are identifiers (letters, digits, ``_``, ``-``), not starting with a digit,
    at most :data:`MAX_NAME_LENGTH` characters: the rule ``add`` applies and loading enforces."""
    if not isinstance(name, str):
        raise CatalogError(f"invalid entry name {name!r}: a name is text")
    if len(name) > MAX_NAME_LENGTH:
        raise CatalogError(f"invalid entry name {name[:40]!r}...: longer than {MAX_NAME_LENGTH} characters")
    if not name or not set(name) <= _NAME_OK or name[0].isdigit() or name.startswith("-"):
        raise CatalogError(
            f"invalid entry name {name!r}: use letters, digits, '_' or '-', starting with a letter"
        )
    return name


def load_raw(path: Path) -> dict[str, Any]:
    """Parse a catalog file safely into plain data, with the checks every reader needs."""
    text = read_text(path)
    try:
        docs = load_yaml_documents(text, str(path))  # a safe loader, with depth / alias / duplicate-key limits
    except yaml.constructor.ConstructorError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark else "?"
        raise UnsafeCatalogError(
            f"{path}: line {line}: {' '.join(str(exc.problem).split())} "
            "(catalogs hold plain YAML data only; nothing may construct Python objects)"
        ) from None
    except yaml.YAMLError as exc:
        raise CatalogError(f"{path}: malformed YAML: {one_line(exc)}") from None
    if len(docs) > 1:
        raise CatalogError(f"{path}: a catalog is one YAML document, found {len(docs)}")
    data = docs[0] if docs else None
    if data is None:
        data = {"sources": {}}
    if not isinstance(data, dict):
        raise CatalogError(f"{path}: a catalog must be a YAML mapping with a 'sources:' key")
    sources = data.get("sources") or {}
    if not isinstance(sources, dict):
        raise CatalogError(f"{path}: 'sources:' must be a mapping of entry names to entries")
    if not isinstance(data.get("metadata") or {}, dict):
        raise CatalogError(f"{path}: the catalog's 'metadata:' must be a mapping")
    for name, src in sources.items():
        if not isinstance(src, dict):
            raise CatalogError(f"{path}: entry {name!r} must be a mapping")
        driver = src.get("driver")
        if not isinstance(driver, str):
            raise CatalogError(f"{path}: entry {name!r}: driver must be a name, not {type(driver).__name__}")
        if not is_allowed_driver(driver):
            raise UnsafeCatalogError(
                f"{path}: entry {name!r}: driver {driver!r} is not allowed "
                f"(allowed: {', '.join(sorted(ALLOWED_DRIVERS))}); catalogs never name Python to import"
            )
        if not isinstance(src.get("args", {}), dict) or not isinstance(src.get("metadata", {}) or {}, dict):
            raise CatalogError(f"{path}: entry {name!r}: 'args' and 'metadata' must be mappings")
    data["sources"] = sources
    return data


#: Catalogs at least this large (~ 5,000 entries) are first read by the streaming reader straight into
#: the derived index (seconds per 100,000 entries, bounded memory) instead of being parsed whole.
STREAMING_MIN_BYTES = 8 * 2**20


def _checked(path: Path, items: Any) -> Any:
    """The entries of a streamed catalog, with load_raw's checks; anything unusual -> :class:`Irregular`
    (the full parser then reports it exactly as it always has)."""
    for name, src in items:
        if not isinstance(name, str) or not isinstance(src, dict):
            raise Irregular(f"entry {name!r}")
        driver = src.get("driver")
        if not is_allowed_driver(driver):
            raise Irregular(f"entry {name!r}: driver {driver!r}")
        if not isinstance(src.get("args", {}), dict) or not isinstance(src.get("metadata", {}) or {}, dict):
            raise Irregular(f"entry {name!r}: args/metadata")
        yield name, src


def _streamed_index(path: Path, st: os.stat_result) -> Index | None:
    """Build the derived index of a large catalog with the streaming reader; None when the file is
    irregular (or the index cannot be written): the caller parses the YAML instead."""
    try:
        doc, items = read_streaming(path)
        if not build_streaming(path, st, _checked(path, items), lambda: doc):
            return None
    except (Irregular, UnicodeDecodeError, RecursionError):  # the full parser reports what is wrong
        return None
    return Index.open(path, st)


class Catalog:
    """A geoshelf catalog file (an intake v1 YAML catalog).

    ``cat.NAME`` / ``cat["NAME"]`` give an :class:`Entry` (or an included
    :class:`Catalog`); ``cat["team.sst"]`` reaches into included catalogs;
    ``list(cat)`` lists names; :meth:`search` finds entries.
    """

    def __init__(self, path: str | os.PathLike[str], *, _stack: tuple[str, ...] = ()) -> None:
        #: The http(s) URL of a remote catalog (read-only; ``path`` is then its cached copy).
        self.url: str | None = None
        if isinstance(path, str) and path.startswith(("http://", "https://")):
            self.url = path
            path = fetch(path)
        self.path = Path(path).expanduser().resolve()
        self._stack = _stack + (str(self.path),)
        self._index: Index | None = None
        try:
            st = self.path.stat()
        except FileNotFoundError:
            raise CatalogError(f"{self.path}: catalog file not found") from None
        except OSError as exc:
            raise CatalogError(f"{self.path}: cannot read catalog: {exc.strerror}") from None
        self._index = Index.open(self.path, st) if self.path.is_file() else None
        if self._index is None and self.path.is_file() and st.st_size >= STREAMING_MIN_BYTES:
            self._index = _streamed_index(self.path, st)
        if self._index is not None:
            data = self._index.document()
            self._raw: Mapping[str, dict[str, Any]] = self._index
        else:
            data = load_raw(self.path)
            self._raw = {str(k): v for k, v in data["sources"].items()}
            if len(self._raw) >= INDEX_MIN_ENTRIES:
                build_index(self.path, st, data)
        self.metadata: dict[str, Any] = data.get("metadata") or {}
        if not isinstance(self.metadata, dict):
            raise CatalogError(f"{self.path}: the catalog's 'metadata:' must be a mapping")
        self.description: str = str(data.get("description") or self.metadata.get("description") or "")
        self._cache: dict[str, Entry | Catalog] = {}

    # -- mapping protocol ------------------------------------------------------------
    @property
    def name(self) -> str:
        """The catalog's file stem."""
        return self.path.stem

    @property
    def directory(self) -> str:
        """The directory relative paths are resolved against (the URL's directory for a remote catalog)."""
        if self.url is not None:
            return self.url.rsplit("/", 1)[0]
        return str(self.path.parent)

    def __iter__(self) -> Iterator[str]:
        return iter(self._raw)

    def __len__(self) -> int:
        return len(self._raw)

    def __contains__(self, name: object) -> bool:
        try:
            self[str(name)]
        except (EntryNotFoundError, CatalogError):
            return False
        return True

    def __getitem__(self, name: str) -> Any:
        """The entry or included catalog ``name`` (``team.sst`` reaches into an included catalog).
        Typed Any, like intake's, so that ``cat["sst"].to_dask()`` needs no cast; :meth:`get_entry` is
        the typed form."""
        if name in self._cache:
            return self._cache[name]
        if name not in self._raw and "." in name:
            head, rest = name.split(".", 1)
            sub = self[head]
            if isinstance(sub, Catalog):
                return sub[rest]
        if name not in self._raw:
            raise EntryNotFoundError(f"{self.path}: no entry named {name!r}{self._suggest(name)}")
        src = self._raw[name]
        item: Entry | Catalog
        try:
            check_name(name)
        except CatalogError as exc:
            raise UnsafeCatalogError(f"{self.path}: entry unusable: {exc}") from None
        if src.get("driver") in INCLUDE_DRIVERS:
            sub_path = (src.get("args") or {}).get("path")
            if not sub_path:
                raise CatalogError(f"{self.path}: included catalog {name!r} has no args.path")
            try:
                check_path(sub_path, "args.path")
            except CatalogError as exc:
                raise UnsafeCatalogError(f"{self.path}: included catalog {name!r} unusable: {exc}") from None
            target = os.path.realpath(resolve(sub_path, self.directory))
            if target in self._stack:
                raise CatalogError(f"{self.path}: catalog {name!r} includes itself ({target}): an include cycle")
            item = Catalog(target, _stack=self._stack)
        else:
            try:
                item = check_entry(Entry.from_source(name, src, catalog_dir=self.directory))
            except UnsafeCatalogError as exc:
                raise UnsafeCatalogError(f"{self.path}: entry {name!r} unusable: {exc}") from None
            except CatalogError as exc:
                raise CatalogError(f"{self.path}: entry {name!r} is malformed: {exc}") from None
            except (TypeError, ValueError, KeyError) as exc:
                raise CatalogError(f"{self.path}: entry {name!r} is malformed: {exc}") from None
        self._cache[name] = item
        return item

    def _suggest(self, name: str) -> str:
        """``(did you mean 'sst'?)`` from the closest names, qualified names of included catalogs too."""
        names = list(self._raw)
        if len(names) <= 10_000:
            with contextlib.suppress(GeoshelfError):
                names += [q for q, _ in self.walk() if q not in self._raw]
        close = difflib.get_close_matches(name, names, n=3, cutoff=0.6)
        if not close and "." not in name:  # `sts` for the `demo.sst` of an included catalog
            close = [q for q in names if "." in q
                     and difflib.get_close_matches(name, [q.rsplit(".", 1)[1]], cutoff=0.6)][:3]
        if close:
            return " (did you mean " + " or ".join(repr(c) for c in close) + "?)"
        shown = ", ".join(sorted(self._raw)[:10])
        return f" (entries: {shown}{', ...' if len(self._raw) > 10 else ''})" if shown else " (the catalog is empty)"

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        try:
            return self[name]
        except EntryNotFoundError:
            raise AttributeError(f"catalog {self.path.name} has no entry {name!r}") from None

    def __dir__(self) -> list[str]:
        return sorted(set(super().__dir__()) | {n for n in self._raw if n.isidentifier()})

    def _ipython_key_completions_(self) -> list[str]:
        return list(self._raw)

    # -- traversal and search ------------------------------------------------------------
    def get_entry(self, name: str) -> Entry:
        """The entry ``name``; a :class:`CatalogError` if it names an included catalog."""
        found = self[name]
        if not isinstance(found, Entry):
            raise CatalogError(f"{self.path}: {name!r} is an included catalog, not an entry")
        return found

    def usable(self, name: str) -> Entry | Catalog | None:
        """``self[name]``, or None (with an :class:`UnusableEntryWarning`) when that entry is
        malformed or unsafe: one bad entry does not make the rest of the catalog unreadable."""
        try:
            found: Entry | Catalog = self[name]
            return found
        except CatalogError as exc:
            warnings.warn(str(exc), UnusableEntryWarning, stacklevel=3)
            return None

    def walk(self, prefix: str = "") -> Iterator[tuple[str, Entry]]:
        """Every usable entry, included catalogs expanded, as (qualified name, entry).

        Unusable entries (malformed, unsafe, bad names) are skipped with an :class:`UnusableEntryWarning`.
        """
        for name in self._raw:
            item = self.usable(name)
            if isinstance(item, Catalog):
                yield from item.walk(prefix + name + ".")
            elif item is not None:
                yield prefix + name, item

    def entries(self) -> list[Entry]:
        """The usable entries of this file (not of included catalogs)."""
        return [e for e in (self.usable(n) for n in self._raw) if isinstance(e, Entry)]

    def search(self, text: str | None = None, *, variable: Any = None, time: Any = None,
               bbox: str | Sequence[float] | None = None, tags: str | Sequence[str] | None = None,
               standard_name: Any = None, long_name: Any = None, **facets: Any) -> SearchResult:
        """Entries matching every given criterion (included catalogs searched too).

        ``variable``, ``standard_name``, ``long_name`` and facets (``experiment="historical"``)
        take one value or a list (any of them), exact or a regular expression (``re.compile`` or
        ``"re:PATTERN"``); ``time`` is ``YYYY[-MM[-DD]]``, ``START/END`` or a ``(start, end)``
        tuple; ``bbox`` is west,south,east,north; ``tags`` are all required.
        See :mod:`geoshelf.catalog.search`.
        """
        query = Query.build(text, variable, time, bbox, tags, standard_name=standard_name,
                            long_name=long_name, facets=facets)
        return SearchResult(self._search(query))

    @property
    def df(self) -> Any:
        """A pandas table of every entry (included catalogs expanded) and its facets, like intake-esm's."""
        return entries_frame(self.walk())

    def unique(self, columns: str | Sequence[str] | None = None) -> dict[str, list[Any]]:
        """The distinct values of each column of :attr:`df` (list columns flattened), like intake-esm's."""
        return unique_values(self.df, columns)

    def to_dataset_dict(self, **kwargs: Any) -> dict[str, Any]:
        """Every entry opened lazily: ``{qualified name: entry.to_dask(**kwargs)}``."""
        return {name: entry.to_dask(**kwargs) for name, entry in self.walk()}

    def _search(self, query: Query, prefix: str = "") -> dict[str, Entry]:
        if self._index is None:
            return {q: e for q, e in self.walk(prefix) if query.matches(e, q)}
        hits: dict[str, Entry] = {}
        for name in self._index.candidates(query):
            entry = self.usable(name)
            if isinstance(entry, Entry) and query.matches(entry, prefix + name):
                hits[prefix + name] = entry
        for name in self._index.includes():
            sub = self.usable(name)
            if isinstance(sub, Catalog):
                hits.update(sub._search(query, prefix + name + "."))
        return hits

    # -- editing ---------------------------------------------------------------------------
    def add(self, entry: Entry, *, overwrite: bool = False) -> Entry:
        """Write ``entry`` into the catalog file (locked, atomic) and return it."""
        self._writable()
        add_entry(self.path, entry, overwrite=overwrite)
        self.reload()
        return self.get_entry(entry.name)

    def update(self, entry: Entry) -> Entry:
        """Replace an existing entry."""
        self._writable()
        update_entry(self.path, entry)
        self.reload()
        return self.get_entry(entry.name)

    def remove(self, name: str) -> None:
        """Delete an entry from the catalog file (never touches data)."""
        self._writable()
        remove_entry(self.path, name)
        self.reload()

    def _writable(self) -> None:
        if self.url is not None:
            raise CatalogError(f"{self.url}: a remote catalog is read-only; edit the catalog file where it is served")

    def reload(self) -> Catalog:
        """Re-read the file (a remote catalog: fetch it again)."""
        fresh = Catalog(self.url or self.path, _stack=self._stack[:-1])
        self.__dict__.update(fresh.__dict__)
        return self

    # -- display -------------------------------------------------------------------------------
    def __repr__(self) -> str:
        return f"<geoshelf.Catalog {self.path} ({len(self)} entries)>"

    def _repr_html_(self) -> str:
        return catalog_html(self)


class SearchResult(dict[str, "Entry"]):
    """Search hits by qualified name; attribute access like a catalog; ``df``, ``unique()`` and
    ``to_dataset_dict()`` like an intake-esm search result."""

    @property
    def df(self) -> Any:
        """A pandas table of the hits and their facets."""
        return entries_frame(self.items())

    def unique(self, columns: str | Sequence[str] | None = None) -> dict[str, list[Any]]:
        """The distinct values of each column of :attr:`df`."""
        return unique_values(self.df, columns)

    def to_dataset_dict(self, **kwargs: Any) -> dict[str, Any]:
        """Every hit opened lazily: ``{qualified name: entry.to_dask(**kwargs)}``."""
        return {name: entry.to_dask(**kwargs) for name, entry in self.items()}

    def __getattr__(self, name: str) -> Entry:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None

    def __dir__(self) -> list[str]:
        return sorted(set(super().__dir__()) | {n for n in self if n.isidentifier()})

    def _repr_html_(self) -> str:
        return entries_html(list(self.items()), title=f"{len(self)} matching entries")


# -- file-level edits -----------------------------------------------------------------------------

def read_sources(path: Path) -> Mapping[str, dict[str, Any]]:
    """The validated entries of a catalog file, in file order (what :func:`~.writer.edit_sources` edits)."""
    return Catalog(path)._raw


def owner_of(catalog_path: Path, name: str) -> tuple[Path, str]:
    """The catalog file holding entry ``name`` and its name there: a qualified name (``team.sst``)
    reaches into included catalogs (so edits land where the entry lives)."""
    if "." not in name:
        return catalog_path, name
    cat = Catalog(catalog_path)
    local = name
    while "." in local and local not in set(cat):
        head, rest = local.split(".", 1)
        sub = cat[head] if head in set(cat) else None
        if not isinstance(sub, Catalog):
            break
        cat, local = sub, rest
    return cat.path, local


def _to_node(entry: Entry, catalog_dir: str) -> dict[str, Any]:
    return entry.replace(catalog_dir=catalog_dir).to_source()


def add_entry(path: str | os.PathLike[str], entry: Entry, *, overwrite: bool = False) -> None:
    """Add (or with ``overwrite`` replace) an entry in the catalog file at ``path``.

    An entry with a fingerprint gets its sidecar file manifest (:func:`freshness.record`) written
    first; the catalog then names it in one atomic write, and older manifests of the entry go.
    """
    check_name(entry.name)
    p = Path(path).expanduser().resolve()
    entry = freshness.record(p, entry)
    sidecar = resolve(entry.files_manifest, str(p.parent)) if entry.files_manifest else None
    node = _to_node(entry, str(p.parent))

    def plan(sources: Mapping[str, dict[str, Any]]) -> dict[str, Any]:
        if entry.name in sources and not overwrite:
            old = Entry.from_source(entry.name, sources[entry.name], str(p.parent))
            if sidecar and (not old.files_manifest or old.resolve(old.files_manifest) != sidecar):
                Path(sidecar).unlink(missing_ok=True)
            raise NameClashError(f"{p}: an entry named {entry.name!r} already exists (choose another --name)")
        return {entry.name: node}

    edit_sources(p, plan, read=read_sources, create=True)
    if sidecar:
        freshness.prune(p, entry.name, keep=sidecar)


def update_entry(path: str | os.PathLike[str], entry: Entry) -> None:
    """Replace an existing entry in place (comments inside it are kept)."""
    p = Path(path).expanduser().resolve()
    node = _to_node(entry, str(p.parent))

    def plan(sources: Mapping[str, dict[str, Any]]) -> dict[str, Any]:
        if entry.name not in sources:
            raise EntryNotFoundError(f"{p}: no entry named {entry.name!r}")
        return {entry.name: node}

    edit_sources(p, plan, read=read_sources)


def edit_entries(path: str | os.PathLike[str], names: Sequence[str],
                 change: Callable[[str, Entry | None], Entry | None], *, create: bool = True) -> list[str]:
    """Add or replace many entries in ONE locked, atomic edit (e.g. a campaign's final commit).

    For each name, ``change(name, current)`` gets the entry as it is in the file now (or
    None), under the catalog's lock, and returns the entry to write, or None to leave it (an
    exception it raises stops the edit: nothing is written).  Entries that come back
    unchanged are not rewritten (when none changes, the file is not written at all);
    comments inside rewritten ones are kept.  ``change`` may be called again for a name
    (when another program changed the file meanwhile).  Returns the names written.
    ``create=False``: a missing catalog file is an error rather than a new catalog.
    """
    p = Path(path).expanduser().resolve()

    def plan(sources: Mapping[str, dict[str, Any]]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name in names:
            src = sources.get(name) if name in sources else None
            old = Entry.from_source(name, src, str(p.parent)) if src is not None else None
            new = change(name, old)
            if new is None:
                continue
            check_name(new.name)
            out[new.name] = _to_node(new, str(p.parent))
        return out

    return list(edit_sources(p, plan, read=read_sources, create=create))


def remove_entry(path: str | os.PathLike[str], name: str) -> None:
    """Remove an entry from the catalog file."""
    p = Path(path).expanduser().resolve()

    def plan(sources: Mapping[str, dict[str, Any]]) -> dict[str, Any]:
        if name not in sources:
            raise EntryNotFoundError(f"{p}: no entry named {name!r}")
        return {name: None}

    edit_sources(p, plan, read=read_sources)
    freshness.prune(p, name)
