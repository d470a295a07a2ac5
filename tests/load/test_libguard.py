"""ecCodes' bundled libraries must not hijack GDAL's libcurl or pyproj's PROJ in a geoshelf process.

Before the guard made findlibs preload eckit with RTLD_LOCAL, any process that had listed xarray's
backends (which imports cfgrib, hence ecCodes) died of a segmentation fault at its first HTTP read
of a GeoTIFF through GDAL (a served COG, a GeoTIFF entry on a web server).
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest
import rasterio
from rasterio.transform import from_origin


class _RangeHandler(SimpleHTTPRequestHandler):
    """Static files with single byte ranges, as GDAL's /vsicurl/ reads them."""

    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        rng = self.headers.get("Range")
        path = Path(self.translate_path(self.path))
        if not rng or not path.is_file():
            return super().do_GET()
        data = path.read_bytes()
        start_s, _, end_s = rng.removeprefix("bytes=").partition("-")
        start, end = int(start_s), min(int(end_s) if end_s else len(data) - 1, len(data) - 1)
        self.send_response(206)
        self.send_header("Content-Type", "image/tiff")
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("Content-Range", f"bytes {start}-{end}/{len(data)}")
        self.send_header("Content-Length", str(end - start + 1))
        self.end_headers()
        self.wfile.write(data[start:end + 1])


@pytest.fixture
def tif_url(tmp_path: Path) -> Iterator[tuple[str, np.ndarray]]:
    values = np.arange(64 * 48, dtype="float32").reshape(1, 48, 64)
    with rasterio.open(tmp_path / "dem.tif", "w", driver="GTiff", width=64, height=48, count=1, dtype="float32",
                       crs="EPSG:32633", transform=from_origin(500000, 5300000, 30, 30), tiled=True,
                       blockxsize=32, blockysize=16) as dst:
        dst.write(values)
    handler = lambda *a, **k: _RangeHandler(*a, directory=str(tmp_path), **k)  # noqa: E731
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/dem.tif", values
    finally:
        server.shutdown()
        server.server_close()


def test_http_geotiff_after_ecodes_is_loaded(tif_url: tuple[str, np.ndarray], tmp_path: Path) -> None:
    url, values = tif_url
    np.save(tmp_path / "want.npy", values)
    code = textwrap.dedent(f"""
        import sys
        import numpy as np
        import geoshelf
        import xarray as xr
        xr.backends.list_engines()                      # imports cfgrib, hence ecCodes and eckit
        assert "gribapi" in sys.modules, "cfgrib/ecCodes not loaded: the test would prove nothing"
        import pyproj
        assert pyproj.CRS("EPSG:32633").to_epsg() == 32633   # PROJ is pyproj's own
        ds = xr.open_dataset({url!r}, engine="rasterio")     # GDAL's /vsicurl/ with its own libcurl
        np.testing.assert_array_equal(ds["band_data"].values, np.load({str(tmp_path / "want.npy")!r}))
        print("ok")
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, f"rc {out.returncode}: {out.stderr[-2000:]}"
    assert out.stdout.strip().endswith("ok")
