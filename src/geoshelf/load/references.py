"""Opening kerchunk references (JSON or Parquet store) as a lazily chunked Dataset."""

from __future__ import annotations

import warnings
from typing import Any

import xarray as xr

from ..catalog.model import Entry, Representation
from ..errors import GeoshelfError, one_line


def open_references(path: str, store: str = "json", chunks: Any = None, remote_protocol: str = "file",
                    remote_options: dict[str, Any] | None = None, **kwargs: Any) -> xr.Dataset:
    """Open a reference set through fsspec's reference filesystem and xarray's zarr engine."""
    remote = dict(remote_options or {})
    if remote_protocol != "file":
        import fsspec

        if getattr(fsspec.get_filesystem_class(remote_protocol), "async_impl", False):
            # zarr opens the reference file system asynchronously; an async target must match (fsspec refuses
            # a mix), while a sync one (local files) is wrapped by fsspec itself
            remote.setdefault("asynchronous", True)
    options: dict[str, Any] = {"fo": path, "remote_protocol": remote_protocol, "remote_options": remote}
    if store == "parquet":
        options["lazy"] = True
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return xr.open_dataset("reference://", engine="zarr", chunks=chunks if chunks is not None else {},
                                   backend_kwargs={"consolidated": False, "storage_options": options}, **kwargs)
    except (FileNotFoundError, OSError, ValueError, KeyError) as exc:
        raise GeoshelfError(f"{path}: cannot open references: {one_line(exc, 200)}") from None


def open_references_representation(entry: Entry, rep: Representation, chunks: Any = None, **kwargs: Any) -> Any:
    """The entry's references as a lazily chunked Dataset."""
    path = entry.resolve(rep.path)
    source = entry.resolve(entry.original.path)
    protocol = source.split("://", 1)[0] if "://" in source else "file"
    return open_references(path, rep.options.get("store", "json"), chunks=chunks, remote_protocol=protocol,
                           remote_options=entry.storage_options if protocol != "file" else None, **kwargs)
