"""A real ``geoshelf serve`` on 127.0.0.1 over a converted demo catalog."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from geoshelf.convert import convert
from geoshelf.serve import GeoshelfServer


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GeoshelfServer]:
    """A server on a free port over a private copy of the demo data: sst as Zarr and JSON references,
    elevation as COGs, stations as a partitioned Parquet dataset."""
    import os
    import shutil

    from geoshelf.catalog import add_entry
    from geoshelf.demo.data import generate_demo
    from geoshelf.scan import scan

    root = tmp_path_factory.mktemp("served")
    os.chmod(root, 0o700)  # only this user (and the server) may read the data
    files = generate_demo(root / "data", "tiny")
    cat = root / "catalog.yaml"
    for name, key, tags in (("sst", "sst", ["ocean"]), ("air", "air", ["atmosphere"]),
                            ("elevation", "elevation", ["land"]), ("stations", "stations", ["in-situ"])):
        add_entry(cat, scan([str(f) for f in files[key]], name, catalog_dir=str(root), description=f"demo {name}",
                            tags=tags))
    mp = pytest.MonkeyPatch()
    mp.setenv("GEOSHELF_CONFIG", str(root / "no-config.yaml"))
    mp.delenv("GEOSHELF_SHELF_ROOT", raising=False)
    convert("sst", "zarr", catalog=cat)
    convert("sst", "references", catalog=cat, store="json")
    convert("elevation", "cog", catalog=cat)
    convert("stations", "parquet", catalog=cat)
    (root / "data" / "secret.txt").write_text("not in any entry")
    shutil.copy2(files["sst"][0], root / "data" / "sst" / "not-catalogued.nc.bak")
    server = GeoshelfServer(cat, "127.0.0.1", 0, quiet=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        mp.undo()


@pytest.fixture
def base(served: GeoshelfServer) -> str:
    return served.url


@pytest.fixture
def catalog_file(served: GeoshelfServer) -> Path:
    return served.shelf.path
