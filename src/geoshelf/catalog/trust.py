"""What a shared catalog may ask of its reader: allow-lists, never pass-through.

A catalog is untrusted input (see ``docs/security.md``).  Everything in it that reaches an
opener (xarray, rioxarray, dask, fsspec, zarr, kerchunk) goes through the tables here:

* opener keyword arguments (``args.xarray_kwargs``, ``args.csv_kwargs``, a representation's
  ``options``) are limited to read/decode options with values of the expected type;
* storage options are limited per protocol; no cache directories, no credentials, no
  chained (``simplecache::...``) URLs; a catalog cannot move a URL the user's config holds
  credentials for to another endpoint;
* paths and URLs may not use ``~``, environment variables or templates other than
  ``{{ CATALOG_DIR }}``.

Each check raises :class:`UnsafeCatalogError` with one line naming the key and the rule.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

from ..errors import UnsafeCatalogError
from .locate import origin

Check = Callable[[Any], bool]


def _bool(v: Any) -> bool:
    return isinstance(v, bool)


def _str(v: Any) -> bool:
    return isinstance(v, str)


def _int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and v >= 0


def _none(v: Any) -> bool:
    return v is None


def _one_of(*values: Any) -> Check:
    def check(v: Any) -> bool:
        return isinstance(v, (str, bool, type(None))) and v in values
    check.__doc__ = "one of " + ", ".join(map(repr, values))
    return check


def _any(*checks: Check) -> Check:
    return lambda v: any(c(v) for c in checks)


def _list_of(check: Check) -> Check:
    return lambda v: isinstance(v, list) and all(check(x) for x in v)


def _map_of(check: Check) -> Check:
    return lambda v: isinstance(v, dict) and all(isinstance(k, str) and check(x) for k, x in v.items())


def _chunks(v: Any) -> bool:
    """xarray/dask chunks: None, "auto", an int, or a mapping dim -> int / "auto" / None / -1."""
    one = _any(_none, _int, _one_of("auto"), lambda x: x == -1 and not isinstance(x, bool))
    return one(v) or (isinstance(v, dict) and all(isinstance(k, str) and one(x) for k, x in v.items()))


_str_or_strs = _any(_str, _list_of(_str))
_CACHE_TYPES = _one_of("none", "bytes", "readahead", "first", "blockcache", "background", "all", "parts")

#: xarray.open_dataset / open_zarr / open_mfdataset read and decode options (NetCDF and Zarr entries).
XARRAY_OPTIONS: dict[str, Check] = {
    "engine": _one_of("netcdf4", "h5netcdf", "scipy", "zarr", "cfgrib"),
    # cfgrib's only: "no index file" (an indexpath from a catalog would write files where it says)
    "backend_kwargs": lambda v: v == {"indexpath": ""},
    "chunks": _chunks,
    "cache": _bool,
    "decode_cf": _bool,
    "mask_and_scale": _bool,
    "decode_times": _bool,
    "decode_timedelta": _bool,
    "use_cftime": _any(_bool, _none),
    "concat_characters": _bool,
    "decode_coords": _any(_bool, _one_of("coordinates", "all")),
    "drop_variables": _str_or_strs,
    "group": _str,
    "inline_array": _bool,
    "create_default_indexes": _bool,
    "consolidated": _any(_bool, _none),
    # open_mfdataset's combining options (geoshelf combines by coordinates itself; stock intake uses them)
    "combine": _one_of("by_coords", "nested"),
    "concat_dim": _any(_none, _str_or_strs),
    "data_vars": _any(_one_of("minimal", "different", "all"), _list_of(_str)),
    "coords": _any(_one_of("minimal", "different", "all"), _list_of(_str)),
    "compat": _one_of("identical", "equals", "broadcast_equals", "no_conflicts", "override", "minimal"),
    "join": _one_of("outer", "inner", "left", "right", "exact", "override"),
    "combine_attrs": _one_of("drop", "identical", "no_conflicts", "drop_conflicts", "override"),
    "parallel": _bool,
}

#: rioxarray.open_rasterio read options (GeoTIFF entries).
RASTERIO_OPTIONS: dict[str, Check] = {
    "chunks": _any(_chunks, _bool),
    "cache": _bool,
    "masked": _bool,
    "mask_and_scale": _bool,
    "parse_coordinates": _bool,
    "band_as_variable": _bool,
    "default_name": _str,
    "variable": _str_or_strs,
    "group": _str_or_strs,
    "decode_times": _bool,
    "decode_timedelta": _bool,
}

_scalar = _any(_str, _int, lambda v: isinstance(v, float))
#: dask.dataframe.read_csv (pandas) read options (CSV entries, ``args.csv_kwargs``).
CSV_OPTIONS: dict[str, Check] = {
    "sep": _str,
    "delimiter": _str,
    "header": _any(_none, _int, _list_of(_int), _one_of("infer")),
    "names": _list_of(_str),
    "usecols": _list_of(_any(_str, _int)),
    "dtype": _any(_str, _map_of(_str)),
    "parse_dates": _any(_bool, _list_of(_str)),
    "skiprows": _any(_int, _list_of(_int)),
    "na_values": _any(_scalar, _list_of(_scalar), _map_of(_any(_scalar, _list_of(_scalar)))),
    "comment": _str,
    "decimal": _str,
    "thousands": _str,
    "quotechar": _str,
    "skipinitialspace": _bool,
    "encoding": _str,
    "blocksize": _any(_none, _int, _str),
    "assume_missing": _bool,
}

#: dask.dataframe.read_parquet read options (Parquet entries, ``args.csv_kwargs`` as for CSV).
PARQUET_OPTIONS: dict[str, Check] = {
    "columns": _str_or_strs,
    "index": _any(_none, _one_of(False), _str_or_strs),
    "categories": _any(_list_of(_str), _map_of(_int)),
    "calculate_divisions": _bool,
    "split_row_groups": _any(_bool, _int, _one_of("infer", "adaptive")),
    "dtype_backend": _one_of("numpy_nullable", "pyarrow"),
    "filters": _list_of(_any(_list_of(_any(_scalar, _list_of(_scalar))),
                             _list_of(_list_of(_any(_scalar, _list_of(_scalar)))))),
}


def _listed_files(suffix: str, *, nested: bool) -> Check:
    """Files of a representation directory listed by name (a served catalog lists them: HTTP has no
    directory listing): plain ``*suffix`` components, in subdirectories only when ``nested`` (hive
    ``key=value`` directories of a Parquet dataset), nothing that could leave the directory."""
    def check(v: Any) -> bool:
        if not isinstance(v, str) or not v.endswith(suffix) or len(v) > (1024 if nested else 255):
            return False
        parts = v.split("/") if nested else [v]
        return all(p and not p.startswith(".") and not any(c in p for c in "/\\\x00?#%") for p in parts)
    return _list_of(check)


#: Opener options per representation kind (what the converters record; the loader reads).
#: A target plugin with its own representation kind registers its options here.
REPRESENTATION_OPTIONS: dict[str, dict[str, Check]] = {
    "zarr": {"consolidated": _any(_bool, _none), "raster_variable": _str},  # raster_variable: older catalogs
    "references": {"store": _one_of("json", "parquet"), "concat_dim": _str},
    "cog": {"source_format": _one_of("netcdf", "geotiff"), "files": _listed_files(".tif", nested=False)},
    "parquet": {"partition": _str, "row_group_size": _int, "files": _listed_files(".parquet", nested=True)},
}

#: Which table applies to ``args.xarray_kwargs`` / ``args.csv_kwargs`` for each entry format.
OPENER_OPTIONS: dict[str, tuple[str, dict[str, Check]]] = {
    "netcdf": ("xarray_kwargs", XARRAY_OPTIONS),
    "zarr": ("xarray_kwargs", XARRAY_OPTIONS),
    "geotiff": ("xarray_kwargs", RASTERIO_OPTIONS),
    "csv": ("csv_kwargs", CSV_OPTIONS),
    "parquet": ("csv_kwargs", PARQUET_OPTIONS),
}


def check_options(options: Any, table: Mapping[str, Check], where: str) -> dict[str, Any]:
    """``options`` if every key is in ``table`` with a value of the allowed kind, else one error line."""
    if options is None:
        return {}
    if not isinstance(options, dict):
        raise UnsafeCatalogError(f"{where} must be a mapping, not {type(options).__name__}")
    for key, value in options.items():
        check = table.get(key) if isinstance(key, str) else None
        if check is None:
            raise UnsafeCatalogError(
                f"{where}: option {key!r} is not allowed (a catalog may pass only read options: "
                f"{', '.join(sorted(table)) or 'none'})"
            )
        if not check(value):
            raise UnsafeCatalogError(f"{where}: option {key!r} has a value not allowed here: {_short(value)}")
    return dict(options)


def opener_options(fmt: str, args: Mapping[str, Any]) -> dict[str, Any]:
    """The checked opener keyword arguments an entry's ``args`` give for its format."""
    key, table = OPENER_OPTIONS.get(fmt, ("xarray_kwargs", XARRAY_OPTIONS))
    return check_options(args.get(key), table, f"args.{key}")


def representation_options(kind: str, options: Any) -> dict[str, Any]:
    """The checked options of a representation of ``kind``."""
    return check_options(options, REPRESENTATION_OPTIONS.get(kind, {}), f"representation {kind!r} options")


# -- storage options ------------------------------------------------------------------------------

_S3: dict[str, Check] = {
    "anon": _bool, "requester_pays": _bool, "default_block_size": _int, "default_cache_type": _CACHE_TYPES,
    "default_fill_cache": _bool, "version_aware": _bool, "cache_regions": _bool, "use_ssl": _bool,
    "endpoint_url": lambda v: isinstance(v, str) and v.startswith(("http://", "https://")),
    "client_kwargs": _map_of(_str),
}
_GCS: dict[str, Check] = {
    "requester_pays": _bool, "default_block_size": _int, "token": _one_of("anon"),
    "endpoint_url": lambda v: isinstance(v, str) and v.startswith(("http://", "https://")),
}
_HTTP: dict[str, Check] = {"block_size": _int, "cache_type": _CACHE_TYPES, "simple_links": _bool,
                           "same_scheme": _bool, "encoded": _bool}
_AZ: dict[str, Check] = {"account_name": _str, "anon": _bool}

#: Storage options a catalog may set, per protocol of the entry's URL.  Local paths take none.
STORAGE_OPTIONS: dict[str, dict[str, Check]] = {
    "http": _HTTP, "https": _HTTP, "s3": _S3, "s3a": _S3, "gs": _GCS, "gcs": _GCS,
    "az": _AZ, "abfs": _AZ, "abfss": _AZ, "file": {},
}
#: Keys that choose where requests go (host, endpoint, region, credentials profile).
ROUTING_KEYS = frozenset({"endpoint_url", "client_kwargs", "account_name", "profile", "region_name"})
_CLIENT_KWARGS = frozenset({"endpoint_url", "region_name"})
#: Parts of an option name that mean a credential (never in a shared catalog).
_SECRET = re.compile(r"key|secret|token|password|passwd|credential|auth|session|cookie|header|sas|"
                     r"signature|cert|profile|username|^user$", re.IGNORECASE)


def protocol(url: str) -> str:
    """The fsspec protocol of a URL or path (``file`` for local paths)."""
    return url.split("://", 1)[0].lower() if "://" in url else "file"


def check_storage_options(url: str, options: Any, where: str = "args.storage_options") -> dict[str, Any]:
    """A catalog's storage options for ``url``, checked against the protocol's allow-list."""
    if options is None or options == {}:
        return {}
    if not isinstance(options, dict):
        raise UnsafeCatalogError(f"{where} must be a mapping, not {type(options).__name__}")
    proto = protocol(url)
    table = STORAGE_OPTIONS.get(proto, {})
    for key, value in options.items():
        if isinstance(key, str) and _SECRET.search(key) and not (key == "token" and value == "anon"):
            raise UnsafeCatalogError(
                f"{where}: {key!r} looks like a credential; credentials belong in your geoshelf config "
                "(storage_options: by URL), never in a shared catalog"
            )
        if key not in table:
            raise UnsafeCatalogError(
                f"{where}: option {key!r} is not allowed for {proto}:// URLs (a catalog may set: "
                f"{', '.join(sorted(table)) or 'nothing'})"
            )
        if not table[key](value):
            raise UnsafeCatalogError(f"{where}: option {key!r} has a value not allowed here: {_short(value)}")
        if key == "client_kwargs":
            bad = sorted(set(value) - _CLIENT_KWARGS)
            if bad:
                raise UnsafeCatalogError(f"{where}: client_kwargs {bad[0]!r} is not allowed "
                                         f"(a catalog may set: {', '.join(sorted(_CLIENT_KWARGS))})")
    return dict(options)


def effective_storage_options(url: str, catalog_options: Any, user_options: Mapping[str, Any],
                              where: str = "args.storage_options") -> dict[str, Any]:
    """What to give fsspec for ``url``: the catalog's checked options, the user's config over them.

    When the user's config holds options for the URL, the catalog may not change where requests go
    (endpoint, client_kwargs, region, profile).  A catalog that chooses its own endpoint for an object
    store gets anonymous access: the user's ambient credentials are never sent to a catalog's endpoint.
    """
    checked = check_storage_options(url, catalog_options, where)
    routing = sorted(ROUTING_KEYS & set(checked))
    if routing and user_options:
        raise UnsafeCatalogError(
            f"{where}: {routing[0]!r} may not be set by a catalog for {url}: your geoshelf config "
            "holds options for this URL"
        )
    if routing and protocol(url) in ("s3", "s3a"):
        checked["anon"] = True
    if routing and protocol(url) in ("gs", "gcs"):
        checked["token"] = "anon"
    return {**checked, **user_options}


# -- paths and URLs ---------------------------------------------------------------------------------

#: Protocols a catalog's URLs may use (no chained or local-write caching protocols).
URL_PROTOCOLS = frozenset({"file", "http", "https", "s3", "s3a", "gs", "gcs", "az", "abfs", "abfss"})
_ENV = re.compile(r"\$\{?[A-Za-z_]")
_TEMPLATE = re.compile(r"\{\{(.*?)\}\}")


def check_path(path: Any, where: str) -> str:
    """A path or URL written in a catalog: no ``~``, no environment variables, no template but
    ``{{ CATALOG_DIR }}``, no chained protocols, no credentials in the URL, an allowed protocol."""
    if not isinstance(path, str) or not path:
        raise UnsafeCatalogError(f"{where} must be a non-empty string, not {_short(path)}")
    if "\x00" in path:
        raise UnsafeCatalogError(f"{where}: a NUL character in a path")
    if path.startswith("~"):
        raise UnsafeCatalogError(f"{where}: {_short(path)} starts with '~': a catalog may not name "
                                 "the reader's home directory (write the path out)")
    if _ENV.search(path):
        raise UnsafeCatalogError(f"{where}: {_short(path)}: environment variables are not expanded "
                                 "in a catalog (write the path out)")
    for m in _TEMPLATE.finditer(path):
        if m.group(1).strip() != "CATALOG_DIR":
            raise UnsafeCatalogError(f"{where}: {_short(path)}: the only template a catalog may use "
                                     "is {{ CATALOG_DIR }}")
    if "::" in path:
        raise UnsafeCatalogError(f"{where}: {_short(path)}: chained URLs (simplecache::, filecache::, ...) "
                                 "are not allowed in a catalog")
    if "://" in path:
        proto = protocol(path)
        if proto not in URL_PROTOCOLS:
            raise UnsafeCatalogError(f"{where}: {_short(path)}: protocol {proto!r} is not allowed "
                                     f"(allowed: {', '.join(sorted(URL_PROTOCOLS))})")
        try:
            parts = urlsplit(path)
            parts.port  # noqa: B018 - raises on a malformed port
        except ValueError as exc:
            raise UnsafeCatalogError(f"{where}: {_short(path)}: malformed URL ({exc})") from None
        if parts.username is not None or parts.password is not None:
            raise UnsafeCatalogError(f"{where}: {_short(path)}: credentials in a URL (user@host) are not "
                                     "allowed in a catalog")
    return path


def _short(value: Any, n: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= n else text[: n - 3] + "..."


__all__ = [
    "CSV_OPTIONS", "OPENER_OPTIONS", "PARQUET_OPTIONS", "RASTERIO_OPTIONS", "REPRESENTATION_OPTIONS",
    "ROUTING_KEYS", "STORAGE_OPTIONS", "URL_PROTOCOLS", "XARRAY_OPTIONS", "check_options", "check_path",
    "check_entry", "check_storage_options", "effective_storage_options", "opener_options", "protocol",
    "representation_options",
]


def check_entry(entry: Any) -> Any:
    """Everything in an :class:`~geoshelf.catalog.model.Entry` that reaches an opener, checked.

    Returns the entry; raises :class:`UnsafeCatalogError` naming the first offending field.
    """
    urls = entry.urlpath if isinstance(entry.urlpath, list) else [entry.urlpath] if entry.urlpath else []
    for i, url in enumerate(urls):
        check_path(url, "args.urlpath" if len(urls) == 1 else f"args.urlpath[{i}]")
    if len(urls) > 1:
        places = {origin(u) for u in urls}
        if len(places) > 1:  # one set of storage options (and credentials) serves every file
            raise UnsafeCatalogError("args.urlpath names files on several hosts or buckets; an entry reads "
                                     "from one place (make one entry per host)")
    opener_options(entry.format, entry.args)
    if urls:
        check_storage_options(urls[0], entry.args.get("storage_options"))
    elif entry.args.get("storage_options"):
        check_storage_options("", entry.args.get("storage_options"))
    for rep in entry.representations:
        check_path(rep.path, f"representation {rep.kind!r} path")
        representation_options(rep.kind, rep.options)
    return entry
