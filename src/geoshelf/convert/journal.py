"""The publish journal: publishing an output and recording it in the catalog are one step
from the user's view.

``.NAME.journal.json`` beside an output says "geoshelf is publishing, or has published but not
yet recorded, this output".  It is written (atomically) before the first rename of
:func:`geoshelf.convert.base.publish`, gets the representation to record once the output is in
place, and is removed when the catalog records it.  After a crash or a refused catalog write,
the next run replays it:

- ``publishing``: the old output was maybe moved aside and the new one maybe not yet in place:
  the validated new output is moved in (or, without it, the old one moved back);
- ``published`` with a representation and a catalog: the representation is recorded in that
  catalog (``convert``), or by the campaign's commit;
- ``appending``: an in-place append was interrupted (the output stays valid for its old files
  and its old manifest); the journal is dropped and the next run appends again.

``geoshelf lint`` reports outputs whose journal is still there: published but not recorded.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ..atomic import remove_path, write_file

JOURNAL_SUFFIX = ".journal.json"


def journal_path(output: Path) -> Path:
    """Where the journal of ``output`` lives (a hidden file beside it)."""
    return output.with_name(f".{output.name}{JOURNAL_SUFFIX}")


def read_journal(output: Path) -> dict[str, Any] | None:
    """The journal of ``output``, or None (also for an unreadable one: a torn write never exists)."""
    try:
        data = json.loads(journal_path(output).read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def write_journal(output: Path, **fields: Any) -> dict[str, Any]:
    """Create or update the journal of ``output`` (temp file, fsync, rename); return its content."""
    data = {**(read_journal(output) or {}), **fields, "output": str(output)}
    path = journal_path(output)
    write_file(path, json.dumps(data, indent=1, default=str))
    return data


def remove_journal(output: Path) -> None:
    """Drop the journal of ``output`` (the catalog has recorded it, or nothing was published)."""
    with contextlib.suppress(FileNotFoundError):
        journal_path(output).unlink()


def recover_publish(output: Path) -> str:
    """Finish or undo a publish interrupted between its renames; return what was done ("" for nothing).

    Call it under the output's lock, before leftovers are cleaned up.
    """
    data = read_journal(output)
    if data is None:
        return ""
    state = data.get("state")
    if state == "appending":
        remove_journal(output)
        return "dropped the journal of an interrupted append"
    if state != "publishing":
        return ""
    partial = output.with_name(str(data.get("partial") or "-"))
    old = output.with_name(str(data.get("old") or "-")) if data.get("old") else None
    if partial.exists() and output.exists():  # stopped before the old output was moved aside
        remove_path(partial)
        remove_journal(output)
        return "dropped a new output that was not yet published"
    if partial.exists():
        os.rename(partial, output)
        done = "published the validated new output"
    elif output.exists():
        done = "finished publishing the new output"
    elif old is not None and old.exists():
        os.rename(old, output)
        remove_journal(output)
        return "restored the previous output"
    else:
        remove_journal(output)
        return ""
    if old is not None:
        remove_path(old)
    write_journal(output, state="published")
    return done


def unrecorded_outputs(catalog_path: Path, directories: Iterable[Path]) -> list[tuple[str, str]]:
    """(entry or output, message) for every journal in ``directories`` that concerns this catalog:
    outputs published but not recorded, or publishes interrupted between their renames."""
    out: list[tuple[str, str]] = []
    seen: set[Path] = set()
    for d in directories:
        if not d.is_dir():
            continue
        for j in sorted(d.glob(f".*{JOURNAL_SUFFIX}")):
            if j in seen:
                continue
            seen.add(j)
            try:
                data = json.loads(j.read_text())
                output = Path(str(data["output"]))
            except (OSError, ValueError, KeyError, TypeError):
                continue
            cat = data.get("catalog")
            if cat and os.path.realpath(str(cat)) != os.path.realpath(catalog_path):
                continue
            who = str(data.get("entry") or output.name)
            if data.get("state") == "publishing":
                out.append((who, f"publishing {output} was interrupted; the next `geoshelf convert` of it finishes it"))
            elif data.get("state") == "published":
                out.append((who, f"{output} was published but is not recorded in the catalog (interrupted, or the "
                                 "catalog write was refused); run the same `geoshelf convert` (or campaign) again"))
    return out


__all__ = ["JOURNAL_SUFFIX", "journal_path", "read_journal", "recover_publish", "remove_journal", "unrecorded_outputs",
           "write_journal"]
