"""A kerchunk reference store named by a shared catalog lists target URLs: opening it never sends the
credentials the user configured for the entry's host to another host.  Two real range-capable HTTP
servers on 127.0.0.1: A wants an API key (403 without it), B records every request's headers."""

from __future__ import annotations

import http.server
import io
import json
import os
import threading
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import xarray as xr
import yaml

from geoshelf.catalog import Catalog, Entry, Representation, add_entry
from geoshelf.convert import convert
from geoshelf.errors import GeoshelfError
from geoshelf.load.references import open_references_representation, reference_targets
from geoshelf.scan import scan

pytestmark = pytest.mark.network
KEY = "K1-secret"


class Recording(http.server.SimpleHTTPRequestHandler):
    """Files with byte ranges; records each request's headers; with ``key``, 403 without that X-Api-Key."""

    seen: list[tuple[str, dict[str, str]]]
    key: str | None = None

    def log_message(self, *args: object) -> None:
        pass

    def send_head(self):  # type: ignore[no-untyped-def]
        self.seen.append((self.path, dict(self.headers)))
        if self.key is not None and self.headers.get("X-Api-Key") != self.key:
            self.send_error(403, "key needed")
            return None
        path, rng = self.translate_path(self.path), self.headers.get("Range")
        if not rng or not os.path.isfile(path):
            return super().send_head()
        size = os.path.getsize(path)
        first, _, last = rng.replace("bytes=", "").partition("-")
        start = int(first) if first else size - int(last)
        end = min(int(last), size - 1) if last and first else size - 1
        with open(path, "rb") as fh:
            fh.seek(start)
            body = fh.read(end - start + 1)
        self.send_response(206)
        self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        return io.BytesIO(body)


@pytest.fixture
def hosts(data_copy: dict[str, list[Path]]) -> Iterator[dict[str, Any]]:
    """Server A (needs the key) and server B (records), both serving the demo data directory."""
    root = data_copy["sst"][0].parent.parent
    out: dict[str, Any] = {}
    servers = []
    for name, key in (("a", KEY), ("b", None)):
        seen: list[tuple[str, dict[str, str]]] = []
        handler = type(f"H{name}", (Recording,), {"seen": seen, "key": key})
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), partial(handler, directory=str(root)))
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        out[name] = f"http://127.0.0.1:{server.server_address[1]}"
        out[f"seen_{name}"] = seen
    yield out
    for s in servers:
        s.shutdown()
        s.server_close()


@pytest.fixture
def setup(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, data_copy: dict[str, list[Path]],
          hosts: dict[str, Any]) -> dict[str, Any]:
    """The user's key for A in their config; an entry of sst files on A; local references of the same files."""
    cfg = tmp_path / "user-config.yaml"
    cfg.write_text(yaml.safe_dump({"storage_options": {hosts["a"]: {"headers": {"X-Api-Key": KEY}}}}))
    monkeypatch.setenv("GEOSHELF_CONFIG", str(cfg))
    monkeypatch.delenv("GEOSHELF_SHELF_ROOT", raising=False)
    files = data_copy["sst"][:3]
    local_cat = tmp_path / "local.yaml"
    add_entry(local_cat, scan([str(f) for f in files], "sst", catalog_dir=str(tmp_path)))
    reps = {}
    for store in ("json", "parquet"):  # the second replaces the first in the catalog; its file stays
        convert("sst", "references", catalog=local_cat, store=store)
        entry = Catalog(local_cat).sst
        reps[store] = Path(entry.resolve(entry.representations[0].path))
    assert reps["json"].is_file() and reps["parquet"].is_dir()
    web_cat = tmp_path / "web.yaml"
    add_entry(web_cat, scan([f"{hosts['a']}/sst/{f.name}" for f in files], "sst", catalog_dir=str(tmp_path)))
    return {"entry": Catalog(web_cat).sst, "files": files, "reps": reps, "tmp": tmp_path}


def _json_refs(src: Path, dest: Path, to: str, files: list[Path], *, template: bool = False) -> Path:
    refs = json.loads(src.read_text())
    text = json.dumps(refs)
    for f in files:
        text = text.replace(f"file://{f}", f"{to}/sst/{f.name}").replace(str(f), f"{to}/sst/{f.name}")
    refs = json.loads(text)
    if template:  # the host hidden in a kerchunk template
        refs["templates"] = {"u": to}
        text = json.dumps(refs).replace(f'"{to}/sst/', '"{{u}}/sst/')
        refs = json.loads(text)
    dest.write_text(json.dumps(refs))
    return dest


def _parquet_refs(src: Path, dest: Path, to: str, files: list[Path]) -> Path:
    import shutil

    shutil.copytree(src, dest)
    by_name = {str(f): f"{to}/sst/{f.name}" for f in files} | {f"file://{f}": f"{to}/sst/{f.name}" for f in files}
    for part in dest.rglob("refs.*.parq"):
        table = pq.read_table(part)
        paths = [by_name.get(p, p) if p is not None else None for p in table.column("path").to_pylist()]
        table = table.set_column(table.schema.get_field_index("path"), "path", pa.array(paths, type=pa.string()))
        pq.write_table(table, part)
    return dest


def _open(entry: Entry, path: Path, store: str) -> xr.Dataset:
    rep = Representation(kind="references", path=str(path), options={"store": store})
    return open_references_representation(entry, rep).load()


def test_references_on_the_entrys_host_get_the_users_key(setup: dict[str, Any], hosts: dict[str, Any]) -> None:
    refs = _json_refs(setup["reps"]["json"], setup["tmp"] / "honest.json", hosts["a"], setup["files"])
    assert {t.rsplit("/", 2)[0] for t in reference_targets(str(refs))} == {hosts["a"]}
    ds = _open(setup["entry"], refs, "json")
    local = xr.open_mfdataset([str(f) for f in setup["files"]], combine="by_coords")
    xr.testing.assert_equal(ds["sst"], local["sst"].load())
    assert any(h.get("X-Api-Key") == KEY for _, h in hosts["seen_a"])  # the control: A got its key
    assert not hosts["seen_b"]


@pytest.mark.parametrize("how", ["json", "json-template", "parquet"])
def test_references_pointing_at_another_host_never_get_the_key(setup: dict[str, Any], hosts: dict[str, Any],
                                                               how: str) -> None:
    if how == "parquet":
        refs = _parquet_refs(setup["reps"]["parquet"], setup["tmp"] / "evil.parq", hosts["b"], setup["files"])
    else:
        refs = _json_refs(setup["reps"]["json"], setup["tmp"] / "evil.json", hosts["b"], setup["files"],
                          template=how == "json-template")
        assert (hosts["b"] + "/sst/") not in refs.read_text() or how == "json"
    assert {t.rsplit("/", 2)[0] for t in reference_targets(str(refs), how.split("-")[0])} == {hosts["b"]}
    with pytest.raises(GeoshelfError, match="outside http://127.0.0.1:.*credentials") as err:
        _open(setup["entry"], refs, how.split("-")[0])
    assert "\n" not in str(err.value)
    assert all(KEY not in str(h) for _, h in hosts["seen_b"]), hosts["seen_b"]
    assert not hosts["seen_b"]  # refused before any request


def test_without_configured_credentials_nothing_is_checked(setup: dict[str, Any], hosts: dict[str, Any],
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GEOSHELF_CONFIG", str(setup["tmp"] / "no-config.yaml"))
    refs = _json_refs(setup["reps"]["json"], setup["tmp"] / "open.json", hosts["b"], setup["files"])
    entry = Entry.from_source("sst", {**setup["entry"].to_source()})
    ds = _open(entry, refs, "json")  # B serves without a key: read as the store says
    assert ds["sst"].shape[0] == len(setup["files"])
    assert hosts["seen_b"] and all(KEY not in str(h) for _, h in hosts["seen_b"])
