"""COG target: Cloud-Optimized GeoTIFFs (rio-cogeo) from GeoTIFF tiles or 2-D NetCDF fields.

One COG per source tile, or per (variable, time step) of a georeferenced NetCDF variable,
in a directory ``NAME.cog/``: internal tiling, overviews (nearest resampling by default, so
values stay exact), compression, nodata and CRS kept.  Every output must pass
``rio_cogeo.cog_validate`` and read back equal to its source.
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from ..catalog.model import Entry, Representation
from ..errors import ConversionError, ValidationError
from ..load.cog import open_cog_representation
from .base import Converter, Option, Plan, Validation

PROFILES = ("deflate", "zstd", "lzw", "packbits", "raw")
RESAMPLING = ("nearest", "bilinear", "cubic", "cubic_spline", "lanczos", "average", "mode", "gauss", "rms")


def _translate(src: str, dst: Path, profile: str, blocksize: int, resampling: str) -> None:
    from rio_cogeo.cogeo import cog_translate
    from rio_cogeo.profiles import cog_profiles

    prof = cog_profiles.get(profile)
    prof.update(blockxsize=blocksize, blockysize=blocksize)
    cog_translate(src, str(dst), prof, overview_resampling=resampling, quiet=True, in_memory=False)


class CogConverter(Converter):
    """GeoTIFF / 2-D NetCDF -> Cloud-Optimized GeoTIFF."""

    description = "Cloud-Optimized GeoTIFF (tiled, overviews, compressed) per tile or per 2-D field"
    formats = ("geotiff", "netcdf")
    suffix = ".cog"

    options = (
        Option(name="profile", choices=PROFILES, default="deflate", label="COG profile",
               help="COG compression profile (default deflate)"),
        Option(name="blocksize", type=int, default=256, help="internal tile size, a multiple of 16 (default 256)"),
        Option(name="overview_resampling", choices=RESAMPLING, default="nearest",
               help="overview resampling (default nearest: values stay exact)"),
        Option(name="variable", help="NetCDF variable to convert (needed when there are several)"),
        Option(name="level", type=object, metavar="VALUE",
               help="value of a NetCDF variable's extra dimension (e.g. a pressure level) to convert"),
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
                raise ConversionError(f"{entry.name}: no variable {variable!r} (variables: {', '.join(entry.variables)})")
            out["variable"] = variable
        return out

    def open(self, entry: Entry, rep: Representation, chunks: Any = None, **kwargs: Any) -> Any:
        return open_cog_representation(entry, rep, chunks=chunks, **kwargs)

    def _fields(self, plan: Plan[None]) -> Any:
        """The NetCDF variable as (time, lat, lon), refusing what a 2-D raster cannot hold."""
        from ..load.original import open_original

        ds = open_original(plan.files, "netcdf", storage_options=plan.entry.storage_options)
        da = ds[plan.options["variable"]]
        extra = [d for d in da.dims if d not in ("time", "lat", "lon", "latitude", "longitude", "y", "x")]
        if extra:
            if "level" not in plan.options or len(extra) != 1:
                raise ConversionError(f"{plan.files[0]}: variable {da.name!r} has dimension(s) {', '.join(extra)} "
                                      "besides time/lat/lon: choose one with --option level=VALUE")
            try:
                da = da.sel({extra[0]: plan.options["level"]})
            except KeyError:
                raise ConversionError(f"{plan.files[0]}: no {extra[0]} {plan.options['level']!r} in {da.name!r}") from None
        if "time" not in da.dims:
            da = da.expand_dims(time=[np.datetime64("NaT")])
        return da.rename({"latitude": "lat"} if "latitude" in da.dims else {}).rename(
            {"longitude": "lon"} if "longitude" in da.dims else {})

    def write(self, plan: Plan[None], path: Path) -> None:
        path.mkdir(parents=True)
        opts = plan.options
        if plan.entry.format == "geotiff":
            for f in plan.files:
                _translate(f, path / (Path(f).stem + ".tif"), opts["profile"], opts["blocksize"],
                           opts["overview_resampling"])
            return
        da = self._fields(plan)
        with tempfile.TemporaryDirectory(dir=path.parent) as tmp:
            for i in range(da.sizes["time"]):
                field = da.isel(time=i).load().astype("float32")
                if field.lat.values[0] < field.lat.values[-1]:
                    field = field.isel(lat=slice(None, None, -1))  # north-up
                field = field.rio.set_spatial_dims(x_dim="lon", y_dim="lat").rio.write_crs("EPSG:4326")
                field = field.rio.write_nodata(np.float32(np.nan), encoded=False)
                t = da.time.values[i]
                stamp = "none" if np.isnat(t) else np.datetime_as_string(t, unit="s").replace(":", "")
                plain = Path(tmp) / f"{i}.tif"
                field.drop_vars([c for c in field.coords if c not in ("lat", "lon", "spatial_ref")]).rio.to_raster(plain)
                _translate(str(plain), path / f"{da.name}_{stamp}.tif", opts["profile"], opts["blocksize"],
                           opts["overview_resampling"])

    def validate(self, plan: Plan[None], path: Path) -> Validation:
        import rioxarray
        from rio_cogeo.cogeo import cog_validate

        outputs = sorted(path.glob("*.tif"))
        for out in outputs:
            valid, errors, _warnings = cog_validate(str(out), quiet=True)
            if not valid:
                raise ValidationError(f"{out.name}: not a valid COG: {'; '.join(errors)}")
        if plan.entry.format == "geotiff":
            import rasterio

            for f in plan.files:  # rasterio directly: a rioxarray open costs more than reading a tile
                out = path / (Path(f).stem + ".tif")
                with rasterio.open(f) as a, rasterio.open(out) as b:
                    if a.crs != b.crs or a.transform != b.transform or a.nodata != b.nodata:
                        raise ValidationError(f"{out.name}: CRS, transform or nodata differ from {f}")
                    if not np.array_equal(a.read(), b.read(), equal_nan=True):
                        raise ValidationError(f"{out.name}: values differ from {f}")
            return "full"
        da = self._fields(plan)
        if len(outputs) != da.sizes["time"]:
            raise ValidationError(f"{path.name}: {len(outputs)} COGs for {da.sizes['time']} time steps")
        for i, out in enumerate(outputs):
            src = da.isel(time=i).values.astype("float32")
            if da.lat.values[0] < da.lat.values[-1]:
                src = src[::-1]
            with rioxarray.open_rasterio(out, masked=True) as b:
                if not np.array_equal(src, b.values[0], equal_nan=True):
                    raise ValidationError(f"{out.name}: values differ from time step {i} of the source")
        return "full"

    def representation_format(self, plan: Plan[None], path: Path) -> str:
        return "cog-" + plan.options["profile"]

    def representation_options(self, plan: Plan[None], path: Path) -> dict[str, Any]:
        return {"source_format": plan.entry.format}
