"""Opening an entry of an untrusted catalog reads the files it names and nothing else happens on
the reader's side: no file truncated or written, no credential sent to another host.
Real servers on 127.0.0.1 record what reaches them."""

from __future__ import annotations

import hashlib
import http.server
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from geoshelf.catalog import Catalog, Entry
from geoshelf.catalog.lint import lint
from geoshelf.errors import GeoshelfError, UnsafeCatalogError
from geoshelf.load import open_entry


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def with_entry(catalog_path: Path, name: str, src: dict[str, Any]) -> Catalog:
    data = yaml.safe_load(catalog_path.read_text())
    data["sources"][name] = src
    catalog_path.write_text(yaml.safe_dump(data, sort_keys=False))
    return Catalog(catalog_path)


def test_mode_w_in_xarray_kwargs_does_not_truncate_the_file(catalog_path: Path, tmp_path: Path,
                                                             data_copy: dict[str, list[Path]]) -> None:
    precious = data_copy["sst"][0]
    before = digest(precious)
    src = {"driver": "netcdf", "args": {"urlpath": str(precious), "xarray_kwargs": {"engine": "netcdf4", "mode": "w"}},
           "metadata": {"geoshelf": {"format": "netcdf"}}}
    cat = with_entry(catalog_path, "precious", src)
    with pytest.raises(UnsafeCatalogError, match="option 'mode' is not allowed"):
        cat.precious.to_dask()
    assert [p.entry for p in lint(catalog_path) if p.level == "error"] == ["precious"]
    # an Entry that never went through a Catalog (e.g. built from a dict) is refused by the loader too
    with pytest.raises(UnsafeCatalogError, match="option 'mode' is not allowed"):
        open_entry(Entry.from_source("precious", src))
    for kwargs in ({"engine": "h5netcdf", "mode": "a"}, {"backend_kwargs": {"mode": "w"}},
                   {"engine": "netcdf4", "clobber": True, "persist": True}):
        with pytest.raises(UnsafeCatalogError, match="is not allowed|has a value not allowed"):
            args = {"urlpath": str(precious), "xarray_kwargs": kwargs}
            open_entry(Entry.from_source("precious", {**src, "args": args}))
    assert digest(precious) == before
    # the caller's own keyword arguments are theirs to give
    ds = open_entry(Entry.from_source("precious", {**src, "args": {"urlpath": str(precious)}}), decode_times=False)
    assert ds.time.attrs["units"].startswith("days since")
    assert digest(precious) == before


class Recorder(http.server.BaseHTTPRequestHandler):
    """Answers 404 to everything and records each request's path and headers."""

    seen: list[tuple[str, dict[str, str]]]
    body: bytes = b""

    def log_message(self, *args: object) -> None:
        pass

    def _answer(self) -> None:
        self.seen.append((self.path, dict(self.headers)))
        if self.body and self.path.endswith("/authorized_keys"):
            self.send_response(200)
            self.send_header("Content-Length", str(len(self.body)))
            self.end_headers()
            if self.command == "GET":
                self.wfile.write(self.body)
            return
        self.send_response(404)
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_GET = do_HEAD = _answer


@pytest.fixture
def servers() -> Iterator[list[tuple[int, list[tuple[str, dict[str, str]]]]]]:
    """Two recording HTTP servers on 127.0.0.1: (port, requests seen) each."""
    out, stops = [], []
    for _ in range(2):
        seen: list[tuple[str, dict[str, str]]] = []
        handler = type("H", (Recorder,), {"seen": seen, "body": b"ssh-ed25519 AAAA attacker\n"})
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        out.append((server.server_address[1], seen))
        stops.append(server)
    yield out
    for s in stops:
        s.shutdown()
        s.server_close()


def user_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, options: dict[str, Any]) -> None:
    cfg = tmp_path / "user-config.yaml"
    cfg.write_text(yaml.safe_dump({"storage_options": options}))
    monkeypatch.setenv("GEOSHELF_CONFIG", str(cfg))


def test_a_key_configured_for_one_port_never_reaches_another(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                             servers: list) -> None:
    (port_a, seen_a), (port_b, seen_b) = servers
    user_config(tmp_path, monkeypatch, {f"http://127.0.0.1:{port_a}": {"headers": {"X-Api-Key": "K1"}}})
    trick = Entry.from_source("sst", {"driver": "netcdf", "args": {
        "urlpath": f"http://127.0.0.1:{port_a}@127.0.0.1:{port_b}/sst.nc"}})
    with pytest.raises(GeoshelfError):
        trick.to_dask()
    assert seen_b, "the request went to the second server"
    assert all("K1" not in str(headers) for _, headers in seen_b)
    honest = Entry.from_source("sst", {"driver": "netcdf", "args": {"urlpath": f"http://127.0.0.1:{port_a}/sst.nc"}})
    with pytest.raises(GeoshelfError):
        honest.to_dask()
    assert any(headers.get("X-Api-Key") == "K1" for _, headers in seen_a)  # the control: A gets its key


def test_a_catalog_cannot_send_the_users_object_store_key_to_its_endpoint(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, servers: list, catalog_path: Path) -> None:
    (port_evil, seen), _ = servers
    user_config(tmp_path, monkeypatch, {"s3://team-bucket": {"key": "AKIAUSERKEY", "secret": "usersecret"}})
    src = {"driver": "netcdf", "args": {"urlpath": "s3://team-bucket/sst.nc", "storage_options": {
        "client_kwargs": {"endpoint_url": f"http://127.0.0.1:{port_evil}"}}}}
    with pytest.raises(UnsafeCatalogError, match="may not be set by a catalog"):
        Entry.from_source("sst", src).to_dask()
    # with no config for that bucket, a catalog's endpoint is read anonymously: ambient keys stay home
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAAMBIENTKEY")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "ambientsecret")
    src["args"]["urlpath"] = "s3://public-bucket/sst.nc"
    with pytest.raises(GeoshelfError):
        Entry.from_source("sst", src).to_dask()
    assert seen and all("AKIA" not in str(headers) for _, headers in seen)


def test_a_chained_cache_url_writes_nothing_into_the_readers_home(catalog_path: Path, tmp_path: Path,
                                                                  servers: list) -> None:
    (port, seen), _ = servers
    ssh = tmp_path / "home" / ".ssh"
    ssh.mkdir(parents=True)
    src = {"driver": "netcdf", "args": {
        "urlpath": f"simplecache::http://127.0.0.1:{port}/authorized_keys",
        "storage_options": {"simplecache": {"cache_storage": str(ssh), "same_names": True}}},
        "metadata": {"geoshelf": {"format": "netcdf"}}}
    cat = with_entry(catalog_path, "keys", src)
    with pytest.raises(UnsafeCatalogError, match="chained URLs"):
        cat.keys.to_dask()
    errors = [p for p in lint(catalog_path) if p.level == "error"]
    assert [p.entry for p in errors] == ["keys"]
    # built directly (no catalog check), the storage options are still refused before any request
    with pytest.raises(UnsafeCatalogError):
        Entry.from_source("keys", src).to_dask()
    src["args"]["urlpath"] = f"http://127.0.0.1:{port}/authorized_keys"
    src["args"]["storage_options"] = {"cache_storage": str(ssh)}
    with pytest.raises(UnsafeCatalogError, match="'cache_storage' is not allowed"):
        Entry.from_source("keys", src).to_dask()
    assert list(ssh.iterdir()) == [] and seen == []


# -- 8. remote reads cannot hang ---------------------------------------------------------------------

class Silent:
    """A TCP server on 127.0.0.1 that accepts connections, reads the request and answers after
    ``delay`` seconds (never, if None).  Its thread stops by itself after ``lifetime`` seconds."""

    def __init__(self, delay: float | None = None, lifetime: float = 60.0, backlog_full: bool = False) -> None:
        import socket
        import time

        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.delay, self.deadline = delay, time.monotonic() + lifetime
        self.clients: list[socket.socket] = []
        if backlog_full:  # no accept() and a full queue: the kernel drops new SYNs, connect() waits
            self.sock.listen(0)
            for _ in range(3):
                c = socket.socket()
                c.setblocking(False)
                c.connect_ex(("127.0.0.1", self.port))
                self.clients.append(c)
            return
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        import time

        while time.monotonic() < self.deadline:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            threading.Thread(target=self._answer, args=(conn,), daemon=True).start()

    def _answer(self, conn: Any) -> None:
        import time

        with conn:
            conn.settimeout(1.0)
            try:
                conn.recv(65536)
            except OSError:
                return
            end = time.monotonic() + (self.delay if self.delay is not None else 10**9)
            while time.monotonic() < min(end, self.deadline):
                time.sleep(0.05)
            if self.delay is not None and time.monotonic() < self.deadline:
                body = b"CDF\x01" + b"\x00" * 60
                head = f"HTTP/1.1 200 OK\r\nContent-Length: {len(body)}\r\nAccept-Ranges: bytes\r\n\r\n"
                with contextlib_suppress():
                    conn.sendall(head.encode() + body)

    def close(self) -> None:
        self.deadline = 0
        for c in self.clients:
            c.close()
        self.sock.close()


def contextlib_suppress() -> Any:
    import contextlib

    return contextlib.suppress(OSError)


@pytest.fixture
def short_timeouts(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("GEOSHELF_CONFIG", str(tmp_path / "no-config.yaml"))
    monkeypatch.setenv("GEOSHELF_REMOTE__CONNECT_TIMEOUT", "1")
    monkeypatch.setenv("GEOSHELF_REMOTE__READ_TIMEOUT", "1.5")


def open_url(url: str) -> str:
    entry = Entry.from_source("remote", {"driver": "netcdf", "args": {"urlpath": url}})
    with pytest.raises(GeoshelfError) as info:
        entry.to_dask()
    return str(info.value)


@pytest.mark.parametrize("kind, expected", [
    ("silent", "timed out after 1.5 s waiting for data"),
    ("slow", "timed out after 1.5 s waiting for data"),
    ("backlog", "timed out after 1 s connecting"),
])
def test_a_server_that_does_not_answer_times_out_with_a_reason(short_timeouts: None, kind: str,
                                                                expected: str) -> None:
    server = Silent(delay={"silent": None, "slow": 20.0, "backlog": None}[kind], backlog_full=kind == "backlog")
    try:
        url = f"http://127.0.0.1:{server.port}/sst.nc"
        message = open_url(url)
        assert message.startswith(url) and expected in message, message
    finally:
        server.close()


def test_a_closed_port_says_connection_refused(short_timeouts: None) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # bound, never listening: connections are refused
        message = open_url(f"http://127.0.0.1:{port}/sst.nc")
    assert "connection refused" in message, message


def test_add_of_a_silent_url_is_one_line(short_timeouts: None, tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    from geoshelf.cli import main

    server = Silent()
    try:
        url = f"http://127.0.0.1:{server.port}/sst.nc"
        assert main(["add", url, "--name", "sst", "--catalog", str(tmp_path / "c.yaml")]) != 0
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and "timed out after 1.5 s waiting for data" in err, err
    finally:
        server.close()
    assert not (tmp_path / "c.yaml").exists()


def test_default_timeouts_and_user_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from geoshelf.catalog.remote import Timeouts, timeouts, with_timeouts

    monkeypatch.delenv("GEOSHELF_REMOTE__CONNECT_TIMEOUT", raising=False)
    monkeypatch.delenv("GEOSHELF_REMOTE__READ_TIMEOUT", raising=False)
    user_config(tmp_path, monkeypatch, {})
    assert timeouts() == Timeouts(connect=10.0, read=60.0)
    cfg = tmp_path / "user-config.yaml"
    cfg.write_text(yaml.safe_dump({"remote": {"connect-timeout": 3, "read_timeout": 30}}))
    assert timeouts() == Timeouts(connect=3.0, read=30.0)
    s3 = with_timeouts("s3://b/x.nc", {"anon": True})
    assert s3["config_kwargs"]["connect_timeout"] == 3.0 and s3["config_kwargs"]["read_timeout"] == 30.0
    http = with_timeouts("https://h/x.nc", {})["client_kwargs"]["timeout"]
    assert (http.connect, http.sock_read) == (3.0, 30.0)
    assert with_timeouts("/local/x.nc", {}) == {}
    cfg.write_text(yaml.safe_dump({"remote": {"read_timeout": "soon"}}))
    with pytest.raises(GeoshelfError, match="a timeout is a number of seconds"):
        timeouts()
