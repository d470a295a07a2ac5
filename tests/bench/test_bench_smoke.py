"""The benchmark script runs end to end at the tiny size (numbers are not asserted here)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from geoshelf.bench.sched import autogroup_warning

ROWS = {"1a", "1b", "1c", "1d", "2", "3a", "3b", "4", "6", "7", "7b", "7c", "8", "8b", "9", "10a", "10b", "14a", "14b",
        "14c", "14d"}


def test_bench_tiny(tmp_path: Path) -> None:
    out_md, out_json = tmp_path / "b.md", tmp_path / "b.json"
    r = subprocess.run([sys.executable, "scripts/bench.py", "--size", "tiny", "--repeat", "1", "--workdir",
                        str(tmp_path / "w"), "--out", str(out_md), "--json", str(out_json)],
                       capture_output=True, text=True, timeout=600, cwd=Path(__file__).parents[2],
                       env={**__import__("os").environ, "GEOSHELF_INDEX_DIR": str(tmp_path / "index")})
    assert r.returncode == 0, r.stderr[-2000:]
    data = json.loads(out_json.read_text())
    rows = {row["id"]: row for row in data["rows"]}
    assert ROWS <= set(rows)
    assert all(row["geoshelf"] > 0 and row["baseline"] > 0 for row in data["rows"])
    assert all(row["machine"] and row["command"].startswith("python scripts/bench.py") for row in data["rows"])
    header = "| measurement | geoshelf | baseline | ratio | target | met | note | machine | command |"
    assert header in out_md.read_text()


def test_bench_only_replaces_its_rows(tmp_path: Path) -> None:
    """``--only`` measures a subset and keeps the other rows of an existing report."""
    out_md, out_json = tmp_path / "b.md", tmp_path / "b.json"
    out_json.write_text(json.dumps({"rows": [{"measurement": "4. old", "geoshelf": 1.0, "baseline": 2.0, "unit": "s",
                                              "target": ">= 1.5x", "met": True, "id": "4"},
                                             {"measurement": "10b. old", "geoshelf": 9.0, "baseline": 1.0,
                                              "unit": "jobs", "target": "<= cap (4)", "met": False, "id": "10b"}]}))
    r = subprocess.run([sys.executable, "scripts/bench.py", "--size", "tiny", "--repeat", "1", "--only", "10b",
                        "--workdir", str(tmp_path / "w"), "--out", str(out_md), "--json", str(out_json)],
                       capture_output=True, text=True, timeout=600, cwd=Path(__file__).parents[2])
    assert r.returncode == 0, r.stderr[-2000:]
    rows = {row["id"]: row for row in json.loads(out_json.read_text())["rows"]}
    assert set(rows) == {"4", "10b"}
    assert rows["4"]["measurement"] == "4. old"
    assert rows["10b"]["measurement"] != "10b. old" and rows["10b"]["geoshelf"] <= 4


def test_geoshelf_bench_command_takes_the_script_options(tmp_path: Path) -> None:
    from geoshelf.cli import main

    out_json = tmp_path / "b.json"
    assert main(["bench", "--size", "tiny", "--repeat", "1", "--only", "10b", "--workdir", str(tmp_path / "w"),
                 "--out", str(tmp_path / "b.md"), "--json", str(out_json)]) == 0
    (row,) = json.loads(out_json.read_text())["rows"]
    assert row["id"] == "10b" and row["command"] == "python scripts/bench.py --size tiny --repeat 1 --only 10b"


def test_a_run_at_another_size_leaves_the_documented_rows(tmp_path: Path) -> None:
    """``--size tiny`` without --out writes beside its data; docs/benchmarks.md changes only with --write-docs."""
    repo = Path(__file__).parents[2]
    cwd = tmp_path / "checkout"
    (cwd / "docs").mkdir(parents=True)
    for name in ("benchmarks.md", "benchmarks.json"):
        (cwd / "docs" / name).write_bytes((repo / "docs" / name).read_bytes())
    before = {p.name: p.read_bytes() for p in (cwd / "docs").iterdir()}
    env = {**__import__("os").environ, "PYTHONPATH": str(repo / "src"), "GEOSHELF_INDEX_DIR": str(tmp_path / "index")}
    cmd = [sys.executable, str(repo / "scripts" / "bench.py"), "--size", "tiny", "--repeat", "1", "--only", "10b",
           "--workdir", str(tmp_path / "w")]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=600, cwd=cwd, env=env)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "not the documented size (medium)" in r.stderr
    assert {p.name: p.read_bytes() for p in (cwd / "docs").iterdir()} == before
    rows = {row["id"]: row for row in json.loads((tmp_path / "w" / "tiny" / "benchmarks.json").read_text())["rows"]}
    assert set(rows) == {"10b"}
    r = subprocess.run([*cmd, "--write-docs"], capture_output=True, text=True, timeout=600, cwd=cwd, env=env)
    assert r.returncode == 0, r.stderr[-2000:]
    rows = {row["id"]: row for row in json.loads((cwd / "docs" / "benchmarks.json").read_text())["rows"]}
    assert "--size tiny" in rows["10b"]["command"] and "--size medium" in rows["1a"]["command"]


def test_bench_skip_leaves_7c_out_and_keeps_its_row(tmp_path: Path) -> None:
    """``--only 7 --skip 7c`` measures rows 7 and 7b, not the slow value-by-value row, whose old result stays."""
    out_md, out_json = tmp_path / "b.md", tmp_path / "b.json"
    out_json.write_text(json.dumps({"rows": [{"measurement": "7c. old", "geoshelf": 9.0, "baseline": 1.0, "unit": "s",
                                              "target": "for reference", "met": None, "id": "7c"}]}))
    r = subprocess.run([sys.executable, "scripts/bench.py", "--size", "tiny", "--repeat", "1", "--only", "7",
                        "--skip", "7c", "--workdir", str(tmp_path / "w"), "--out", str(out_md), "--json",
                        str(out_json)], capture_output=True, text=True, timeout=600, cwd=Path(__file__).parents[2])
    assert r.returncode == 0, r.stderr[-2000:]
    rows = {row["id"]: row for row in json.loads(out_json.read_text())["rows"]}
    assert set(rows) == {"7", "7b", "7c"}
    assert rows["7c"]["measurement"] == "7c. old"
    assert rows["7b"]["command"] == "python scripts/bench.py --size tiny --repeat 1 --only 7 --skip 7c"
    assert "references: bare" in r.stderr and "values" not in r.stderr.split("references: campaign")[0]


def test_bench_refuses_to_skip_other_rows(tmp_path: Path) -> None:
    r = subprocess.run([sys.executable, "scripts/bench.py", "--size", "tiny", "--skip", "7b"], capture_output=True,
                       text=True, timeout=120, cwd=Path(__file__).parents[2])
    assert r.returncode == 2 and "--skip: only 7c can be skipped" in r.stderr


@pytest.mark.parametrize(("enabled", "own", "warned"), [
    ("1\n", "/autogroup-2779 nice 0\n", True),   # autogroups on, this session not favoured: rows are skewed
    ("1\n", "/autogroup-2831 nice -20\n", False),  # the bench's own session at nice -20
    ("0\n", "/autogroup-2779 nice 0\n", False),  # autogroups off: nice works across sessions
    ("1\n", "garbage", False),
])
def test_autogroup_warning(tmp_path: Path, enabled: str, own: str, warned: bool) -> None:
    (tmp_path / "enabled").write_text(enabled)
    (tmp_path / "own").write_text(own)
    text = autogroup_warning(tmp_path / "enabled", tmp_path / "own")
    assert bool(text) is warned
    if warned:
        assert "autogroup has nice 0" in text and "echo -20 > /proc/" in text
    assert autogroup_warning(tmp_path / "missing", tmp_path / "own") == ""
