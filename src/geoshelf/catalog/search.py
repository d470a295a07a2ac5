"""Matching entries against a search query (text, variable, time, bbox, tags)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from ..errors import GeoshelfError
from .model import Entry

_TIME = re.compile(r"^(\d{4})(?:-(\d{2}))?(?:-(\d{2}))?(?:[T ](\d{2}):?(\d{2})?:?(\d{2})?)?$")


class QueryError(GeoshelfError):
    """A search query is malformed."""


def _bound(text: str, upper: bool) -> str:
    """ISO lower/upper bound of a partial timestamp (``2020`` -> 2020-01-01T00:00:00 / 2020-12-31T23:59:59)."""
    m = _TIME.match(text.strip())
    if not m:
        raise QueryError(f"time {text!r} is not YYYY[-MM[-DD[THH:MM:SS]]] or START/END")
    y, mo, d, hh, mi, ss = m.groups()
    if upper:
        mo = mo or "12"
        d = d or ("31" if mo in {"01", "03", "05", "07", "08", "10", "12"} else "30" if mo != "02" else "29")
        return f"{y}-{mo}-{d}T{hh or '23'}:{mi or '59'}:{ss or '59'}"
    return f"{y}-{mo or '01'}-{d or '01'}T{hh or '00'}:{mi or '00'}:{ss or '00'}"


def parse_time(query: str) -> tuple[str, str]:
    """``2020``, ``2020-03``, ``2020-01-01/2020-06-30`` -> inclusive ISO (start, end)."""
    if "/" in query:
        a, b = query.split("/", 1)
        start = _bound(a, False) if a.strip() else "0000-01-01T00:00:00"
        end = _bound(b, True) if b.strip() else "9999-12-31T23:59:59"
    else:
        start, end = _bound(query, False), _bound(query, True)
    if start > end:
        raise QueryError(f"time {query!r}: start after end")
    return start, end


def _norm_iso(ts: str) -> str:
    ts = ts.replace(" ", "T")
    return ts if "T" in ts else ts + "T00:00:00"


def parse_bbox(bbox: str | Sequence[float]) -> tuple[float, float, float, float]:
    """``"w,s,e,n"`` or a 4-sequence -> floats, checked."""
    parts = bbox.split(",") if isinstance(bbox, str) else list(bbox)
    try:
        w, s, e, n = (float(p) for p in parts)
    except (TypeError, ValueError):
        raise QueryError(f"bbox {bbox!r} is not four numbers west,south,east,north") from None
    if s > n:
        raise QueryError(f"bbox {bbox!r}: south is greater than north")
    return w, s, e, n


def _lon_overlap(a0: float, a1: float, b0: float, b1: float) -> bool:
    for shift in (-360.0, 0.0, 360.0):
        if a0 <= b1 + shift and b0 + shift <= a1:
            return True
    return False


@dataclass(frozen=True, kw_only=True)
class Query:
    """A parsed search query; every given criterion must match."""

    text: str | None = None
    variable: str | None = None
    time: tuple[str, str] | None = None
    bbox: tuple[float, float, float, float] | None = None
    tags: tuple[str, ...] = ()

    @classmethod
    def build(cls, text: str | None = None, variable: str | None = None, time: str | None = None,
              bbox: str | Sequence[float] | None = None, tags: str | Sequence[str] | None = None) -> Query:
        """Parse user-facing arguments."""
        tag_tuple = (tags,) if isinstance(tags, str) else tuple(tags or ())
        return cls(
            text=text.lower() if text else None,
            variable=variable,
            time=parse_time(time) if time else None,
            bbox=parse_bbox(bbox) if bbox is not None else None,
            tags=tuple(t.lower() for t in tag_tuple),
        )

    def matches(self, entry: Entry, qualified_name: str | None = None) -> bool:
        """True when the entry satisfies every criterion."""
        if self.text:
            hay = " ".join([qualified_name or entry.name, entry.description, " ".join(entry.tags),
                            " ".join(entry.variables), entry.contact]).lower()
            if not all(word in hay for word in self.text.split()):
                return False
        if self.variable and self.variable not in entry.variables:
            return False
        if self.tags and not set(self.tags) <= {t.lower() for t in entry.tags}:
            return False
        if self.time:
            if not entry.time_range:
                return False
            start, end = _norm_iso(entry.time_range[0]), _norm_iso(entry.time_range[1])
            if end < self.time[0] or start > self.time[1]:
                return False
        if self.bbox:
            if not entry.bbox:
                return False
            w, s, e, n = entry.bbox
            qw, qs, qe, qn = self.bbox
            if n < qs or s > qn or not _lon_overlap(w, e, qw, qe):
                return False
        return True
