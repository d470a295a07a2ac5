"""Entry -> lazily chunked xarray (or dask DataFrame), from the best representation.

Order of preference: zarr > references > cog > parquet > original.  A representation
whose source files changed since it was made (its recorded source fingerprint no longer
matches the files) is skipped with a :class:`StaleRepresentationWarning`.

A converted representation is opened by the target that made it (its ``open`` method, found
through :mod:`geoshelf.registry`), so a target plugin brings its own opener.
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any

from ..catalog.model import REPRESENTATION_ORDER
from ..catalog.paths import fingerprint, stat_files
from ..catalog.trust import opener_options, representation_options
from ..errors import GeoshelfError, SourceError, StaleRepresentationWarning, UnsafeCatalogError
from ..registry import find_target

if TYPE_CHECKING:
    from ..catalog.model import Entry, Representation


def current_fingerprint(entry: Entry) -> str:
    """Fingerprint of the entry's source files as they are now."""
    return fingerprint(stat_files(entry.source_files(), entry.storage_options))


def is_stale(entry: Entry, rep: Representation, current: str | None = None) -> bool:
    """True when the files the representation was made from changed (or grew) since."""
    if rep.provenance is None or not rep.provenance.source_fingerprint:
        return False
    try:
        current = current or current_fingerprint(entry)
    except SourceError:
        return False  # sources gone (e.g. archived away): the converted copy is all there is
    return rep.provenance.source_fingerprint != current


def choose(entry: Entry, representation: str | None = None) -> Representation:
    """The representation to open: the forced one, or the best one that is not stale."""
    if representation is not None:
        rep = entry.representation(representation)
        if rep is None:
            have = ", ".join(["original"] + [r.kind for r in entry.representations])
            raise GeoshelfError(f"entry {entry.name!r} has no {representation!r} representation (has: {have})")
        return rep
    current: str | None = None
    order = {k: i for i, k in enumerate(REPRESENTATION_ORDER)}
    for rep in sorted(entry.representations, key=lambda r: order.get(r.kind, len(order))):
        kind = rep.kind  # best first: REPRESENTATION_ORDER, then plugins' kinds
        if kind == "original":
            continue
        if current is None:
            try:
                current = current_fingerprint(entry)
            except SourceError:
                current = ""
        if current and is_stale(entry, rep, current):
            warnings.warn(
                f"{entry.name}: the {kind} representation at {rep.path} is stale (its source files changed "
                "since it was made); reading the original files instead. Run `geoshelf convert` again.",
                StaleRepresentationWarning, stacklevel=4,
            )
            continue
        return rep
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


def open_entry(entry: Entry, representation: str | None = None, chunks: Any = None, **kwargs: Any) -> Any:
    """Open ``entry`` lazily from the chosen representation; nothing is read but metadata."""
    rep = choose(entry, representation)
    return open_representation(entry, rep, chunks=chunks, **kwargs)


__all__ = ["choose", "current_fingerprint", "is_stale", "open_entry", "open_representation"]
