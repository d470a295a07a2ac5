"""Checking a catalog: schema, names, missing files, stale fingerprints, unknown drivers,
representations that are missing or no longer open."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from ..errors import GeoshelfError, one_line
from ..registry import loader
from . import freshness
from .catalog import Catalog, check_name, load_raw
from .model import ALLOWED_DRIVERS, Entry
from .paths import is_url


@dataclass(frozen=True, kw_only=True)
class Problem:
    """One finding of ``lint``."""

    #: "error" (the entry cannot be used as catalogued) or "warning".
    level: Literal["error", "warning"]
    entry: str
    message: str

    def __str__(self) -> str:
        return f"{self.level}: {self.entry}: {self.message}"


def _check_entry(name: str, raw: dict[str, Any], entry: Entry, opener: Callable[..., Any] | None) -> Iterator[Problem]:
    try:
        check_name(name)
    except GeoshelfError as exc:
        yield Problem(level="error", entry=name, message=str(exc))
    if raw.get("driver") not in ALLOWED_DRIVERS:
        yield Problem(level="error", entry=name, message=f"unknown driver {raw.get('driver')!r}")
    if not entry.urlpath:
        yield Problem(level="error", entry=name, message="no args.urlpath")
        return
    try:
        files = entry.source_files()
    except GeoshelfError as exc:
        yield Problem(level="error", entry=name, message=f"missing source files: {exc}")
        files = []
    current = None
    if files:
        try:
            state = freshness.check(entry, full=True)
        except GeoshelfError as exc:
            yield Problem(level="error", entry=name, message=str(exc))
        else:
            current = state.fingerprint
            if state.file_set_changed:
                detail = f": {state.describe()}" if state.recorded else ""
                yield Problem(level="warning", entry=name,
                              message=f"catalogued {entry.files} files, {state.found} found now{detail} "
                                      f"(re-scan with `geoshelf refresh {name}`)")
            elif current and entry.fingerprint and current != entry.fingerprint:
                detail = f": {state.describe()}" if state.recorded and state.n_changed else ""
                yield Problem(level="warning", entry=name,
                              message=f"source files changed since catalogued{detail} (stale fingerprint; "
                                      f"re-scan with `geoshelf refresh {name}`, add --verify to tell a copy "
                                      "from changed data)")
    for rep in entry.representations:
        path = entry.resolve(rep.path)
        if not is_url(path) and not os.path.exists(path):
            yield Problem(level="error", entry=name, message=f"{rep.kind} representation missing: {path}")
            continue
        if current and rep.provenance and rep.provenance.source_fingerprint != current:
            yield Problem(level="warning", entry=name,
                          message=f"{rep.kind} representation is stale (sources changed since it was made): {path}")
        if opener is not None:
            try:
                opener(entry, rep)
            except Exception as exc:  # noqa: BLE001 - any failure to open is the finding
                yield Problem(level="error", entry=name,
                              message=f"{rep.kind} representation does not open: {one_line(exc, 200)}")


def lint(path: str | os.PathLike[str], *, open_representations: bool = True,
         _seen: tuple[str, ...] = ()) -> list[Problem]:
    """All problems found in the catalog at ``path`` (and the catalogs it includes, once each:
    include cycles, through symbolic links too, are reported, not followed)."""
    p = Path(path)
    real = os.path.realpath(p.expanduser())
    if real in _seen:
        return [Problem(level="error", entry="(catalog)", message=f"{p}: includes itself ({real}): an include cycle")]
    try:
        load_raw(p.expanduser().resolve())
        cat = Catalog(p, _stack=_seen)
    except GeoshelfError as exc:
        return [Problem(level="error", entry="(catalog)", message=str(exc))]
    opener = None
    if open_representations:
        opener = loader().open_representation
    problems: list[Problem] = []
    for name in cat:
        raw = cat._raw[name]
        try:
            item = cat[name]
        except GeoshelfError as exc:
            problems.append(Problem(level="error", entry=name, message=str(exc)))
            continue
        if isinstance(item, Catalog):
            problems.extend(Problem(level=q.level, entry=f"{name}.{q.entry}", message=q.message)
                            for q in lint(item.path, open_representations=open_representations,
                                          _seen=_seen + (real,)))
            continue
        problems.extend(_check_entry(name, raw, item, opener))
    return problems
