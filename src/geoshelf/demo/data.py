"""Deterministic, realistic demo data: daily SST NetCDF files, monthly 4-D air temperature,
elevation GeoTIFF tiles and station observations as CSV."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import rasterio
import xarray as xr
from rasterio.transform import from_origin


@dataclass(frozen=True, kw_only=True)
class DemoSize:
    """Sizes of the demo data sets."""

    days: int
    ny: int
    nx: int
    air_months: int
    air_levels: int
    air_ny: int
    air_nx: int
    n_tiles: int
    tile_size: int
    n_stations: int


SIZES: dict[str, DemoSize] = {
    "tiny": DemoSize(days=8, ny=36, nx=72, air_months=3, air_levels=4, air_ny=18, air_nx=36, n_tiles=2,
                     tile_size=64, n_stations=5),
    "small": DemoSize(days=365, ny=90, nx=180, air_months=24, air_levels=8, air_ny=37, air_nx=72, n_tiles=4,
                      tile_size=256, n_stations=20),
    "medium": DemoSize(days=365, ny=720, nx=1440, air_months=120, air_levels=17, air_ny=73, air_nx=144,
                       n_tiles=16, tile_size=1024, n_stations=200),
    "large": DemoSize(days=730, ny=720, nx=1440, air_months=120, air_levels=17, air_ny=73, air_nx=144,
                      n_tiles=16, tile_size=1024, n_stations=200),
}

_LEVELS = np.array([1000, 925, 850, 700, 600, 500, 400, 300, 250, 200, 150, 100, 70, 50, 30, 20, 10], "f4")


def _grid(ny: int, nx: int) -> tuple[np.ndarray, np.ndarray]:
    dy, dx = 180.0 / ny, 360.0 / nx
    lat = (-90 + dy / 2 + dy * np.arange(ny)).astype("f4")
    lon = (dx / 2 + dx * np.arange(nx)).astype("f4")
    return lat, lon


def _coord_attrs(ds) -> None:  # type: ignore[no-untyped-def]
    ds["lat"].attrs.update(units="degrees_north", standard_name="latitude", long_name="latitude", axis="Y")
    ds["lon"].attrs.update(units="degrees_east", standard_name="longitude", long_name="longitude", axis="X")


def _land_mask(lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    """Smooth continent-like blobs (True = land)."""
    la, lo = np.meshgrid(lat, lon, indexing="ij")
    field = np.zeros_like(la, dtype="f8")
    for clat, clon, rlat, rlon in ((45, 100, 25, 45), (10, 20, 30, 22), (-25, 135, 12, 18),
                                   (50, 260, 20, 35), (-15, 300, 25, 14), (-80, 180, 10, 180), (72, 320, 10, 20)):
        dlon = (lo - clon + 180) % 360 - 180
        field += np.exp(-(((la - clat) / rlat) ** 2 + (dlon / rlon) ** 2))
    return field > 0.5


def _smooth_noise(rng: np.random.Generator, ny: int, nx: int, scale: float) -> np.ndarray:
    """Spectrally smooth random field with unit-ish amplitude."""
    ky = np.fft.fftfreq(ny)[:, None]
    kx = np.fft.rfftfreq(nx)[None, :]
    k = np.sqrt(ky**2 + kx**2)
    spectrum = np.exp(-((k * scale) ** 2)) * (rng.standard_normal((ny, nx // 2 + 1))
                                                + 1j * rng.standard_normal((ny, nx // 2 + 1)))
    field = np.fft.irfft2(spectrum, s=(ny, nx))
    return field / (field.std() or 1.0)


def make_sst(outdir: str | Path, *, days: int = 365, ny: int = 90, nx: int = 180, start: str = "2020-01-01",
             seed: int = 0) -> list[Path]:
    """One NetCDF4 file per day of packed int16 SST; each file's time units are ``days since <that day>``."""
    out = Path(outdir)
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    lat, lon = _grid(ny, nx)
    land = _land_mask(lat, lon)
    base = 28.0 * np.cos(np.deg2rad(lat))[:, None] ** 2 - 1.8 * (1 - np.cos(np.deg2rad(lat))[:, None])
    anomaly = _smooth_noise(rng, ny, nx, scale=8.0)
    files = []
    t0 = pd.Timestamp(start)
    for i in range(days):
        day = t0 + pd.Timedelta(days=i)
        anomaly = 0.95 * anomaly + 0.3 * _smooth_noise(rng, ny, nx, scale=8.0)
        doy = day.dayofyear
        season = 3.0 * np.sin(2 * np.pi * (doy - 110) / 365.25) * np.sign(lat)[:, None] * \
            np.abs(np.sin(np.deg2rad(lat)))[:, None]
        sst = np.clip(base + season + 0.8 * anomaly, -1.8, 34.0).astype("f4")
        sst[land] = np.nan
        ds = xr.Dataset(
            {"sst": (("time", "lat", "lon"), sst[None])},
            coords={"time": [day.to_datetime64()], "lat": lat, "lon": lon},
            attrs={"Conventions": "CF-1.8", "title": "Daily sea surface temperature (geoshelf demo)",
                   "institution": "geoshelf demo", "source": "synthetic: latitude gradient, seasonal cycle, "
                   "smooth anomalies", "history": f"{day:%Y-%m-%d} created by geoshelf.demo"},
        )
        _coord_attrs(ds)
        ds["time"].attrs.update(standard_name="time", long_name="time", axis="T")
        ds["sst"].attrs.update(units="degC", standard_name="sea_surface_temperature",
                               long_name="daily sea surface temperature")
        ds["time"].encoding.update(units=f"days since {day:%Y-%m-%d} 00:00:00", calendar="proleptic_gregorian",
                                   dtype="f8")
        ds["sst"].encoding.update(dtype="int16", scale_factor=0.01, add_offset=20.0, _FillValue=np.int16(-32768),
                                  zlib=True, complevel=4, shuffle=True, chunksizes=(1, ny, nx))
        path = out / f"sst_{day:%Y%m%d}.nc"
        ds.to_netcdf(path, engine="netcdf4", format="NETCDF4")
        files.append(path)
    return files


def make_air(outdir: str | Path, *, months: int = 24, levels: int = 8, ny: int = 37, nx: int = 72,
             start: str = "2000-01", seed: int = 1) -> list[Path]:
    """Monthly air temperature on pressure levels (time, level, lat, lon), one NetCDF4 file."""
    out = Path(outdir)
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    lat = np.linspace(-90, 90, ny).astype("f4")
    lon = (np.arange(nx) * 360.0 / nx).astype("f4")
    lev = _LEVELS[np.linspace(0, len(_LEVELS) - 1, levels).round().astype(int)]
    time = pd.date_range(start, periods=months, freq="MS")
    surface = 300.0 - 45.0 * np.sin(np.deg2rad(lat))[:, None] ** 2  # K
    height_km = 7.0 * np.log(1000.0 / lev)  # scale height
    air = np.empty((months, levels, ny, nx), "f4")
    for t in range(months):
        season = 8.0 * np.sin(2 * np.pi * (time[t].month - 4) / 12) * np.sin(np.deg2rad(lat))[:, None]
        noise = _smooth_noise(rng, ny, nx, scale=4.0)
        for k in range(levels):
            lapse = 6.5 * np.minimum(height_km[k], 11.0)
            air[t, k] = surface + season - lapse + 1.5 * noise
    air[min(1, months - 1), 0, ny // 3: ny // 3 + 3, nx // 4: nx // 4 + 5] = np.nan  # a missing patch
    ds = xr.Dataset({"air": (("time", "level", "lat", "lon"), air)},
                    coords={"time": time, "level": lev, "lat": lat, "lon": lon},
                    attrs={"Conventions": "CF-1.8", "title": "Monthly air temperature (geoshelf demo)",
                           "institution": "geoshelf demo"})
    _coord_attrs(ds)
    ds["level"].attrs.update(units="hPa", positive="down", standard_name="air_pressure", axis="Z")
    ds["time"].attrs.update(standard_name="time", axis="T")
    ds["time"].encoding.update(units="days since 1950-01-01", calendar="standard", dtype="f8")
    ds["air"].attrs.update(units="K", standard_name="air_temperature", long_name="monthly mean air temperature")
    ds["air"].encoding.update(_FillValue=np.float32(1e20), zlib=True, complevel=4,
                              chunksizes=(1, levels, ny, nx))
    path = out / "air_monthly.nc"
    ds.to_netcdf(path, engine="netcdf4", format="NETCDF4")
    return [path]


def make_tiles(outdir: str | Path, *, n_tiles: int = 4, size: int = 256, seed: int = 2) -> list[Path]:
    """Adjacent elevation GeoTIFF tiles (EPSG:32633, 30 m, nodata -9999), cut from one field."""
    out = Path(outdir)
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    cols = int(np.ceil(np.sqrt(n_tiles)))
    rows = int(np.ceil(n_tiles / cols))
    ny, nx = rows * size, cols * size
    yy, xx = np.mgrid[0:ny, 0:nx].astype("f4")
    elev = 200 + 300 * _smooth_noise(rng, ny, nx, scale=size / 8).astype("f4")
    for _ in range(6):
        cy, cx = rng.uniform(0, ny), rng.uniform(0, nx)
        h, r = rng.uniform(500, 2500), rng.uniform(size / 6, size / 2)
        elev += h * np.exp(-(((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * r**2)))
    elev = np.maximum(elev, 0).astype("f4")
    lake = ((yy - ny * 0.6) ** 2 + (xx - nx * 0.3) ** 2) < (size / 10) ** 2
    elev[lake] = -9999.0
    x0, y0, res = 500000.0, 5300000.0, 30.0
    files = []
    block = 256 if size % 256 == 0 else None
    for idx in range(n_tiles):
        r, c = divmod(idx, cols)
        tile = elev[r * size:(r + 1) * size, c * size:(c + 1) * size]
        profile = {"driver": "GTiff", "height": size, "width": size, "count": 1, "dtype": "float32",
                   "crs": "EPSG:32633", "transform": from_origin(x0 + c * size * res, y0 - r * size * res, res, res),
                   "nodata": -9999.0, "compress": "deflate"}
        if block:
            profile.update(tiled=True, blockxsize=block, blockysize=block)
        path = out / f"tile_r{r}_c{c}.tif"
        with rasterio.open(path, "w", **profile) as dst:
            dst.write(tile, 1)
            dst.set_band_description(1, "elevation")
            dst.update_tags(1, units="metres")
            dst.update_tags(AREA_OR_POINT="Area")
        files.append(path)
    return files


def make_stations(outdir: str | Path, *, n_stations: int = 20, days: int = 365, start: str = "2020-01-01",
                  seed: int = 3) -> list[Path]:
    """Daily observations of ``n_stations`` stations as one CSV file."""
    out = Path(outdir)
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    ids = [f"ST{i + 1:04d}" for i in range(n_stations)]
    lat = rng.uniform(35, 60, n_stations).round(4)
    lon = rng.uniform(-10, 30, n_stations).round(4)
    elev = rng.uniform(0, 1500, n_stations).round(1)
    dates = pd.date_range(start, periods=days, freq="D")
    doy = dates.day_of_year.to_numpy()[:, None]
    temp = (15 - 0.4 * (lat - 45) - 0.0065 * elev + 9 * np.sin(2 * np.pi * (doy - 110) / 365.25)
            + rng.normal(0, 2.5, (days, n_stations))).round(2)
    temp[rng.random(temp.shape) < 0.02] = np.nan
    precip = np.where(rng.random((days, n_stations)) < 0.6, 0.0, rng.gamma(0.8, 6.0, (days, n_stations))).round(1)
    df = pd.DataFrame({
        "station_id": np.tile(ids, days),
        "name": np.tile([f"Station {i + 1}" for i in range(n_stations)], days),
        "lat": np.tile(lat, days), "lon": np.tile(lon, days), "elevation_m": np.tile(elev, days),
        "time": np.repeat(dates.strftime("%Y-%m-%d"), n_stations),
        "air_temperature": temp.ravel(), "precipitation_mm": precip.ravel(),
    })
    path = out / "stations.csv"
    df.to_csv(path, index=False)
    return [path]


def generate_demo(root: str | Path, size: str = "small", *,
                  progress: Callable[[str], None] | None = None) -> dict[str, list[Path]]:
    """Write every demo data set under ``root`` (sst/, air/, elevation/, stations/)."""
    if size not in SIZES:
        raise ValueError(f"unknown demo size {size!r} (valid: {', '.join(SIZES)})")
    s = SIZES[size]
    root = Path(root)
    steps = (
        ("sst", lambda: make_sst(root / "sst", days=s.days, ny=s.ny, nx=s.nx)),
        ("air", lambda: make_air(root / "air", months=s.air_months, levels=s.air_levels, ny=s.air_ny, nx=s.air_nx)),
        ("elevation", lambda: make_tiles(root / "elevation", n_tiles=s.n_tiles, size=s.tile_size)),
        ("stations", lambda: make_stations(root / "stations", n_stations=s.n_stations, days=s.days)),
    )
    out = {}
    for key, fn in steps:
        t0 = time.perf_counter()
        out[key] = fn()
        if progress:
            progress(f"{key}: {len(out[key])} files in {time.perf_counter() - t0:.1f} s")
    return out
