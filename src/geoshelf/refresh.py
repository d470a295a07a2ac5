"""``geoshelf refresh``: re-scan an entry's recorded sources, and with ``verify`` tell a copy from a change.

* **refresh** re-scans the files the entry records (its glob picks up new files), keeping the
  description, tags, representations and metadata: the fingerprint then says what the files are
  now, and representations made from other files are stale (``lint`` says so, the loader falls
  back to the originals, ``convert`` appends what is new).
* **verify** also compares *content*: each representation (read lazily through its target) is
  compared with the sources as they are now, variable by variable, NaN equal to NaN, coordinates
  (decoded time) included.  Equal content with a new fingerprint is a copy (``cp -r`` of catalog
  and data, a restore from tape, a ``touch``): the representation's recorded fingerprint and its
  manifest are carried over to the new files, so it is fresh again.  Different content stays stale.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import xarray as xr

from .catalog import Catalog, add_entry
from .catalog.catalog import owner_of
from .catalog.model import Entry, Representation
from .catalog.paths import is_url, stat_files
from .convert.base import manifest_path, write_manifest
from .errors import GeoshelfError
from .load import open_representation
from .scan import scan


@dataclass(frozen=True, kw_only=True)
class Refreshed:
    """What ``refresh`` found for one entry."""

    name: str
    #: The catalog file holding the entry (an included catalog for ``team.sst``).
    catalog: Path
    files_before: int
    files_after: int
    #: True when the fingerprint changed (files added, removed, rewritten, copied or touched).
    changed: bool
    #: Representations whose content equals the sources now (made fresh by ``verify``).
    verified: tuple[str, ...] = ()
    #: Representations whose content differs from the sources now (stale until converted again).
    differs: tuple[str, ...] = ()
    #: Representations ``verify`` could not compare (why, per kind).
    unverified: tuple[str, ...] = ()
    #: Representations made from other files than the entry's now (stale unless verified).
    outdated: tuple[str, ...] = ()

    def describe(self) -> str:
        """One line for the command line."""
        if not self.changed:
            parts = [f"{self.name}: files unchanged ({self.files_after} files)"]
        else:
            what = (f"{self.files_after - self.files_before:+d} files ({self.files_after} now)"
                    if self.files_after != self.files_before else f"{self.files_after} files, fingerprint changed")
            parts = [f"{self.name}: re-scanned, {what}"]
        if self.verified:
            parts.append(f"same content as {', '.join(self.verified)} (a copy: kept fresh)")
        if self.differs:
            parts.append(f"content differs from {', '.join(self.differs)}: stale until "
                         f"`geoshelf convert {self.name} --to {self.differs[0]}`")
        if self.unverified:
            parts.append("not verified: " + "; ".join(self.unverified))
        stale = [k for k in self.outdated if k not in self.verified and k not in self.differs]
        if stale:
            parts.append(f"{', '.join(stale)} stale (`geoshelf refresh {self.name} --verify` tells a copy "
                         "from changed data)")
        return "; ".join(parts)



def _rescan(entry: Entry) -> Entry:
    urls = entry.urlpath if isinstance(entry.urlpath, list) else [entry.urlpath]
    paths = [entry.resolve(str(u)) for u in urls]
    stored = entry.args.get("storage_options") or None
    new = scan(paths, entry.name, catalog_dir=entry.catalog_dir, description=entry.description, tags=entry.tags,
               storage_options=stored, contact=entry.contact, license=entry.license)
    return new.replace(representations=entry.representations, extra_metadata=entry.extra_metadata)


def same_content(original: Any, converted: Any) -> bool:
    """True when every variable of ``original`` is in ``converted`` with equal values and coordinates
    (NaN equal to NaN; attributes ignored).  Computed chunk by chunk, never loaded whole."""
    if isinstance(original, xr.DataArray):
        original = original.to_dataset(name=original.name or "data")
    if isinstance(converted, xr.DataArray):
        converted = converted.to_dataset(name=converted.name or "data")
    if not isinstance(original, xr.Dataset) or not isinstance(converted, xr.Dataset):
        raise GeoshelfError("only gridded (xarray) representations can be compared")
    names = list(original.data_vars)
    if any(n not in converted.data_vars for n in names):
        return False
    return bool(original.equals(converted[names]))


def _verify(entry: Entry, rep: Representation) -> bool:
    return same_content(open_representation(entry, entry.original), open_representation(entry, rep))


def _carry_over(entry: Entry, rep: Representation, new_fp: str, files: list[str]) -> Representation:
    """The representation recorded as made from the files as they are now (content verified equal)."""
    path = entry.resolve(rep.path)
    if not is_url(path):
        if manifest_path(Path(path)).exists():
            write_manifest(Path(path), stat_files(files))
    prov = rep.provenance
    if prov is None:
        return rep
    return dataclasses.replace(rep, provenance=dataclasses.replace(prov, source_fingerprint=new_fp))


def refresh(catalog_path: str | os.PathLike[str], name: str, *, verify: bool = False) -> Refreshed:
    """Re-scan entry ``name`` (qualified names reach into included catalogs) and write it back."""
    owner, local = owner_of(Path(catalog_path), name)
    entry = Catalog(owner)[local]
    if not isinstance(entry, Entry):
        raise GeoshelfError(f"{owner}: {name!r} is an included catalog, not an entry (refresh its entries)")
    new = _rescan(entry)
    changed = new.fingerprint != entry.fingerprint
    kinds = tuple(r.kind for r in entry.representations
                  if r.provenance is not None and r.provenance.source_fingerprint != new.fingerprint)
    verified: list[str] = []
    differs: list[str] = []
    unverified: list[str] = []
    if verify and kinds:
        files = new.source_files()
        reps = []
        for rep in new.representations:
            if rep.kind not in kinds:
                reps.append(rep)
                continue
            try:
                equal = _verify(new, rep)
            except GeoshelfError as exc:
                unverified.append(f"{rep.kind}: {exc}")
                reps.append(rep)
                continue
            if equal:
                verified.append(rep.kind)
                reps.append(_carry_over(new, rep, str(new.fingerprint), files))
            else:
                differs.append(rep.kind)
                reps.append(rep)
        new = new.replace(representations=reps)
    if changed or verified:
        add_entry(owner, new, overwrite=True)
    return Refreshed(name=name, catalog=owner, files_before=entry.files, files_after=new.files, changed=changed,
                     verified=tuple(verified), differs=tuple(differs), unverified=tuple(unverified), outdated=kinds)


def refresh_all(catalog_path: str | os.PathLike[str], *, verify: bool = False,
                progress: Callable[[int, int], None] | None = None) -> list[Refreshed]:
    """:func:`refresh` every entry of the catalog and of the catalogs it includes."""
    names = [q for q, _ in Catalog(catalog_path).walk()]
    out = []
    for i, q in enumerate(names, 1):
        out.append(refresh(catalog_path, q, verify=verify))
        if progress is not None:
            progress(i, len(names))
    return out


__all__ = ["Refreshed", "refresh", "refresh_all", "same_content"]
