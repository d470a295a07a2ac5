"""References campaigns index the files on the workers and combine once on the client."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from geoshelf.campaign import load_spec, run_campaign
from geoshelf.catalog import Catalog, add_entry
from geoshelf.convert.base import dask_client
from geoshelf.convert.refcombine import combine_partials, identical_dims
from geoshelf.convert.references import combine, many_refs, single_refs
from geoshelf.convert.refindex import index_files
from geoshelf.convert.sources import read_source
from geoshelf.scan import scan


@pytest.fixture(scope="module")
def client():  # type: ignore[no-untyped-def]
    from distributed import Client, LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=":0") as cluster, \
            Client(cluster, set_as_default=True) as c:
        yield c


def test_many_refs_spreads_files_over_the_workers(sst_archive: list[Path], client) -> None:  # type: ignore[no-untyped-def]
    from distributed import get_task_stream

    files = [str(f) for f in sst_archive]
    indexed: list[int] = []
    with get_task_stream(client) as ts:
        refs = many_refs(files, progress=indexed.append)
    assert refs == [single_refs(f) for f in files]  # same references, same order
    tasks = [t for t in ts.data if t["key"].startswith("_refs_batch")]
    assert len(tasks) >= 2 and len({t["worker"] for t in tasks}) == 2
    assert len(indexed) == len(tasks) and sum(indexed) == len(files)  # progress as each batch of files comes back


def test_inside_a_worker_task_references_stay_sequential(sst_archive: list[Path], client) -> None:  # type: ignore[no-untyped-def]
    assert dask_client() is client
    assert client.submit(dask_client, pure=False).result() is None  # a task never waits on tasks of its own
    one = str(sst_archive[0])
    assert client.submit(many_refs, [one, one], pure=False).result() == [single_refs(one)] * 2


def test_references_campaign_of_an_entry_is_driven_from_the_client(tmp_path: Path, sst_archive: list[Path],
                                                                   write_spec, local_cluster) -> None:
    cat = tmp_path / "cat.yaml"
    add_entry(cat, scan([str(f) for f in sst_archive], "sst", catalog_dir=str(tmp_path)))
    spec = write_spec(tmp_path / "refs.yaml", catalog=str(cat), inputs={"entries": ["sst"]}, target="references",
                      options={"store": "json"}, output="out", cluster=local_cluster)
    assert load_spec(spec).runs_on_client()
    summary = run_campaign(spec)
    assert summary.exit_code == 0 and summary.report["units"]["done"] == 1
    out = tmp_path / "out" / "sst.refs.json"
    files = [str(f) for f in sst_archive]
    expected = combine([single_refs(f) for f in files], "time", ["lat", "lon"])
    assert json.loads(out.read_text()) == json.loads(json.dumps(expected))
    entry = Catalog(cat).sst
    assert entry.representation("references") is not None
    np.testing.assert_array_equal(entry.to_dask(representation="references").sst.values,
                                  entry.to_dask(representation="original").sst.values)


def test_index_files_reads_references_and_sources_in_one_task_per_batch(sst_archive: list[Path],
                                                                         client) -> None:  # type: ignore[no-untyped-def]
    from distributed import get_task_stream

    files = [str(f) for f in sst_archive]
    done: list[int] = []
    with get_task_stream(client) as ts:
        got = index_files(files, "netcdf4", concat_dim="time", progress=done.append)
    assert got.refs == [single_refs(f) for f in files]  # same references, same order
    assert repr(got.sources) == repr([read_source(f, "netcdf4") for f in files])  # NaN attributes: compare reprs
    tasks = [t for t in ts.data if t["key"].startswith("_index_batch")]
    assert len(tasks) == got.timings["tasks"] >= 2 and len({t["worker"] for t in tasks}) == 2
    assert not [t for t in ts.data if not t["key"].startswith("_index_batch")]  # no other round trip
    assert len(got.partials) == len(tasks) and all(p is not None for p in got.partials)
    assert len(done) == len(tasks) and sum(done) == len(files)  # progress as each task's files come back


def test_the_two_stage_combine_is_the_one_stage_combine(sst_archive: list[Path], client) -> None:  # type: ignore[no-untyped-def]
    files = [str(f) for f in sst_archive]
    got = index_files(files, "netcdf4", concat_dim="time")
    identical = identical_dims(got.refs, got.sources, "time")
    assert identical == ["lat", "lon"]
    two = combine_partials(got.partials, identical, "time")
    assert two is not None
    assert json.dumps(two) == json.dumps(combine(got.refs, "time", identical))  # same keys, order and bytes


def test_batches_that_interleave_in_time_are_combined_at_once(sst_archive: list[Path],
                                                             client) -> None:  # type: ignore[no-untyped-def]
    files = [str(f) for f in sst_archive]
    shuffled = files[0::2] + files[1::2]  # each task's days interleave with the others'
    got = index_files(shuffled, "netcdf4", concat_dim="time")
    assert combine_partials(got.partials, ["lat", "lon"], "time") is None
    assert combine_partials(got.partials[:1], ["lat", "lon"], "time") is None  # one batch: nothing to gain
    ordered = index_files(files, "netcdf4", concat_dim="time")
    assert combine_partials(ordered.partials, ["lat", "lon", "step"], "time") is None  # other identical variables
    assert combine_partials([*ordered.partials[:-1], None], ["lat", "lon"], "time") is None  # a batch failed
