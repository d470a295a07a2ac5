"""Publishing and recording are one step from the user's view: a kill between the two renames of
publish, or a catalog that refuses the record (read-only, full), leaves the old output usable and
recorded or the new one published and (after the rerun) recorded, never neither."""

from __future__ import annotations

import os
import shutil
import subprocess
import warnings
from pathlib import Path

import pytest
import xarray as xr

from geoshelf import convert
from geoshelf.catalog import Catalog, add_entry
from geoshelf.cli import main
from geoshelf.convert.journal import journal_path, read_journal
from geoshelf.errors import MissingRepresentationWarning
from geoshelf.scan import scan
from geoshelf.testing.faults import check_invariants, run_child, snapshot

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="mounting a tmpfs needs root (CI runs as root)")


@pytest.fixture(autouse=True)
def _no_site_shelf(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("GEOSHELF_SHELF_ROOT", raising=False)
    monkeypatch.setenv("GEOSHELF_CONFIG", str(tmp_path / "no-user-config.yaml"))


def test_kill_between_the_renames_of_publish_loses_neither_output(catalog_path: Path, tmp_path: Path,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    convert("sst", "zarr", catalog=catalog_path, layout="map")  # the old output, recorded
    cmd = ["convert", "sst", "--to", "zarr", "--layout", "timeseries", "--catalog", str(catalog_path)]
    ref = tmp_path.parent / f"{tmp_path.name}-ref"
    shutil.copytree(tmp_path, ref, symlinks=True)
    assert run_child(cmd[:-1] + [str(ref / catalog_path.name)]).returncode == 0
    expected = snapshot(ref / catalog_path.name)

    killed = run_child(cmd, fault="publish:between-renames")
    assert killed.killed
    shelf = catalog_path.parent / "shelf"
    assert not (shelf / "sst.zarr").exists()  # old moved aside, new not yet in place
    assert list(shelf.glob(".sst.zarr.old-*")) and list(shelf.glob(".sst.zarr.partial-*"))
    assert read_journal(shelf / "sst.zarr")["state"] == "publishing"

    # opening meanwhile falls back to the original files, with a warning instead of an error
    entry = Catalog(catalog_path).sst
    with pytest.warns(MissingRepresentationWarning, match="zarr representation at .* is missing"):
        ds = entry.to_dask()
    xr.testing.assert_identical(ds.load(), entry.to_dask(representation="original").load())
    assert main(["lint", "--no-open", "--catalog", str(catalog_path)]) == 1  # the recorded output is missing
    assert "publishing" in capsys.readouterr().out

    # the rerun finishes the publish and records the result: as if nothing had crashed
    again = run_child(cmd)
    assert again.returncode == 0, again.stderr
    assert check_invariants(catalog_path, expected) == []
    assert not journal_path(shelf / "sst.zarr").exists()


def test_kill_after_publish_before_record_is_recorded_by_the_rerun(catalog_path: Path,
                                                                    capsys: pytest.CaptureFixture[str]) -> None:
    cmd = ["convert", "sst", "--to", "zarr", "--catalog", str(catalog_path)]
    assert run_child(cmd, fault="convert:before-record").killed
    out = catalog_path.parent / "shelf" / "sst.zarr"
    assert out.is_dir() and Catalog(catalog_path).sst.representations == []
    assert read_journal(out)["representation"]["kind"] == "zarr"
    main(["lint", "--no-open", "--catalog", str(catalog_path)])
    assert "published but is not recorded in the catalog" in capsys.readouterr().out
    mtime = (out / "zarr.json").stat().st_mtime_ns
    again = run_child(cmd)
    assert again.returncode == 0 and "up to date" in again.stdout, again.stdout + again.stderr
    assert (out / "zarr.json").stat().st_mtime_ns == mtime  # recorded, not converted again
    assert Catalog(catalog_path).sst.representation("zarr") is not None and check_invariants(catalog_path) == []


@needs_root
@pytest.mark.parametrize("fault", ["read-only", "full"])
def test_catalog_that_refuses_the_record_leaves_the_output_journaled(tmp_path: Path, data_copy: dict[str, list[Path]],
                                                                     fault: str,
                                                                     capsys: pytest.CaptureFixture[str]) -> None:
    mnt = tmp_path / "catfs"
    mnt.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(mnt)], check=True)
    try:
        cat = mnt / "catalog.yaml"
        add_entry(cat, scan([str(f) for f in data_copy["sst"]], "sst", catalog_dir=str(mnt)))
        before = cat.read_bytes()
        out = tmp_path / "out" / "sst.zarr"
        filler = mnt / "filler"
        if fault == "read-only":
            subprocess.run(["mount", "-o", "remount,ro", str(mnt)], check=True)
        else:
            with open(filler, "wb", buffering=0) as f, pytest.raises(OSError):
                while True:
                    f.write(b"\0" * 65536)
                    f.flush()
        code = main(["convert", "sst", "--to", "zarr", "--catalog", str(cat), "--output", str(out)])
        err = capsys.readouterr().err
        assert code != 0 and err.count("\n") == 1 and "Traceback" not in err, err
        assert "cannot record the zarr output" in err and "journaled" in err
        assert cat.read_bytes() == before
        assert out.is_dir() and read_journal(out)["state"] == "published"  # published, not orphaned
        if fault == "read-only":
            subprocess.run(["mount", "-o", "remount,rw", str(mnt)], check=True)
        else:
            filler.unlink()
        assert main(["convert", "sst", "--to", "zarr", "--catalog", str(cat), "--output", str(out)]) == 0
        assert "up to date" in capsys.readouterr().out
        assert not journal_path(out).exists()
        with warnings.catch_warnings():
            warnings.simplefilter("error", MissingRepresentationWarning)
            assert check_invariants(cat) == []
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


def test_a_journal_write_cut_short_leaves_no_temporary_file(catalog_path: Path) -> None:
    """A worker killed while writing the publish journal leaves the journal's temporary file (the
    journal itself is renamed into place whole); the next conversion of that output removes it, and
    only it: another output's leftovers stay."""
    shelf = catalog_path.parent / "shelf"
    shelf.mkdir(exist_ok=True)
    journal = journal_path(shelf / "sst.zarr").name
    torn = [shelf / f"{journal}.x1y2z3.tmp", shelf / f".{journal}.a1b2c3.tmp"]
    other = shelf / f"{journal_path(shelf / 'air.zarr').name}.q9w8e7.tmp"
    for p in (*torn, other):
        p.write_text('{"output": "sst.zar')  # a torn write
    convert("sst", "zarr", catalog=catalog_path)
    assert not any(p.exists() for p in torn)
    assert other.exists()
    assert read_journal(shelf / "sst.zarr") is None
    assert sorted(p.name for p in shelf.iterdir() if not p.name.endswith(".lock")) == [other.name, "sst.zarr"]
