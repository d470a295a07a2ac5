"""Spatial and temporal extents in STAC's terms: longitudes in -180..180, antimeridian splits.

Geoscience grids are often stored 0..360; STAC (RFC 7946 GeoJSON) wants -180..180, and a box that
crosses the antimeridian is written with ``west > east`` and, for geometries, split in two.
"""

from __future__ import annotations

import datetime as _dt
from typing import Any

#: A west, south, east, north box.
BBox = tuple[float, float, float, float]


def _wrap(lon: float) -> float:
    """A longitude in [-180, 180) (180 stays 180 when it is an eastern edge: see :func:`stac_bboxes`)."""
    out = ((lon + 180.0) % 360.0) - 180.0
    return out


def stac_bboxes(bbox: BBox) -> list[BBox]:
    """The entry's box as STAC boxes: one, or two when it crosses the antimeridian.

    ``(0, -90, 360, 90)`` (a global 0..360 grid) -> ``[(-180, -90, 180, 90)]``;
    ``(170, -10, 200, 10)`` -> ``[(170, -10, 180, 10), (-180, -10, -160, 10)]``.
    """
    w, s, e, n = (float(v) for v in bbox)
    if e - w >= 360.0 - 1e-9:
        return [(-180.0, s, 180.0, n)]
    if -180.0 <= w <= 180.0 and -180.0 <= e <= 180.0 and w <= e:
        return [(w, s, e, n)]
    w2, e2 = _wrap(w), _wrap(e)
    if e2 == -180.0 and e > w:
        e2 = 180.0
    if w2 <= e2:
        return [(w2, s, e2, n)]
    return [(w2, s, 180.0, n), (-180.0, s, e2, n)]


def overall_bbox(bbox: BBox) -> list[float]:
    """The single STAC bbox (``west > east`` when it crosses the antimeridian)."""
    parts = stac_bboxes(bbox)
    if len(parts) == 1:
        return list(parts[0])
    return [parts[0][0], parts[0][1], parts[1][2], parts[0][3]]


def geometry(bbox: BBox) -> dict[str, Any]:
    """A GeoJSON Polygon, or a MultiPolygon split at the antimeridian."""
    polys = [[[[w, s], [e, s], [e, n], [w, n], [w, s]]] for w, s, e, n in stac_bboxes(bbox)]
    if len(polys) == 1:
        return {"type": "Polygon", "coordinates": polys[0]}
    return {"type": "MultiPolygon", "coordinates": polys}


def parse_datetime(text: str | None) -> _dt.datetime | None:
    """An entry's ISO time stamp as an aware UTC datetime (None when absent or not ISO: cftime calendars
    such as 360_day write dates a Gregorian datetime cannot hold, e.g. 2000-02-30)."""
    if not text:
        return None
    try:
        value = _dt.datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        return None
    return value if value.tzinfo else value.replace(tzinfo=_dt.UTC)
