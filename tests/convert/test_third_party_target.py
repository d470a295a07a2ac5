"""A target defined outside geoshelf (tests/plugins/good: its own package and entry point, put on
sys.path as an installed distribution) gets its CLI flags, its --to and --representation choices,
campaign-spec validation and the conformance suite, with no edit to geoshelf.  A plugin that fails
to import warns and is skipped."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from geoshelf.campaign import load_spec
from geoshelf.catalog import Catalog
from geoshelf.cli import main
from geoshelf.errors import CampaignError, GeoshelfWarning
from geoshelf.registry import list_targets, refresh_targets, target_names
from geoshelf.testing import Case, ConverterTests

PLUGINS = Path(__file__).parents[1] / "plugins"


def _use_path(monkeypatch: pytest.MonkeyPatch, directory: Path) -> None:
    """Put ``directory`` (distributions and their modules) on this process's and its children's path."""
    monkeypatch.syspath_prepend(str(directory))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(p for p in (str(directory), os.environ.get("PYTHONPATH")) if p))
    refresh_targets()


@pytest.fixture
def npy_plugin(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The third-party ``npy`` target, installed for one test."""
    assert "npy" not in target_names()
    _use_path(monkeypatch, PLUGINS / "good")
    yield
    refresh_targets()  # forget it before the path is restored


def test_plugin_is_found_and_forgotten(monkeypatch: pytest.MonkeyPatch) -> None:
    assert "npy" not in list_targets()
    _use_path(monkeypatch, PLUGINS / "good")
    assert target_names()[-1] == "npy" and list_targets()["npy"].__module__ == "geoshelf_npy"
    monkeypatch.undo()
    refresh_targets()
    assert "npy" not in list_targets()


def test_cli_flags_choices_and_open(npy_plugin: None, catalog_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["convert", "sst", "--help"])
    help_text = capsys.readouterr().out
    assert "--float-dtype {keep,float64}" in help_text and "--max-bytes" in help_text and "[npy]" in help_text
    cat = ["--catalog", str(catalog_path)]
    before = catalog_path.read_bytes()
    assert main(["convert", "sst", "--to", "npy", "--max-bytes", "10", *cat]) == 5
    assert "more than max_bytes=10; use --to zarr" in capsys.readouterr().err
    assert main(["convert", "sst", "--to", "npy", "--float-dtype", "float32", *cat]) == 5
    assert "unknown float_dtype 'float32'" in capsys.readouterr().err
    assert main(["convert", "sst", "--to", "npy", "--option", "max_byte=10", *cat]) == 5
    assert "target 'npy' has no option 'max_byte' (did you mean 'max_bytes'?)" in capsys.readouterr().err
    assert catalog_path.read_bytes() == before
    assert main(["convert", "sst", "--to", "npy", "--float-dtype", "float64", *cat]) == 0
    rep = Catalog(catalog_path).sst.representation("npy")
    assert rep is not None and rep.format == "npy" and rep.provenance is not None
    assert rep.provenance.parameters == {"float_dtype": "float64", "max_bytes": 2**30, "validate": "full"}
    assert main(["open", "sst", "--representation", "npy", *cat]) == 0
    assert "float64" in capsys.readouterr().out
    ds = Catalog(catalog_path).sst.to_dask()  # the loader prefers geoshelf's kinds, then plugins' over the original
    assert ds.sst.dtype == "float64"


def test_campaign_spec_validates_plugin_options(npy_plugin: None, tmp_path: Path, catalog_path: Path) -> None:
    spec = tmp_path / "npy.yaml"
    fields = {"catalog": str(catalog_path), "inputs": {"entries": ["sst"]}, "target": "npy"}
    spec.write_text(yaml.safe_dump({**fields, "options": {"float_dtyp": "keep"}}))
    with pytest.raises(CampaignError, match="options: target 'npy' has no option 'float_dtyp' "
                                            "\\(did you mean 'float_dtype'\\?\\)"):
        load_spec(spec)
    spec.write_text(yaml.safe_dump({**fields, "options": {"max_bytes": "big"}}))
    with pytest.raises(CampaignError, match="option 'max_bytes' must be an integer, not 'big'"):
        load_spec(spec)
    spec.write_text(yaml.safe_dump({**fields, "options": {"float_dtype": "float64"}}))
    assert main(["campaign", "run", str(spec), "--dry-run"]) == 0


def test_broken_plugin_warns_and_is_skipped(monkeypatch: pytest.MonkeyPatch) -> None:
    _use_path(monkeypatch, PLUGINS / "broken")
    with pytest.warns(GeoshelfWarning, match="conversion target 'broken' .* failed to load"):
        targets = list_targets()
    assert "broken" not in targets and "zarr" in targets
    code = "import geoshelf, geoshelf.cli; from geoshelf.registry import list_targets; print(sorted(list_targets()))"
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and "'zarr'" in r.stdout and "failed to load" in r.stderr
    monkeypatch.undo()
    refresh_targets()


class TestNpyPlugin(ConverterTests):
    """The conformance suite, passed by the third-party target."""

    target = "npy"

    @pytest.fixture
    def case(self, npy_plugin: None, catalog_path: Path) -> Case:
        return Case(catalog=catalog_path, entry="sst")
