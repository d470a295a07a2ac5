"""Opening a Parquet representation as a dask DataFrame (lazily)."""

from __future__ import annotations

from typing import Any

from ..catalog.model import Entry, Representation
from ..catalog.paths import is_url
from .listed import listed_urls


def open_parquet_representation(entry: Entry, rep: Representation, chunks: Any = None, **kwargs: Any) -> Any:
    """The partitioned Parquet dataset as a dask DataFrame.  At a URL (a served catalog), the files
    listed in the ``files`` option are read, hive partition columns taken from their paths."""
    # deferred: dask.dataframe costs ~0.5 s at `convert --help` (every target is imported); only reading needs it
    import dask.dataframe as dd

    root = entry.resolve(rep.path)
    if not is_url(root):
        return dd.read_parquet(root, **kwargs)
    urls = listed_urls(rep, root, "Parquet")  # hive directories keep their "=": pyarrow reads the values there
    dataset = {"partitioning": "hive", "partition_base_dir": root.rstrip("/"),
               **dict(kwargs.pop("dataset", None) or {})}
    return dd.read_parquet(urls, dataset=dataset, storage_options=entry.options_for(root), **kwargs)
