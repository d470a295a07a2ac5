"""The ``gateway`` profile against a real dask-gateway server started here on 127.0.0.1.

The server uses dask-gateway's local backend (``UnsafeLocalBackend``: schedulers and workers are
processes on this machine, as the same user), which is what a JupyterHub / Kubernetes / HPC
deployment swaps for its own backend; the client side, the one geoshelf drives, is the same.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import textwrap
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import hypothesis  # noqa: F401 - imported before the gateway's event loops run: on CPython 3.11.7 the
import numpy as np  # hypothesis plugin's late import at session end then hit "AST constructor recursion
import pytest  # depth mismatch" (gh-106905) after these tests, failing a run whose tests all passed
import xarray as xr

from geoshelf.catalog import Catalog
from geoshelf.cluster import client, get_profile
from geoshelf.errors import ClusterError

pytestmark = pytest.mark.network


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A dask-gateway server on 127.0.0.1; yields the address clients use (its proxy)."""
    root = tmp_path_factory.mktemp("gateway")
    api, proxy = _free_port(), _free_port()
    bindir = Path(sys.executable).parent
    env_for_workers = {"PYTHONPATH": os.environ.get("PYTHONPATH", "")}
    (root / "config.py").write_text(textwrap.dedent(f"""
        c.DaskGateway.backend_class = "dask_gateway_server.backends.local.UnsafeLocalBackend"
        c.DaskGateway.address = "127.0.0.1:{api}"
        c.Proxy.address = "127.0.0.1:{proxy}"
        c.DaskGateway.authenticator_class = "dask_gateway_server.auth.SimpleAuthenticator"
        c.ClusterConfig.scheduler_cmd = [{str(bindir / 'dask')!r}, "scheduler"]
        c.ClusterConfig.worker_cmd = [{str(bindir / 'dask')!r}, "worker"]
        c.ClusterConfig.worker_cores = 1
        c.ClusterConfig.worker_memory = 1
        c.ClusterConfig.cluster_max_workers = 2
        c.ClusterConfig.environment = {env_for_workers!r}
        c.UnsafeLocalBackend.cluster_status_period = 0.5
        c.UnsafeLocalBackend.worker_status_period = 0.5
    """))
    log = open(root / "server.log", "w")
    proc = subprocess.Popen([str(bindir / "dask-gateway-server"), "-f", str(root / "config.py")],
                            cwd=root, stdout=log, stderr=subprocess.STDOUT)
    address = f"http://127.0.0.1:{proxy}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # the proxy listens before the API behind it answers: ask the API
        try:
            with urllib.request.urlopen(f"{address}/api/health", timeout=5) as resp:
                if resp.status == 200:
                    break
        except OSError:
            pass
        if proc.poll() is not None:
            pytest.fail(f"dask-gateway-server exited: {(root / 'server.log').read_text()[-2000:]}")
        time.sleep(0.2)
    else:
        proc.kill()
        pytest.fail("dask-gateway-server did not start within 60 s")
    try:
        yield address
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("GEOSHELF_") and "__" in name:
            monkeypatch.delenv(name)
    monkeypatch.setenv("GEOSHELF_CONFIG", str(tmp_path / "no-config.yaml"))
    monkeypatch.setenv("GEOSHELF_INDEX_DIR", str(tmp_path / "index"))


def test_notebook_client_on_the_gateway_computes_a_catalog_entry(gateway: str, catalog: Catalog) -> None:
    """What an analyst types in a notebook: one call for a client, then the shelf as usual."""
    c = client("gateway", address=gateway, auth="basic", username="analyst", max_workers=2)
    try:
        assert type(c.cluster).__name__ == "GatewayCluster"
        assert c.submit(lambda x: x * 2, 21).result(timeout=120) == 42
        ds = catalog["sst"].to_dask()
        got = float(ds["sst"].mean().compute())  # runs on the gateway's workers (the default client)
        with xr.open_mfdataset(sorted(catalog["sst"].source_files())) as direct:
            want = float(direct["sst"].mean().compute(scheduler="synchronous"))
        assert np.isclose(got, want, rtol=1e-6)
        assert len(c.scheduler_info()["workers"]) >= 1
    finally:
        c.cluster.close()
        c.close()


def test_campaign_runs_on_the_gateway_profile(gateway: str, tmp_path: Path, sst_files: list[Path]) -> None:
    import yaml

    from geoshelf.campaign import run_campaign

    data = tmp_path / "data"
    data.mkdir()
    for f in sst_files[:4]:
        shutil.copy2(f, data / f.name)
    spec = tmp_path / "gw.yaml"
    spec.write_text(yaml.safe_dump({
        "catalog": "cat.yaml", "inputs": {"files": ["data/*.nc"], "name": "day_{stem}"}, "target": "zarr",
        "options": {"layout": "map"}, "batch_size": 2,
        "cluster": {"profile": "gateway", "address": gateway, "auth": "basic", "username": "ops",
                    "max-workers": 2},
    }, sort_keys=False))
    summary = run_campaign(spec)
    assert summary.exit_code == 0, summary.report
    assert summary.report["units"]["done"] == 4
    cat = Catalog(tmp_path / "cat.yaml")
    for f in sst_files[:4]:
        entry = cat[f"day_{f.stem}"]
        with xr.open_dataset(f) as src:
            np.testing.assert_array_equal(entry.to_dask(representation="zarr")["sst"].values, src["sst"].values)


def test_an_unreachable_gateway_is_one_clear_error() -> None:
    port = _free_port()  # nothing listens there
    with pytest.raises(ClusterError, match=r"gateway: cannot start a cluster at http://127.0.0.1:\d+"):
        client("gateway", address=f"http://127.0.0.1:{port}")
    with pytest.raises(ClusterError, match="not the http"):
        get_profile("gateway")  # no address configured
    with pytest.raises(ClusterError, match="auth 'ldap'"):
        get_profile("gateway", {"address": "http://127.0.0.1:1", "auth": "ldap"})


@pytest.fixture
def sst_files(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    from geoshelf.demo.data import make_sst

    return make_sst(tmp_path_factory.mktemp("gwsst"), days=4, ny=18, nx=36)
