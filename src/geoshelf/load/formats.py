"""Recognising source formats from names and magic bytes, and opening file objects."""

from __future__ import annotations

import os
from typing import Any

from ..catalog.paths import is_url
from ..catalog.remote import remote_errors
from ..errors import SourceError

NETCDF_EXT = {".nc", ".nc4", ".cdf", ".netcdf", ".h5", ".hdf5", ".he5"}
TIFF_EXT = {".tif", ".tiff", ".gtiff"}
CSV_EXT = {".csv"}
PARQUET_EXT = {".parquet", ".pq"}
GRIB_EXT = {".grib", ".grb", ".grib1", ".grib2", ".grb2"}
ZARR_EXT = {".zarr"}
#: The one suffix -> format table (the format an entry records; :func:`sniff` reads the bytes instead).
SUFFIX_FORMATS: dict[str, str] = {
    **dict.fromkeys(NETCDF_EXT, "netcdf"), **dict.fromkeys(TIFF_EXT, "geotiff"), **dict.fromkeys(CSV_EXT, "csv"),
    **dict.fromkeys(PARQUET_EXT, "parquet"), **dict.fromkeys(GRIB_EXT, "grib"), **dict.fromkeys(ZARR_EXT, "zarr"),
}


def format_from_suffix(path: str, default: str = "netcdf") -> str:
    """The format a file name's suffix says (``default`` for an unknown one), without reading it."""
    return SUFFIX_FORMATS.get(os.path.splitext(path.rstrip("/"))[1].lower(), default)


def _head(path: str, storage_options: dict[str, Any] | None = None, n: int = 8) -> bytes:
    try:
        if is_url(path):
            # deferred: fsspec costs 0.1-0.4 s at start-up; only URLs need it
            import fsspec

            with remote_errors(path), fsspec.open(path, "rb", **(storage_options or {})) as fh:
                return fh.read(n)
        with open(path, "rb") as fh:
            return fh.read(n)
    except IsADirectoryError:
        return b""
    except (OSError, ValueError) as exc:
        raise SourceError(f"{path}: cannot read: {getattr(exc, 'strerror', None) or exc}") from None


def sniff(path: str, storage_options: dict[str, Any] | None = None) -> str:
    """The format of one file: netcdf3, netcdf4 (HDF5), grib, geotiff, csv, parquet or zarr."""
    local_dir = not is_url(path) and os.path.isdir(path)
    if local_dir or path.rstrip("/").endswith(".zarr"):
        if local_dir and not any(os.path.exists(os.path.join(path, m)) for m in ("zarr.json", ".zgroup", ".zattrs")):
            raise SourceError(f"{path}: a directory that is not a Zarr store")
        return "zarr"
    ext = os.path.splitext(path.split("?")[0])[1].lower()
    head = _head(path, storage_options)
    if head.startswith(b"CDF\x01") or head.startswith(b"CDF\x02") or head.startswith(b"CDF\x05"):
        return "netcdf3"
    if head.startswith(b"\x89HDF\r\n\x1a\n"):
        return "netcdf4"
    if head[:4] in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"):
        return "geotiff"
    if head.startswith(b"PAR1"):
        return "parquet"
    if head.startswith(b"GRIB"):
        return "grib"
    if ext in CSV_EXT:
        return "csv"
    if ext in NETCDF_EXT or ext in TIFF_EXT or ext in PARQUET_EXT or ext in GRIB_EXT:
        kind = ("NetCDF/HDF5" if ext in NETCDF_EXT else "GeoTIFF" if ext in TIFF_EXT
                else "GRIB" if ext in GRIB_EXT else "Parquet")
        raise SourceError(f"{path}: not a valid {kind} file (unrecognised header {head[:4]!r}; truncated or corrupt?)")
    raise SourceError(f"{path}: unsupported file type (expected NetCDF, GRIB, GeoTIFF, CSV, Parquet or Zarr)")


def family(kind: str) -> str:
    """Entry format for a sniffed kind (netcdf3/netcdf4 -> netcdf)."""
    return "netcdf" if kind.startswith("netcdf") else kind


def engine_for(kind: str, remote: bool = False) -> str:
    """xarray engine for a NetCDF kind: netCDF4-C locally (fastest to open), h5netcdf for file objects."""
    if kind == "netcdf4":
        return "h5netcdf" if remote else "netcdf4"
    return "scipy"
