"""The one freshness check: sidecar manifests, the cheap per-directory check, the full check, the cache."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from geoshelf.bench.metaops import counting, total
from geoshelf.catalog import Catalog, Entry, add_entry, freshness, remove_entry
from geoshelf.catalog.lint import lint
from geoshelf.catalog.paths import fingerprint, stat_files
from geoshelf.errors import CatalogError

HOUR_NS = 3600 * 10**9


def _files(d: Path, n: int, start: int = 0) -> list[Path]:
    d.mkdir(parents=True, exist_ok=True)
    out = []
    for i in range(start, start + n):
        p = d / f"obs_{i:05d}.nc"
        p.write_bytes(b"CDF\x01" + bytes(i % 7))
        out.append(p)
    return out


def _age(*paths: Path, seconds: float = 7200) -> None:
    """Set modification times in the past, as for an archive that is not being written to."""
    t = time.time_ns() - int(seconds * 1e9)
    for p in paths:
        os.utime(p, ns=(t, t))


def _catalog(tmp_path: Path, n: int, *, subdirs: int = 1) -> tuple[Path, Path]:
    data = tmp_path / "archive"
    paths: list[Path] = []
    for k in range(subdirs):
        paths += _files(data / f"y{2000 + k}", n // subdirs, start=k * n)
    _age(*paths, *[data / f"y{2000 + k}" for k in range(subdirs)], data)
    pattern = str(data / ("*" if subdirs > 1 else "y2000") / "*.nc")
    stats = stat_files(sorted(str(p) for p in paths))
    cat = tmp_path / "catalog.yaml"
    add_entry(cat, Entry(name="obs", urlpath=pattern, files=len(stats), bytes=sum(s.size for s in stats),
                         fingerprint=fingerprint(stats)))
    return cat, data


def test_add_writes_a_sidecar_the_yaml_names(tmp_path: Path) -> None:
    cat, data = _catalog(tmp_path, 12)
    e = Catalog(cat).obs
    assert e.files_manifest.startswith("{{ CATALOG_DIR }}/catalog.yaml.d/obs.")
    assert "obs_00000" not in cat.read_text()  # the file list is not inline in the YAML
    header, files = freshness.read_files(e.resolve(e.files_manifest))
    assert header.fingerprint == e.fingerprint and header.count == 12
    assert sorted(files) == [f"obs_{i:05d}.nc" for i in range(12)]
    assert files["obs_00003.nc"] == (7, (data / "y2000" / "obs_00003.nc").stat().st_mtime_ns)
    assert header.dirs == {"": (data / "y2000").stat().st_mtime_ns}


def test_cheap_check_costs_the_same_for_10_and_1000_files(tmp_path: Path) -> None:
    ops = {}
    for n in (10, 1000):
        cat, _ = _catalog(tmp_path / str(n), n)
        e = Catalog(cat).obs
        with counting() as c:
            state = freshness.check(e)
        assert state.method == "directories" and not state.file_set_changed
        assert state.fingerprint == e.fingerprint
        ops[n] = total(c)
    assert ops[10] == ops[1000] <= 8, ops


def test_deleted_added_and_renamed_files_are_named(tmp_path: Path) -> None:
    cat, data = _catalog(tmp_path, 9)
    e = Catalog(cat).obs
    (data / "y2000" / "obs_00004.nc").unlink()
    state = freshness.check(e)
    assert state.method == "full" and state.file_set_changed
    assert state.missing == (str(data / "y2000" / "obs_00004.nc"),) and state.n_added == 0
    assert state.found == 8 and "1 file missing: " in state.describe()
    os.rename(data / "y2000" / "obs_00005.nc", data / "y2000" / "obs_00005b.nc")
    _files(data / "y2000", 1, start=50)
    state = freshness.check(e)
    assert state.n_missing == 2 and state.n_added == 2
    assert str(data / "y2000" / "obs_00005b.nc") in state.added
    assert state.fingerprint != e.fingerprint


def test_a_full_verdict_is_cached_for_this_user(tmp_path: Path) -> None:
    cat, data = _catalog(tmp_path, 20)
    e = Catalog(cat).obs
    (data / "y2000" / "obs_00001.nc").unlink()
    _age(data / "y2000")  # the directory changed, but not just now (not racy)
    assert freshness.check(e).method == "full"
    with counting() as c:
        state = freshness.check(e)
    assert state.method == "cache" and state.n_missing == 1 and state.missing[0].endswith("obs_00001.nc")
    assert c["listdir"] == 0 and total(c) <= 8
    cached = list((Path(os.environ["GEOSHELF_CACHE_DIR"]) / "freshness").glob("*.json"))
    assert cached and all(json.loads(p.read_text())["recorded"].startswith("sha256:") for p in cached)


def test_in_place_rewrite_is_missed_by_the_cheap_check_and_found_by_the_full_one(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cat, data = _catalog(tmp_path, 5)
    e = Catalog(cat).obs
    f = data / "y2000" / "obs_00002.nc"
    with open(f, "r+b") as fh:  # same name, same directory entry: the directory's time does not move
        fh.write(b"XXXX")
    os.utime(f, ns=(time.time_ns(), time.time_ns()))
    assert freshness.check(e).method == "directories"  # documented: the cheap check cannot see this
    full = freshness.check(e, full=True)
    assert full.changed == (str(f),) and not full.file_set_changed and full.fingerprint != e.fingerprint
    monkeypatch.setenv(freshness.ENV_FULL_CHECK, "0")  # a full check at every open
    assert freshness.check(e).method in ("full", "cache")
    assert freshness.check(e).changed == (str(f),)


def test_the_periodic_full_check_comes_due(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cat, _ = _catalog(tmp_path, 5)
    e = Catalog(cat).obs
    assert freshness.check(e).method == "directories"
    real = time.time_ns
    monkeypatch.setattr(freshness.time, "time_ns", lambda: real() + 2 * HOUR_NS)
    assert freshness.check(e).method == "full"
    monkeypatch.setenv(freshness.ENV_FULL_CHECK, "never")
    assert freshness.check(e).method == "cache"  # the full check's verdict, no newer full check


def test_new_subdirectory_of_a_glob_is_seen(tmp_path: Path) -> None:
    cat, data = _catalog(tmp_path, 6, subdirs=2)
    e = Catalog(cat).obs
    assert freshness.check(e).method == "directories"
    _files(data / "y2005", 2, start=100)
    state = freshness.check(e)
    assert state.n_added == 2 and state.added[0].endswith("y2005/obs_00100.nc")


def test_racy_directory_times_are_not_trusted(tmp_path: Path) -> None:
    data = tmp_path / "fresh"
    files = _files(data, 3)  # just written: directory time within RACY_NS of the snapshot
    stats = stat_files([str(p) for p in files])
    cat = tmp_path / "catalog.yaml"
    add_entry(cat, Entry(name="obs", urlpath=str(data / "*.nc"), files=3, fingerprint=fingerprint(stats)))
    assert freshness.check(Catalog(cat).obs).method == "full"


def test_catalogs_without_a_sidecar_fall_back(tmp_path: Path) -> None:
    cat, data = _catalog(tmp_path, 4)
    e = Catalog(cat).obs.replace(files_manifest="")
    state = freshness.check(e)
    assert state.method == "full" and not state.recorded and not state.file_set_changed
    (data / "y2000" / "obs_00000.nc").unlink()
    state = freshness.check(e)
    assert state.file_set_changed and state.describe() == "catalogued 4 files, 3 found now"
    e2 = Catalog(cat).obs
    Path(e2.resolve(e2.files_manifest)).write_text("not json\n")  # unreadable sidecar: same fallback
    assert not freshness.check(e2).recorded


def test_update_replaces_and_remove_deletes_the_sidecar(tmp_path: Path) -> None:
    cat, data = _catalog(tmp_path, 4)
    old = Catalog(cat).obs
    _files(data / "y2000", 2, start=10)
    stats = stat_files(sorted(str(p) for p in (data / "y2000").glob("*.nc")))
    add_entry(cat, old.replace(files=6, fingerprint=fingerprint(stats)), overwrite=True)
    new = Catalog(cat).obs
    assert new.files_manifest != old.files_manifest
    assert not Path(old.resolve(old.files_manifest)).exists()
    assert freshness.read_header(new.resolve(new.files_manifest)).count == 6
    assert not freshness.check(new).file_set_changed
    remove_entry(cat, "obs")
    assert list(freshness.sidecar_dir(cat).glob("*.jsonl")) == []


def test_lint_names_missing_and_added_files(tmp_path: Path) -> None:
    cat, data = _catalog(tmp_path, 4)
    (data / "y2000" / "obs_00002.nc").unlink()
    _files(data / "y2000", 1, start=40)
    messages = [p.message for p in lint(cat, open_representations=False)]
    assert any("obs_00002.nc" in m and "missing" in m for m in messages), messages
    assert any("obs_00040.nc" in m and "added" in m for m in messages), messages


@pytest.mark.parametrize("value", ["soon", "nan"])
def test_bad_full_check_setting_is_one_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    cfg = tmp_path / "config.yaml"
    cfg.write_text(f"freshness:\n  full-check-minutes: {value}\n")
    monkeypatch.delenv(freshness.ENV_FULL_CHECK, raising=False)
    monkeypatch.setenv("GEOSHELF_CONFIG", str(cfg))
    with pytest.raises(CatalogError, match="full-check-minutes: expected minutes"):
        freshness.full_check_period_ns()
    cfg.write_text("freshness:\n  full-check-minutes: 15\n")
    assert freshness.full_check_period_ns() == 15 * 60 * 10**9
