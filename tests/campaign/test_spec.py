"""Spec validation: every problem is one clear line before anything runs."""

from __future__ import annotations

from pathlib import Path

import pytest

from geoshelf.campaign import load_spec
from geoshelf.cli import main
from geoshelf.errors import CampaignError


def _err(tmp_path: Path, text: str) -> str:
    spec = tmp_path / "c.yaml"
    spec.write_text(text)
    with pytest.raises(CampaignError) as err:
        load_spec(spec)
    msg = str(err.value)
    assert "\n" not in msg
    assert msg.startswith(str(spec))
    return msg[len(str(spec)) + 2:]


@pytest.mark.parametrize(("text", "message"), [
    ("inputs: {entries: [sst]}\ntarget: zarr\nbatch_sise: 5\n",
     "unknown key 'batch_sise' (did you mean 'batch_size'?)"),
    ("target: zarr\n", "inputs is required: {entries: [NAME, ...]} or {files: [GLOB, ...]}"),
    ("inputs: {entries: [a], files: ['*.nc']}\ntarget: zarr\n", "inputs needs exactly one of 'entries'"),
    ("inputs: {entries: [a]}\n", "target is required (zarr, references, cog, parquet, or null to shelve only)"),
    ("inputs: {entries: [a]}\ntarget: tiff\n", "unknown target 'tiff' (installed targets:"),
    ("inputs: {entries: [a]}\ntarget: null\n", "target is null, but catalog entries are already shelved"),
    ("inputs: {entries: [a]}\ntarget: zarr\nbatch_size: ten\n", "batch_size must be a positive integer, not 'ten'"),
    ("inputs: {entries: [a]}\ntarget: zarr\nmax_jobs: 0\n", "max_jobs must be a positive integer, not 0"),
    ("inputs: {entries: [a]}\ntarget: zarr\nretries: -1\n", "retries must be an integer >= 0, not -1"),
    ("inputs: {entries: [a]}\ntarget: zarr\nretry_backoff: soon\n", "retry_backoff: 'soon' is not a duration"),
    ("inputs: {entries: [a]}\ntarget: zarr\nvalidate: maybe\n",
     "validate must be 'full' or 'sample' for target 'zarr', not 'maybe'"),
    ("inputs: {files: ['*.nc'], name: '{year}'}\ntarget: zarr\n", "inputs.name uses {year}, which is neither"),
    ("inputs: {files: ['*.nc'], pattern: '(?P<y'}\ntarget: zarr\n", "inputs.pattern '(?P<y' is not a valid regex"),
    ("inputs: {entries: [a]}\ntarget: zarr\ncluster: {profile: pbs, queeu: x}\n",
     "cluster: cluster profile 'pbs' has no setting 'queeu' (did you mean 'queue'?)"),
    ("inputs: {entries: [a]}\ntarget: zarr\ncluster: lsf\n", "cluster: unknown cluster profile 'lsf'"),
    ("inputs: [a, b\n", "malformed YAML:"),
    ("- a\n- b\n", "a campaign spec must be a YAML mapping"),
])
def test_spec_errors_are_one_line(tmp_path: Path, text: str, message: str) -> None:
    assert _err(tmp_path, text).startswith(message)


def test_defaults_and_relative_paths(tmp_path: Path, write_spec) -> None:
    spec = load_spec(write_spec(tmp_path / "era5.yaml", catalog="cat.yaml", inputs={"files": ["data/*.nc"]},
                                target="zarr", output="shelf"))
    assert spec.name == "era5" and spec.mode == "files"
    assert spec.catalog == tmp_path / "cat.yaml" and spec.output == tmp_path / "shelf"
    assert spec.files == (str(tmp_path / "data/*.nc"),)
    assert spec.state_dir == tmp_path / "era5.state"
    assert (spec.batch_size, spec.retries, spec.retry_backoff) == (20, 2, 10.0)  # geoshelf.yaml defaults
    assert not spec.runs_on_client()  # files are converted inside the worker tasks they are packed into
    entries = load_spec(write_spec(tmp_path / "e.yaml", inputs={"entries": ["sst"]}, target="zarr"))
    assert entries.runs_on_client()  # a whole entry to zarr: a dask graph driven from the client


def test_cli_reports_a_bad_spec_in_one_line_with_exit_code(tmp_path: Path, write_spec,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    spec = write_spec(tmp_path / "bad.yaml", inputs={"entries": ["sst"]}, target="zarr", batch_size=0)
    assert main(["campaign", "run", str(spec), "--dry-run"]) == CampaignError.exit_code
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"geoshelf: error: {spec}: batch_size must be a positive integer, not 0"]


def test_missing_spec(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["campaign", "status", str(tmp_path / "nope.yaml")]) == CampaignError.exit_code
    assert "campaign spec not found" in capsys.readouterr().err


@pytest.mark.parametrize("how", ["relative", "absolute", "option", "symlink", "default"])
def test_a_spec_that_names_itself_as_catalog_is_refused(tmp_path: Path, write_spec, how: str,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """A spec whose catalog is the spec file would get its results written into itself (200 entries once)."""
    from geoshelf.campaign import run_campaign

    (tmp_path / "data").mkdir()
    spec = tmp_path / "self.yaml"
    fields = {"inputs": {"files": ["data/*.nc"]}, "target": None}
    if how == "relative":
        fields["catalog"] = "self.yaml"
    elif how == "absolute":
        fields["catalog"] = str(spec)
    elif how == "symlink":
        (tmp_path / "link.yaml").symlink_to(spec)
        fields["catalog"] = "link.yaml"
    elif how == "default":
        monkeypatch.setenv("GEOSHELF_CATALOG", str(spec))
    write_spec(spec, **fields)
    before = spec.read_bytes()
    with pytest.raises(CampaignError, match="catalog is the spec file itself") as err:
        run_campaign(spec, catalog=spec if how == "option" else None)
    assert "\n" not in str(err.value) and str(err.value).startswith(str(spec))
    assert spec.read_bytes() == before
