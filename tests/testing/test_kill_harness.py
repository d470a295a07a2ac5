"""The kill harness itself: kills where asked, reports what it saw, and its invariant checks fail
on real damage (a corrupt output, a lost entry, a partial recorded as the output)."""

from __future__ import annotations

import random
import shutil
import time
from pathlib import Path

from geoshelf import convert
from geoshelf.catalog import Catalog, update_entry
from geoshelf.testing.faults import check_invariants, choose_kill, compare_snapshots, kill_randomly, run_child, snapshot


def _twin(catalog_path: Path, tmp_path: Path, name: str) -> Path:
    """A copy of the catalog's directory (data, catalog, shelf) elsewhere: same files, same mtimes."""
    dest = tmp_path.parent / f"{tmp_path.name}-{name}"
    shutil.copytree(catalog_path.parent, dest, symlinks=True)
    return dest / catalog_path.name


def test_named_fault_point_kills_there_and_rerun_matches_crash_free_run(catalog_path: Path, tmp_path: Path) -> None:
    ref_cat = _twin(catalog_path, tmp_path, "ref")
    clean = run_child(["convert", "sst", "--to", "zarr", "--catalog", str(ref_cat)], trace=True)
    assert clean.returncode == 0 and not clean.killed, clean.stderr
    assert clean.points == ("convert:written", "convert:validated", "publish:journaled", "convert:published",
                            "convert:before-record", "catalog:before-replace")
    expected = snapshot(ref_cat)
    assert set(expected.data) == {("sst", "zarr")}

    before = catalog_path.read_bytes()
    cmd = ["convert", "sst", "--to", "zarr", "--catalog", str(catalog_path)]
    killed = run_child(cmd, fault="convert:validated")
    assert killed.killed and killed.returncode == -9 and killed.at == "convert:validated"
    assert killed.points == ("convert:written", "convert:validated")
    shelf = catalog_path.parent / "shelf"
    assert list(shelf.glob(".sst.zarr.partial-*")) and not (shelf / "sst.zarr").exists()
    assert catalog_path.read_bytes() == before
    problems = check_invariants(catalog_path, expected)
    assert "sst/zarr: representation lost" in problems and len(problems) == 2  # and the entry differs

    again = run_child(cmd)
    assert again.returncode == 0, again.stderr
    assert check_invariants(catalog_path, expected) == []


def test_kill_after_a_delay_takes_the_whole_process_group(tmp_path: Path) -> None:
    marker = tmp_path / "never"
    run = run_child(time.sleep, 30, kill_after=0.5)
    assert run.killed and run.at == "after 0.500 s" and run.duration < 20
    # a child that finishes before the delay is not killed
    done = run_child(Path.touch, marker, kill_after=60)
    assert not done.killed and done.returncode == 0 and marker.exists()


def test_a_library_call_refusing_is_one_line_like_the_cli(tmp_path: Path) -> None:
    """A rerun of a step done before the kill may refuse (``remove_entry`` of a removed entry): one line, exit 2,
    as the CLI gives it; a bug keeps its traceback."""
    from geoshelf.catalog import remove_entry

    refused = run_child(remove_entry, str(tmp_path / "missing.yaml"), "air")
    assert refused.returncode == 2 and not refused.killed
    assert refused.stderr.startswith("geoshelf: error: ") and refused.stderr.count("\n") == 1, refused.stderr
    bug = run_child(int, "not a number")
    assert bug.returncode == 1 and "Traceback" in bug.stderr and "ValueError" in bug.stderr


def test_random_kills_choose_points_the_reference_reached() -> None:
    from geoshelf.testing.faults import ChildRun

    ref = ChildRun(returncode=0, killed=False, at="", duration=2.0,
                   points=("convert:written", "catalog:before-replace", "convert:written"))
    rng = random.Random(7)
    seen = [choose_kill(ref, rng) for _ in range(200)]
    faults = {k["fault"] for k in seen if "fault" in k}
    delays = [k["kill_after"] for k in seen if "kill_after" in k]
    assert faults == {"convert:written@1", "convert:written@2", "catalog:before-replace@1"}
    assert delays and all(0.05 <= d <= 2.0 for d in delays)
    assert callable(kill_randomly)


def test_invariants_catch_corrupt_outputs_partials_and_lost_entries(catalog_path: Path) -> None:
    rep = convert("sst", "zarr", catalog=catalog_path)
    reference = snapshot(catalog_path)
    assert check_invariants(catalog_path, reference) == []
    out = Path(Catalog(catalog_path).sst.resolve(rep.path))

    # a chunk of the published store goes missing: the output no longer loads
    chunk = next(p for p in sorted((out / "sst").rglob("*")) if p.is_file() and p.name != "zarr.json")
    data = chunk.read_bytes()
    chunk.write_bytes(data[: len(data) // 2])
    assert any("does not load" in p or "data differs" in p for p in check_invariants(catalog_path, reference))
    chunk.write_bytes(data)

    # a partial directory recorded as the output, and a leftover beside it
    partial = out.with_name(".sst.zarr.partial-deadbeef")
    shutil.copytree(out, partial)
    entry = Catalog(catalog_path).sst
    r = entry.representations[0]
    update_entry(catalog_path, entry.with_representation(type(r)(kind=r.kind, path=str(partial), format=r.format,
                                                                  options=r.options, provenance=r.provenance)))
    problems = check_invariants(catalog_path)
    assert any("partial or set-aside copy is recorded" in p for p in problems)
    assert any("leftover of an interrupted conversion" in p for p in problems)

    # an entry lost
    Catalog(catalog_path).remove("air")
    assert "air: entry lost" in compare_snapshots(snapshot(catalog_path, load=False), reference)
