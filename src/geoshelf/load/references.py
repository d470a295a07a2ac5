"""Opening kerchunk references (JSON or Parquet store) as a lazily chunked Dataset."""

from __future__ import annotations

import math
import warnings
from typing import Any

import xarray as xr

from ..catalog.locate import configured_storage_options, matching_prefix
from ..catalog.model import Entry, Representation
from ..errors import GeoshelfError, one_line


def open_references(path: str, store: str = "json", chunks: Any = None, remote_protocol: str = "file",
                    remote_options: dict[str, Any] | None = None, **kwargs: Any) -> xr.Dataset:
    """Open a reference set through fsspec's reference filesystem and xarray's zarr engine."""
    remote = dict(remote_options or {})
    if remote_protocol != "file":
        # deferred: fsspec costs 0.1-0.4 s at `convert --help`; only opening references needs it
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


def reference_targets(path: str, store: str = "json", options: dict[str, Any] | None = None) -> set[str]:
    """Every distinct target URL or path a reference set points at, as fsspec reads it (templates and
    generated keys of a JSON store applied; every record file of a Parquet store)."""
    # deferred: fsspec costs 0.1-0.4 s at `convert --help`; only opening references needs it
    import fsspec
    from fsspec.implementations.reference import (
        LazyReferenceMapper,
        ReferenceFileSystem,
    )

    memory = fsspec.filesystem("memory")  # stands in for the targets' file system: nothing is fetched
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fs = ReferenceFileSystem(fo=path, target_options=dict(options or {}), fs={"memory": memory},
                                     skip_instance_cache=True)
            refs = fs.references
            targets: set[str] = set()
            if isinstance(refs, LazyReferenceMapper):
                for field in refs.listdir():
                    n = math.prod(refs._get_chunk_sizes(field))
                    for record in range(math.ceil(n / refs.record_size) if n else 1):
                        try:
                            paths = refs.open_refs(field, record).get("path", [])
                        except (FileNotFoundError, ValueError, TypeError):
                            continue
                        targets.update(str(p) for p in paths if p is not None and str(p))
                targets.update(str(v[0]) for v in refs._items.values()
                               if isinstance(v, list) and v and isinstance(v[0], str) and v[0])
            else:
                targets.update(v[0] for v in refs.values() if isinstance(v, list) and v and isinstance(v[0], str)
                               and v[0])
    except (FileNotFoundError, OSError, ValueError, KeyError, TypeError) as exc:
        raise GeoshelfError(f"{path}: cannot read references: {one_line(exc, 200)}") from None
    return targets


def check_reference_targets(entry: Entry, path: str, store: str, protocol: str) -> None:
    """Refuse a reference set with a target the user's credentials for the entry's files must not reach.

    The references are read with one set of options for their protocol: the user's config for the
    entry's files.  So every target must lie under the same configured prefix as those files (parsed
    URL: scheme, host, port or bucket, then path segments, as ``storage_options_for``); a target on
    another host would otherwise receive those credentials.  Without configured options there is
    nothing to protect and nothing is checked.
    """
    source = entry.resolve(entry.original.path)
    configured = configured_storage_options()
    held = matching_prefix(source, configured)
    if held is None or not configured[held]:
        return
    for target in sorted(reference_targets(path, store, entry.options_for(path))):
        full = target if "://" in target else f"{protocol}://{target}"  # fsspec sends a bare path to that protocol
        if matching_prefix(full, configured) != held:
            raise GeoshelfError(f"{path}: the references point at {target}, outside {held} where the entry's files "
                                f"are; refused: the credentials your geoshelf config holds for {held} go only there")


def open_references_representation(entry: Entry, rep: Representation, chunks: Any = None, **kwargs: Any) -> Any:
    """The entry's references as a lazily chunked Dataset (targets checked by :func:`check_reference_targets`)."""
    path = entry.resolve(rep.path)
    source = entry.resolve(entry.original.path)
    protocol = source.split("://", 1)[0] if "://" in source else "file"
    store = rep.options.get("store", "json")
    if protocol != "file":
        check_reference_targets(entry, path, store, protocol)
    return open_references(path, store, chunks=chunks, remote_protocol=protocol,
                           remote_options=entry.storage_options if protocol != "file" else None, **kwargs)
