"""ENOSPC / EROFS in campaign writing: one line, nothing half-published, and a rerun records it all."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from geoshelf.campaign.run import run_campaign
from geoshelf.catalog import Catalog, add_entry
from geoshelf.cli import main
from geoshelf.convert.journal import JOURNAL_SUFFIX
from geoshelf.scan import scan
from geoshelf.testing.faults import check_invariants

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="mounting a tmpfs needs root (CI runs as root)")


@contextmanager
def _tmpfs(path: Path, size: str) -> Iterator[Path]:
    path.mkdir(parents=True, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)], check=True)
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


def _one_error_line(err: str) -> bool:
    """Progress lines aside, stderr holds exactly one error line, and no traceback."""
    errors = [line for line in err.splitlines() if not line.startswith("campaign ")]
    return len(errors) == 1 and errors[0].startswith("geoshelf: error: ") and "Traceback" not in err


def _remount(path: Path, mode: str) -> None:
    subprocess.run(["mount", "-o", f"remount,{mode}", str(path)], check=True)


def test_catalog_read_only_at_commit_is_one_line_and_the_rerun_records(tmp_path: Path, sst_archive: list[Path],
                                                                       write_spec, local_cluster, capsys) -> None:
    with _tmpfs(tmp_path / "catfs", "1m") as mnt:
        cat = mnt / "catalog.yaml"
        for i in range(2):
            add_entry(cat, scan([str(sst_archive[i])], f"day{i}", catalog_dir=str(mnt)))
        before = cat.read_bytes()
        spec = write_spec(tmp_path / "camp.yaml", catalog=str(cat), inputs={"entries": ["day0", "day1"]},
                          target="zarr", output=str(tmp_path / "out"), cluster=local_cluster)
        _remount(mnt, "ro")
        code = main(["campaign", "run", str(spec)])
        err = capsys.readouterr().err
        assert code != 0 and _one_error_line(err), err
        assert "cannot record the campaign's results" in err and "run `geoshelf campaign run" in err
        assert cat.read_bytes() == before
        outs = sorted(p.name for p in (tmp_path / "out").iterdir() if not p.name.endswith(".lock"))
        assert outs == [".day0.zarr" + JOURNAL_SUFFIX, ".day1.zarr" + JOURNAL_SUFFIX, "day0.zarr", "day1.zarr"]
        _remount(mnt, "rw")
        assert main(["campaign", "run", str(spec)]) == 0
        assert [r.kind for r in Catalog(cat).day0.representations] == ["zarr"]
        assert check_invariants(cat) == []


def test_full_output_disk_fails_units_in_one_line_and_publishes_nothing_half(tmp_path: Path, sst_archive: list[Path],
                                                                            write_spec, local_cluster) -> None:
    with _tmpfs(tmp_path / "small", "96k") as out:
        data = tmp_path / "data"
        data.mkdir()
        for f in sst_archive[:6]:
            (data / f.name).write_bytes(f.read_bytes())
        spec = write_spec(tmp_path / "camp.yaml", catalog=str(tmp_path / "cat.yaml"),
                          inputs={"files": ["data/*.nc"], "name": "d_{stem}"}, target="zarr", output=str(out),
                          retries=0, batch_size=2, cluster=local_cluster)
        summary = run_campaign(spec)
        assert not isinstance(summary, str)
        failures = summary.report["failures"]
        assert failures and summary.exit_code == 1
        assert all("disk full while writing the output; nothing was published" in f["error"] for f in failures)
        assert all("\n" not in f["error"] for f in failures)
        leftovers = [p.name for p in out.iterdir() if ".partial-" in p.name or ".old-" in p.name]
        assert leftovers == []
        cat = tmp_path / "cat.yaml"
        if cat.exists():
            assert check_invariants(cat) == []  # every output it recorded is whole


def test_full_state_disk_is_one_line(tmp_path: Path, sst_archive: list[Path], write_spec, local_cluster,
                                     capsys) -> None:
    with _tmpfs(tmp_path / "statefs", "64k") as st:
        filler = st / "filler"
        with open(filler, "wb", buffering=0) as f, pytest.raises(OSError):
            while True:
                f.write(b"\0" * 4096)
        spec = write_spec(tmp_path / "camp.yaml", catalog=str(tmp_path / "cat.yaml"),
                          inputs={"files": [str(sst_archive[0])], "name": "one"}, target="zarr",
                          state=str(st / "state"), cluster=local_cluster)
        code = main(["campaign", "run", str(spec)])
        err = capsys.readouterr().err
        assert code != 0 and _one_error_line(err), err
        assert str(st) in err
