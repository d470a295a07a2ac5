"""File-set integrity on open: files deleted or added since an entry was catalogued are named, never
silently opened shorter (or longer); ``strict=True`` refuses."""

from __future__ import annotations

import shutil
import warnings
from pathlib import Path

import pytest

from geoshelf.catalog import Catalog
from geoshelf.errors import FileSetChangedError, FileSetChangedWarning, StaleRepresentationWarning


def test_a_deleted_day_warns_naming_the_file(catalog_path: Path, data_copy: dict[str, list[Path]]) -> None:
    days = data_copy["sst"]
    gone = days[len(days) // 2]
    gone.unlink()
    with pytest.warns(FileSetChangedWarning, match=rf"1 file missing: {gone}") as record:
        ds = Catalog(catalog_path).sst.to_dask()
    assert ds.sizes["time"] == len(days) - 1  # what is there, but not silently
    assert f"opening the {len(days) - 1} files" in str(record[0].message)
    with pytest.raises(FileSetChangedError, match=str(gone.name)):
        Catalog(catalog_path).sst.to_dask(strict=True)


def test_an_added_day_warns_and_strict_refuses(tmp_path: Path, catalog_path: Path,
                                               data_copy: dict[str, list[Path]]) -> None:
    from geoshelf.demo.data import make_sst

    n = len(data_copy["sst"])
    make_sst(tmp_path / "more", days=1, ny=36, nx=72, start=f"2020-01-{n + 1:02d}")
    new = next((tmp_path / "more").iterdir())
    shutil.copy2(new, data_copy["sst"][0].parent / new.name)
    with pytest.warns(FileSetChangedWarning, match=rf"1 file added: .*{new.name}"):
        assert Catalog(catalog_path).sst.to_dask().sizes["time"] == n + 1
    with pytest.raises(FileSetChangedError):
        Catalog(catalog_path).sst.to_dask(strict=True)


def test_unchanged_entry_opens_without_warnings(catalog_path: Path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        Catalog(catalog_path).sst.to_dask(strict=True)


def test_converted_copy_of_a_changed_file_set_falls_back_and_warns(catalog_path: Path,
                                                                   data_copy: dict[str, list[Path]]) -> None:
    from geoshelf import convert

    convert("sst", "zarr", catalog=catalog_path)
    data_copy["sst"][-1].unlink()
    with pytest.warns(StaleRepresentationWarning), pytest.warns(FileSetChangedWarning):
        ds = Catalog(catalog_path).sst.to_dask()
    assert ds.sizes["time"] == len(data_copy["sst"]) - 1
    # a forced converted copy is what was converted: complete, no file-set warning
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert Catalog(catalog_path).sst.to_dask(representation="zarr").sizes["time"] == len(data_copy["sst"])
