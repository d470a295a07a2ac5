"""The derived intake catalog: stock intake + intake-xarray open each entry's fresh copy from it, while the
curated catalog keeps opening the originals."""

from __future__ import annotations

import os
from pathlib import Path

import intake
import numpy as np
import pytest

from geoshelf.catalog import Catalog
from geoshelf.cli import main
from geoshelf.convert import convert
from geoshelf.intake_view import view_path


@pytest.fixture(autouse=True)
def _no_user_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GEOSHELF_CONFIG", str(tmp_path / "no-config.yaml"))
    monkeypatch.delenv("GEOSHELF_SHELF_ROOT", raising=False)


def test_stock_intake_opens_the_fresh_copies_from_the_view(catalog_path: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["intake-view", "--catalog", str(catalog_path)]) == 0
    view = view_path(catalog_path)
    assert view.is_file() and "wrote" in capsys.readouterr().out
    curated_before = catalog_path.read_text()
    convert("sst", "zarr", catalog=catalog_path)       # rewrites the view
    convert("air", "references", catalog=catalog_path, store="json")
    text = view.read_text()
    assert "sst.zarr" in text and "reference://" in text
    curated = catalog_path.read_text()
    assert "reference://" not in curated and "driver: zarr" not in curated  # the curated file still opens originals
    assert curated_before.splitlines()[0] == curated.splitlines()[0]
    expected = {n: Catalog(catalog_path)[n].to_dask(representation="original").compute() for n in ("sst", "air")}

    stock = intake.open_catalog(str(view))
    assert set(stock) == {"sst", "air", "elevation", "stations"}
    assert type(stock["sst"]).__name__ == "ZarrSource" and type(stock["air"]).__name__ == "ZarrSource"
    ds = stock["sst"].to_dask()
    np.testing.assert_array_equal(ds["sst"].values, expected["sst"]["sst"].values)
    air = stock["air"].to_dask()
    np.testing.assert_array_equal(air["air"].values, expected["air"]["air"].values)
    # the copies really are what it reads: with the original NetCDF files gone it still opens them
    for f in Catalog(catalog_path)["sst"].source_files():
        os.rename(f, f + ".away")
    try:
        np.testing.assert_array_equal(intake.open_catalog(str(view))["sst"].to_dask()["sst"].values,
                                      expected["sst"]["sst"].values)
        with pytest.raises(OSError):  # the curated catalog opens the originals, which are gone
            intake.open_catalog(str(catalog_path))["sst"].to_dask()
    finally:
        for f in Catalog(catalog_path)["sst"].source_files(must_exist=False):
            if os.path.exists(f + ".away"):
                os.rename(f + ".away", f)


def test_a_stale_copy_is_not_in_the_view(catalog_path: Path) -> None:
    from geoshelf.intake_view import write_intake_view

    convert("sst", "zarr", catalog=catalog_path)
    import yaml

    write_intake_view(catalog_path)
    assert yaml.safe_load(view_path(catalog_path).read_text())["sources"]["sst"]["driver"] == "zarr"
    f = Catalog(catalog_path)["sst"].source_files()[0]
    st = os.stat(f)
    os.utime(f, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))  # the source changed after the conversion
    write_intake_view(catalog_path)
    src = yaml.safe_load(view_path(catalog_path).read_text())["sources"]["sst"]
    assert src["driver"] == "netcdf" and src["metadata"]["opens"].startswith("the original")  # originals again


def test_no_view_is_written_unless_asked(catalog_path: Path) -> None:
    convert("sst", "zarr", catalog=catalog_path)
    assert not view_path(catalog_path).exists()
