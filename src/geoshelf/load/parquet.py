"""Opening a Parquet representation as a dask DataFrame (lazily)."""

from __future__ import annotations

import urllib.parse
from typing import Any

from ..catalog.model import Entry, Representation
from ..catalog.paths import is_url
from ..errors import GeoshelfError


def open_parquet_representation(entry: Entry, rep: Representation, chunks: Any = None, **kwargs: Any) -> Any:
    """The partitioned Parquet dataset as a dask DataFrame.  At a URL (a served catalog), the files
    listed in the ``files`` option are read, hive partition columns taken from their paths."""
    import dask.dataframe as dd

    root = entry.resolve(rep.path)
    if not is_url(root):
        return dd.read_parquet(root, **kwargs)
    names = rep.options.get("files")
    if not names:
        raise GeoshelfError(f"{rep.path}: a Parquet representation at a URL must list its files (option 'files')")
    base = root.rstrip("/")
    # hive directories keep their "=": pyarrow takes the partition values from the URLs
    urls = [base + "/" + "/".join(urllib.parse.quote(p, safe="=") for p in n.split("/")) for n in names]
    dataset = {"partitioning": "hive", "partition_base_dir": base, **dict(kwargs.pop("dataset", None) or {})}
    return dd.read_parquet(urls, dataset=dataset, storage_options=entry.options_for(root), **kwargs)
