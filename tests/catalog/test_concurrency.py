"""Two data managers editing at once: every add lands (file lock + atomic rename)."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from geoshelf.catalog import Catalog

ADD = """
import sys
from geoshelf.catalog import Entry, add_entry
path, prefix, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
for i in range(n):
    add_entry(path, Entry(name=f"{prefix}{i}", urlpath=f"/data/{prefix}{i}.nc", files=1, bytes=i))
"""


def test_concurrent_adds_lose_nothing(tmp_path: Path) -> None:
    path = tmp_path / "shared.yaml"
    path.write_text("# shared catalog\nsources:\n  keep:\n    driver: netcdf\n    args: {urlpath: /k.nc}  # keep me\n")
    procs = [subprocess.Popen([sys.executable, "-c", ADD, str(path), p, "25"]) for p in ("a", "b", "c")]
    assert [p.wait(timeout=120) for p in procs] == [0, 0, 0]
    names = set(Catalog(path))
    assert names == {"keep"} | {f"{p}{i}" for p in "abc" for i in range(25)}
    text = path.read_text()
    assert text.startswith("# shared catalog\nsources:\n  keep:\n    driver: netcdf\n"
                           "    args: {urlpath: /k.nc}  # keep me\n")
    assert not list(tmp_path.glob(".shared.yaml.*.tmp"))


EDITOR = """
import os, random, sys, time
path, stop = sys.argv[1], sys.argv[2]
rnd = random.Random(int(sys.argv[3]))
n = 0
while not os.path.exists(stop):
    with open(path, "r+b") as fh:  # an editor saving in place: truncate, then write slowly
        data = fh.read()
        first, rest = data.split(b"\\n", 1)
        n += 1
        data = (b"# saved by hand " + b"!" * (n % 7) + b"\\n") + rest
        fh.seek(0)
        fh.truncate()
        for i in range(0, len(data), 16):
            fh.write(data[i:i + 16])
            fh.flush()
            time.sleep(0.003)
    time.sleep(rnd.uniform(0.0, 0.9))
"""


def test_an_editor_rewriting_the_file_in_place_loses_nothing(tmp_path: Path) -> None:
    """Another program rewriting the catalog in place, slowly, while geoshelf adds entries: geoshelf never
    reads (and writes back) a half-written file: every entry it reports added is there, none is lost."""
    from geoshelf.catalog import Entry, add_entry
    from geoshelf.errors import CatalogError

    path = tmp_path / "shared.yaml"
    path.write_text("# shared catalog\nsources:\n" + "".join(
        f"  keep{i}:\n    driver: netcdf\n    args: {{urlpath: /k{i}.nc}}  # keep me\n" for i in range(6)))
    stop = tmp_path / "stop"
    editor = subprocess.Popen([sys.executable, "-c", EDITOR, str(path), str(stop), "7"])
    added, refused = [], []
    try:
        time.sleep(0.2)
        for i in range(8):
            try:
                add_entry(path, Entry(name=f"new{i}", urlpath=f"/n{i}.nc"))
                added.append(f"new{i}")
            except CatalogError as exc:  # refused in one line (being written, or caught half-written): nothing written
                assert "\n" not in str(exc) and str(exc).startswith(str(path))
                refused.append(f"new{i}")
    finally:
        stop.touch()
        assert editor.wait(timeout=60) == 0
    names = list(Catalog(path))
    assert names == [f"keep{i}" for i in range(6)] + added
    assert len(added) >= 6, refused
    assert path.read_text().count("# keep me") == 6
