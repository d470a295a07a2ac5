"""The benchmark script runs end to end at the tiny size (numbers are not asserted here)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path


def test_bench_tiny(tmp_path: Path) -> None:
    out_md, out_json = tmp_path / "b.md", tmp_path / "b.json"
    r = subprocess.run([sys.executable, "scripts/bench.py", "--size", "tiny", "--repeat", "1", "--workdir",
                        str(tmp_path / "w"), "--out", str(out_md), "--json", str(out_json)],
                       capture_output=True, text=True, timeout=600, cwd=Path(__file__).parents[2])
    assert r.returncode == 0, r.stderr[-2000:]
    data = json.loads(out_json.read_text())
    names = [row["measurement"][:2] for row in data["rows"]]
    assert {"1a", "1b", "2.", "3a", "3b", "4.", "6.", "8."} <= set(names)
    assert all(row["geoshelf"] > 0 and row["baseline"] > 0 for row in data["rows"])
    assert "| measurement | geoshelf | baseline | ratio | target | met |" in out_md.read_text()
