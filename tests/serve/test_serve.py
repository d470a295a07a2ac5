"""`geoshelf serve` as people, STAC clients and xarray on another machine use it; and what it refuses."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from geoshelf.catalog import Catalog
from geoshelf.serve import GeoshelfServer, write_site

pytestmark = pytest.mark.network

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def get(url: str, headers: dict[str, str] | None = None) -> tuple[int, bytes, dict[str, str]]:
    req = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=60) as resp:
            return resp.status, resp.read(), dict(resp.headers)
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read(), dict(exc.headers)


def browse(url: str, tmp_path: Path, name: str, size: str = "1280,900") -> tuple[str, Path]:
    """DOM and screenshot of a page in a real headless Chromium."""
    if CHROMIUM is None:
        pytest.fail("chromium is not installed: scripts/test.sh installs Debian's chromium when run as root")
    profile = tmp_path / f"profile-{name}"
    dom = subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={profile}", "--virtual-time-budget=5000",
                          "--dump-dom", url], capture_output=True, text=True, timeout=120)
    png = tmp_path / f"{name}.png"
    subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={profile}", f"--screenshot={png}", f"--window-size={size}",
                    "--virtual-time-budget=5000", url], capture_output=True, timeout=120)
    return dom.stdout, png


def test_pages_in_chromium_search_facets_and_an_entry_with_its_quicklook(base: str, tmp_path: Path) -> None:
    dom, png = browse(base + "/", tmp_path, "catalog")
    for name in ("sst", "air", "elevation", "stations"):
        assert f"data-name=\"{name}\"" in dom
    assert 'data-facet="format"' in dom and 'value="geotiff"' in dom and 'data-facet="institution"' in dom
    assert png.stat().st_size > 10_000
    dom, _ = browse(base + "/?q=temperature", tmp_path, "search")
    assert 'data-name="sst"' in dom and 'data-name="air"' in dom and 'data-name="elevation"' not in dom
    dom, _ = browse(base + "/?format=geotiff", tmp_path, "facet")
    assert 'data-name="elevation"' in dom and 'data-name="sst"' not in dom and "checked" in dom
    dom, png = browse(base + "/entry/sst", tmp_path, "entry", "1280,1400")
    assert "<svg" in dom and 'class="bbox"' in dom  # the offline map with the entry's box
    assert 'class="quicklook"' in dom and "quicklook.png?variable=sst" in dom
    assert 'open_catalog("' + base + '/catalog.yaml")["sst"].to_dask()' in dom.replace("&quot;", '"')
    assert 'data-kind="zarr"' in dom and "source_fingerprint" in dom  # provenance shown
    assert png.stat().st_size > 20_000
    status, body, headers = get(base + "/entry/sst/quicklook.png?variable=sst&time=3")
    assert status == 200 and headers["Content-Type"] == "image/png" and body[:8] == b"\x89PNG\r\n\x1a\n"
    import io

    from PIL import Image

    img = Image.open(io.BytesIO(body))
    assert img.size[0] >= 360 and img.getextrema()[3] == (0, 255)  # land (NaN) transparent, sea opaque
    assert get(base + "/entry/sst/quicklook.png?variable=nope")[0] == 400
    assert get(base + "/entry/elevation/quicklook.png")[0] == 200


def test_pystac_client_searches_by_bbox_datetime_and_text(base: str, catalog_file: Path) -> None:
    from pystac_client import Client

    client = Client.open(base + "/stac")
    assert {c.id for c in client.get_collections()} == {"sst", "air", "elevation", "stations"}
    got = {i.id for i in client.search(bbox=[-150, -10, -110, 10], datetime="2020-01-02/2020-01-03").items()}
    assert got == {"sst"}  # a global grid of 2020; air is of 2000, elevation (Europe) has no time
    got = {i.id for i in client.search(bbox=[-150, -10, -110, 10], datetime="1999-12-01/2020-01-03").items()}
    assert got == {"sst", "air"}
    assert {i.id for i in client.search(bbox=[10, 40, 20, 50]).items()} >= {"elevation"}
    assert {i.id for i in client.search(ids=["elevation"]).items()} == {"elevation"}
    assert {i.id for i in client.search(datetime="1999-01-01/1999-12-31").items()} == set()
    status, body, _ = get(base + "/stac/search?q=temperature&limit=1")
    page = json.loads(body)
    want = set(Catalog(catalog_file).search("temperature"))
    assert len(want) >= 2 and page["numberMatched"] == len(want) and page["numberReturned"] == 1
    assert page["features"][0]["id"] in want
    item = next(iter(client.search(ids=["sst"]).items()))
    assert item.assets["zarr"].href == base + "/data/sst/zarr"
    with xr.open_dataset(item.assets["zarr"].href, **item.assets["zarr"].extra_fields["xarray:open_kwargs"]) as ds:
        assert ds["sst"].shape[0] == 8


def test_xarray_over_http_on_a_client_that_cannot_read_the_paths(served: GeoshelfServer, base: str,
                                                                 tmp_path: Path) -> None:
    """The client runs where the catalog's directory is hidden (as root: a private mount namespace with an
    empty tmpfs over it, so the local paths do not exist for it), with an empty cache: every byte it reads
    comes from the server, and its values equal the source's."""
    root_dir = served.shelf.path.parent
    cat = Catalog(served.shelf.path)
    expected = {n: cat[n].to_dask(representation="original") for n in ("sst", "air", "elevation")}
    np.save(tmp_path / "sst.npy", expected["sst"]["sst"].values)
    np.save(tmp_path / "air.npy", expected["air"]["air"].values)
    np.save(tmp_path / "elevation.npy", expected["elevation"]["band_data"].values)
    assert np.isnan(expected["elevation"]["band_data"].values).any()  # nodata masked, as over HTTP
    cat["stations"].to_dask(representation="parquet").compute().to_pickle(tmp_path / "stations.pkl")
    code = textwrap.dedent(f"""
        import numpy as np, os
        from geoshelf import open_catalog
        hidden = {str(root_dir)!r}
        print("hidden:", not os.path.exists(os.path.join(hidden, "catalog.yaml")))
        cat = open_catalog({base + "/catalog.yaml"!r})
        sst = cat["sst"]
        assert sst.representations[0].path.startswith({base!r})
        ds = sst.to_dask()                                   # the Zarr copy, over HTTP
        np.testing.assert_array_equal(ds["sst"].values, np.load({str(tmp_path / "sst.npy")!r}))
        orig = sst.to_dask(representation="original")       # the NetCDF files, over HTTP with ranges
        np.testing.assert_array_equal(orig["sst"].values, np.load({str(tmp_path / "sst.npy")!r}))
        refs = sst.to_dask(representation="references")     # references rewritten to the server
        np.testing.assert_array_equal(refs["sst"].values, np.load({str(tmp_path / "sst.npy")!r}))
        air = cat["air"].to_dask()
        np.testing.assert_array_equal(air["air"].values, np.load({str(tmp_path / "air.npy")!r}))
        elev = cat["elevation"]
        assert elev.representations[0].kind == "cog" and elev.representations[0].path.startswith({base!r})
        cog = elev.to_dask()                                 # the COGs, over HTTP (GDAL range reads)
        np.testing.assert_array_equal(cog["band_data"].values, np.load({str(tmp_path / "elevation.npy")!r}))
        tif = elev.to_dask(representation="original")        # the GeoTIFF tiles, over HTTP
        np.testing.assert_array_equal(tif["band_data"].values, np.load({str(tmp_path / "elevation.npy")!r}))
        import pandas as pd
        st = cat["stations"]
        assert [r.kind for r in st.representations] == ["parquet"]
        table = st.to_dask().compute()                       # the Parquet files, hive partitions from their URLs
        pd.testing.assert_frame_equal(table.reset_index(drop=True),
                                      pd.read_pickle({str(tmp_path / "stations.pkl")!r}).reset_index(drop=True))
        print("client ok")
    """)
    (tmp_path / "client.py").write_text(code)
    home = tmp_path / "client-home"
    home.mkdir()
    env = {"PATH": os.environ["PATH"], "HOME": str(home), "XDG_CACHE_HOME": str(home / "cache"),
           "GEOSHELF_CONFIG": str(home / "none.yaml"), "PYTHONPATH": os.environ.get("PYTHONPATH", "")}
    isolate = os.getuid() == 0 and shutil.which("unshare") is not None
    cmd = [sys.executable, str(tmp_path / "client.py")]
    if isolate:
        cmd = ["unshare", "--mount", "--propagation", "private", "sh", "-c",
               f'mount -t tmpfs none "{root_dir}" && exec "$0" "$@"', *cmd]
    before = len(served.served)
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300, cwd=str(home))
    assert out.returncode == 0, out.stderr[-3000:]
    assert "client ok" in out.stdout
    assert ("hidden: True" in out.stdout) == isolate
    paths = served.served[before:]
    assert "/catalog.yaml" in paths and any(p.startswith("/data/sst/zarr/") for p in paths)
    assert any(p.startswith("/data/sst/original/") for p in paths)
    assert "/data/sst/references/references.json" in paths
    assert any(p.startswith("/data/elevation/cog/") and p.endswith(".tif") for p in paths)
    assert any(p.startswith("/data/elevation/original/") and p.endswith(".tif") for p in paths)
    assert any(p.startswith("/data/stations/parquet/year=2020/") and p.endswith(".parquet") for p in paths)


def test_only_published_files_are_served(base: str, catalog_file: Path) -> None:
    root = catalog_file.parent
    ok = get(base + "/data/sst/original/sst_20200101.nc", {"Range": "bytes=0-3"})
    assert ok[0] == 206 and ok[1] == b"\x89HDF"
    for path in ("/data/sst/original/../../catalog.yaml", "/data/sst/original/%2e%2e/secret.txt",
                 "/data/sst/original/not-catalogued.nc.bak", "/data/sst/zarr/../../../catalog.yaml",
                 "/data/sst/zarr/%2e%2e%2f%2e%2e%2fcatalog.yaml", "/data/sst/original/" + str(root / "data/secret.txt"),
                 "/data/nope/original/x.nc", "/data/sst/parquet/x", "/data/sst/references/../catalog.yaml",
                 "/data/stations/original/../../../../etc/passwd", "/etc/passwd", "/../catalog.yaml",
                 "/data/sst/original/sst_20200101.nc%00.txt"):
        status, body, _ = get(base + path)
        assert status == 404, (path, status, body[:100])
        assert b"not in any entry" not in body and b"sources:" not in body
    link = root / "shelf" / "sst.zarr" / "escape.txt"
    link.symlink_to(root / "data" / "secret.txt")
    try:
        assert get(base + "/data/sst/zarr/escape.txt")[0] == 404  # a symlink out of the store
    finally:
        link.unlink()
    status, _, _ = get(base + "/catalog.yaml")
    assert status == 200
    req = urllib.request.Request(base + "/data/sst/original/sst_20200101.nc", method="PUT", data=b"x")
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(req, timeout=30)
    assert err.value.code in (404, 405, 501)


def test_byte_ranges(base: str, catalog_file: Path) -> None:
    src = (catalog_file.parent / "data" / "sst" / "sst_20200102.nc").read_bytes()
    url = base + "/data/sst/original/sst_20200102.nc"
    status, body, headers = get(url, {"Range": "bytes=100-199"})
    assert status == 206 and body == src[100:200] and headers["Content-Range"] == f"bytes 100-199/{len(src)}"
    status, body, _ = get(url, {"Range": "bytes=-16"})
    assert status == 206 and body == src[-16:]
    status, body, _ = get(url, {"Range": f"bytes={len(src) - 5}-"})
    assert body == src[-5:]
    assert get(url, {"Range": f"bytes={len(src) + 10}-"})[0] == 416
    assert get(url, {"Range": "bytes=abc"})[0] == 416
    status, body, headers = get(url)
    assert status == 200 and body == src and headers["Accept-Ranges"] == "bytes"


def test_static_site(served: GeoshelfServer, tmp_path: Path) -> None:
    out = tmp_path / "site"
    index, n, no_look = write_site(Catalog(served.shelf.path), out)
    assert n == 5 and no_look == []
    html = index.read_text()
    assert 'href="entry/sst.html"' in html.replace("'", '"')
    assert (out / "entry" / "sst.png").read_bytes()[:4] == b"\x89PNG"
    assert "<svg" in (out / "entry" / "elevation.html").read_text()
    write_site(Catalog(served.shelf.path), out)  # an earlier site is replaced
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep")
    from geoshelf.errors import GeoshelfError

    with pytest.raises(GeoshelfError, match="not a geoshelf html site"):
        write_site(Catalog(served.shelf.path), tmp_path / "mine")
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep"


def test_hostile_text_is_escaped_on_every_page(tmp_path: Path) -> None:
    import threading

    from geoshelf.catalog import Entry, Provenance, Representation, add_entry

    cat = tmp_path / "c.yaml"
    evil = "<img src=x onerror=alert(1)>"
    add_entry(cat, Entry(name="evil", urlpath=str(tmp_path / "x.nc"), description=evil, tags=[evil],
                         facets={"institution": evil}, variables=["v"],
                         representations=[Representation(kind="zarr", path=evil, provenance=Provenance(
                             source_fingerprint="", files_out=0, host=evil))]))
    server = GeoshelfServer(cat, "127.0.0.1", 0, quiet=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        for path in ("/", "/entry/evil", "/?q=img"):
            status, body, _ = get(server.url + path)
            assert status == 200 and b"<img src=x" not in body and b"&lt;img src=x" in body
    finally:
        server.shutdown()
        server.server_close()
