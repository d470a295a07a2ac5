"""The conformance table over real third-party files (tests/corpus/manifest.yaml), as tests.

Each corpus file runs every step a user takes (``add``, ``to_dask()``, every target, ``lint``;
see conformance.py) in its own process, and every cell must have the outcome the manifest's
``expect`` gives (``ok``, ``refused`` or ``-`` after a refused add): never a FAIL, and a refusal
that names ``--to X`` names a target that works.  The files flagged ``ci: true`` run in CI
(scripts/test.sh fetches the corpus first); the others are marked ``slow``.

The corpus must be in the cache (``python scripts/corpus.py``); a missing corpus fails here,
naming that command, rather than skipping.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import conformance

ROOT = Path(__file__).resolve().parents[2]
MANIFEST = conformance.load_manifest()
FILES = [f for f in MANIFEST["files"] if not f.get("collection")]


def _param(f: dict[str, Any]) -> Any:
    return pytest.param(f, id=f["path"], marks=() if f.get("ci") else (pytest.mark.slow,))


def outcome(cell: str) -> str:
    """``ok``, ``refused``, ``-`` or ``FAIL`` (the class of a cell, without its message)."""
    return cell.split(":")[0].split(" ")[0]


def run_row(f: dict[str, Any]) -> dict[str, str]:
    """One corpus file through every step, in a fresh interpreter (a crash is that file's FAIL)."""
    paths = [str(conformance.corpus_root() / "files" / f["path"])]
    code = (f"import json, sys; sys.path.insert(0, {str(Path(__file__).parent)!r}); import conformance as c; "
            f"print('@@' + json.dumps(c.run_in_tmp({paths!r}, {f['kind']!r}, 'f')))")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")])}
    res = subprocess.run([sys.executable, "-c", code], check=False, capture_output=True, text=True, timeout=1800,
                         env=env)
    line = next((ln for ln in res.stdout.splitlines() if ln.startswith("@@")), None)
    if line is None:
        err = (res.stderr.strip().splitlines() or ["no output"])[-1]
        return {s: f"FAIL: process exit {res.returncode}: {err[:300]}" for s in conformance.STEPS}
    return json.loads(line[2:])


class _Rows:
    """Rows computed two at a time in the background (two files' processes run at once, as on
    CI's 2 cores), handed to the tests as they ask for them."""

    def __init__(self, files: list[dict[str, Any]]) -> None:
        from concurrent.futures import ThreadPoolExecutor

        self._pool = ThreadPoolExecutor(2)
        self._futures = {f["path"]: self._pool.submit(run_row, f) for f in files}
        self._lock = threading.Lock()

    def get(self, f: dict[str, Any]) -> dict[str, str]:
        with self._lock:
            future = self._futures.get(f["path"])
            if future is None:
                future = self._futures[f["path"]] = self._pool.submit(run_row, f)
        return future.result()

    def close(self) -> None:
        self._pool.shutdown(cancel_futures=True)


@pytest.fixture(scope="module")
def rows(request: pytest.FixtureRequest) -> Any:
    missing = [f["path"] for f in FILES if not (conformance.corpus_root() / "files" / f["path"]).exists()]
    if missing:
        pytest.fail(f"the real-data corpus is not in {conformance.corpus_root()} ({len(missing)} files missing, "
                    f"e.g. {missing[0]}): run `python scripts/corpus.py` (scripts/test.sh does)", pytrace=False)
    selected = [item.callspec.params["f"] for item in request.session.items
                if getattr(item, "callspec", None) is not None and item.module is request.module
                and "f" in item.callspec.params and item.get_closest_marker("skip") is None]
    pool = _Rows(selected)
    yield pool
    pool.close()


@pytest.mark.parametrize("f", [_param(f) for f in FILES])
def test_file_conforms(rows: _Rows, f: dict[str, Any]) -> None:
    row = rows.get(f)
    fails = {step: cell for step, cell in row.items() if outcome(cell) == "FAIL"}
    assert not fails, f"{f['path']}: {fails}"
    bad = conformance.ways_out(row)
    assert not bad, f"{f['path']}: a refusal names a way out that does not work: {bad}"
    for step, cell in row.items():
        if step != "add" and outcome(cell) == "refused":
            assert "\n" not in cell, f"{f['path']} {step}: a refusal is one line"
    expect = f.get("expect")
    assert expect, f"{f['path']}: the manifest has no expect for this file"
    got = {step: outcome(cell) for step, cell in row.items()}
    assert got == expect, f"{f['path']}: outcomes {got}, the manifest expects {expect}; cells: {row}"
