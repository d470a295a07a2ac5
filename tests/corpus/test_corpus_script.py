"""scripts/corpus.py: a file that cannot be fetched or does not match its sha256 is named, and the
run fails (exit 1) rather than leaving CI with a partial corpus."""

from __future__ import annotations

import hashlib
import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def corpus():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("corpus_script", ROOT / "scripts" / "corpus.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _manifest(member_sha: str, via: str = "wheel") -> dict:
    import xarray

    return {"sources": [{"name": "xarray", "package": "xarray", "version": xarray.__version__, "via": via,
                         "installed": via == "wheel"}],
            "files": [{"path": "xarray/example_1.nc", "source": "xarray", "member": "xarray/tests/data/example_1.nc",
                       "sha256": member_sha, "kind": "netcdf3"}]}


def test_verified_file_lands_in_the_cache_read_only(corpus, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    import xarray

    data = (Path(xarray.__file__).parent / "tests" / "data" / "example_1.nc").read_bytes()
    assert corpus.fetch(_manifest(hashlib.sha256(data).hexdigest()), tmp_path) == []
    out = tmp_path / "files" / "xarray" / "example_1.nc"
    assert out.read_bytes() == data and not out.stat().st_mode & 0o222
    assert corpus.fetch(_manifest(hashlib.sha256(data).hexdigest()), tmp_path, check_only=True) == []


def test_wrong_sha256_names_the_file_and_stores_nothing(corpus, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    problems = corpus.fetch(_manifest("0" * 64), tmp_path)
    assert len(problems) == 1 and problems[0].startswith("xarray/example_1.nc: sha256 ")
    assert "the manifest says 000" in problems[0]
    assert not (tmp_path / "files" / "xarray" / "example_1.nc").exists()


def test_source_that_cannot_be_fetched_names_each_file(corpus, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    problems = corpus.fetch(_manifest("0" * 64, via="carrier-pigeon"), tmp_path)
    assert problems == ["xarray/example_1.nc: cannot fetch xarray " + _manifest("")["sources"][0]["version"]
                        + " (carrier-pigeon): source xarray: unknown 'via' 'carrier-pigeon'"]


def test_main_fails_with_the_count_when_a_file_is_missing(corpus, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                          capsys: pytest.CaptureFixture[str]) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("GEOSHELF_CORPUS", str(tmp_path))
    assert corpus.main(["--check"]) == 1
    err = capsys.readouterr().err
    assert "corpus: FAILED xarray/example_1.nc: missing" in err
    assert f"files missing or wrong in {tmp_path}" in err
