"""Shared fixtures: generated, realistic demo data (CF conventions, packed int16, fill
values, per-file time units, GeoTIFF tiles, station CSV) and catalogs built from it."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from geoshelf.catalog import Catalog, add_entry
from geoshelf.demo.data import generate_demo
from geoshelf.scan import scan


@pytest.fixture(autouse=True, scope="session")
def _private_cache(tmp_path_factory: pytest.TempPathFactory) -> None:
    """geoshelf's own cache (freshness verdicts) in a temporary directory, not the user's."""
    import os

    os.environ["GEOSHELF_CACHE_DIR"] = str(tmp_path_factory.mktemp("geoshelf-cache"))


@pytest.fixture(scope="session")
def demo_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[Path]]:
    """The 'tiny' demo data set, generated once per session (read-only for tests)."""
    root = tmp_path_factory.mktemp("demo")
    return generate_demo(root, "tiny")


@pytest.fixture
def data_copy(tmp_path: Path, demo_files: dict[str, list[Path]]) -> dict[str, list[Path]]:
    """A private copy of the tiny demo data that a test may modify."""
    out: dict[str, list[Path]] = {}
    for key, files in demo_files.items():
        dest = tmp_path / "data" / key
        dest.mkdir(parents=True)
        out[key] = []
        for f in files:
            shutil.copy2(f, dest / f.name)
            out[key].append(dest / f.name)
    return out


@pytest.fixture
def catalog_path(tmp_path: Path, data_copy: dict[str, list[Path]]) -> Path:
    """A catalog file with the demo entries sst, air, elevation, stations (private data copy)."""
    path = tmp_path / "catalog.yaml"
    for name, key, tags in (("sst", "sst", ["ocean", "daily"]), ("air", "air", ["atmosphere"]),
                            ("elevation", "elevation", ["land"]), ("stations", "stations", ["in-situ"])):
        files = [str(f) for f in data_copy[key]]
        entry = scan(files, name, catalog_dir=str(tmp_path), description=f"demo {name}", tags=tags)
        add_entry(path, entry)
    return path


@pytest.fixture
def catalog(catalog_path: Path) -> Catalog:
    """The demo catalog, opened."""
    return Catalog(catalog_path)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--run-slow", action="store_true", default=False,
                     help="also run tests marked slow (the whole real-data corpus, the campaign lock proof)")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests marked ``slow`` run with ``--run-slow`` or when ``-m`` selects them (``-m slow``);
    otherwise they are reported as skipped with that reason (CI stays within its time budget)."""
    expr = config.getoption("markexpr") or ""
    if config.getoption("--run-slow") or ("slow" in expr and "not slow" not in expr):
        return
    skip = pytest.mark.skip(reason="slow: run with --run-slow or -m slow")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)
