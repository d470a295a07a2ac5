"""``geoshelf refresh``: the stale loop closes (re-scan, new files of the glob, copies told from changes)."""

from __future__ import annotations

import shutil
import warnings
from pathlib import Path

import netCDF4
import numpy as np
import pytest

from geoshelf.catalog import Catalog
from geoshelf.cli import main
from geoshelf.demo.data import make_sst
from geoshelf.errors import StaleRepresentationWarning
from geoshelf.load import choose
from geoshelf.refresh import refresh, same_content


@pytest.fixture
def converted(catalog_path: Path) -> Path:
    """The test catalog with sst converted to Zarr on its shelf."""
    assert main(["convert", "sst", "--to", "zarr", "--catalog", str(catalog_path)]) == 0
    return catalog_path


def _copied_like_cp_r(src_dir: Path, dest: Path) -> Path:
    """``cp -r``: same bytes, new modification times."""
    shutil.copytree(src_dir, dest, copy_function=shutil.copy)
    return dest


def _lint(catalog: Path, capsys: pytest.CaptureFixture[str]) -> str:
    capsys.readouterr()
    main(["lint", "--no-open", "--catalog", str(catalog)])
    return capsys.readouterr().out


def test_verify_tells_a_copy_and_keeps_the_representation(converted: Path, tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    copy = _copied_like_cp_r(converted.parent, tmp_path.parent / (tmp_path.name + "-copy")) / converted.name
    out = _lint(copy, capsys)
    assert "sst: zarr representation is stale" in out and "`geoshelf refresh sst`" in out
    with pytest.warns(StaleRepresentationWarning, match="geoshelf refresh sst --verify"):
        Catalog(copy)["sst"].to_dask()
    # without --verify: re-scanned, the representation stays stale and the line says how to tell
    assert main(["refresh", "sst", "--catalog", str(copy)]) == 0
    assert "zarr stale (`geoshelf refresh sst --verify`" in capsys.readouterr().out
    assert main(["refresh", "sst", "--verify", "--catalog", str(copy)]) == 0
    assert "same content as zarr (a copy: kept fresh)" in capsys.readouterr().out
    assert "sst" not in _lint(copy, capsys).replace("stations", "")  # no finding left for sst
    entry = Catalog(copy)["sst"]
    with warnings.catch_warnings():
        warnings.simplefilter("error", StaleRepresentationWarning)
        entry.to_dask()
    assert choose(entry).kind == "zarr"  # read from the Zarr store again, not the NetCDF files
    rep = entry.representation("zarr")
    assert rep is not None and rep.provenance is not None and rep.provenance.source_fingerprint == entry.fingerprint
    capsys.readouterr()
    assert main(["convert", "sst", "--to", "zarr", "--catalog", str(copy)]) == 0  # nothing to redo
    assert "is up to date; nothing to do" in capsys.readouterr().out
    assert main(["refresh", "sst", "--verify", "--catalog", str(copy)]) == 0
    assert "files unchanged" in capsys.readouterr().out


def test_verify_tells_changed_data(converted: Path, data_copy: dict[str, list[Path]],
                                   capsys: pytest.CaptureFixture[str]) -> None:
    f = data_copy["sst"][3]
    with netCDF4.Dataset(f, "a") as nc:
        v = nc["sst"]
        v[0, 5, 5] = float(v[0, 5, 5]) + 1.0
    r = refresh(converted, "sst", verify=True)
    assert r.changed and r.differs == ("zarr",) and not r.verified
    assert "content differs from zarr" in r.describe() and "geoshelf convert sst --to zarr" in r.describe()
    out = _lint(converted, capsys)
    assert "zarr representation is stale" in out
    assert main(["convert", "sst", "--to", "zarr", "--catalog", str(converted)]) == 0  # refresh made this possible
    ds = Catalog(converted)["sst"].to_dask()
    with netCDF4.Dataset(f) as nc:
        want = nc["sst"][0, 5, 5]
    assert float(ds["sst"].isel(time=3, lat=5, lon=5)) == pytest.approx(float(want))


def test_refresh_picks_up_new_files_of_the_glob(catalog_path: Path, data_copy: dict[str, list[Path]],
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    cat = str(catalog_path)
    sst_dir = data_copy["sst"][0].parent
    assert main(["add", str(sst_dir / "*.nc"), "--name", "sst", "--update", "--catalog", cat]) == 0
    n = len(data_copy["sst"])
    new = make_sst(sst_dir.parent / "more", days=2, ny=36, nx=72, start="2020-01-09")
    for p in new:
        shutil.move(str(p), sst_dir / p.name)
    # convert refuses stale sources and points at refresh
    capsys.readouterr()
    assert main(["convert", "sst", "--to", "zarr", "--catalog", cat]) != 0
    assert "geoshelf refresh sst" in capsys.readouterr().err
    assert main(["refresh", "sst", "--catalog", cat]) == 0
    assert f"+2 files ({n + 2} now)" in capsys.readouterr().out
    entry = Catalog(catalog_path)["sst"]
    assert entry.files == n + 2 and entry.tags == ["ocean", "daily"] and entry.description == "demo sst"
    assert str(entry.time_range[1]).startswith("2020-01-10")
    assert main(["convert", "sst", "--to", "zarr", "--catalog", cat]) == 0


def test_refresh_all_reaches_included_catalogs_and_needs_a_target(catalog_path: Path, tmp_path: Path,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    site = tmp_path / "site.yaml"
    site.write_text("sources:\n  team:\n    driver: yaml_file_cat\n"
                    "    args: {path: '{{ CATALOG_DIR }}/catalog.yaml'}\n")
    assert main(["refresh", "--catalog", str(site)]) != 0
    assert "NAME or --all" in capsys.readouterr().err
    assert main(["refresh", "--all", "--catalog", str(site)]) == 0
    out = capsys.readouterr().out
    assert "team.sst: files unchanged" in out and "4 entries checked, 0 re-scanned" in out
    fp = Catalog(catalog_path)["air"].fingerprint
    (tmp_path / "data" / "air" / "air_monthly.nc").touch()
    before = site.read_bytes()
    assert main(["refresh", "team.air", "--catalog", str(site)]) == 0
    assert "team.air: re-scanned" in capsys.readouterr().out
    assert site.read_bytes() == before  # the entry lives in the included catalog: written there
    assert Catalog(catalog_path)["air"].fingerprint != fp


def test_same_content_is_nan_aware_and_variable_wise() -> None:
    import xarray as xr

    a = xr.Dataset({"t": ("x", np.array([1.0, np.nan, 3.0]))}, coords={"x": [0, 1, 2]})
    b = a.copy(deep=True).assign(extra=("x", np.zeros(3)))
    assert same_content(a, b)
    c = a.copy(deep=True)
    c["t"][2] = 4.0
    assert not same_content(a, c)
    assert not same_content(a, a.rename(t="u"))
    assert not same_content(a, a.assign_coords(x=[0, 1, 5]))
