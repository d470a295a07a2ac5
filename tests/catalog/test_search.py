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
        and e.bbox[1] <= box[1] and e.bbox[3] >= box[0] and any(e.bbox[0] <= qlon[1] + k and e.bbox[2] >= qlon[0] + k for k in (-360, 0, 360))
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
