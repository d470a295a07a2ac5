"""The same catalog over HTTP and S3: real servers on 127.0.0.1 (a range-capable HTTP
server and moto's standalone S3 server); credentials only in the user's config."""

from __future__ import annotations

import http.server
import os
import socket
import threading
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from geoshelf.catalog import Catalog, add_entry
from geoshelf.scan import scan

pytestmark = pytest.mark.network


class RangeHandler(http.server.SimpleHTTPRequestHandler):
    """SimpleHTTPRequestHandler with byte ranges (what fsspec needs for random access)."""

    def log_message(self, *args: object) -> None:
        pass

    def send_head(self):  # type: ignore[no-untyped-def]
        rng = self.headers.get("Range")
        path = self.translate_path(self.path)
        if not rng or not os.path.isfile(path):
            return super().send_head()
        size = os.path.getsize(path)
        start_s, end_s = rng.replace("bytes=", "").split("-")
        start = int(start_s) if start_s else size - int(end_s)
        end = min(int(end_s), size - 1) if end_s and start_s else size - 1
        fh = open(path, "rb")
        fh.seek(start)
        self.send_response(206)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
        self.send_header("Content-Length", str(end - start + 1))
        self.send_header("Accept-Ranges", "bytes")
        self.end_headers()
        self._remaining = end - start + 1
        return fh

    def copyfile(self, source, outputfile):  # type: ignore[no-untyped-def]
        remaining = getattr(self, "_remaining", None)
        if remaining is None:
            return super().copyfile(source, outputfile)
        outputfile.write(source.read(remaining))
        self._remaining = None
        return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def http_root(data_copy: dict[str, list[Path]]) -> Iterator[str]:
    root = data_copy["sst"][0].parent.parent
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), partial(RangeHandler, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_http_sources(tmp_path: Path, http_root: str, data_copy: dict[str, list[Path]]) -> None:
    urls = [f"{http_root}/sst/{f.name}" for f in data_copy["sst"]]
    cat_path = tmp_path / "web.yaml"
    add_entry(cat_path, scan(urls, "sst", catalog_dir=str(tmp_path)))
    entry = Catalog(cat_path).sst
    assert entry.urlpath == urls and entry.files == len(urls)
    ds = entry.to_dask()
    local = xr.open_mfdataset([str(f) for f in data_copy["sst"]], combine="by_coords")
    xr.testing.assert_identical(ds.load(), local.load())


@pytest.fixture
def s3(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    from moto.server import ThreadedMotoServer

    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    options = {"key": "testing", "secret": "testing", "client_kwargs": {"endpoint_url": f"http://127.0.0.1:{port}",
                                                                         "region_name": "us-east-1"}}
    cfg = tmp_path / "cfg" / "geoshelf" / "config.yaml"
    cfg.parent.mkdir(parents=True)
    import yaml

    cfg.write_text(yaml.safe_dump({"storage_options": {"s3://geoshelf-test": options}}))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "cfg"))
    for var in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE"):
        monkeypatch.delenv(var, raising=False)
    yield options
    server.stop()


def test_s3_sources_with_credentials_from_user_config(tmp_path: Path, s3: dict,
                                                       data_copy: dict[str, list[Path]]) -> None:
    import boto3
    import s3fs

    boto3.client("s3", endpoint_url=s3["client_kwargs"]["endpoint_url"], region_name="us-east-1",
                 aws_access_key_id="testing", aws_secret_access_key="testing").create_bucket(Bucket="geoshelf-test")
    fs = s3fs.S3FileSystem(**s3)
    for f in data_copy["sst"]:
        fs.put(str(f), f"geoshelf-test/sst/{f.name}")
    cat_path = tmp_path / "cloud.yaml"
    add_entry(cat_path, scan(["s3://geoshelf-test/sst/*.nc"], "sst", catalog_dir=str(tmp_path)))
    text = cat_path.read_text()
    assert "testing" not in text and "endpoint_url" not in text  # no secrets in the YAML
    entry = Catalog(cat_path).sst
    assert entry.files == len(data_copy["sst"])
    ds = entry.to_dask()
    local = xr.open_mfdataset([str(f) for f in data_copy["sst"]], combine="by_coords")
    np.testing.assert_array_equal(ds.sst.values, local.sst.values)
    assert list(ds.time.values) == list(local.time.values)
