"""Recording a published output in the catalog, through its journal (:mod:`.journal`).

:func:`record_output` writes the representation into the journal, then into the catalog, then
drops the journal: a crash or a refused catalog write in between leaves the output published
and journaled, and :func:`replay_journal` (run by the next ``convert`` of that output) records it.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout

from ..catalog import Catalog, Entry, Representation, edit_entries
from ..catalog.catalog import owner_of
from ..catalog.lint import Problem
from ..catalog.paths import relativize
from ..errors import CatalogError, EntryNotFoundError, GeoshelfError
from ..faults import fault_point
from .journal import read_journal, remove_journal, unrecorded_outputs, write_journal
from .outputs import shelf_root


def record_output(catalog_path: Path, entry_name: str, rep: Representation, output: Path) -> None:
    """Record ``rep`` (published at ``output``) for entry ``entry_name`` in the catalog; one-line errors."""
    with contextlib.suppress(OSError):  # a full output disk must not stop the record itself
        write_journal(output, state="published", catalog=str(catalog_path.resolve()), entry=entry_name,
                      representation=rep.to_dict())
    fault_point("convert:before-record")
    try:
        owner, local = owner_of(catalog_path, entry_name)  # an included catalog's entry is recorded there
        stored = Representation(kind=rep.kind, path=relativize(rep.path, str(owner.parent)), format=rep.format,
                                options=rep.options, provenance=rep.provenance)

        def change(_name: str, current: Entry | None) -> Entry:
            if current is None:
                raise EntryNotFoundError(f"{owner}: no entry named {local!r} (removed while it was converted)")
            return current.with_representation(stored)

        # read and written under the catalog's lock: a change made meanwhile to this entry (another
        # representation recorded, a description edited) is kept, not overwritten by a stale copy
        edit_entries(owner, [local], change, create=False)
    except EntryNotFoundError:
        raise
    except (OSError, GeoshelfError) as exc:
        why = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise CatalogError(
            f"{catalog_path}: cannot record the {rep.kind} output {output}: {why}; the output is published and "
            f"journaled: run the same `geoshelf convert {entry_name} --to ...` again to record it") from None
    remove_journal(output)


def replay_journal(catalog_path: Path, output: Path) -> str:
    """Record an output that an interrupted run published but did not record; return what was done."""
    data = read_journal(output)
    if not data or data.get("state") != "published" or "representation" not in data:
        return ""
    if os.path.realpath(str(data.get("catalog", ""))) != os.path.realpath(catalog_path) or not output.exists():
        return ""
    try:
        with FileLock(str(output.with_name(f".{output.name}.lock")), timeout=0):
            rep = Representation.from_dict(data["representation"])
            try:
                record_output(catalog_path, str(data.get("entry")), rep, output)
            except EntryNotFoundError:  # the entry was removed meanwhile: nothing to record it in
                remove_journal(output)
                return ""
    except Timeout:
        return ""  # another conversion of this output is running: it replays
    return f"recorded the {rep.kind} output {output} that an interrupted run had published"


def lint_journals(catalog_path: Path) -> list[Any]:
    """``lint`` problems (warnings) for outputs of this catalog that are published but not recorded."""
    dirs = [shelf_root(catalog_path)]
    try:
        for _name, entry in Catalog(catalog_path).walk():
            dirs += [Path(entry.resolve(r.path)).parent for r in entry.representations if "://" not in r.path]
    except GeoshelfError:
        pass  # lint reports the catalog itself
    return [Problem(level="warning", entry=who, message=msg)
            for who, msg in unrecorded_outputs(catalog_path, dict.fromkeys(dirs))]


def drop_obsolete_journal(output: Path) -> None:
    """An output found up to date and recorded: a leftover ``published`` journal says nothing more."""
    data = read_journal(output)
    if data is not None and data.get("state") == "published":
        remove_journal(output)


__all__ = ["drop_obsolete_journal", "lint_journals", "record_output", "replay_journal"]
