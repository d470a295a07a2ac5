"""The `geoshelf` command: workflows, and bad input refused in one line with the catalog untouched."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from geoshelf.catalog import Catalog
from geoshelf.cli import main


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "geoshelf", *args], capture_output=True, text=True, timeout=300,
                          env=env)


def test_add_list_show_search_open(tmp_path: Path, data_copy: dict[str, list[Path]],
                                   capsys: pytest.CaptureFixture[str]) -> None:
    cat = tmp_path / "new" / "catalog.yaml"
    sst_dir = data_copy["sst"][0].parent
    assert main(["add", str(sst_dir), "--name", "sst", "--catalog", str(cat), "--tag", "ocean",
                 "--description", "daily SST"]) == 0
    assert main(["add", *map(str, data_copy["elevation"]), "--name", "dem", "--catalog", str(cat)]) == 0
    out = capsys.readouterr().out
    assert "added sst" in out and "added dem" in out
    assert main(["list", "--json", "--catalog", str(cat)]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [e["name"] for e in listed] == ["sst", "dem"]
    assert listed[0]["files"] == len(data_copy["sst"])
    assert main(["show", "sst", "--catalog", str(cat)]) == 0
    assert "driver: netcdf" in capsys.readouterr().out
    assert main(["search", "--variable", "sst", "--json", "--catalog", str(cat)]) == 0
    assert [e["name"] for e in json.loads(capsys.readouterr().out)] == ["sst"]
    assert main(["open", "sst", "--catalog", str(cat)]) == 0
    assert "<xarray.Dataset>" in capsys.readouterr().out
    assert main(["lint", "--catalog", str(cat)]) == 0


def test_update_after_growth_and_lint_finds_staleness(tmp_path: Path, catalog_path: Path,
                                                       data_copy: dict[str, list[Path]],
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    from geoshelf.demo.data import make_sst

    sst_dir = data_copy["sst"][0].parent
    n = len(data_copy["sst"])
    make_sst(tmp_path / "more", days=2, ny=36, nx=72, start=f"2020-01-{n + 1:02d}")
    for f in (tmp_path / "more").iterdir():
        shutil.copy2(f, sst_dir / f.name)
    assert main(["lint", "--catalog", str(catalog_path)]) == 0
    assert f"catalogued {n} files, {n + 2} found" in capsys.readouterr().out
    assert main(["add", str(sst_dir / "*.nc"), "--name", "sst", "--update", "--catalog", str(catalog_path)]) == 0
    assert Catalog(catalog_path).sst.files == n + 2
    assert Catalog(catalog_path).sst.dims["time"] == n + 2


def test_relocate_follows_moved_data(tmp_path: Path, catalog_path: Path, data_copy: dict[str, list[Path]],
                                     capsys: pytest.CaptureFixture[str]) -> None:
    old = tmp_path / "data"
    new = tmp_path / "moved" / "archive"
    new.parent.mkdir()
    fp = Catalog(catalog_path).sst.fingerprint
    shutil.move(str(old), str(new))
    assert main(["relocate", str(old), str(new), "--catalog", str(catalog_path)]) == 0
    assert "4 entries relocated" in capsys.readouterr().out
    cat = Catalog(catalog_path)
    assert cat.sst.urlpath == "{{ CATALOG_DIR }}/moved/archive/sst/*.nc"
    assert cat.sst.to_dask().sizes["time"] == len(data_copy["sst"])
    from geoshelf.load import current_fingerprint

    assert current_fingerprint(cat.sst) == fp  # no re-scan needed: fingerprints survive a move


def test_dedupe_groups_decoded_equal_data(tmp_path: Path, catalog_path: Path, data_copy: dict[str, list[Path]],
                                          capsys: pytest.CaptureFixture[str]) -> None:
    import xarray as xr

    other = tmp_path / "team_copy"
    other.mkdir()
    for f in data_copy["sst"]:  # a team's private copy, re-encoded as NetCDF3 (different bytes)
        with xr.open_dataset(f) as ds:
            ds.load().to_netcdf(other / f.name, format="NETCDF3_64BIT", engine="scipy")
    assert (other / data_copy["sst"][0].name).read_bytes()[:3] == b"CDF"
    env = {"XDG_CACHE_HOME": str(tmp_path / "cache")}
    import os

    args = ("dedupe", str(other), "--json", "--catalog", str(catalog_path))
    assert run(*args, env={**os.environ, **env}).returncode == 0
    result = run(*args, env={**os.environ, **env})
    report = json.loads(result.stdout)
    assert len(report["groups"]) == len(data_copy["sst"])
    for g in report["groups"]:
        assert len(g["files"]) == 2 and g["keep"] in g["catalogued"]
    assert report["reclaimable_bytes"] == sum((other / f.name).stat().st_size for f in data_copy["sst"])
    assert any(d["duplicates_entry"] == "sst" and d["location"] == str(other) for d in report["datasets"])
    assert all(f.exists() for f in other.iterdir())  # never deletes


BAD_YAML = {
    "malformed": "sources:\n  a: [\n",
    "python-tag": "sources:\n  a: !!python/object/apply:os.system ['touch /tmp/geoshelf-pwned']\n",
    "driver": "sources:\n  a:\n    driver: os.system\n    args: {urlpath: x}\n",
}


@pytest.mark.parametrize("kind", sorted(BAD_YAML))
def test_bad_catalog_one_line_and_untouched(tmp_path: Path, kind: str, data_copy: dict[str, list[Path]]) -> None:
    cat = tmp_path / "bad.yaml"
    cat.write_text(BAD_YAML[kind])
    for args in (["list"], ["add", str(data_copy["air"][0]), "--name", "air"], ["lint"]):
        r = run(*args, "--catalog", str(cat))
        assert r.returncode != 0, args
        lines = r.stderr.strip().splitlines() or r.stdout.strip().splitlines()
        assert len([ln for ln in lines if ln.strip()]) == 1 or args == ["lint"], r.stderr
        assert "Traceback" not in r.stderr and str(cat) in (r.stderr + r.stdout)
        assert cat.read_text() == BAD_YAML[kind]
    assert not Path("/tmp/geoshelf-pwned").exists()


def test_bad_inputs_to_add(tmp_path: Path, catalog_path: Path, data_copy: dict[str, list[Path]]) -> None:
    before = catalog_path.read_bytes()
    corrupt = tmp_path / "corrupt.nc"
    corrupt.write_bytes(data_copy["sst"][0].read_bytes()[:1000])
    notnc = tmp_path / "notes.nc"
    notnc.write_text("hello")
    cases = {
        "corrupt": ([str(corrupt), "--name", "x"], "corrupt.nc"),
        "not netcdf": ([str(notnc), "--name", "x"], "notes.nc"),
        "missing": ([str(tmp_path / "nope.nc"), "--name", "x"], "nope.nc"),
        "clash": ([str(data_copy["air"][0]), "--name", "sst"], "already exists"),
        "bad name": ([str(data_copy["air"][0]), "--name", "2bad"], "invalid entry name"),
        "no match": ([str(tmp_path / "*.grib"), "--name", "x"], "no files match"),
    }
    for label, (args, needle) in cases.items():
        r = run("add", *args, "--catalog", str(catalog_path))
        assert r.returncode != 0, label
        assert len(r.stderr.strip().splitlines()) == 1, (label, r.stderr)
        assert needle in r.stderr and "Traceback" not in r.stderr, (label, r.stderr)
    r = run("add", "--catalog", str(catalog_path))
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1
    r = run("open", "nosuch", "--catalog", str(catalog_path))
    assert r.returncode != 0 and "no entry named 'nosuch'" in r.stderr
    assert catalog_path.read_bytes() == before


def test_help_everywhere() -> None:
    for cmd in ("add", "list", "show", "search", "open", "lint", "dedupe", "relocate", "convert", "demo"):
        r = run(cmd, "--help")
        assert r.returncode == 0 and "--catalog" in r.stdout or cmd == "demo", cmd
