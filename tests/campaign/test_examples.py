"""The commented example specs in converters/ are valid specs."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from geoshelf.campaign import load_spec
from geoshelf.convert import list_targets

CONVERTERS = Path(__file__).resolve().parents[2] / "converters"
EXAMPLES = sorted(CONVERTERS.glob("*.yaml"))


def test_there_is_an_example_per_target() -> None:
    assert {p.stem for p in EXAMPLES} >= {"zarr", "references", "cog", "parquet", "era5"}


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_example_spec_is_valid(path: Path) -> None:
    target = yaml.safe_load(path.read_text())["target"]
    if target not in list_targets():
        pytest.skip(f"target {target!r} is not installed yet")
    spec = load_spec(path)
    assert spec.target == target
    assert spec.cluster.get("profile") in (None, "local", "slurm", "pbs")
