"""`geoshelf serve` publishes only files under the served roots, whatever paths a shared catalog names."""

from __future__ import annotations

import logging
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import yaml

from geoshelf.catalog import Catalog, add_entry
from geoshelf.errors import GeoshelfError
from geoshelf.scan import scan
from geoshelf.serve import GeoshelfServer

pytestmark = pytest.mark.network


def get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=60) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


@contextmanager
def running(cat: Path, **kwargs: object) -> Iterator[GeoshelfServer]:
    server = GeoshelfServer(cat, "127.0.0.1", 0, quiet=True, **kwargs)  # type: ignore[arg-type]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def layout(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A shared catalog in site/ whose entry `private` names another user's files in home/, one entry `local`
    with its files beside the catalog, and one `linked` whose file beside the catalog is a symlink into home/."""
    from geoshelf.demo.data import generate_demo

    root = tmp_path_factory.mktemp("roots")
    site, home = root / "site", root / "home"
    site.mkdir()
    files = generate_demo(home / "data", "tiny")
    local = site / "data"
    local.mkdir()
    (local / "air_a.nc").write_bytes(Path(files["air"][0]).read_bytes())
    (local / "linked.nc").symlink_to(files["sst"][2])
    cat = site / "catalog.yaml"
    add_entry(cat, scan([str(f) for f in files["sst"][:2]], "private", catalog_dir=str(site)))
    add_entry(cat, scan([str(local / "air_a.nc")], "local", catalog_dir=str(site)))
    add_entry(cat, scan([str(local / "linked.nc")], "linked", catalog_dir=str(site)))
    return {"root": root, "site": site, "home": home, "cat": cat, "sst": Path(files["sst"][0])}


@pytest.fixture(autouse=True)
def _no_user_config(layout: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GEOSHELF_CONFIG", str(layout["root"] / "no-config.yaml"))
    monkeypatch.delenv("GEOSHELF_SHELF_ROOT", raising=False)
    monkeypatch.delenv("GEOSHELF_SERVE__ROOTS", raising=False)


def test_files_outside_the_roots_are_refused_and_logged(layout: dict[str, Path],
                                                        caplog: pytest.LogCaptureFixture) -> None:
    secret = layout["sst"].read_bytes()
    with caplog.at_level(logging.WARNING, logger="geoshelf.serve"), running(layout["cat"]) as server:
        base = server.url
        status, body = get(base + "/data/local/original/air_a.nc")
        assert status == 200 and body == (layout["site"] / "data" / "air_a.nc").read_bytes()
        for path in ("/data/private/original/" + layout["sst"].name, "/data/linked/original/linked.nc",
                     "/entry/private/quicklook.png"):
            status, body = get(base + path)
            assert status == 404, (path, status)
            assert secret[:64] not in body
        status, body = get(base + "/entry/private")  # the page (metadata) is served; no data is read for it
        assert status == 200 and b"quicklook.png" not in body
        served = yaml.safe_load(get(base + "/catalog.yaml")[1])["sources"]
        assert "private" not in served and "linked" not in served and "local" in served
    refused = [r.getMessage() for r in caplog.records if r.name == "geoshelf.serve"]
    assert any(str(layout["sst"]) in m and "outside the served roots" in m for m in refused), refused
    assert any("linked.nc" in m for m in refused), refused


def test_a_representation_outside_the_roots_is_refused(layout: dict[str, Path], tmp_path: Path) -> None:
    from geoshelf.convert import convert

    cat = tmp_path / "site" / "catalog.yaml"
    cat.parent.mkdir()
    data = tmp_path / "site" / "air_a.nc"
    data.write_bytes((layout["site"] / "data" / "air_a.nc").read_bytes())
    add_entry(cat, scan([str(data)], "air", catalog_dir=str(cat.parent)))
    convert("air", "zarr", catalog=cat)
    elsewhere = tmp_path / "elsewhere"
    (cat.parent / "shelf").rename(elsewhere)  # e.g. a hand-edited catalog pointing at someone's store
    text = cat.read_text()
    assert "shelf/air.zarr" in text
    cat.write_text(text.replace("{{ CATALOG_DIR }}/shelf/air.zarr", str(elsewhere / "air.zarr"))
                   .replace(str(cat.parent / "shelf" / "air.zarr"), str(elsewhere / "air.zarr")))
    assert Catalog(cat)["air"].representations[0].path.endswith("elsewhere/air.zarr")
    with running(cat) as server:
        assert get(server.url + "/data/air/zarr/zarr.json")[0] == 404
        assert get(server.url + "/data/air/original/air_a.nc")[0] == 200
    with running(cat, roots=[elsewhere]) as server:
        assert get(server.url + "/data/air/zarr/zarr.json")[0] == 200


def test_the_users_config_env_and_argument_add_roots(layout: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    path = "/data/private/original/" + layout["sst"].name
    with running(layout["cat"], roots=[layout["home"]]) as server:
        status, body = get(server.url + path)
        assert status == 200 and body == layout["sst"].read_bytes()
        assert get(server.url + "/data/linked/original/linked.nc")[0] == 200
    config = layout["root"] / "config.yaml"
    config.write_text(yaml.safe_dump({"serve": {"roots": [str(layout["home"] / "data")]}}))
    monkeypatch.setenv("GEOSHELF_CONFIG", str(config))
    with running(layout["cat"]) as server:
        assert get(server.url + path)[0] == 200
    monkeypatch.setenv("GEOSHELF_CONFIG", str(layout["root"] / "no-config.yaml"))
    monkeypatch.setenv("GEOSHELF_SERVE__ROOTS", str(layout["home"]))
    with running(layout["cat"]) as server:
        assert get(server.url + path)[0] == 200
    monkeypatch.delenv("GEOSHELF_SERVE__ROOTS")
    # a sibling whose name starts like a root is not inside it
    with running(layout["cat"], roots=[str(layout["home"]) + "x"]) as server:
        assert get(server.url + path)[0] == 404
    config.write_text(yaml.safe_dump({"serve": {"roots": {"x": 1}}}))
    monkeypatch.setenv("GEOSHELF_CONFIG", str(config))
    with pytest.raises(GeoshelfError, match="serve.roots must be a list"):
        GeoshelfServer(layout["cat"], "127.0.0.1", 0, quiet=True)
    monkeypatch.setenv("GEOSHELF_CONFIG", str(layout["root"] / "no-config.yaml"))
    with pytest.raises(GeoshelfError, match="not an absolute path"):
        GeoshelfServer(layout["cat"], "127.0.0.1", 0, quiet=True, roots=["relative/dir"])


def test_a_catalog_cannot_name_a_root(layout: dict[str, Path], tmp_path: Path) -> None:
    cat = tmp_path / "catalog.yaml"
    data = yaml.safe_load(layout["cat"].read_text())
    data.setdefault("metadata", {})["serve"] = {"roots": [str(layout["home"])]}
    cat.write_text(yaml.safe_dump(data))
    with running(cat) as server:
        assert get(server.url + "/data/private/original/" + layout["sst"].name)[0] == 404
    with running(cat, roots=[layout["home"]]) as server:  # the same file is there for a root the user names
        assert get(server.url + "/data/private/original/" + layout["sst"].name)[0] == 200
