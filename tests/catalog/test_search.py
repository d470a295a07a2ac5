"""Search: property tests against a direct model of the criteria."""

from __future__ import annotations

import datetime as dt
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from geoshelf.catalog import Catalog, Entry, add_entry
from geoshelf.catalog.search import Query, QueryError, parse_time
from geoshelf.errors import GeoshelfError

dates = st.dates(min_value=dt.date(1950, 1, 1), max_value=dt.date(2030, 12, 31))


@st.composite
def entry(draw: st.DrawFn, i: int) -> Entry:
    d0, d1 = sorted([draw(dates), draw(dates)])
    lat0, lat1 = sorted([draw(st.integers(-90, 90)), draw(st.integers(-90, 90))])
    lon0 = draw(st.integers(-180, 170))
    lon1 = draw(st.integers(lon0, 180))
    return Entry(
        name=f"e{i}", urlpath=f"/d/{i}.nc",
        variables=draw(st.lists(st.sampled_from(["sst", "t2m", "pr", "u", "v"]), unique=True, max_size=3)),
        time_range=(d0.isoformat() + "T00:00:00", d1.isoformat() + "T00:00:00"),
        bbox=(float(lon0), float(lat0), float(lon1), float(lat1)),
        tags=draw(st.lists(st.sampled_from(["ocean", "land", "daily"]), unique=True, max_size=2)),
    )


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_search_matches_model(tmp_path: Path, data: st.DataObject) -> None:
    n = data.draw(st.integers(1, 12))
    entries = [data.draw(entry(i)) for i in range(n)]
    path = Path(tempfile.mkdtemp(dir=tmp_path)) / "s.yaml"
    for e in entries:
        add_entry(path, e)
    cat = Catalog(path)
    year = data.draw(st.integers(1950, 2030))
    var = data.draw(st.sampled_from(["sst", "t2m", "pr"]))
    box = sorted([data.draw(st.integers(-90, 90)) for _ in range(2)])
    qlon = sorted([data.draw(st.integers(-180, 180)) for _ in range(2)])
    got = set(cat.search(time=str(year), variable=var, bbox=(qlon[0], box[0], qlon[1], box[1])))
    want = {
        e.name for e in entries
        if int(e.time_range[0][:4]) <= year <= int(e.time_range[1][:4])
        and var in e.variables
        and e.bbox[1] <= box[1] and e.bbox[3] >= box[0]
        and any(e.bbox[0] <= qlon[1] + k and e.bbox[2] >= qlon[0] + k for k in (-360, 0, 360))
    }
    assert got == want
    tag = data.draw(st.sampled_from(["ocean", "land"]))
    assert set(cat.search(tags=tag)) == {e.name for e in entries if tag in e.tags}


def test_time_query_forms() -> None:
    assert parse_time("2020") == ("2020-01-01T00:00:00", "2020-12-31T23:59:59")
    assert parse_time("2020-02") == ("2020-02-01T00:00:00", "2020-02-29T23:59:59")
    assert parse_time("2020-01-05/2020-03") == ("2020-01-05T00:00:00", "2020-03-31T23:59:59")
    for bad in ("last year", "2020/2019", "20-01"):
        with pytest.raises(QueryError):
            Query.build(time=bad)
    with pytest.raises(QueryError):
        Query.build(bbox="1,2,3")


# -- lists, regular expressions, attributes, facets (intake-esm parity) --------------------------

def _wind_catalog(tmp_path: Path) -> Catalog:
    path = tmp_path / "winds.yaml"
    rows = [
        ("uwind", ["uwnd"], {"uwnd": {"standard_name": "eastward_wind", "long_name": "zonal wind"}},
         {"experiment_id": "historical", "member_id": "r1i1p1f1", "source_id": "MODEL-A"}),
        ("vwind", ["vwnd"], {"vwnd": {"standard_name": "northward_wind", "long_name": "meridional wind"}},
         {"experiment_id": "ssp585", "member_id": "r2i1p1f1", "source_id": "MODEL-A"}),
        ("temp", ["t2m"], {"t2m": {"standard_name": "air_temperature", "long_name": "2 m temperature"}},
         {"experiment_id": "historical", "member_id": "r1i1p1f1", "source_id": "MODEL-B"}),
    ]
    for name, variables, vattrs, facets in rows:
        add_entry(path, Entry(name=name, urlpath=f"/d/{name}.nc", variables=variables, variable_attrs=vattrs,
                              facets=facets, time_range=("2000-01-01T00:00:00", "2000-12-31T00:00:00"),
                              bbox=(0.0, -90.0, 360.0, 90.0)))
    return Catalog(path)


def test_lists_are_any_of_and_regexes_match_in_full(tmp_path: Path) -> None:
    import re

    cat = _wind_catalog(tmp_path)
    assert set(cat.search(variable=["uwnd", "vwnd"])) == {"uwind", "vwind"}  # was [] before lists
    assert set(cat.search(variable=("uwnd",))) == {"uwind"}
    assert set(cat.search(variable=re.compile(r"[uv]wnd"))) == {"uwind", "vwind"}
    assert set(cat.search(variable="re:.wnd")) == {"uwind", "vwind"}
    assert set(cat.search(variable="re:wnd")) == set()  # full match, not a substring
    assert set(cat.search(standard_name="re:.*_wind")) == {"uwind", "vwind"}
    assert set(cat.search(long_name="2 m temperature")) == {"temp"}
    assert set(cat.search("meridional")) == {"vwind"}  # free text reaches long_name
    assert set(cat.search("northward_wind")) == {"vwind"}
    assert set(cat.search(experiment_id="historical")) == {"uwind", "temp"}
    assert set(cat.search(experiment_id="historical", source_id=["MODEL-B", "MODEL-C"])) == {"temp"}
    assert set(cat.search(member_id="re:r[12]i1p1f1", variable=["uwnd", "t2m"])) == {"uwind", "temp"}
    assert set(cat.search(no_such_facet="x")) == set()
    with pytest.raises(QueryError, match="bad regular expression"):
        cat.search(variable="re:(")
    with pytest.raises(QueryError, match="empty list"):
        cat.search(variable=[])


def test_table_unique_and_dataset_dict(tmp_path: Path) -> None:
    cat = _wind_catalog(tmp_path)
    df = cat.df
    assert list(df["name"]) == ["uwind", "vwind", "temp"]
    assert list(df["experiment_id"]) == ["historical", "ssp585", "historical"]
    assert df.loc[df.name == "vwind", "standard_names"].iloc[0] == ["northward_wind"]
    u = cat.unique(["experiment_id", "variables", "source_id"])
    assert u == {"experiment_id": ["historical", "ssp585"], "variables": ["t2m", "uwnd", "vwnd"],
                 "source_id": ["MODEL-A", "MODEL-B"]}
    hits = cat.search(experiment_id="historical")
    assert list(hits.df["name"]) == ["uwind", "temp"]
    assert hits.unique("member_id") == {"member_id": ["r1i1p1f1"]}
    with pytest.raises(GeoshelfError, match="no column .nope."):
        hits.unique("nope")


def test_time_forms_are_validated() -> None:
    import datetime as dt

    assert parse_time(("2020-01", "2020-02")) == ("2020-01-01T00:00:00", "2020-02-29T23:59:59")
    assert parse_time(("2021-02", None)) == ("2021-02-01T00:00:00", "9999-12-31T23:59:59")
    assert parse_time("2021-02") == ("2021-02-01T00:00:00", "2021-02-28T23:59:59")
    assert parse_time((dt.date(2020, 3, 1), dt.datetime(2020, 3, 2, 12))) == \
        ("2020-03-01T00:00:00", "2020-03-02T12:00:00")
    for bad in ("2020-13", "1970-02-30", "2020-00", "2020-01-01T25", ("2020",), ("2020", "2019"), 2020):
        with pytest.raises(QueryError):
            parse_time(bad)  # type: ignore[arg-type]


def test_bbox_is_validated() -> None:
    from geoshelf.catalog.search import parse_bbox

    assert parse_bbox("-150,-10,-110,10") == (-150.0, -10.0, -110.0, 10.0)
    for bad in ("0,-91,10,10", "0,0,10,95", "-190,0,10,10", "0,0,400,10", "a,b,c,d", "1,2,3", "nan,0,1,1"):
        with pytest.raises(QueryError):
            parse_bbox(bad)


def test_list_search_through_the_index_equals_the_parsed_catalog(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """Catalogs past the index threshold search through SQLite: same answers for lists and regexes."""
    from geoshelf.catalog import index as index_mod

    monkeypatch.setenv("GEOSHELF_INDEX_DIR", str(tmp_path / "idx"))
    monkeypatch.setattr(index_mod, "MIN_ENTRIES", 5)
    import geoshelf.catalog.catalog as catalog_mod

    monkeypatch.setattr(catalog_mod, "INDEX_MIN_ENTRIES", 5)
    path = tmp_path / "big.yaml"
    names = ["uwnd", "vwnd", "t2m", "pr", "sst"]
    for i in range(20):
        add_entry(path, Entry(name=f"e{i}", urlpath=f"/d/{i}.nc", variables=[names[i % 5]],
                              variable_attrs={names[i % 5]: {"long_name": f"long {names[i % 5]}"}},
                              facets={"member_id": f"r{i % 3}"}))
    Catalog(path)  # builds the index
    cat = Catalog(path)
    assert cat._index is not None
    want = {f"e{i}" for i in range(20) if names[i % 5] in ("uwnd", "vwnd")}
    assert set(cat.search(variable=["uwnd", "vwnd"])) == want
    assert set(cat.search(variable="re:[uv]wnd")) == want
    assert set(cat.search("long uwnd")) == {f"e{i}" for i in range(20) if i % 5 == 0}
    assert set(cat.search(member_id=["r0", "r2"], variable="pr")) == {f"e{i}" for i in range(20)
                                                                      if i % 5 == 3 and i % 3 in (0, 2)}


def test_scan_records_variable_attributes_and_facets(tmp_path: Path, data_copy: dict[str, list[Path]]) -> None:
    from geoshelf.scan import scan

    path = tmp_path / "c.yaml"
    add_entry(path, scan([str(f) for f in data_copy["sst"]], "sst", catalog_dir=str(tmp_path)))
    cat = Catalog(path)
    e = cat["sst"]
    assert e.variable_attrs["sst"]["standard_name"] == "sea_surface_temperature"
    assert e.facets["institution"] == "geoshelf demo"
    assert set(cat.search(standard_name="sea_surface_temperature")) == {"sst"}
    assert set(cat.search(institution="geoshelf demo")) == {"sst"}
    ds = cat.search(standard_name="sea_surface_temperature").to_dataset_dict()
    assert list(ds) == ["sst"] and ds["sst"]["sst"].shape[0] == len(data_copy["sst"])


def test_cli_search_negative_bbox_lists_and_bad_dates(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import json

    from geoshelf.cli import main

    cat = _wind_catalog(tmp_path)
    args = ["search", "--json", "--catalog", str(cat.path)]
    assert main([*args, "--bbox", "-150,-10,-110,10", "--variable", "uwnd", "--variable", "vwnd"]) == 0
    assert [e["name"] for e in json.loads(capsys.readouterr().out)] == ["uwind", "vwind"]
    assert main([*args, "--facet", "experiment_id=historical", "--standard-name", "re:.*wind"]) == 0
    assert [e["name"] for e in json.loads(capsys.readouterr().out)] == ["uwind"]
    for bad in (["--time", "2020-13"], ["--time", "1970-02-30"], ["--bbox", "0,-100,10,10"], ["--facet", "nokv"]):
        assert main([*args, *bad]) != 0
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and err.startswith("geoshelf: error:"), err
