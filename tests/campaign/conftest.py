"""Campaign test helpers: small generated archives and spec files."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
import yaml


@pytest.fixture(autouse=True)
def _isolated_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No user config, shelf root or GEOSHELF_* settings of the machine leak into campaign tests."""
    for name in list(os.environ):
        if name.startswith("GEOSHELF_") and ("__" in name or name in ("GEOSHELF_SHELF_ROOT", "GEOSHELF_CATALOG")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("GEOSHELF_CONFIG", str(tmp_path / "no-user-config.yaml"))
    monkeypatch.setenv("GEOSHELF_INDEX_DIR", str(tmp_path / "index"))


@pytest.fixture(scope="session")
def sst_archive(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """16 small daily SST NetCDF files (read-only: copy before modifying)."""
    from geoshelf.demo.data import make_sst

    return make_sst(tmp_path_factory.mktemp("sst16"), days=16, ny=18, nx=36)


#: A local cluster profile for tests: two worker processes, any free dashboard port.
LOCAL = {"profile": "local", "n-workers": 2, "dashboard-address": ":0"}


def _write_spec(path: Path, **fields: Any) -> Path:
    path.write_text(yaml.safe_dump(fields, sort_keys=False))
    return path


@pytest.fixture
def write_spec() -> Any:
    """``write_spec(path, **fields)``: a campaign spec file with ``fields``."""
    return _write_spec


@pytest.fixture
def local_cluster() -> dict[str, Any]:
    """The spec's ``cluster:`` section for a small local cluster."""
    return dict(LOCAL)
