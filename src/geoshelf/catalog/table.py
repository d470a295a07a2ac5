"""Entries as a pandas table (``cat.df``) and their distinct values (``cat.unique()``), as in intake-esm.

pandas is imported only when a table is asked for; the catalog layer stays free of xarray and dask.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from ..errors import GeoshelfError
from .model import Entry

#: Columns every table has, in order; facet columns follow, sorted.
BASE_COLUMNS: tuple[str, ...] = (
    "name", "description", "format", "variables", "standard_names", "long_names", "time_start", "time_end",
    "west", "south", "east", "north", "crs", "tags", "files", "bytes", "representations",
)


def entry_row(name: str, entry: Entry) -> dict[str, Any]:
    """One entry as a flat row (list-valued columns stay lists)."""
    tr = entry.time_range or (None, None)
    bb = entry.bbox or (None, None, None, None)
    row: dict[str, Any] = {
        "name": name,
        "description": entry.description,
        "format": entry.format,
        "variables": list(entry.variables),
        "standard_names": sorted({a["standard_name"] for a in entry.variable_attrs.values() if a.get("standard_name")}),
        "long_names": sorted({a["long_name"] for a in entry.variable_attrs.values() if a.get("long_name")}),
        "time_start": tr[0],
        "time_end": tr[1],
        "west": bb[0], "south": bb[1], "east": bb[2], "north": bb[3],
        "crs": entry.crs,
        "tags": list(entry.tags),
        "files": entry.files,
        "bytes": entry.bytes,
        "representations": ["original"] + [r.kind for r in entry.representations],
    }
    for key, value in entry.facets.items():
        if key not in row:
            row[key] = value
    return row


def entries_frame(items: Iterable[tuple[str, Entry]]) -> Any:
    """A pandas DataFrame with one row per (qualified name, entry)."""
    # deferred: pandas costs ~0.5 s at start-up; only the table views need it
    import pandas as pd

    rows = [entry_row(name, entry) for name, entry in items]
    facets = sorted({k for r in rows for k in r} - set(BASE_COLUMNS))
    return pd.DataFrame(rows, columns=list(BASE_COLUMNS) + facets)


def unique_values(df: Any, columns: str | Sequence[str] | None = None) -> dict[str, list[Any]]:
    """Distinct non-missing values per column, list cells flattened, sorted where comparable."""
    cols = [columns] if isinstance(columns, str) else list(columns) if columns is not None else list(df.columns)
    missing = [c for c in cols if c not in df.columns]
    if missing:
        raise GeoshelfError(f"no column {missing[0]!r} (columns: {', '.join(df.columns)})")
    out: dict[str, list[Any]] = {}
    for col in cols:
        seen: dict[Any, None] = {}
        for cell in df[col]:
            for v in cell if isinstance(cell, (list, tuple)) else [cell]:
                if v is None or (isinstance(v, float) and v != v):
                    continue
                seen.setdefault(v, None)
        values = list(seen)
        try:
            values.sort()
        except TypeError:
            pass
        out[col] = values
    return out
