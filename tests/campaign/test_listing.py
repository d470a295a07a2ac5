"""Campaign inputs from a listing file (path, size, mtime per line): planning without a stat."""

from __future__ import annotations

import io
import os
import random
import shutil
from pathlib import Path

import pytest
import xarray as xr
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from geoshelf.campaign import plan_campaign, run_campaign
from geoshelf.campaign.listing import mtime_ns
from geoshelf.campaign.plan import build_plan
from geoshelf.campaign.spec import load_spec
from geoshelf.catalog import Catalog
from geoshelf.errors import CampaignError


def _listing(path: Path, n: int, *, per_dir: int = 10, shuffle: bool = False, bump: int | None = None) -> Path:
    lines = [f"/gpfs/archive/obs/d{i // per_dir:04d}/obs_{i:06d}.nc\t{1000 + i}\t1700000000.{i:010d}"
             + ("1" if i == bump else "") for i in range(n)]
    if shuffle:
        random.Random(4).shuffle(lines)
    path.write_text("# find /gpfs/archive -type f -printf '%p\\t%s\\t%T@\\n'\n" + "\n".join(lines) + "\n")
    return path


def test_plan_from_a_listing_of_files_that_do_not_exist(tmp_path: Path, write_spec) -> None:
    _listing(tmp_path / "files.tsv", 95)
    spec = write_spec(tmp_path / "c.yaml", catalog="cat.yaml", inputs={"listing": "files.tsv", "name": "obs_{parent}"},
                      target="references", batch_size=25)
    plan = build_plan(load_spec(spec), keep_files=False)
    assert [u.name for u in plan.units][:2] == ["obs_d0000", "obs_d0001"] and len(plan.units) == 10
    assert plan.n_files == 95 and plan.units[-1].n_files == 5 and plan.units[0].files == ()
    assert plan.bytes_in == sum(1000 + i for i in range(95))
    kept = build_plan(load_spec(spec))
    assert kept.units[0].files[:2] == ("/gpfs/archive/obs/d0000/obs_000000.nc", "/gpfs/archive/obs/d0000/obs_000001.nc")
    assert [u.id for u in kept.units] == [u.id for u in plan.units]  # a dry run plans the same units
    _listing(tmp_path / "files.tsv", 95, shuffle=True)  # another order: the same units
    assert {u.name: u.id for u in build_plan(load_spec(spec)).units} == {u.name: u.id for u in plan.units}
    _listing(tmp_path / "files.tsv", 95, bump=42)  # one file's mtime changed: its unit alone is new work
    changed = [a.id != b.id for a, b in zip(build_plan(load_spec(spec)).units, plan.units, strict=True)]
    assert changed == [i == 4 for i in range(10)]


def test_dry_run_reports_tasks_jobs_memory_and_state_size(tmp_path: Path, write_spec) -> None:
    _listing(tmp_path / "files.tsv", 400, per_dir=100)
    spec = write_spec(tmp_path / "c.yaml", catalog="cat.yaml", inputs={"listing": "files.tsv", "name": "obs_{parent}"},
                      target="references", batch_size=50, max_jobs=3,
                      cluster={"profile": "slurm", "scheduler-host": "127.0.0.1", "dashboard-address": ":0"})
    text = plan_campaign(spec, out=io.StringIO())
    assert "400 files -> 4 units" in text and "4 units in 4 Dask tasks" in text
    assert "slurm: 3 jobs would be submitted (cap 3" in text
    assert "driver peak memory" in text and "the state database would be" in text
    assert not (tmp_path / "c.state").exists()  # nothing written


@pytest.mark.parametrize(("line", "error"), [
    ("/a/b.nc\t12", "line 2: expected 3 tab-separated columns"),
    ("/a/b.nc\ttwelve\t1700000000", "line 2: invalid literal"),
    ("/a/b.nc\t12\tyesterday", "line 2: could not convert"),
])
def test_a_bad_line_is_named(tmp_path: Path, write_spec, line: str, error: str) -> None:
    (tmp_path / "files.tsv").write_text(f"/a/a.nc\t1\t1700000000.5\n{line}\n")
    spec = write_spec(tmp_path / "c.yaml", catalog="cat.yaml", inputs={"listing": "files.tsv"}, target=None)
    with pytest.raises(CampaignError, match=f"files.tsv: {error}"):
        build_plan(load_spec(spec))


def test_listing_spec_errors(tmp_path: Path, write_spec) -> None:
    spec = write_spec(tmp_path / "c.yaml", inputs={"listing": "nope.tsv"}, target=None)
    with pytest.raises(CampaignError, match="inputs.listing .*nope.tsv: no such file"):
        load_spec(spec)
    (tmp_path / "l.tsv").write_text("")
    spec = write_spec(tmp_path / "c.yaml", inputs={"listing": "l.tsv", "files": ["*.nc"]}, target=None)
    with pytest.raises(CampaignError, match="exactly one of 'entries'"):
        load_spec(spec)
    spec = write_spec(tmp_path / "c.yaml", catalog="cat.yaml", inputs={"listing": "l.tsv"}, target=None)
    with pytest.raises(CampaignError, match="names no files"):
        build_plan(load_spec(spec))


def test_mtime_is_exact() -> None:
    assert mtime_ns("1700000000.1234567890") == 1_700_000_000_123_456_789
    assert mtime_ns("1700000000") == 1_700_000_000_000_000_000


def test_a_campaign_runs_from_a_find_listing(tmp_path: Path, sst_archive: list[Path], write_spec,
                                             local_cluster) -> None:
    data = tmp_path / "data"
    data.mkdir()
    for f in sst_archive[:4]:
        shutil.copy2(f, data / f.name)
    lines = []
    for f in sorted(data.iterdir()):  # what find -printf '%p\t%s\t%T@\n' writes
        st = os.stat(f)
        lines.append(f"data/{f.name}\t{st.st_size}\t{st.st_mtime_ns // 10**9}.{st.st_mtime_ns % 10**9:09d}0")
    (tmp_path / "files.tsv").write_text("\n".join(lines) + "\n")
    spec = write_spec(tmp_path / "c.yaml", catalog="cat.yaml", inputs={"listing": "files.tsv", "name": "sst_all",
                                                                        "pattern": r"sst_(?P<day>\d+)\.nc"},
                      target="zarr", options={"layout": "map"}, cluster=local_cluster)
    summary = run_campaign(spec)
    assert summary.exit_code == 0
    entry = Catalog(tmp_path / "cat.yaml").sst_all
    assert entry.files == 4
    expected = xr.open_mfdataset([str(data / f.name) for f in sst_archive[:4]], combine="by_coords")
    xr.testing.assert_allclose(entry.to_dask(representation="zarr").sst.compute(), expected.sst.compute())


# -- the vectorized parse (blocks of lines through numpy) against an independent reading -----------------

def _expected(lines: list[str], base: Path) -> dict[str, tuple[int, int, int, str]]:
    """name -> (count, bytes, digest, first path) computed line by line from the definition in listing.py:
    the unit's digest is the sum of the first 16 bytes (big-endian) of each line's sha256, modulo 2**128."""
    import hashlib

    out: dict[str, list] = {}
    for line in lines:
        if not line or line.startswith("#"):
            continue
        path, size, _mtime = line.split("\t")
        path = path if path.startswith("/") else os.path.normpath(os.path.join(base, path))
        name = "obs_" + path.rsplit("/", 2)[-2]
        g = out.setdefault(name, [0, 0, 0, path])
        g[0] += 1
        g[1] += int(size)
        g[2] = (g[2] + int.from_bytes(hashlib.sha256(line.encode()).digest()[:16], "big")) % 2**128
    return {k: tuple(v) for k, v in out.items()}


def _grouped(listing: Path, **kw) -> dict[str, tuple[int, int, int, str]]:
    from geoshelf.campaign.listing import group_listing

    return {k: (g.count, g.bytes, g.digest, g.first)
            for k, g in group_listing(listing, "obs_{parent}", None, ["parent"], **kw).items()}


def _line(d: int, i: int, size: int, mtime: str) -> str:
    return f"/gpfs/archive/obs/d{d:03d}/obs_{i:06d}.nc\t{size}\t{mtime}"


@pytest.fixture
def slow_lines(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts the lines that took the line-by-line path (a small block, so a listing spans several)."""
    from geoshelf.campaign import listing

    monkeypatch.setattr(listing, "BLOCK", 997)
    seen: list[int] = []
    original = listing._Grouper.lines

    def counting(self, lines, first_no):
        seen.append(len(lines))
        return original(self, lines, first_no)

    monkeypatch.setattr(listing._Grouper, "lines", counting)
    return seen


def test_vectorized_blocks_equal_the_definition_and_take_no_line_path(tmp_path: Path, slow_lines: list[int]) -> None:
    lines = [_line(i // 7, i, 10**17 + i if i % 5 == 0 else i * 3, f"1700000000.{i:010d}" if i % 3 else "1700000000")
             for i in range(500)]
    lines[40] = lines[40].replace("\t0", "\t000")  # leading zeros: int() reads them
    (tmp_path / "l.tsv").write_text("\n".join(lines) + "\n")
    got = _grouped(tmp_path / "l.tsv", keep_files=False)
    assert got == _expected(lines, tmp_path) and len(got) == 72
    assert slow_lines == []  # every block went through numpy
    (tmp_path / "l.tsv").write_text("\n".join(lines))  # no newline after the last line
    assert _grouped(tmp_path / "l.tsv", keep_files=False) == _expected(lines, tmp_path)


def test_a_block_with_a_comment_relative_path_or_other_number_takes_the_line_path(tmp_path: Path,
                                                                                slow_lines: list[int]) -> None:
    lines = [_line(i // 10, i, i, f"1700000000.{i}") for i in range(300)]
    lines[150] = "# a comment"
    lines[200] = "rel/d999/x.nc\t5\t1700000000"
    lines[250] = _line(25, 250, 7, "1.7e9")  # float() takes it; the vectorized check does not
    (tmp_path / "l.tsv").write_text("\n".join(lines) + "\n")
    assert _grouped(tmp_path / "l.tsv", keep_files=False) == _expected(lines, tmp_path)
    assert 0 < sum(slow_lines) < len(lines)  # only the blocks holding those lines


@given(st.lists(st.tuples(st.integers(0, 6), st.integers(0, 10**15), st.sampled_from(["", ".5", ".0123456789"])),
                min_size=1, max_size=120),
       st.integers(60, 3000), st.booleans())
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_any_order_and_block_size_give_the_definitions_groups(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                              rows, block: int, keep: bool) -> None:
    from geoshelf.campaign import listing

    monkeypatch.setattr(listing, "BLOCK", block)
    lines = [_line(d, i, size, f"17000{i:05d}{frac}") for i, (d, size, frac) in enumerate(rows)]
    (tmp_path / "h.tsv").write_text("\n".join(lines) + "\n")
    assert _grouped(tmp_path / "h.tsv", keep_files=keep) == _expected(lines, tmp_path)
    if keep:
        files = listing.group_listing(tmp_path / "h.tsv", "obs_{parent}", None, ["parent"], keep_files=True)
        assert sorted(f for g in files.values() for f in g.files) == sorted(ln.split("\t")[0] for ln in lines)


@pytest.mark.parametrize(("bad", "error"), [
    ("/a/d/b.nc\t12", "expected 3 tab-separated columns"),
    ("/a/d/b.nc\t12\t1700000000\textra", r"expected 3 tab-separated columns \(path, size, mtime\), found 4"),
    ("/a/d/b.nc\t1x2\t1700000000", "invalid literal"),
    ("/a/d/b.nc\t12\t17000.000.1", "could not convert"),
    ("\t12\t1700000000", "empty path"),
])
def test_a_bad_line_deep_in_a_block_is_named_with_its_number(tmp_path: Path, slow_lines: list[int], bad: str,
                                                             error: str) -> None:
    from geoshelf.campaign.listing import group_listing

    lines = [_line(i // 10, i, i, "1700000000.5") for i in range(400)]
    lines.insert(321, bad)
    (tmp_path / "l.tsv").write_text("# header\n" + "\n".join(lines) + "\n")
    with pytest.raises(CampaignError, match=f"l.tsv: line 323: {error}"):
        group_listing(tmp_path / "l.tsv", "obs_{parent}", None, ["parent"], keep_files=False)


def test_several_reader_processes_give_the_same_groups_in_the_same_order(tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """A big listing of a dry run is read in ranges by processes; a range holding a comment is read line by
    line by the driver; a bad line in a later range is named with its number in the whole file."""
    from geoshelf.campaign import listing

    lines = [_line((i // 9) % 40, i, i * 7, f"1700000000.{i:05d}") for i in range(2000)]  # directories recur
    lines[1500] = "# a comment in the third range"
    (tmp_path / "l.tsv").write_text("\n".join(lines) + "\n")
    expected = _expected(lines, tmp_path)
    sequential = listing.group_listing(tmp_path / "l.tsv", "obs_{parent}", None, ["parent"], keep_files=False)
    monkeypatch.setattr(listing, "PARALLEL_MIN", 0)
    monkeypatch.setattr(listing, "reader_processes", lambda: 4)
    stats: dict[str, int] = {}
    parallel = listing.group_listing(tmp_path / "l.tsv", "obs_{parent}", None, ["parent"], keep_files=False,
                                     stats=stats)
    assert stats == {"readers": 4}
    assert [(k, g.count, g.bytes, g.digest, g.first) for k, g in parallel.items()] == \
        [(k, g.count, g.bytes, g.digest, g.first) for k, g in sequential.items()]
    assert {k: (g.count, g.bytes, g.digest, g.first) for k, g in parallel.items()} == expected
    lines[1800] = lines[1800].replace("\t", " ", 1)
    (tmp_path / "l.tsv").write_text("\n".join(lines) + "\n")
    with pytest.raises(CampaignError, match="l.tsv: line 1801: expected 3 tab-separated columns"):
        listing.group_listing(tmp_path / "l.tsv", "obs_{parent}", None, ["parent"], keep_files=False)


def test_reader_processes_follow_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    from geoshelf.campaign.listing import reader_processes

    monkeypatch.setenv("GEOSHELF_LISTING_READERS", "3")
    assert reader_processes() == 3
    monkeypatch.setenv("GEOSHELF_LISTING_READERS", "0")
    with pytest.raises(CampaignError, match=r"GEOSHELF_LISTING_READERS='0': expected a whole number"):
        reader_processes()
    monkeypatch.delenv("GEOSHELF_LISTING_READERS")
    assert 1 <= reader_processes() <= 8
