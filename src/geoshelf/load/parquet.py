"""Opening a Parquet representation as a dask DataFrame (lazily)."""

from __future__ import annotations

from typing import Any

from ..catalog.model import Entry, Representation


def open_parquet_representation(entry: Entry, rep: Representation, chunks: Any = None, **kwargs: Any) -> Any:
    """The partitioned Parquet dataset as a dask DataFrame."""
    import dask.dataframe as dd

    return dd.read_parquet(entry.resolve(rep.path), **kwargs)
