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

from ..catalog.catalog import _check_editable, _merge
from ..catalog.model import Entry, Representation, _plain
from ..catalog.paths import relativize
from ..catalog.yamlio import edit_catalog


def _stored(rep: dict[str, Any], catalog_dir: str) -> Representation:
    r = Representation.from_dict(rep)
    return Representation(kind=r.kind, path=relativize(r.path, catalog_dir), format=r.format, options=r.options,
                          provenance=r.provenance)


def commit(catalog_path: Path, units: Sequence[dict[str, Any]]) -> list[str]:
    """Record done units (state rows, plan order) in the catalog; return the names changed."""
    rows = [u for u in units if u.get("status") == "done" and u.get("result")]
    if not rows:
        return []
    path = catalog_path.expanduser().absolute()
    catalog_dir = str(path.parent)
    changed: list[str] = []
    with edit_catalog(path, create=True) as doc:
        _check_editable(path, doc)
        sources = doc["sources"]
        for row in rows:
            result = json.loads(row["result"])
            name = row["name"]
            old = Entry.from_source(name, _plain(sources[name]), catalog_dir) if name in sources else None
            if "entry" in result:  # files mode: the scanned entry, keeping representations of other kinds
                entry = Entry.from_source(name, result["entry"], catalog_dir)
                if old is not None:
                    entry = entry.replace(representations=old.representations, description=old.description,
                                          tags=old.tags or entry.tags, contact=old.contact, license=old.license,
                                          extra_metadata=old.extra_metadata)
            elif old is not None:
                entry = old
            else:  # entries mode, but the entry was removed from the catalog meanwhile: leave it removed
                continue
            if "representation" in result and row.get("action") != "unchanged":
                entry = entry.with_representation(_stored(result["representation"], catalog_dir))
            node = entry.replace(catalog_dir=catalog_dir).to_source()
            if old is not None and old.to_source() == Entry.from_source(name, node, catalog_dir).to_source():
                continue
            if name in sources:
                _merge(sources[name], node)
            else:
                sources[name] = node
            changed.append(name)
    return changed


__all__ = ["commit"]
