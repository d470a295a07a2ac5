"""COG target: Cloud-Optimized GeoTIFFs (GDAL's COG driver) from GeoTIFF tiles or 2-D NetCDF fields.

One COG per source tile, or per (variable, time step) of a georeferenced NetCDF variable,
in a directory ``NAME.cog/``: internal tiling, overviews (nearest resampling by default, so
values stay exact), compression; nodata, CRS, band units and tags kept.  Every output must pass
``rio_cogeo.cog_validate`` and read back equal to its source.
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from ..catalog.model import Entry, Representation
from ..contract import Converter, Option, Plan, Validation
from ..errors import ConversionError, ValidationError
from ..load.cog import open_cog_representation
from ..load.original import open_original

PROFILES = ("deflate", "zstd", "lzw", "packbits", "raw")
RESAMPLING = ("nearest", "bilinear", "cubic", "cubic_spline", "lanczos", "average", "mode", "gauss", "rms")
#: Names of the horizontal dimensions of a regular grid (y first).
Y_NAMES = ("lat", "latitude", "y", "rlat", "grid_latitude", "projection_y_coordinate")
X_NAMES = ("lon", "longitude", "x", "rlon", "grid_longitude", "projection_x_coordinate")
STANDARD_CALENDARS = ("standard", "gregorian", "proleptic_gregorian")


def parse_select(name: str, value: Any) -> dict[str, str]:
    """``select`` option: ``DIM:VALUE,DIM:VALUE`` (or a mapping) -> {dim: value}."""
    if isinstance(value, dict):
        return {str(k): str(v) for k, v in value.items()}
    out = {}
    for part in str(value).split(","):
        dim, sep, val = part.partition(":")
        if not sep or not dim.strip() or not val.strip():
            raise ConversionError(f"{name}: select must be DIM:VALUE[,DIM:VALUE...], not {value!r}")
        out[dim.strip()] = val.strip()
    return out


def _pick(da: Any, dim: str, value: Any, where: str) -> Any:
    """``da`` at ``dim`` = ``value`` (a string from the command line matched against the coordinate)."""
    index = da.indexes.get(dim)
    if index is None:
        try:
            return da.isel({dim: int(value)})
        except (TypeError, ValueError):
            raise ConversionError(f"{where}: dimension {dim!r} has no coordinate: "
                                  f"give an index, not {value!r}") from None
    for candidate in (value, _number(value), str(value)):
        if candidate is None:
            continue
        try:
            return da.sel({dim: candidate})
        except (KeyError, TypeError, ValueError):
            continue
    values = ", ".join(str(v) for v in index[:8]) + (" ..." if len(index) > 8 else "")
    raise ConversionError(f"{where}: no {dim} {value!r} in {da.name!r} (values: {values})")


def _number(value: Any) -> Any:
    try:
        f = float(value)
    except (TypeError, ValueError):
        return None
    return int(f) if f.is_integer() else f


def _stamp(t: Any) -> str:
    """The time part of an output name (``none`` for a field without time)."""
    if isinstance(t, np.datetime64):
        return "none" if np.isnat(t) else np.datetime_as_string(t, unit="s").replace(":", "")
    return "none"


def _same_crs(written: Any, crs: Any) -> bool:
    """True when the CRS GDAL wrote is the source's (compared by pyproj, axis order aside)."""
    # deferred: pyproj ~60 ms at `convert --help` (every target is imported); only COG writes need it
    from pyproj import CRS

    got = CRS.from_user_input(written.to_wkt())
    return bool(got.equals(crs, ignore_axis_order=True) or got.to_proj4() == crs.to_proj4())


def _grid_crs(ds: Any, da: Any, ydim: str, xdim: str, entry_crs: str | None, where: str) -> Any:
    """The CRS of the variable's grid: its CF grid mapping, else lat/lon degrees, else the entry's."""
    # deferred: pyproj ~60 ms at `convert --help`; only COG writes need it
    from pyproj import CRS
    from pyproj.exceptions import CRSError

    gm = da.attrs.get("grid_mapping") or da.encoding.get("grid_mapping")
    if gm and str(gm).split(":")[0] in ds.variables:
        try:
            return CRS.from_cf(ds[str(gm).split(":")[0]].attrs)
        except CRSError as exc:
            raise ConversionError(f"{where}: grid mapping {gm!r} of {da.name!r} is not a CRS pyproj understands "
                                  f"({exc}); use --to zarr") from None
    units = (str(da[ydim].attrs.get("units", "")), str(da[xdim].attrs.get("units", "")))
    if ydim in ("lat", "latitude") or units[0].startswith("degree") and units[1].startswith("degree"):
        return CRS.from_epsg(4326)
    if entry_crs:
        return CRS.from_user_input(entry_crs)
    raise ConversionError(f"{where}: variable {da.name!r} on {ydim}/{xdim} has no grid_mapping and no CRS; "
                          "a GeoTIFF needs one: use --to zarr")


def raster_fields(ds: Any, options: dict[str, Any], where: str, entry_crs: str | None = None) -> tuple[Any, Any]:
    """The variable of ``options`` as (time, y, x), and its CRS; what a 2-D raster cannot hold is refused."""
    da = ds[options["variable"]]
    ydim = next((d for d in da.dims if d in Y_NAMES), None)
    xdim = next((d for d in da.dims if d in X_NAMES), None)
    if ydim is None or xdim is None:
        raise ConversionError(f"{where}: variable {da.name!r} has dimensions {', '.join(map(str, da.dims))}, not a "
                              "regular y/x or lat/lon grid (curvilinear, unstructured or a profile?): use --to zarr")
    for dim in (ydim, xdim):
        if dim not in da.indexes or da[dim].ndim != 1:
            raise ConversionError(f"{where}: {dim} of {da.name!r} has no 1-D coordinate; a GeoTIFF needs a regular "
                                  "grid: use --to zarr")
        values = np.asarray(da[dim].values, dtype="f8")
        if values.size > 2 and not np.allclose(np.diff(values), values[1] - values[0], rtol=1e-6, atol=0):
            raise ConversionError(f"{where}: {dim} of {da.name!r} is not evenly spaced; a GeoTIFF needs a regular "
                                  "grid: use --to zarr")
    tdim = next((d for d in da.dims if d == "time" or ds[d].attrs.get("axis") == "T"
                 or (d in da.indexes and da[d].dtype.kind == "M")), None) if da.dims else None
    if tdim is not None and tdim in da.indexes and da[tdim].dtype.kind != "M":
        calendar = ds[tdim].encoding.get("calendar") or ds[tdim].attrs.get("calendar") or "?"
        raise ConversionError(f"{where}: {tdim} of {da.name!r} uses the {calendar} calendar, which COG file names "
                              "cannot carry: use --to zarr")
    extra = [d for d in da.dims if d not in (ydim, xdim, tdim)]
    select = parse_select(where, options["select"]) if options.get("select") else {}
    if options.get("level") is not None and len(extra) == 1 and extra[0] not in select:
        select[extra[0]] = options["level"]
    unknown = [d for d in select if d not in extra]
    if unknown:
        raise ConversionError(f"{where}: select names {', '.join(unknown)}, not a dimension of {da.name!r} "
                              f"besides time/y/x ({', '.join(map(str, extra)) or 'none'})")
    missing = [d for d in extra if d not in select]
    if missing:
        how = ("--option level=VALUE" if len(extra) == 1
               else "--option select=" + ",".join(f"{d}:VALUE" for d in extra))
        raise ConversionError(f"{where}: variable {da.name!r} has dimension(s) {', '.join(map(str, missing))} "
                              f"besides time/y/x: choose one value with {how}")
    for dim, value in select.items():
        da = _pick(da, dim, value, where)
    da = da.drop_vars([c for c in da.coords if c not in da.dims and c not in (tdim,)])
    if tdim is None:
        da = da.expand_dims(time=np.array(["NaT"], dtype="datetime64[ns]"))
    elif tdim != "time":
        da = da.rename({tdim: "time"})
    da = da.transpose("time", ydim, xdim)
    crs = _grid_crs(ds, ds[options["variable"]], ydim, xdim, entry_crs, where)
    return da, crs


#: GDAL COG driver compression of each profile.
_COMPRESS = {"deflate": "DEFLATE", "zstd": "ZSTD", "lzw": "LZW", "packbits": "PACKBITS", "raw": "NONE"}


#: Largest overview size (bytes, decoded) whose temporary file is left uncompressed (see :func:`_translate`).
TMP_OVERVIEWS_UNCOMPRESSED_MAX = 1 << 30


def tmp_overview_config(width: int, height: int, count: int, itemsize: int, levels: int) -> dict[str, str]:
    """GDAL config for the temporary overview file of one COG: uncompressed when it is small.

    The COG driver computes overviews into a temporary file beside the output, compressed with
    ZSTD by default, then copies them into the COG, compressed as asked: each overview block is
    compressed twice.  Uncompressed, that file costs no codec work (a fifth of a 2048x2048 float32
    translate) and the COG is byte for byte the same (tests/convert/test_cog.py); above
    :data:`TMP_OVERVIEWS_UNCOMPRESSED_MAX` GDAL's default keeps the temporary file small on disk.
    """
    if not levels:
        return {}
    decoded = sum((width >> k) * (height >> k) for k in range(1, levels + 1)) * count * itemsize
    return {"COG_TMP_COMPRESSION": "NONE"} if decoded <= TMP_OVERVIEWS_UNCOMPRESSED_MAX else {}


def _translate(src: str, dst: Path, profile: str, blocksize: int, resampling: str) -> None:
    """One COG from one GeoTIFF with GDAL's COG driver, in the calling thread.

    The driver copies everything the source carries (band units, scales, offsets, tags, nodata,
    masks, colour table) and adds nothing; rio-cogeo's ``cog_translate`` drops band units and
    adds an ``OVERVIEW_RESAMPLING`` tag, so the representation differed from its source (#10).
    Overview levels follow rio-cogeo's rule: halve until a side fits in one block.  Compression
    (``DEFLATE`` level 6, no predictor, for the default profile), block size and overview
    resampling are those of rio-cogeo's profiles.
    """
    # deferred: rasterio and rio-cogeo cost ~0.5 s at `convert --help`; only COG writes need them
    import rasterio
    from rasterio.shutil import copy
    from rio_cogeo.utils import get_maximum_overview_level

    with rasterio.open(src) as s:
        levels = get_maximum_overview_level(s.width, s.height, minsize=blocksize)
        options = {"BLOCKSIZE": blocksize, "COMPRESS": _COMPRESS[profile],
                   "OVERVIEW_RESAMPLING": resampling.replace("_", "").upper(), "NUM_THREADS": 1}
        options.update({"OVERVIEW_COUNT": levels} if levels else {"OVERVIEWS": "NONE"})
        itemsize = max(np.dtype(d).itemsize for d in s.dtypes)
        with rasterio.Env(**tmp_overview_config(s.width, s.height, s.count, itemsize, levels)):
            copy(s, str(dst), driver="COG", **options)


def same_values(a: np.ndarray, b: np.ndarray) -> bool:
    """True when two arrays hold the same values, NaN where NaN (bit-identical is the fast path)."""
    if a.shape != b.shape or a.dtype != b.dtype:
        return False
    if a.dtype.kind == "f":  # equal bits are equal values (NaN payloads too); else compare as numbers
        bits = np.dtype(f"u{a.dtype.itemsize}")
        if np.array_equal(a.view(bits), b.view(bits)):
            return True
    return bool(np.array_equal(a, b, equal_nan=a.dtype.kind in "fc"))


def compare_tiles(src: str, out: Path) -> None:
    """A ValidationError unless the COG ``out`` has the GeoTIFF ``src``'s CRS, transform, nodata,
    shape, data types and every value.

    Compared one block of the COG at a time (its internal tiles, all bands), so each compressed
    block is decoded once and the memory held is one block of each file, not two whole rasters.
    rasterio directly: a rioxarray open costs more than reading a tile.
    """
    # deferred: rasterio costs ~0.35 s at `convert --help`; only validating a GeoTIFF's COG needs it
    import rasterio

    with rasterio.open(src) as a, rasterio.open(out) as b:
        if a.crs != b.crs or a.transform != b.transform or a.nodata != b.nodata:
            raise ValidationError(f"{out.name}: CRS, transform or nodata differ from {src}")
        if (a.count, a.height, a.width) != (b.count, b.height, b.width) or a.dtypes != b.dtypes:
            raise ValidationError(f"{out.name}: {b.count} band(s) of {b.height} rows x {b.width} columns "
                                  f"{', '.join(b.dtypes)}, the source {src} has {a.count} of {a.height} x {a.width} "
                                  f"{', '.join(a.dtypes)}")
        for _, window in b.block_windows(1):
            if not same_values(a.read(window=window), b.read(window=window)):
                raise ValidationError(f"{out.name}: values differ from {src} in rows {window.row_off}-"
                                      f"{window.row_off + window.height - 1}, columns {window.col_off}-"
                                      f"{window.col_off + window.width - 1}")


class CogConverter(Converter[None]):
    """GeoTIFF / 2-D NetCDF -> Cloud-Optimized GeoTIFF."""

    description = "Cloud-Optimized GeoTIFF (tiled, overviews, compressed) per tile or per 2-D field"
    formats = ("geotiff", "netcdf")
    suffix = ".cog"
    way_out = "use --to zarr, which copies the data"

    options = (
        Option(name="profile", choices=PROFILES, default="deflate", label="COG profile",
               help="COG compression profile (default deflate)"),
        Option(name="blocksize", type=int, default=256, help="internal tile size, a multiple of 16 (default 256)"),
        Option(name="overview_resampling", choices=RESAMPLING, default="nearest",
               help="overview resampling (default nearest: values stay exact)"),
        Option(name="variable", help="NetCDF variable to convert (needed when there are several)"),
        Option(name="level", type=object, metavar="VALUE",
               help="value of a NetCDF variable's extra dimension (e.g. a pressure level) to convert"),
        Option(name="select", type=str, metavar="DIM:VALUE,...",
               help="values of several extra dimensions to convert, e.g. member:0,level:500"),
    )

    def plan(self, entry: Entry, options: Mapping[str, Any]) -> dict[str, Any]:
        out = super().plan(entry, options)
        blocksize = out["blocksize"]
        if blocksize % 16 or blocksize <= 0:
            raise ConversionError(f"{entry.name}: blocksize must be a positive multiple of 16, not {blocksize}")
        if entry.format == "netcdf":
            variable = out.get("variable")
            if variable is None:
                if len(entry.variables) != 1:
                    raise ConversionError(f"{entry.name}: several variables ({', '.join(entry.variables)}): "
                                          "choose one with --variable")
                variable = entry.variables[0]
            if entry.variables and variable not in entry.variables:
                raise ConversionError(f"{entry.name}: no variable {variable!r} (variables: "
                                      f"{', '.join(entry.variables)})")
            out["variable"] = variable
            if out.get("select") is not None:
                parse_select(entry.name, out["select"])  # refused now, before any work, when malformed
        return out

    def open(self, entry: Entry, rep: Representation, chunks: Any = None, **kwargs: Any) -> Any:
        return open_cog_representation(entry, rep, chunks=chunks, **kwargs)

    def _fields(self, plan: Plan[None]) -> Any:
        """The NetCDF variable as (time, y, x) on a regular grid, with its CRS; refuses what a
        2-D raster cannot hold, naming a way out."""
        ds = open_original(plan.files, "netcdf", storage_options=plan.entry.storage_options)
        return raster_fields(ds, plan.options, plan.files[0], plan.entry.crs)

    def write(self, plan: Plan[None], path: Path) -> None:
        # deferred: rioxarray costs ~1.5 s at `convert --help` (it registers the .rio accessor used below)
        import rioxarray  # noqa: F401 - registers the .rio accessor

        path.mkdir(parents=True)
        opts = plan.options
        if plan.entry.format == "geotiff":
            for f in plan.files:
                _translate(f, path / (Path(f).stem + ".tif"), opts["profile"], opts["blocksize"],
                           opts["overview_resampling"])
            return
        da, crs = self._fields(plan)
        ydim, xdim = da.dims[-2], da.dims[-1]
        with tempfile.TemporaryDirectory(dir=path.parent) as tmp:
            for i in range(da.sizes["time"]):
                field = da.isel(time=i).load().astype("float32")
                if field[ydim].size > 1 and field[ydim].values[0] < field[ydim].values[-1]:
                    field = field.isel({ydim: slice(None, None, -1)})  # north-up
                field.attrs.pop("grid_mapping", None)  # the source's grid mapping variable is not carried over
                field.encoding.pop("grid_mapping", None)
                field = field.drop_vars([c for c in field.coords if c not in (xdim, ydim)])
                # spatial dims set last: rioxarray finds unnamed-by-CF lat/lon (no attributes) only when told
                field = field.rio.write_crs(crs).rio.write_nodata(np.float32(np.nan), encoded=False)
                plain = Path(tmp) / f"{i}.tif"
                field.rio.set_spatial_dims(x_dim=xdim, y_dim=ydim).rio.to_raster(plain)
                _translate(str(plain), path / f"{da.name}_{_stamp(da.time.values[i])}.tif", opts["profile"],
                           opts["blocksize"], opts["overview_resampling"])

    def validate(self, plan: Plan[None], path: Path) -> Validation:
        # deferred: rioxarray, rio-cogeo and rasterio cost ~1.5 s at `convert --help`
        import rioxarray
        from rio_cogeo.cogeo import cog_validate

        outputs = sorted(path.glob("*.tif"))
        for out in outputs:
            valid, errors, _warnings = cog_validate(str(out), quiet=True)
            if not valid:
                raise ValidationError(f"{out.name}: not a valid COG: {'; '.join(errors)}")
        if plan.entry.format == "geotiff":
            for f in plan.files:
                compare_tiles(f, path / (Path(f).stem + ".tif"))
            return "full"
        da, crs = self._fields(plan)
        ydim, xdim = da.dims[-2], da.dims[-1]
        if len(outputs) != da.sizes["time"]:
            raise ValidationError(f"{path.name}: {len(outputs)} COGs for {da.sizes['time']} time steps")
        flip = da[ydim].size > 1 and da[ydim].values[0] < da[ydim].values[-1]
        ys = da[ydim].values[::-1] if flip else da[ydim].values
        for i in range(da.sizes["time"]):
            out = path / f"{da.name}_{_stamp(da.time.values[i])}.tif"
            src = da.isel(time=i).values.astype("float32")
            if flip:
                src = src[::-1]
            raster = rioxarray.open_rasterio(out, masked=True)
            if not isinstance(raster, xr.DataArray):
                raise ValidationError(f"{out.name}: not a single GeoTIFF raster")
            with raster as b:
                if b.rio.crs is None or not _same_crs(b.rio.crs, crs):
                    raise ValidationError(f"{out.name}: CRS {b.rio.crs} differs from the source's {crs}")
                for name, want, got in ((xdim, da[xdim].values, b.x.values), (ydim, ys, b.y.values)):
                    step = abs(float(want[1] - want[0])) if want.size > 1 else 1.0
                    if want.shape != got.shape or not np.allclose(want, got, rtol=0, atol=step * 1e-6):
                        raise ValidationError(f"{out.name}: {name} coordinates differ from the source's")
                if not np.array_equal(src, b.values[0], equal_nan=True):
                    raise ValidationError(f"{out.name}: values differ from time step {i} of the source")
        return "full"

    def representation_format(self, plan: Plan[None], path: Path) -> str:
        return "cog-" + str(plan.options["profile"])

    def representation_options(self, plan: Plan[None], path: Path) -> dict[str, Any]:
        return {"source_format": plan.entry.format}
