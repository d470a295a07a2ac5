"""``dedupe`` keeps the best-stored copy and never counts the shelf's own outputs as duplicates.

Run through the command in a child process, as tests/test_cli.py does: hashing reads NetCDF4 with
h5netcdf on threads, and HDF5 loaded twice in one process (netCDF4's and h5py's) is not safe there."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import xarray as xr

from geoshelf.catalog import add_entry
from geoshelf.scan import scan


def _geoshelf(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    # no default catalog: only what the test names is read
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache"), "GEOSHELF_CATALOG": str(tmp_path / "none.yaml")}
    done = subprocess.run([sys.executable, "-m", "geoshelf", *args], capture_output=True, text=True, timeout=300,
                          env=env)
    assert done.returncode == 0, done.stderr
    return done


def _dedupe(tmp_path: Path, *args: str) -> dict[str, Any]:
    return json.loads(_geoshelf(tmp_path, "dedupe", "--json", *args).stdout)


def _netcdf3_copy(src: Path, dest: Path) -> Path:
    dest.parent.mkdir(parents=True, exist_ok=True)
    with xr.open_dataset(src) as ds:
        ds.load().to_netcdf(dest, format="NETCDF3_64BIT", engine="scipy")
    assert dest.read_bytes()[:3] == b"CDF"
    return dest


def test_keeps_the_deflated_netcdf4_over_a_netcdf3_copy(tmp_path: Path, data_copy: dict[str, list[Path]]) -> None:
    original = data_copy["sst"][0]  # deflated NetCDF4 under tmp_path/data/sst
    copy = _netcdf3_copy(original, tmp_path / "a_copy" / original.name)  # sorts first
    # (at this tiny size HDF5's fixed overhead makes the NetCDF4 file the bigger one: the format decides)
    report = _dedupe(tmp_path, str(tmp_path / "a_copy"), str(original))
    [group] = report["groups"]
    assert group["keep"] == str(original)
    assert group["kinds"] == {str(copy): "netcdf3", str(original): "netcdf4"}
    assert report["reclaimable_bytes"] == copy.stat().st_size


def test_a_catalogued_netcdf3_copy_is_not_kept_but_named_for_repointing(tmp_path: Path,
                                                                       data_copy: dict[str, list[Path]]) -> None:
    original = data_copy["air"][0]
    copy = _netcdf3_copy(original, tmp_path / "team" / original.name)
    cat = tmp_path / "team.yaml"
    add_entry(cat, scan([str(copy)], "air3", catalog_dir=str(tmp_path)))
    [group] = _dedupe(tmp_path, str(original), "--catalog", str(cat))["groups"]
    assert group["keep"] == str(original) and group["repoint"] == ["air3"]
    out = _geoshelf(tmp_path, "dedupe", str(original), "--catalog", str(cat)).stdout
    assert f"keep {original}" in out and "point air3 at" in out


def test_shelf_outputs_are_not_duplicates_of_their_sources(tmp_path: Path, data_copy: dict[str, list[Path]]) -> None:
    tile = data_copy["elevation"][0]
    cat = tmp_path / "tiles.yaml"
    add_entry(cat, scan([str(tile)], "tile", catalog_dir=str(tmp_path)))
    _geoshelf(tmp_path, "convert", "tile", "--to", "cog", "--catalog", str(cat))
    shelf = tmp_path / "shelf"
    assert any(p.suffix == ".tif" for p in shelf.rglob("*"))
    # the COG on the shelf has the same decoded content as its source, but it is its representation:
    # left out with the catalog (it names it) and without (its manifest says it is a geoshelf output)
    for with_catalog in (["--catalog", str(cat)], []):
        report = _dedupe(tmp_path, str(tmp_path), *with_catalog)
        shelved = [f for g in report["groups"] for f in g["files"] if f.startswith(str(shelf))]
        assert shelved == [], report["groups"]
    # a plain copy of the tile still is a duplicate
    copy = tmp_path / "copies" / tile.name
    copy.parent.mkdir()
    copy.write_bytes(tile.read_bytes())
    report = _dedupe(tmp_path, str(tmp_path), "--catalog", str(cat))
    assert any(set(g["files"]) == {str(tile), str(copy)} for g in report["groups"])
