"""Two data managers editing at once: every add lands (file lock + atomic rename)."""

from __future__ import annotations

import subprocess
import sys
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
    assert text.startswith("# shared catalog\nsources:\n  keep:\n    driver: netcdf\n    args: {urlpath: /k.nc}  # keep me\n")
    assert not list(tmp_path.glob(".shared.yaml.*.tmp"))
