"""Recording a conversion reads and writes the entry under the catalog's lock: a change another process
makes to the same entry while the conversion runs is kept (it used to be overwritten by a stale copy)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from geoshelf.catalog import Catalog

#: Process A converts sst; when it is about to put the new representation into the entry, it says so
#: and waits (at most 3 s) for process B to start its own edit of that entry, then a little longer.
_CONVERTER = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from geoshelf.catalog.model import Entry
    from geoshelf.convert import convert

    cat, flags = Path(sys.argv[1]), Path(sys.argv[2])
    real = Entry.with_representation

    def slow(self, rep):
        (flags / "a-recording").touch()
        until = time.monotonic() + 3
        while not (flags / "b-editing").exists() and time.monotonic() < until:
            time.sleep(0.02)
        time.sleep(1.0)  # B's edit lands now unless the lock holds it back
        return real(self, rep)

    Entry.with_representation = slow
    convert("sst", "references", catalog=cat, store="json")
""")

#: Process B edits the description of the same entry (a locked edit of its own) once A is recording.
_EDITOR = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from geoshelf.catalog import edit_entries

    cat, flags = Path(sys.argv[1]), Path(sys.argv[2])
    until = time.monotonic() + 120
    while not (flags / "a-recording").exists():
        if time.monotonic() > until:
            sys.exit("the converter never reached its record")
        time.sleep(0.02)
    (flags / "b-editing").touch()
    edit_entries(cat, ["sst"], lambda name, old: old.replace(description="checked by the data manager"))
""")


def test_an_edit_made_while_a_conversion_records_is_kept(tmp_path: Path, catalog_path: Path) -> None:
    flags = tmp_path / "flags"
    flags.mkdir()
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    a = subprocess.Popen([sys.executable, "-c", _CONVERTER, str(catalog_path), str(flags)], env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    b = subprocess.Popen([sys.executable, "-c", _EDITOR, str(catalog_path), str(flags)], env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    out_a, err_a = a.communicate(timeout=300)
    out_b, err_b = b.communicate(timeout=300)
    assert a.returncode == 0, err_a[-2000:]
    assert b.returncode == 0, err_b[-2000:]
    entry = Catalog(catalog_path).sst
    assert entry.description == "checked by the data manager"  # B's edit: not overwritten by A's stale copy
    rep = entry.representation("references")
    assert rep is not None and rep.format == "kerchunk-json"  # A's record: not lost either
    assert Path(entry.resolve(rep.path)).is_file()


def test_an_entry_removed_while_it_was_converted_is_not_recreated(catalog_path: Path) -> None:
    """The record finds the entry gone (under the lock) and says so; the catalog does not get it back."""
    from geoshelf.catalog import remove_entry
    from geoshelf.convert import convert_entry
    from geoshelf.errors import EntryNotFoundError

    entry = Catalog(catalog_path).sst
    remove_entry(catalog_path, "sst")
    with pytest.raises(EntryNotFoundError, match="sst"):
        convert_entry(entry, "references", catalog_path=catalog_path, store="json")
    assert "sst" not in Catalog(catalog_path) and list(Catalog(catalog_path)) == ["air", "elevation", "stations"]
