"""Declared target options: unknown or ill-typed options are refused before any work, with a
did-you-mean, the same way on the command line, from Python and in campaign specs (also --dry-run)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from geoshelf import convert
from geoshelf.cli import build_parser, main
from geoshelf.contract import Option
from geoshelf.errors import CampaignError, OptionError
from geoshelf.registry import get_target, list_targets, target_names


def _nothing_written(catalog_path: Path, before: bytes) -> None:
    assert catalog_path.read_bytes() == before
    shelf = catalog_path.parent / "shelf"
    assert not shelf.exists() or not any(shelf.iterdir())


@pytest.mark.parametrize(("argv", "message"), [
    (["--to", "zarr", "--option", "layot=map"], "target 'zarr' has no option 'layot' (did you mean 'layout'?)"),
    (["--to", "references", "--option", "stor=parquet"],
     "target 'references' has no option 'stor' (did you mean 'store'?)"),
    (["--to", "cog", "--option", "profil=jpeg"], "target 'cog' has no option 'profil' (did you mean 'profile'?)"),
    (["--to", "zarr", "--layout", "mapp"], "unknown layout 'mapp' (did you mean 'map'?"),
    (["--to", "zarr", "--zarr-version", "two"], "option 'zarr_version' must be an integer, not 'two'"),
    (["--to", "zarr", "--zarr-version", "4"], "unknown zarr_version 4"),
    (["--to", "zarr", "--chunks", "time"], "option 'chunks' must be a mapping, not 'time'"),
    (["--to", "cog", "--layout", "map"], "target 'cog' has no option 'layout' (its options: profile,"),
    (["--to", "zarr", "--layout", "map", "--option", "layout=map"], "option 'layout' given twice"),
])
def test_cli_refuses_bad_options_in_one_line(catalog_path: Path, capsys: pytest.CaptureFixture[str],
                                              argv: list[str], message: str) -> None:
    before = catalog_path.read_bytes()
    assert main(["convert", "sst", *argv, "--catalog", str(catalog_path)]) != 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0], err
    _nothing_written(catalog_path, before)


@pytest.mark.parametrize(("to", "options", "message"), [
    ("zarr", {"layuot": "map"}, "sst: target 'zarr' has no option 'layuot' (did you mean 'layout'?)"),
    ("zarr", {"layout": 3}, "option 'layout' must be a string, not 3"),
    ("zarr", {"zarr_version": "2"}, "option 'zarr_version' must be an integer, not '2'"),
    ("zarr", {"level": True}, "option 'level' must be an integer, not True"),
    ("zarr", {"variables": "sst"}, "option 'variables' must be a list of strings, not 'sst'"),
    ("references", {"store": "jsn"}, "unknown store 'jsn' (did you mean 'json'?"),
    ("parquet", {"partition": "week"}, "unknown partition 'week'"),
])
def test_python_refuses_bad_options(catalog_path: Path, to: str, options: dict, message: str) -> None:
    before = catalog_path.read_bytes()
    with pytest.raises(OptionError) as err:
        convert("sst" if to != "parquet" else "stations", to, catalog=catalog_path, **options)
    assert message in str(err.value)
    _nothing_written(catalog_path, before)


def test_campaign_spec_options_fail_at_plan_time_and_dry_run(tmp_path: Path, catalog_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    spec = tmp_path / "c.yaml"
    spec.write_text(yaml.safe_dump({"catalog": str(catalog_path), "inputs": {"entries": ["sst"]}, "target": "zarr",
                                    "options": {"layout": "mapp"}}))
    assert main(["campaign", "run", str(spec), "--dry-run"]) == CampaignError.exit_code
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"geoshelf: error: {spec}: options: unknown layout 'mapp' (did you mean 'map'? "
                   "choose from map, timeseries, balanced)"]
    spec.write_text(yaml.safe_dump({"catalog": str(catalog_path), "inputs": {"entries": ["sst"]}, "target": "zarr",
                                    "options": {"layot": "map"}}))
    assert main(["campaign", "run", str(spec), "--dry-run"]) == CampaignError.exit_code
    assert "target 'zarr' has no option 'layot' (did you mean 'layout'?)" in capsys.readouterr().err
    assert not (tmp_path / "c.state").exists()


def test_flags_and_choices_come_from_the_installed_targets() -> None:
    parser = build_parser(target_options=True)
    convert_parser = parser._subparsers._group_actions[0].choices["convert"]  # type: ignore[union-attr]
    flags = {s for a in convert_parser._actions for s in a.option_strings}
    for cls in list_targets().values():
        for opt in cls.options:
            assert opt.flag in flags
    to = next(a for a in convert_parser._actions if "--to" in a.option_strings)
    assert tuple(to.choices) == target_names()
    assert target_names()[:4] == ("zarr", "references", "cog", "parquet")


def test_a_generated_flag_reaches_the_writer(catalog_path: Path) -> None:
    """--layout map goes CLI -> registry (the zarr target's declared option) -> the target's writer."""
    import zarr

    from geoshelf.catalog import Catalog

    assert main(["convert", "sst", "--to", "zarr", "--layout", "map", "--catalog", str(catalog_path)]) == 0
    rep = Catalog(catalog_path).sst.representation("zarr")
    assert rep is not None and rep.provenance is not None and rep.provenance.parameters["layout"] == "map"
    arr = zarr.open_array(str(Path(Catalog(catalog_path).sst.resolve(rep.path)) / "sst"))
    assert arr.chunks[0] == 1 and arr.chunks[1:] == arr.shape[1:]  # whole fields per time step


@given(st.one_of(st.integers(), st.text(max_size=5), st.booleans(), st.floats(allow_nan=False),
                 st.lists(st.text(max_size=3), max_size=3)))
def test_option_check_accepts_exactly_its_type(value: object) -> None:
    ints = Option(name="n", type=int)
    if isinstance(value, int) and not isinstance(value, bool):
        assert ints.check(value) == value
        assert ints.parse(str(value)) == value
    else:
        with pytest.raises(OptionError, match="option 'n' must be an integer"):
            ints.check(value)


def test_declared_defaults_fill_the_plan(catalog: object) -> None:
    entry = catalog["sst"]  # type: ignore[index]
    assert get_target("zarr").plan(entry, {}) == {"layout": "balanced", "zarr_version": 3, "level": 3}
    assert get_target("zarr").plan(entry, {"layout": None, "chunks": {"time": 2}})["layout"] == "explicit"
    planned = get_target("zarr").plan(entry, {"chunks": {"time": 2}})
    assert get_target("zarr").plan(entry, planned) == planned  # planning twice changes nothing
