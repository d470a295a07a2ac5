"""The fault battery, CI form: >= 20 SIGKILLs at random points of every converter, an append, campaigns
in files and entries mode and catalog edits; after each rerun nothing is corrupt, half-published or lost,
and the catalog equals a crash-free run's.  The long form: `python scripts/faults.py --kills 200`."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from geoshelf.testing.battery import run_battery, scenarios

KILLS = int(os.environ.get("GEOSHELF_BATTERY_KILLS", "20"))
SEED = int(os.environ.get("GEOSHELF_BATTERY_SEED", "2026"))


@pytest.mark.reliability
@pytest.mark.timeout(1800)
def test_fault_battery(tmp_path: Path) -> None:
    lines: list[str] = []
    result = run_battery(KILLS, seed=SEED, workdir=tmp_path, progress=lines.append)
    print("\n".join(lines))
    print(result.summary())
    assert result.kills >= KILLS, result.summary()
    assert set(result.kills_by_scenario) == {s.name for s in scenarios()}, result.summary()  # each was killed
    assert result.problems == [], "\n".join(result.problems)
    assert result.corrupt_outputs == 0 and result.lost_entries == 0 and result.other_problems == 0
