"""Entry -> lazily chunked xarray (or dask DataFrame), from the best representation.

Order of preference: zarr > references > cog > parquet > original.  A representation
whose source files changed since it was made (its recorded source fingerprint no longer
matches the files) is skipped with a :class:`StaleRepresentationWarning`.  Whether the files
changed is the one freshness check of :mod:`geoshelf.catalog.freshness` (O(1) metadata
operations per open: a stat per source directory).

A converted representation is opened by the target that made it (its ``open`` method, found
through :mod:`geoshelf.registry`), so a target plugin brings its own opener.
"""

from __future__ import annotations

import os
import warnings
from typing import TYPE_CHECKING, Any

from ..catalog import freshness
from ..catalog.paths import is_url
from ..catalog.trust import opener_options, representation_options
from ..errors import (
    FileSetChangedError,
    FileSetChangedWarning,
    GeoshelfError,
    MissingRepresentationWarning,
    StaleRepresentationWarning,
    UnsafeCatalogError,
)
from ..registry import REPRESENTATION_ORDER, find_target

if TYPE_CHECKING:
    from ..catalog.model import Entry, Representation


def current_fingerprint(entry: Entry) -> str:
    """Fingerprint of the entry's source files as they are now (every file stat'ed)."""
    return freshness.full_check(entry).fingerprint


def is_stale(entry: Entry, rep: Representation, current: str | None = None) -> bool:
    """True when the files the representation was made from changed (or grew) since."""
    if rep.provenance is None or not rep.provenance.source_fingerprint:
        return False
    current = current if current is not None else current_fingerprint(entry)
    return bool(current) and rep.provenance.source_fingerprint != current


def is_missing(entry: Entry, rep: Representation) -> bool:
    """True when a representation on a local path is not there (one stat; remote ones are not checked)."""
    path = entry.resolve(rep.path)
    return not is_url(path) and not os.path.exists(path)


def _file_set(entry: Entry, state: freshness.FileSetState, strict: bool) -> None:
    """Warn (or with ``strict`` raise) when files were removed or added since catalogued."""
    if not state.file_set_changed:
        return
    msg = (f"{entry.name}: source files changed since catalogued: {state.describe()}; "
           f"opening the {state.found} files there are. "
           f"Record the change with `geoshelf add PATHS --name {entry.name} --update`")
    if strict:
        raise FileSetChangedError(msg)
    warnings.warn(msg, FileSetChangedWarning, stacklevel=5)


def choose(entry: Entry, representation: str | None = None, *, strict: bool = False) -> Representation:
    """The representation to open: the forced one, or the best one that is not stale.

    One freshness check (:func:`geoshelf.catalog.freshness.check`: a stat per source directory
    unless a full check is due) decides both; reading the original files when the file set
    changed warns naming the files (raises with ``strict``).
    """
    if representation is not None:
        rep = entry.representation(representation)
        if rep is None:
            have = ", ".join(["original"] + [r.kind for r in entry.representations])
            raise GeoshelfError(f"entry {entry.name!r} has no {representation!r} representation (has: {have})")
        if rep.kind == "original":
            _file_set(entry, freshness.check(entry), strict)
        return rep
    state = freshness.check(entry)
    order = {k: i for i, k in enumerate(REPRESENTATION_ORDER)}
    for rep in sorted(entry.representations, key=lambda r: order.get(r.kind, len(order))):
        kind = rep.kind  # best first: REPRESENTATION_ORDER, then plugins' kinds
        if kind == "original":
            continue
        if is_missing(entry, rep):
            warnings.warn(
                f"{entry.name}: the {kind} representation at {entry.resolve(rep.path)} is missing; reading the "
                "original files instead. Run `geoshelf convert` again (or `geoshelf lint`).",
                MissingRepresentationWarning, stacklevel=4,
            )
            continue
        if state.is_stale(rep):
            warnings.warn(
                f"{entry.name}: the {kind} representation at {rep.path} is stale (its source files changed "
                f"since it was made); reading the original files instead. Run `geoshelf refresh {entry.name} "
                f"--verify` (a copy or a touch: keeps it), then `geoshelf convert {entry.name} --to {kind}` "
                "if the data changed.",
                StaleRepresentationWarning, stacklevel=4,
            )
            continue
        return rep
    _file_set(entry, state, strict)
    return entry.original


def open_representation(entry: Entry, rep: Representation, chunks: Any = None, **kwargs: Any) -> Any:
    """Open one representation of an entry.

    Opener options written in the catalog (``args.xarray_kwargs`` / ``csv_kwargs``, a
    representation's ``options``) pass through the allow-lists of :mod:`geoshelf.catalog.trust`;
    ``kwargs`` are the caller's own and go to the opener as given.
    """
    try:
        if rep.kind == "original":
            xkw = opener_options(entry.format, entry.args)
        else:
            representation_options(rep.kind, rep.options)
    except GeoshelfError as exc:
        raise UnsafeCatalogError(f"entry {entry.name!r} unusable: {exc}") from None
    if rep.kind == "original":
        # deferred: load.original imports xarray (~0.7 s); intake-view and serve import this package
        # for staleness checks without opening data
        from .original import open_original

        files = entry.source_files()
        catalog_chunks = xkw.pop("chunks", None)  # the caller's chunks win over the catalog's
        chunks = catalog_chunks if chunks is None else chunks
        xkw.update(kwargs)
        return open_original(files, entry.format, chunks=chunks, storage_options=entry.storage_options, **xkw)
    target = find_target(rep.kind)
    if target is None:
        raise GeoshelfError(f"entry {entry.name!r}: no installed target opens representation kind {rep.kind!r}")
    return target.open(entry, rep, chunks=chunks, **kwargs)


def open_entry(entry: Entry, representation: str | None = None, chunks: Any = None, *, strict: bool = False,
               **kwargs: Any) -> Any:
    """Open ``entry`` lazily from the chosen representation; nothing is read but metadata."""
    rep = choose(entry, representation, strict=strict)
    return open_representation(entry, rep, chunks=chunks, **kwargs)


__all__ = ["choose", "current_fingerprint", "is_missing", "is_stale", "open_entry", "open_representation"]
