"""References target: every time step when CF time units differ per file, pre-flight, stores, append."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import dask
import numpy as np
import pytest
import xarray as xr

from geoshelf import convert
from geoshelf.catalog import Catalog, add_entry
from geoshelf.convert import convert_entry
from geoshelf.convert.references import single_refs
from geoshelf.errors import ConversionError
from geoshelf.scan import scan


def mfdataset(files: list[Path]) -> xr.Dataset:
    return xr.open_mfdataset([str(f) for f in sorted(files)], combine="by_coords").load()


def test_raw_kerchunk_collapses_time_which_is_why_we_decode_cf_time(data_copy: dict[str, list[Path]]) -> None:
    from kerchunk.combine import MultiZarrToZarr

    refs = [single_refs(str(f)) for f in data_copy["sst"]]
    naive = MultiZarrToZarr(refs, concat_dims=["time"], identical_dims=["lat", "lon"]).translate()
    ds = xr.open_dataset("reference://", engine="zarr", backend_kwargs={
        "consolidated": False, "storage_options": {"fo": naive, "remote_protocol": "file"}})
    assert ds.sizes["time"] == 1  # silently wrong: the reason for coo_map={"time": "cf:time"}


@pytest.mark.parametrize("store", ["json", "parquet"])
def test_every_time_step_with_right_values(catalog_path: Path, data_copy: dict[str, list[Path]], store: str) -> None:
    rep = convert("sst", "references", catalog=catalog_path, store=store)
    assert rep.format == f"kerchunk-{store}"
    ds = Catalog(catalog_path).sst.to_dask()  # best available: references
    assert dask.is_dask_collection(ds.sst)
    expected = mfdataset(data_copy["sst"])
    assert ds.sizes["time"] == len(data_copy["sst"])
    xr.testing.assert_equal(ds.load(), expected)
    assert ds.time.encoding["units"].startswith("days since 2020-01-01")


def test_single_file(catalog_path: Path, data_copy: dict[str, list[Path]]) -> None:
    convert("air", "references", catalog=catalog_path)
    ds = Catalog(catalog_path).air.to_dask(representation="references")
    xr.testing.assert_equal(ds.load(), xr.open_dataset(data_copy["air"][0]).load())


def _variant(src: Path, dst: Path, change: str) -> None:
    with xr.open_dataset(src) as ds:
        ds = ds.load()
    enc = dict(ds.sst.encoding)
    keep = {k: enc[k] for k in ("dtype", "scale_factor", "add_offset", "_FillValue", "zlib", "complevel",
                                "shuffle", "chunksizes") if k in enc}
    if change == "grid":
        ds = ds.assign_coords(lat=ds.lat + 0.5)
    elif change == "dtype":
        keep = {"dtype": "float32", "zlib": True, "chunksizes": keep["chunksizes"]}
    elif change == "packing":
        keep["scale_factor"] = 0.02
    elif change == "codec":
        keep["complevel"] = 9
        keep["zlib"] = False
    elif change == "chunks":
        keep["chunksizes"] = (1, 18, 36)
    ds.sst.encoding = keep
    ds.time.encoding = dict(ds.time.encoding)
    ds.to_netcdf(dst, engine="netcdf4")


@pytest.mark.parametrize(("change", "words"), [("grid", "grid differs"), ("dtype", "is float32"),
                                                ("packing", "scale_factor"), ("codec", "compressed differently"),
                                                ("chunks", "chunks")])
def test_preflight_refuses_in_plain_words(tmp_path: Path, data_copy: dict[str, list[Path]], change: str,
                                          words: str) -> None:
    files = data_copy["sst"][:3]
    odd = tmp_path / "data" / "sst" / "sst_odd.nc"
    _variant(files[-1], odd, change)
    files[-1].unlink()
    cat = tmp_path / "c.yaml"
    entry = scan([str(f) for f in files[:-1]], "mixed", catalog_dir=str(tmp_path))  # the odd file may not combine
    add_entry(cat, entry.replace(urlpath=[str(f) for f in (*files[:-1], odd)], fingerprint="", files=3))
    before = cat.read_bytes()
    with pytest.raises(ConversionError, match=rf"sst_odd.nc.*{words}.*--to zarr"):
        convert("mixed", "references", catalog=cat)
    assert cat.read_bytes() == before
    shelf = tmp_path / "shelf"
    assert not shelf.exists() or not [p for p in shelf.iterdir() if not p.name.endswith(".lock")]


def test_a_single_netcdf3_file_is_referenced(tmp_path: Path, data_copy: dict[str, list[Path]]) -> None:
    nc3 = tmp_path / "nc3.nc"
    with xr.open_dataset(data_copy["air"][0]) as ds:
        ds.load().to_netcdf(nc3, format="NETCDF3_64BIT", engine="scipy")
    cat = tmp_path / "c.yaml"
    add_entry(cat, scan([str(nc3)], "old", catalog_dir=str(tmp_path)))
    assert convert("old", "references", catalog=cat).provenance.validation == "metadata"
    got = Catalog(cat).old.to_dask(representation="references").load()
    xr.testing.assert_equal(got, xr.open_dataset(nc3, engine="scipy").load())


def test_append_and_unchanged(tmp_path: Path, catalog_path: Path, data_copy: dict[str, list[Path]]) -> None:
    from geoshelf.demo.data import make_sst

    convert("sst", "references", catalog=catalog_path, store="json")
    again = convert_entry(Catalog(catalog_path).sst, "references", catalog_path=catalog_path, store="json")
    assert again.action == "unchanged"
    n = len(data_copy["sst"])
    for f in make_sst(tmp_path / "extra", days=n + 2, ny=36, nx=72)[n:]:
        shutil.copy2(f, data_copy["sst"][0].parent / f.name)
    cat = Catalog(catalog_path)
    entry = scan([str(data_copy["sst"][0].parent)], "sst", catalog_dir=str(catalog_path.parent))
    cat.update(entry.replace(representations=cat.sst.representations))
    out = convert_entry(Catalog(catalog_path).sst, "references", catalog_path=catalog_path, store="json")
    assert out.action == "appended"
    ds = Catalog(catalog_path).sst.to_dask()
    assert ds.sizes["time"] == n + 2
    xr.testing.assert_equal(ds.load(), mfdataset(sorted(data_copy["sst"][0].parent.glob("*.nc"))))
    refs = json.loads(Path(Catalog(catalog_path).sst.resolve(out.representation.path)).read_text())
    assert np.all(np.diff(xr.open_dataset("reference://", engine="zarr", backend_kwargs={
        "consolidated": False, "storage_options": {"fo": refs}}).time.values) == np.timedelta64(1, "D"))


def test_batched_attribute_indexer_gives_kerchunks_references(data_copy: dict[str, list[Path]]) -> None:
    from kerchunk.hdf import SingleHdf5ToZarr

    from geoshelf.convert import refindex

    refindex._WRITES.clear()
    for f in (data_copy["sst"][0], data_copy["air"][0]):
        stock = SingleHdf5ToZarr(str(f), inline_threshold=300).translate()
        assert json.dumps(single_refs(str(f))) == json.dumps(stock)  # same keys, order and bytes


def test_replayed_zarr_metadata_gives_kerchunks_references(tmp_path: Path, data_copy: dict[str, list[Path]]) -> None:
    """Files of the same layout replay Zarr's metadata writes; every file's references stay kerchunk's, byte for
    byte, also when a variable of a known name comes with other attributes, dtype or fill value."""
    import xarray as xr
    from kerchunk.hdf import SingleHdf5ToZarr

    from geoshelf.convert import refindex

    other = tmp_path / "other.nc"
    with xr.open_dataset(data_copy["sst"][0]) as ds:
        changed = ds.load()
    changed["sst"].attrs["long_name"] = "another name"
    changed["sst"].encoding.update(dtype="int32", _FillValue=-999)
    changed.to_netcdf(other, engine="h5netcdf")
    refindex._WRITES.clear()
    files = [f for pair in zip(data_copy["sst"], data_copy["air"] * len(data_copy["sst"]), strict=False)
             for f in pair] + [other, data_copy["sst"][0]]
    for f in files:
        stock = SingleHdf5ToZarr(str(f), inline_threshold=300).translate()
        assert json.dumps(single_refs(str(f))) == json.dumps(stock), f  # same keys, order and bytes
    assert refindex._WRITES  # replays happened (the sst files share their layout)


def test_a_conversion_of_many_files_shows_progress_per_file(catalog_path: Path, data_copy: dict[str, list[Path]],
                                                           monkeypatch: pytest.MonkeyPatch,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    """Not a terminal (a batch job's log): a line at every tenth of the files indexed (each file indexed and read
    for the check in one pass)."""
    from geoshelf.convert import references

    n = len(data_copy["sst"])
    monkeypatch.setattr(references, "PROGRESS_MIN_FILES", n)  # the tiny demo has fewer files than the real minimum
    convert("sst", "references", catalog=catalog_path, store="json")
    lines = capsys.readouterr().err.splitlines()
    mine = [ln for ln in lines if ln.startswith("indexing sst: ")]
    assert [ln.split(": ")[1].split(" ")[0] for ln in mine] == [f"{k}/{n}" for k in range(1, n + 1)], lines
    assert mine[-1].startswith(f"indexing sst: {n}/{n} done, ") and " files/s, eta " in mine[-1]
    assert not [ln for ln in lines if ln.startswith("reading sst")]  # no second pass over the files


def test_a_conversion_of_few_files_is_quiet(catalog_path: Path, data_copy: dict[str, list[Path]],
                                            capsys: pytest.CaptureFixture[str]) -> None:
    convert("sst", "references", catalog=catalog_path, store="json")
    err = capsys.readouterr().err
    assert "indexing" not in err and "reading" not in err
