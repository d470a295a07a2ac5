"""Matching entries against a search query.

Criteria (every given one must match):

- ``text``: words that must all appear in the name, description, tags, variables, their
  ``long_name`` / ``standard_name``, the contact or a facet value;
- ``variable``, ``standard_name``, ``long_name``: one value or a list of them (any of them
  matches); a value is an exact name, or a regular expression given as ``re.compile(...)`` or
  as a string starting with ``re:`` (``"re:^u"``), matched in full;
- facets (``experiment="historical"``, ``member=["r1", "r2"]``): the entry's ``facets`` (global
  attributes picked at ``add``), same value rules as ``variable``;
- ``time``: ``YYYY[-MM[-DD[THH[:MM[:SS]]]]]``, ``START/END`` (either side may be empty), or a
  ``(start, end)`` tuple of such strings or dates; an entry matches when its time range overlaps;
- ``bbox``: ``west,south,east,north`` in degrees (longitudes -180..360, so 0..360 grids and
  -180..180 queries meet), or a 4-sequence;
- ``tags``: one tag or a list of tags, *all* required (``--tag`` is repeatable).
"""

from __future__ import annotations

import calendar
import datetime as _dt
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Union

from ..errors import GeoshelfError
from .model import Entry

_TIME = re.compile(r"^(\d{4})(?:-(\d{1,2}))?(?:-(\d{1,2}))?(?:[T ](\d{1,2})(?::(\d{2}))?(?::(\d{2}))?)?$")

#: A value as given: an exact string, ``"re:PATTERN"``, or a compiled pattern.
Matcher = Union[str, "re.Pattern[str]"]


class QueryError(GeoshelfError):
    """A search query is malformed."""


# -- time ------------------------------------------------------------------------------------

def _bound(value: Any, upper: bool) -> str:
    """ISO lower/upper bound of a (partial) timestamp: ``2020`` -> 2020-01-01T00:00:00 / 2020-12-31T23:59:59.

    The fields are checked: ``2020-13`` and ``1970-02-30`` are refused.
    """
    if isinstance(value, _dt.datetime):
        return value.replace(tzinfo=None).isoformat(timespec="seconds")
    if isinstance(value, _dt.date):
        return value.isoformat() + ("T23:59:59" if upper else "T00:00:00")
    if not isinstance(value, str):
        raise QueryError(f"time {value!r} is not a date or YYYY[-MM[-DD[THH:MM:SS]]]")
    m = _TIME.match(value.strip())
    if not m:
        raise QueryError(f"time {value!r} is not YYYY[-MM[-DD[THH:MM:SS]]] or START/END")
    y, mo, d, hh, mi, ss = (int(g) if g is not None else None for g in m.groups())
    assert y is not None
    try:
        if mo is not None and not 1 <= mo <= 12:
            raise ValueError(f"month {mo} is not 1..12")
        last_day = calendar.monthrange(y, mo or 12)[1] if y >= 1 else 31
        if d is not None:
            _dt.date(max(y, 1), mo or 1, d)  # raises for 1970-02-30
        for val, top, what in ((hh, 23, "hour"), (mi, 59, "minute"), (ss, 59, "second")):
            if val is not None and not 0 <= val <= top:
                raise ValueError(f"{what} {val} is not 0..{top}")
    except ValueError as exc:
        raise QueryError(f"time {value!r} is not a valid date: {exc}") from None
    if upper:
        mo_u = mo or 12
        d_u = d or (last_day if mo is not None else 31)
        return f"{y:04d}-{mo_u:02d}-{d_u:02d}T{hh if hh is not None else 23:02d}:" \
               f"{mi if mi is not None else 59:02d}:{ss if ss is not None else 59:02d}"
    return f"{y:04d}-{mo or 1:02d}-{d or 1:02d}T{hh or 0:02d}:{mi or 0:02d}:{ss or 0:02d}"


def parse_time(query: str | Sequence[Any] | _dt.date) -> tuple[str, str]:
    """``2020``, ``2020-03``, ``2020-01-01/2020-06-30``, ``("2020-01", "2020-06")`` -> inclusive ISO (start, end)."""
    if isinstance(query, (list, tuple)):
        if len(query) != 2:
            raise QueryError(f"time {query!r}: a (start, end) pair is needed")
        a, b = query
        start = _bound(a, False) if a not in (None, "") else "0000-01-01T00:00:00"
        end = _bound(b, True) if b not in (None, "") else "9999-12-31T23:59:59"
    elif isinstance(query, str) and "/" in query:
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


# -- bbox ------------------------------------------------------------------------------------

def parse_bbox(bbox: str | Sequence[Any]) -> tuple[float, float, float, float]:
    """``"w,s,e,n"`` or a 4-sequence -> floats, checked (latitudes -90..90, longitudes -180..360)."""
    parts = bbox.split(",") if isinstance(bbox, str) else list(bbox)
    try:
        if len(parts) != 4:
            raise ValueError
        w, s, e, n = (float(p) for p in parts)
    except (TypeError, ValueError):
        raise QueryError(f"bbox {bbox!r} is not four numbers west,south,east,north") from None
    if any(v != v for v in (w, s, e, n)):
        raise QueryError(f"bbox {bbox!r}: NaN is not a coordinate")
    if not (-90 <= s <= 90 and -90 <= n <= 90):
        raise QueryError(f"bbox {bbox!r}: latitudes must be within -90..90")
    if not (-180 <= w <= 360 and -180 <= e <= 360):
        raise QueryError(f"bbox {bbox!r}: longitudes must be within -180..360")
    if s > n:
        raise QueryError(f"bbox {bbox!r}: south is greater than north")
    return w, s, e, n


def _lon_overlap(a0: float, a1: float, b0: float, b1: float) -> bool:
    for shift in (-360.0, 0.0, 360.0):
        if a0 <= b1 + shift and b0 + shift <= a1:
            return True
    return False


# -- value matchers --------------------------------------------------------------------------

@dataclass(frozen=True)
class Values:
    """Any-of matcher: exact strings and regular expressions (matched in full)."""

    exact: frozenset[str] = frozenset()
    patterns: tuple[re.Pattern[str], ...] = ()

    @classmethod
    def build(cls, what: str, value: Matcher | Iterable[Matcher] | None) -> Values | None:
        """Parse a user value (one or a list); None when not given."""
        if value is None:
            return None
        items = [value] if isinstance(value, (str, re.Pattern)) else list(value)
        if not items:
            raise QueryError(f"{what}: an empty list matches nothing; give at least one value")
        exact: set[str] = set()
        patterns: list[re.Pattern[str]] = []
        for item in items:
            if isinstance(item, re.Pattern):
                patterns.append(item)
            elif isinstance(item, str):
                if item.startswith("re:"):
                    try:
                        patterns.append(re.compile(item[3:]))
                    except re.error as exc:
                        raise QueryError(f"{what}: bad regular expression {item[3:]!r}: {exc}") from None
                elif not item:
                    raise QueryError(f"{what}: an empty string matches nothing")
                else:
                    exact.add(item)
            else:
                raise QueryError(f"{what}: {item!r} is not a string or a regular expression")
        return cls(frozenset(exact), tuple(patterns))

    def any(self, candidates: Iterable[str]) -> bool:
        """True when any candidate equals an exact value or fully matches a pattern."""
        for c in candidates:
            if c in self.exact or any(p.fullmatch(c) for p in self.patterns):
                return True
        return False


def _as_seq(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        return [str(v) for v in value]
    return [str(value)]


def entry_attr_values(entry: Entry, attr: str) -> list[str]:
    """The values of a variable attribute (``long_name``, ``standard_name``) over the entry's variables."""
    return [str(a[attr]) for a in entry.variable_attrs.values() if a.get(attr)]


def haystack(entry: Entry, qualified_name: str | None = None) -> str:
    """The lower-cased text free-text search looks in."""
    parts = [qualified_name or entry.name, entry.description, " ".join(entry.tags), " ".join(entry.variables),
             entry.contact]
    for attrs in entry.variable_attrs.values():
        parts.extend(str(attrs[k]) for k in ("long_name", "standard_name") if attrs.get(k))
    for value in entry.facets.values():
        parts.extend(_as_seq(value))
    return " ".join(parts).lower()


@dataclass(frozen=True, kw_only=True)
class Query:
    """A parsed search query; every given criterion must match."""

    text: str | None = None
    variable: Values | None = None
    standard_name: Values | None = None
    long_name: Values | None = None
    time: tuple[str, str] | None = None
    bbox: tuple[float, float, float, float] | None = None
    tags: tuple[str, ...] = ()
    facets: Mapping[str, Values] = field(default_factory=dict)

    @classmethod
    def build(cls, text: str | None = None, variable: Matcher | Iterable[Matcher] | None = None,
              time: Any = None, bbox: str | Sequence[float | str] | None = None,
              tags: str | Sequence[str] | None = None, *, standard_name: Matcher | Iterable[Matcher] | None = None,
              long_name: Matcher | Iterable[Matcher] | None = None,
              facets: Mapping[str, Matcher | Iterable[Matcher]] | None = None) -> Query:
        """Parse user-facing arguments (a :class:`QueryError` names the bad one)."""
        if text is not None and not isinstance(text, str):
            raise QueryError(f"text {text!r} must be a string of words")
        tag_tuple = (tags,) if isinstance(tags, str) else tuple(tags or ())
        if not all(isinstance(t, str) and t for t in tag_tuple):
            raise QueryError(f"tags {tags!r} must be non-empty strings")
        parsed_facets: dict[str, Values] = {}
        for key, value in (facets or {}).items():
            v = Values.build(key, value)
            if v is not None:
                parsed_facets[key] = v
        return cls(
            text=text.lower() if text else None,
            variable=Values.build("variable", variable),
            standard_name=Values.build("standard_name", standard_name),
            long_name=Values.build("long_name", long_name),
            time=parse_time(time) if time is not None and time != "" else None,
            bbox=parse_bbox(bbox) if bbox is not None else None,
            tags=tuple(t.lower() for t in tag_tuple),
            facets=parsed_facets,
        )

    def matches(self, entry: Entry, qualified_name: str | None = None) -> bool:
        """True when the entry satisfies every criterion."""
        if self.text:
            hay = haystack(entry, qualified_name)
            if not all(word in hay for word in self.text.split()):
                return False
        if self.variable and not self.variable.any(entry.variables):
            return False
        if self.standard_name and not self.standard_name.any(entry_attr_values(entry, "standard_name")):
            return False
        if self.long_name and not self.long_name.any(entry_attr_values(entry, "long_name")):
            return False
        for key, values in self.facets.items():
            if not values.any(_as_seq(entry.facets.get(key))):
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
