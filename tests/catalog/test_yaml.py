"""Catalog YAML: safe loading, exact round trips, comments and untouched entries preserved."""

from __future__ import annotations

import string
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from geoshelf.catalog import Catalog, Entry, Provenance, Representation, add_entry, remove_entry, update_entry
from geoshelf.errors import CatalogError, NameClashError, UnsafeCatalogError

HAND_WRITTEN = """\
# Site catalog -- curated by the data team. Review changes in a merge request.
metadata:
  version: 1
  description: "team catalog"   # shown in listings

sources:
  # NOAA OISST, daily, 0.25 deg
  oisst:
      description: 'Daily OISST'     # odd indentation on purpose
      driver: netcdf
      args:
        urlpath: "/gpfs/data/oisst/*.nc"
        chunks: {}
      metadata:
        owner: ocean-team
        geoshelf: {format: netcdf, variables: [sst, anom], bytes: 10, files: 2}

  era5:   # reanalysis
    driver: zarr
    args:
      urlpath: /gpfs/data/era5.zarr
    metadata:
      geoshelf:
        format: zarr
        tags:
        - reanalysis
        - hourly
"""


def test_untouched_entries_and_comments_survive_an_edit(tmp_path: Path) -> None:
    path = tmp_path / "cat.yaml"
    path.write_text(HAND_WRITTEN)
    add_entry(path, Entry(name="new", urlpath="/x/*.nc", variables=["t"], files=1, bytes=3))
    text = path.read_text()
    assert text.startswith(HAND_WRITTEN.rstrip("\n").rsplit("\n", 0)[0][:200])
    # every original line is still there, byte for byte, in order
    assert text.startswith(HAND_WRITTEN)
    cat = Catalog(path)
    assert list(cat) == ["oisst", "era5", "new"]
    assert cat.oisst.extra_metadata == {"owner": "ocean-team"}
    # editing one entry leaves the other's bytes and all comments alone
    update_entry(path, cat.new.replace(description="changed"))
    text2 = path.read_text()
    assert text2.startswith(HAND_WRITTEN)
    assert "description: changed" in text2
    remove_entry(path, "new")
    assert path.read_text() == HAND_WRITTEN


def test_update_keeps_comments_inside_the_entry(tmp_path: Path) -> None:
    path = tmp_path / "cat.yaml"
    path.write_text(HAND_WRITTEN)
    e = Catalog(path).era5
    update_entry(path, e.replace(description="ERA5 hourly"))
    text = path.read_text()
    assert "\n\n  era5:" in text and "# reanalysis" in text.split("era5:")[1].splitlines()[0]
    assert "# NOAA OISST, daily, 0.25 deg" in text
    assert "description: 'Daily OISST'     # odd indentation on purpose" in text  # other entry: bytes kept


_names = st.text(alphabet=string.ascii_lowercase + "_", min_size=1, max_size=12).filter(lambda s: s[0] != "_")
_text = st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc")), max_size=40)
_iso = st.dates().map(lambda d: d.isoformat() + "T00:00:00")


@st.composite
def entries(draw: st.DrawFn) -> Entry:
    name = draw(_names)
    reps = draw(st.lists(st.sampled_from(["zarr", "references", "cog", "parquet"]), unique=True, max_size=3))
    t0, t1 = sorted([draw(_iso), draw(_iso)])
    return Entry(
        name=name,
        description=draw(_text),
        urlpath=draw(st.one_of(st.just("/data/" + name + "/*.nc"),
                               st.lists(st.just("{{ CATALOG_DIR }}/f.nc"), min_size=1, max_size=2))),
        variables=draw(st.lists(_names, max_size=4, unique=True)),
        dims=draw(st.dictionaries(_names, st.integers(0, 10**6), max_size=4)),
        time_range=draw(st.one_of(st.none(), st.just((t0, t1)))),
        bbox=draw(st.one_of(st.none(), st.tuples(*[st.floats(-180, 180, allow_nan=False, width=32)] * 4))),
        crs=draw(st.one_of(st.none(), st.just("EPSG:4326"))),
        bytes=draw(st.integers(0, 2**50)),
        files=draw(st.integers(0, 10**5)),
        fingerprint="sha256:" + "ab" * 32,
        tags=draw(st.lists(_names, max_size=3, unique=True)),
        contact=draw(_text),
        license=draw(st.sampled_from(["", "CC-BY-4.0"])),
        representations=[
            Representation(kind=k, path=f"{{{{ CATALOG_DIR }}}}/shelf/{name}.{k}", format=k,
                           provenance=Provenance(source_fingerprint="sha256:00", bytes_out=draw(st.integers(0, 10**9)),
                                                 parameters={"layout": "map", "n": 3}))
            for k in reps
        ],
    )


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(batch=st.lists(entries(), min_size=1, max_size=5, unique_by=lambda e: e.name))
def test_round_trip_is_exact(tmp_path: Path, batch: list[Entry]) -> None:
    path = tmp_path / f"rt-{abs(hash(tuple(e.name for e in batch)))}.yaml"
    path.unlink(missing_ok=True)
    for e in batch:
        add_entry(path, e)
    cat = Catalog(path)
    assert list(cat) == [e.name for e in batch]
    for e in batch:
        got = cat[e.name]
        assert got == e.replace(catalog_dir=None)
    before = path.read_text()
    for e in batch:  # rewriting identical entries changes nothing
        update_entry(path, cat[e.name])
    assert path.read_text() == before


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("sources:\n  x: !!python/object/apply:os.system ['echo pwned']\n", UnsafeCatalogError),
        ("sources:\n  x:\n    driver: !custom thing\n", UnsafeCatalogError),
        ("sources:\n  x:\n    driver: os.system\n    args: {}\n", UnsafeCatalogError),
        ("sources:\n  x:\n    driver: intake_xarray.netcdf.NetCDFSource\n", UnsafeCatalogError),
        ("sources: [\n", CatalogError),
        ("just a string\n", CatalogError),
        ("sources:\n  - a\n", CatalogError),
        ("a: 1\n---\nb: 2\n", CatalogError),
    ],
)
def test_unsafe_or_malformed_catalogs_are_refused(tmp_path: Path, text: str, error: type[Exception]) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(error) as info:
        Catalog(path)
    message = str(info.value)
    assert str(path) in message and "\n" not in message
    with pytest.raises(error):  # an edit is refused too, and the file is untouched
        add_entry(path, Entry(name="y", urlpath="/y.nc"))
    assert path.read_text() == text


def test_name_clash_and_invalid_names(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    add_entry(path, Entry(name="a", urlpath="/a.nc"))
    before = path.read_bytes()
    with pytest.raises(NameClashError, match="already exists"):
        add_entry(path, Entry(name="a", urlpath="/b.nc"))
    for bad in ("", "1abc", "a b", "a.b", "../x"):
        with pytest.raises(CatalogError, match="invalid entry name"):
            add_entry(path, Entry(name=bad, urlpath="/b.nc"))
    assert path.read_bytes() == before


def test_catalog_includes_other_catalogs(tmp_path: Path) -> None:
    team = tmp_path / "teams" / "ocean.yaml"
    add_entry(team, Entry(name="sst", urlpath="/d/sst/*.nc", variables=["sst"], tags=["ocean"]))
    site = tmp_path / "site.yaml"
    site.write_text("sources:\n  ocean:\n    driver: yaml_file_cat\n"
                    "    args:\n      path: '{{ CATALOG_DIR }}/teams/ocean.yaml'\n")
    add_entry(site, Entry(name="local", urlpath="/d/x.nc", variables=["t"]))
    cat = Catalog(site)
    assert list(cat) == ["ocean", "local"]
    assert cat.ocean.sst.variables == ["sst"]
    assert cat["ocean.sst"].name == "sst"
    assert list(cat.search(variable="sst")) == ["ocean.sst"]
    loop = tmp_path / "loop.yaml"
    loop.write_text("sources:\n  me:\n    driver: yaml_file_cat\n    args: {path: '{{ CATALOG_DIR }}/loop.yaml'}\n")
    with pytest.raises(CatalogError, match="includes itself"):
        Catalog(loop)["me"]
