"""Outputs are created or removed only under the shelf root, or at an --output that does not exist
yet or holds a geoshelf output: a hand-written catalog cannot aim `convert` at someone's directory."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from geoshelf.campaign.run import run_campaign
from geoshelf.catalog import Catalog
from geoshelf.cli import main
from geoshelf.convert.base import MANIFEST_NAME


@pytest.fixture(autouse=True)
def _no_site_shelf(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("GEOSHELF_SHELF_ROOT", raising=False)
    monkeypatch.setenv("GEOSHELF_CONFIG", str(tmp_path / "no-user-config.yaml"))


def _hand_written(catalog_path: Path, name: str) -> None:
    """Add entry ``name`` (a copy of sst) by editing the YAML by hand, as a colleague could."""
    doc = yaml.safe_load(catalog_path.read_text())
    doc["sources"][name] = doc["sources"]["sst"]
    catalog_path.write_text(yaml.safe_dump(doc, sort_keys=False))


def _victim(tmp_path: Path) -> tuple[Path, dict[str, bytes]]:
    thesis = tmp_path / "victim" / "thesis.zarr"
    thesis.mkdir(parents=True)
    (thesis / "chapter1.tex").write_text("\\chapter{Introduction}\n")
    return thesis, _tree(tmp_path / "victim")


def _tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _one_line_error(capsys: pytest.CaptureFixture[str], code: int, *words: str) -> str:
    err = capsys.readouterr().err
    assert code != 0
    assert err.startswith("geoshelf: error: ") and err.count("\n") == 1, err
    assert "Traceback" not in err
    for w in words:
        assert w in err, err
    return err


@pytest.mark.parametrize("how", ["relative", "absolute"])
def test_entry_name_cannot_aim_convert_outside_the_shelf(catalog_path: Path, tmp_path: Path, how: str,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    thesis, before = _victim(tmp_path)
    name = "../victim/thesis" if how == "relative" else str(tmp_path / "victim" / "thesis")
    _hand_written(catalog_path, name)
    catalog_before = catalog_path.read_bytes()
    code = main(["convert", name, "--to", "zarr", "--catalog", str(catalog_path)])
    _one_line_error(capsys, code)
    assert _tree(tmp_path / "victim") == before
    assert catalog_path.read_bytes() == catalog_before
    assert not (tmp_path / "shelf").exists() or not any((tmp_path / "shelf").iterdir())


def test_entry_name_cannot_aim_a_campaign_outside_the_shelf(catalog_path: Path, tmp_path: Path) -> None:
    from geoshelf.errors import GeoshelfError

    thesis, before = _victim(tmp_path)
    name = "../victim/thesis"
    _hand_written(catalog_path, name)
    spec = tmp_path / "camp.yaml"
    spec.write_text(yaml.safe_dump({"catalog": str(catalog_path), "inputs": {"entries": [name]}, "target": "zarr",
                                    "cluster": {"profile": "local", "n-workers": 1, "dashboard-address": ":0"}}))
    with pytest.raises(GeoshelfError) as err:
        run_campaign(spec)
    assert "\n" not in str(err.value)
    assert _tree(tmp_path / "victim") == before


@pytest.mark.parametrize("bad", ["sst\x00evil", "s" * 250])
def test_nul_and_overlong_names_are_one_line(catalog_path: Path, tmp_path: Path, bad: str,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    _hand_written(catalog_path, bad)
    code = main(["convert", bad, "--to", "zarr", "--catalog", str(catalog_path)])
    _one_line_error(capsys, code)
    assert not (tmp_path / "shelf").exists() or not any((tmp_path / "shelf").iterdir())


def test_output_that_holds_other_files_is_refused(catalog_path: Path, tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    results = tmp_path / "results"
    results.mkdir()
    (results / "paper.tex").write_text("\\section{Results}\n")
    code = main(["convert", "sst", "--to", "zarr", "--catalog", str(catalog_path), "--output", str(results)])
    _one_line_error(capsys, code, str(results), "not a geoshelf output")
    assert _tree(results) == {"paper.tex": b"\\section{Results}\n"}
    assert Catalog(catalog_path).sst.representations == []

    # a new path inside it is fine, and converting again over that geoshelf output too
    out = results / "sst.zarr"
    for _ in range(2):
        assert main(["convert", "sst", "--to", "zarr", "--catalog", str(catalog_path), "--output", str(out)]) == 0
    assert (out / MANIFEST_NAME).is_file() and (results / "paper.tex").is_file()
    assert Catalog(catalog_path).sst.representation("zarr") is not None


def test_output_dot_is_refused(catalog_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                               capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    before = _tree(tmp_path)
    code = main(["convert", "sst", "--to", "zarr", "--catalog", "catalog.yaml", "--output", "."])
    _one_line_error(capsys, code, "choose")
    assert _tree(tmp_path) == before


def test_output_containing_the_catalog_is_refused_even_with_a_manifest(catalog_path: Path, tmp_path: Path,
                                                                       capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / MANIFEST_NAME).write_text('{"files": []}')
    code = main(["convert", "sst", "--to", "zarr", "--catalog", str(catalog_path), "--output", str(tmp_path)])
    _one_line_error(capsys, code, str(catalog_path))
    assert catalog_path.is_file()


def test_a_campaign_output_directory_of_the_user_is_not_overwritten(catalog_path: Path, tmp_path: Path) -> None:
    from geoshelf.errors import CampaignError

    out = tmp_path / "mine"
    (out / "sst.zarr").mkdir(parents=True)
    (out / "sst.zarr" / "notes.txt").write_text("mine")
    spec = tmp_path / "camp.yaml"
    spec.write_text(yaml.safe_dump({"catalog": str(catalog_path), "inputs": {"entries": ["sst"]}, "target": "zarr",
                                    "output": str(out),
                                    "cluster": {"profile": "local", "n-workers": 1, "dashboard-address": ":0"}}))
    with pytest.raises(CampaignError, match="not a geoshelf output"):
        run_campaign(spec)
    assert (out / "sst.zarr" / "notes.txt").read_text() == "mine"
