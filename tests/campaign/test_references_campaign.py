"""References campaigns index the files on the workers and combine once on the client."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from geoshelf.campaign import load_spec, run_campaign
from geoshelf.catalog import Catalog, add_entry
from geoshelf.convert.base import dask_client
from geoshelf.convert.references import combine, many_refs, single_refs
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
