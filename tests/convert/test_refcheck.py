"""The metadata check of references: right byte ranges, right codecs, coordinates decoded as the sources'."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from geoshelf import convert
from geoshelf.catalog import Catalog, add_entry
from geoshelf.convert.refcheck import check_references
from geoshelf.convert.references import combine, single_refs
from geoshelf.errors import ConversionError, ValidationError
from geoshelf.load.references import open_references
from geoshelf.scan import scan


def _refs(files: list[Path]) -> dict[str, Any]:
    return json.loads(json.dumps(combine([single_refs(str(f)) for f in files], "time", ["lat", "lon"])))


def _check(refs: dict[str, Any], files: list[Path], tmp_path: Path) -> str:
    path = tmp_path / "r.json"
    path.write_text(json.dumps(refs))
    return check_references(refs["refs"], [str(f) for f in files], open_references(str(path)), where="r.json: ")


def test_untouched_references_pass(tmp_path: Path, data_copy: dict[str, list[Path]]) -> None:
    files = data_copy["sst"]  # one file per day, each with its own units "days since <that day>"
    assert _check(_refs(files), files, tmp_path) == "metadata"


def test_an_altered_offset_is_caught(tmp_path: Path, data_copy: dict[str, list[Path]]) -> None:
    files = data_copy["sst"]
    refs = _refs(files)
    url, offset, size = refs["refs"]["sst/3.0.0"]
    refs["refs"]["sst/3.0.0"] = [url, offset + 8, size]
    with pytest.raises(ValidationError, match=rf"sst: chunk \(3, 0, 0\) points at bytes {offset + 8}\+{size} of "
                                              rf".*{Path(url).name}, but the file stores it at {offset}\+{size}"):
        _check(refs, files, tmp_path)


def test_an_altered_length_is_caught(tmp_path: Path, data_copy: dict[str, list[Path]]) -> None:
    files = data_copy["sst"]
    refs = _refs(files)
    url, offset, size = refs["refs"]["sst/5.0.0"]
    refs["refs"]["sst/5.0.0"] = [url, offset, size - 1]
    with pytest.raises(ValidationError, match=rf"chunk \(5, 0, 0\) points at bytes {offset}\+{size - 1} .* "
                                              rf"stores it at {offset}\+{size}"):
        _check(refs, files, tmp_path)


@pytest.mark.parametrize(("codec", "words"), [
    ([{"id": "zlib", "level": 4}], "decodes differently"),  # shuffle dropped: decodes, to other values
    ([{"id": "shuffle", "elementsize": 2}, {"id": "zstd", "level": 1}], "cannot be decoded"),
])
def test_an_altered_codec_is_caught(tmp_path: Path, data_copy: dict[str, list[Path]], codec: list[dict[str, Any]],
                                    words: str) -> None:
    files = data_copy["sst"]
    refs = _refs(files)
    zarray = json.loads(refs["refs"]["sst/.zarray"])
    assert zarray["filters"] == [{"id": "shuffle", "elementsize": 2}, {"id": "zlib", "level": 4}]
    zarray["filters"] = codec
    refs["refs"]["sst/.zarray"] = json.dumps(zarray)
    with pytest.raises(ValidationError, match=rf"sst: chunk \(0, 0, 0\) of .*sst_20200101.nc {words}"):
        _check(refs, files, tmp_path)


def test_altered_packing_chunk_swap_and_time_are_caught(tmp_path: Path, data_copy: dict[str, list[Path]]) -> None:
    files = data_copy["sst"]
    refs = _refs(files)
    attrs = json.loads(refs["refs"]["sst/.zattrs"])
    refs["refs"]["sst/.zattrs"] = json.dumps({**attrs, "scale_factor": 0.1})
    with pytest.raises(ValidationError, match=r"sst: scale_factor is 0.1 in the references but 0.01 in"):
        _check(refs, files, tmp_path)
    refs = _refs(files)  # two days swapped: each range is a real chunk, of the wrong day
    refs["refs"]["sst/1.0.0"], refs["refs"]["sst/2.0.0"] = refs["refs"]["sst/2.0.0"], refs["refs"]["sst/1.0.0"]
    with pytest.raises(ValidationError, match=r"chunk \(1, 0, 0\) points at .*sst_20200103.nc, but it is stored in "
                                              r".*sst_20200102.nc"):
        _check(refs, files, tmp_path)
    from kerchunk.combine import MultiZarrToZarr

    collapsed = MultiZarrToZarr([single_refs(str(f)) for f in files], concat_dims=["time"],
                                identical_dims=["lat", "lon"]).translate()  # without cf:time: one step
    with pytest.raises(ValidationError, match=r"time"):
        _check(json.loads(json.dumps(collapsed)), files, tmp_path)


def _steps_files(root: Path, n_files: int = 3, steps: int = 4, chunk: int = 2) -> list[Path]:
    """Files of several 6-hourly steps each, time in "hours since <file start>", chunked 2 steps, NaNs."""
    rng = np.random.default_rng(3)
    lat, lon = np.linspace(-60, 60, 13).astype("f4"), np.arange(0, 360, 15).astype("f4")
    out = []
    root.mkdir(parents=True, exist_ok=True)
    for i in range(n_files):
        start = pd.Timestamp("2021-03-01") + pd.Timedelta(hours=6 * steps * i)
        t = pd.date_range(start, periods=steps, freq="6h")
        data = (280 + 10 * rng.standard_normal((steps, lat.size, lon.size))).astype("f4")
        data[0, 0, :3] = np.nan
        ds = xr.Dataset({"t2m": (("time", "lat", "lon"), data, {"units": "K", "standard_name": "air_temperature"})},
                        coords={"time": t, "lat": ("lat", lat, {"units": "degrees_north"}),
                                "lon": ("lon", lon, {"units": "degrees_east"})})
        ds.time.encoding.update(units=f"hours since {start:%Y-%m-%d %H:%M:%S}", calendar="standard", dtype="f8")
        ds.t2m.encoding.update(zlib=True, complevel=2, chunksizes=(chunk, lat.size, lon.size), _FillValue=np.nan)
        path = root / f"t2m_{i:02d}.nc"
        ds.to_netcdf(path, engine="netcdf4")
        out.append(path)
    return out


def test_several_steps_per_file_with_own_units(tmp_path: Path) -> None:
    files = _steps_files(tmp_path / "data")
    cat = tmp_path / "c.yaml"
    add_entry(cat, scan([str(f) for f in files], "t2m", catalog_dir=str(tmp_path)))
    rep = convert("t2m", "references", catalog=cat, store="json")
    assert rep.provenance.validation == "metadata" and rep.provenance.parameters["validate"] == "full"
    got = Catalog(cat).t2m.to_dask(representation="references").load()
    parts = []
    for f in files:  # h5netcdf: netCDF4's own libhdf5 beside h5py's aborts this process at exit (old main too)
        with xr.open_dataset(f, engine="h5netcdf") as part:
            parts.append(part.load())
    xr.testing.assert_equal(got, xr.concat(parts, "time"))
    assert got.sizes["time"] == 12
    refs = _refs(files)  # a chunk of the second file's second half pointed at its first half
    refs["refs"]["t2m/3.0.0"] = refs["refs"]["t2m/2.0.0"]
    with pytest.raises(ValidationError, match=r"t2m: chunk \(3, 0, 0\) points at bytes \d+\+\d+ of .*t2m_01.nc"):
        _check(refs, files, tmp_path)


@pytest.mark.parametrize("mode", ["values", "sample", "metadata"])
def test_the_check_that_ran_is_recorded(catalog_path: Path, mode: str) -> None:
    rep = convert("sst", "references", catalog=catalog_path, store="json", validate=mode)
    assert rep.provenance.validation == mode
    assert Catalog(catalog_path).sst.representation("references").provenance.validation == mode


def test_other_targets_refuse_metadata_validation(catalog_path: Path) -> None:
    before = catalog_path.read_bytes()
    with pytest.raises(ConversionError, match=r"--validate must be one of full, sample for target 'zarr', not "
                                              r"'metadata'"):
        convert("sst", "zarr", catalog=catalog_path, validate="metadata")
    assert catalog_path.read_bytes() == before


def test_store_follows_the_output_name(tmp_path: Path, catalog_path: Path) -> None:
    rep = convert("sst", "references", catalog=catalog_path, output=tmp_path / "out" / "r2.json")
    assert rep.format == "kerchunk-json" and (tmp_path / "out" / "r2.json").is_file()
    rep = convert("sst", "references", catalog=catalog_path, output=tmp_path / "out" / "r3.parq")
    assert rep.format == "kerchunk-parquet" and (tmp_path / "out" / "r3.parq").is_dir()
    rep = convert("sst", "references", catalog=catalog_path, output=tmp_path / "out" / "r4")
    assert rep.format == "kerchunk-parquet" and (tmp_path / "out" / "r4").is_dir()


@pytest.mark.parametrize(("name", "store", "words"), [
    ("r.json", "parquet", r"r.json: the name means a json store but store=parquet was asked; name it r.parq"),
    ("r.parq", "json", r"r.parq: the name means a parquet store but store=json was asked; name it r.json"),
    ("r.zarr", None, r"r.zarr: a references output is named \*.json \(JSON store\) or \*.parq"),
])
def test_an_output_name_that_does_not_fit_is_refused_before_any_work(tmp_path: Path, catalog_path: Path, name: str,
                                                                    store: str | None, words: str) -> None:
    before = catalog_path.read_bytes()
    with pytest.raises(ConversionError, match=words):
        convert("sst", "references", catalog=catalog_path, output=tmp_path / "out" / name, store=store)
    assert catalog_path.read_bytes() == before
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").iterdir())
