"""The catalog commit: done units' entries and representations written into the catalog,
once, last, from the client, in one locked atomic edit.

The commit is idempotent (it is rebuilt from the state database every time), so a
driver that dies before, during or after it leaves the catalog either as it was or as
it will be after the rerun, which commits again: exactly as if nothing had crashed.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..catalog.catalog import edit_entries, owner_of
from ..catalog.model import Entry, Representation
from ..catalog.paths import relativize
from ..convert.record import drop_obsolete_journal
from ..intake_view import refresh_intake_view


def _stored(rep: dict[str, Any], catalog_dir: str) -> Representation:
    r = Representation.from_dict(rep)
    return Representation(kind=r.kind, path=relativize(r.path, catalog_dir), format=r.format, options=r.options,
                          provenance=r.provenance)


def commit(catalog_path: Path, units: Sequence[dict[str, Any]]) -> list[str]:
    """Record done units (state rows, plan order) in the catalog; return the names changed.

    Entries named with a qualified name (``team.sst``) are recorded in the included catalog
    that holds them, one locked atomic edit per catalog file."""
    rows = {u["name"]: u for u in units if u.get("status") == "done" and u.get("result")}
    if not rows:
        return []
    by_file: dict[Path, dict[str, str]] = {}
    for name in rows:
        owner, local = owner_of(catalog_path, name)
        by_file.setdefault(owner, {})[local] = name
    written: list[str] = []
    for owner, names in by_file.items():
        done = _commit_file(owner, {local: rows[q] for local, q in names.items()})
        written.extend(names[local] for local in done)
    if written:
        refresh_intake_view(catalog_path)
    return written


def _commit_file(catalog_path: Path, rows: dict[str, dict[str, Any]]) -> list[str]:
    catalog_dir = str(catalog_path.expanduser().resolve().parent)

    def change(name: str, old: Entry | None) -> Entry | None:
        row = rows[name]
        result = json.loads(row["result"])
        if "entry" in result:  # files mode: the scanned entry, keeping representations of other kinds
            entry = Entry.from_source(name, result["entry"], catalog_dir)
            if old is not None:
                entry = entry.replace(representations=old.representations, description=old.description,
                                      tags=old.tags or entry.tags, contact=old.contact, license=old.license,
                                      extra_metadata=old.extra_metadata)
        elif old is not None:
            entry = old
        else:  # entries mode, but the entry was removed from the catalog meanwhile: leave it removed
            return None
        if "representation" in result and row.get("action") != "unchanged":
            entry = entry.with_representation(_stored(result["representation"], catalog_dir))
        return entry

    changed = edit_entries(catalog_path, list(rows), change)
    for row in rows.values():  # recorded: the publish journals beside the outputs have done their job
        rep = json.loads(row["result"]).get("representation")
        if rep and rep.get("path"):
            drop_obsolete_journal(Path(rep["path"]))
    return changed


__all__ = ["commit"]
