"""A data manager's everyday edits: which catalog is written, tags, remove, relocate, names."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from geoshelf.catalog import Catalog
from geoshelf.cli import main, merge_tags


@pytest.fixture
def no_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, catalog_path: Path) -> Path:
    """Nothing configured: the demo catalog (a copy of the test catalog) is the default."""
    demo = tmp_path / "demo"
    demo.mkdir()
    shutil.copy2(catalog_path, demo / "demo.yaml")
    monkeypatch.delenv("GEOSHELF_CATALOG", raising=False)
    monkeypatch.setenv("GEOSHELF_CONFIG", str(tmp_path / "no-config.yaml"))
    monkeypatch.setenv("GEOSHELF_DEMO_DIR", str(demo))
    return demo / "demo.yaml"


def test_add_without_catalog_refuses_the_demo_and_names_it(no_config: Path, data_copy: dict[str, list[Path]],
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    before = no_config.read_bytes()
    assert main(["add", str(data_copy["air"][0]), "--name", "air2"]) != 0
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and str(no_config) in err and "--catalog" in err
    assert no_config.read_bytes() == before
    # asked explicitly: written, and the output names the catalog
    assert main(["add", str(data_copy["air"][0]), "--name", "air2", "--catalog", str(no_config)]) == 0
    assert str(no_config) in capsys.readouterr().out
    assert "air2" in Catalog(no_config)


def test_add_uses_the_configured_catalog_and_says_so(no_config: Path, tmp_path: Path, data_copy: dict[str, list[Path]],
                                                     monkeypatch: pytest.MonkeyPatch,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    site = tmp_path / "site.yaml"
    monkeypatch.setenv("GEOSHELF_CATALOG", str(site))
    assert main(["add", str(data_copy["air"][0]), "--name", "air2"]) == 0
    assert str(site) in capsys.readouterr().out
    assert list(Catalog(site)) == ["air2"]


def test_update_tag_adds_and_untag_removes(catalog_path: Path, data_copy: dict[str, list[Path]]) -> None:
    sst = str(data_copy["sst"][0].parent / "*.nc")
    assert Catalog(catalog_path)["sst"].tags == ["ocean", "daily"]
    assert main(["add", sst, "--name", "sst", "--update", "--tag", "sst", "--catalog", str(catalog_path)]) == 0
    assert Catalog(catalog_path)["sst"].tags == ["ocean", "daily", "sst"]
    assert main(["add", sst, "--name", "sst", "--update", "--untag", "daily", "--tag", "ocean",
                 "--catalog", str(catalog_path)]) == 0
    assert Catalog(catalog_path)["sst"].tags == ["ocean", "sst"]
    assert main(["add", sst, "--name", "sst", "--update", "--catalog", str(catalog_path)]) == 0
    assert Catalog(catalog_path)["sst"].tags == ["ocean", "sst"]  # a re-scan keeps the tags


def test_untag_needs_update(catalog_path: Path, data_copy: dict[str, list[Path]],
                            capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["add", str(data_copy["air"][0]), "--name", "x", "--untag", "a", "--catalog", str(catalog_path)]) != 0
    assert "--update" in capsys.readouterr().err


def test_merge_tags_keeps_order_and_uniqueness() -> None:
    assert merge_tags(["a", "b"], ["b", "c", "c"], ["a"]) == ["b", "c"]
    assert merge_tags([], [], ["x"]) == []


def test_remove_drops_the_entry_and_never_touches_data(catalog_path: Path, data_copy: dict[str, list[Path]],
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    files = {f: f.read_bytes() for f in data_copy["sst"]}
    assert main(["remove", "sst", "--catalog", str(catalog_path)]) == 0
    assert "removed sst" in capsys.readouterr().out
    cat = Catalog(catalog_path)
    assert "sst" not in cat and set(cat) == {"air", "elevation", "stations"}
    assert all(f.read_bytes() == b for f, b in files.items())
    before = catalog_path.read_bytes()
    assert main(["remove", "sst", "--catalog", str(catalog_path)]) == 2
    assert "no entry named 'sst'" in capsys.readouterr().err
    assert catalog_path.read_bytes() == before


def test_remove_without_catalog_refuses_the_demo(no_config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    before = no_config.read_bytes()
    assert main(["remove", "sst"]) != 0
    assert "--catalog" in capsys.readouterr().err and no_config.read_bytes() == before


def test_relocate_to_a_missing_directory_is_refused(catalog_path: Path, tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    before = catalog_path.read_bytes()
    assert main(["relocate", str(tmp_path / "data"), str(tmp_path / "nowhere"), "--catalog", str(catalog_path)]) == 2
    err = capsys.readouterr().err
    assert "no such directory" in err and "nowhere" in err and len(err.strip().splitlines()) == 1
    assert catalog_path.read_bytes() == before
    (tmp_path / "a-file").write_text("x")
    assert main(["relocate", str(tmp_path / "data"), str(tmp_path / "a-file"), "--catalog", str(catalog_path)]) == 2
    assert catalog_path.read_bytes() == before
    # data really moved: relocate follows it
    shutil.move(str(tmp_path / "data"), str(tmp_path / "moved"))
    assert main(["relocate", str(tmp_path / "data"), str(tmp_path / "moved"), "--catalog", str(catalog_path)]) == 0
    assert Catalog(catalog_path)["air"].source_files()[0].startswith(str(tmp_path / "moved"))


def test_wrong_name_suggests_the_closest(catalog_path: Path, tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(KeyError, match=r"did you mean 'sst'\?"):
        Catalog(catalog_path)["sts"]
    assert main(["show", "stations2", "--catalog", str(catalog_path)]) == 2
    assert "did you mean 'stations'?" in capsys.readouterr().err
    site = tmp_path / "site.yaml"
    site.write_text("sources:\n  team:\n    driver: yaml_file_cat\n"
                    "    args: {path: '{{ CATALOG_DIR }}/catalog.yaml'}\n")
    with pytest.raises(KeyError, match=r"did you mean 'team.elevation'\?"):
        Catalog(site)["elevaton"]
    with pytest.raises(KeyError, match=r"entries: team\)"):
        Catalog(site)["zzzz"]


def test_convert_output_orphans_are_listed_by_lint_and_removed_by_gc(catalog_path: Path, tmp_path: Path,
                                                                     data_copy: dict[str, list[Path]],
                                                                     capsys: pytest.CaptureFixture[str]) -> None:
    cat = str(catalog_path)
    assert main(["convert", "sst", "--to", "zarr", "--catalog", cat]) == 0
    first = tmp_path / "shelf" / "sst.zarr"
    assert first.is_dir()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    assert main(["convert", "sst", "--to", "zarr", "--output", str(elsewhere / "sst.zarr"), "--catalog", cat]) == 0
    # not geoshelf outputs: a plain directory on the shelf, and a file beside the new output
    (tmp_path / "shelf" / "notes").mkdir()
    (tmp_path / "shelf" / "notes" / "readme.txt").write_text("keep me")
    (elsewhere / "unrelated.zarr").mkdir()
    capsys.readouterr()
    assert main(["lint", "--no-open", "--catalog", cat]) == 0
    out = capsys.readouterr().out
    assert f"output no entry names: {first}" in out
    assert "elsewhere" not in out and "notes" not in out
    assert main(["gc", "--catalog", cat]) == 0
    assert "would remove" in capsys.readouterr().out and first.is_dir()  # dry run by default
    assert main(["gc", "--yes", "--catalog", cat]) == 0
    assert f"removed {first}" in capsys.readouterr().out
    assert not first.exists()
    assert (elsewhere / "sst.zarr").is_dir() and (tmp_path / "shelf" / "notes" / "readme.txt").is_file()
    assert all(f.is_file() for f in data_copy["sst"])
    assert Catalog(catalog_path)["sst"].to_dask()["sst"].shape[0] == len(data_copy["sst"])
    assert main(["lint", "--no-open", "--catalog", cat]) == 0
    assert "no entry names" not in capsys.readouterr().out


def test_gc_keeps_outputs_of_other_catalogs_in_a_shared_directory(catalog_path: Path, tmp_path: Path,
                                                                   data_copy: dict[str, list[Path]],
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    """An output directory shared with another catalog: only outputs made from this catalog's sources are
    orphans there; the other catalog's outputs are kept even when nothing here names them."""
    shared = tmp_path / "shared"
    other_data = tmp_path / "other-data"
    other_data.mkdir()
    shutil.copy2(data_copy["air"][0], other_data / "air.nc")
    other = tmp_path / "other.yaml"
    assert main(["add", str(other_data / "air.nc"), "--name", "air", "--catalog", str(other)]) == 0
    assert main(["convert", "air", "--to", "zarr", "--output", str(shared / "other-air.zarr"),
                 "--catalog", str(other)]) == 0
    assert main(["remove", "air", "--catalog", str(other)]) == 0  # unnamed now, but not this catalog's
    cat = str(catalog_path)
    assert main(["convert", "air", "--to", "zarr", "--output", str(shared / "air-old.zarr"), "--catalog", cat]) == 0
    assert main(["convert", "air", "--to", "zarr", "--output", str(shared / "air.zarr"), "--catalog", cat]) == 0
    capsys.readouterr()
    assert main(["gc", "--yes", "--catalog", cat]) == 0
    out = capsys.readouterr().out
    assert "air-old.zarr" in out and "other-air.zarr" not in out
    assert not (shared / "air-old.zarr").exists()
    assert (shared / "other-air.zarr").is_dir() and (shared / "air.zarr").is_dir()


def test_add_of_many_files_shows_progress_in_a_log(tmp_path: Path) -> None:
    """Not a terminal (a batch log): periodic lines while the files are opened, not silence."""
    import subprocess
    import sys

    from geoshelf.demo.data import make_sst

    make_sst(tmp_path / "many", days=120, ny=4, nx=8)
    cat = tmp_path / "cat.yaml"
    r = subprocess.run([sys.executable, "-m", "geoshelf", "add", str(tmp_path / "many"), "--name", "many",
                        "--catalog", str(cat)], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    lines = [ln for ln in r.stderr.splitlines() if ln.startswith("scanning many: ")]
    assert len(lines) >= 10 and lines[-1] == "scanning many: 120/120"
    assert "added many: 120 netcdf files" in r.stdout
