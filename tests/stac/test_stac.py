"""STAC export and import: validated offline (stac-pydantic for the core, explicit checks of the
datacube, projection and asset fields), every asset opened with the keyword arguments it carries."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from hypothesis import given, settings
from hypothesis import strategies as st

from geoshelf.catalog import Catalog
from geoshelf.cli import main
from geoshelf.convert import convert
from geoshelf.stac import export_stac, import_stac
from geoshelf.stac.extent import geometry, overall_bbox, stac_bboxes


@pytest.fixture
def converted(catalog_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Catalog:
    monkeypatch.setenv("GEOSHELF_CONFIG", str(tmp_path / "no-config.yaml"))
    convert("sst", "zarr", catalog=catalog_path)
    convert("sst", "references", catalog=catalog_path)
    convert("elevation", "cog", catalog=catalog_path)
    return Catalog(catalog_path)


def _validate_tree(root: Path) -> dict[str, dict]:
    """Every JSON file of the export, validated by stac-pydantic by its type; returned by id."""
    from stac_pydantic import Catalog as PCatalog
    from stac_pydantic import Collection as PCollection
    from stac_pydantic import Item as PItem

    models = {"Catalog": PCatalog, "Collection": PCollection, "Feature": PItem}
    out: dict[str, dict] = {}
    for f in sorted(root.rglob("*.json")):
        data = json.loads(f.read_text())
        models[data["type"]].model_validate(data)
        for link in data["links"]:  # self-contained: links resolve inside the export
            if link["rel"] in ("child", "item", "parent", "root", "collection"):
                assert (f.parent / link["href"]).resolve().is_file(), (f, link)
        out[f"{data['type']}:{data['id']}"] = data
    return out


def test_export_is_valid_stac_and_every_asset_opens_as_the_entry(converted: Catalog, tmp_path: Path) -> None:
    out = tmp_path / "stac"
    summary = export_stac(converted, out)
    assert (summary.collections, summary.items) == (4, 4) and not summary.metadata_only
    docs = _validate_tree(out)
    root = docs[f"Catalog:{converted.name}"]
    assert root["geoshelf:export"] is True
    assert {link["href"].split("/")[1] for link in root["links"] if link["rel"] == "child"} == \
        {"sst", "air", "elevation", "stations"}

    sst_entry = converted["sst"]
    item = docs["Feature:sst"]
    props = item["properties"]
    assert props["proj:code"] == "EPSG:4326"
    assert props["start_datetime"].startswith(sst_entry.time_range[0][:19])
    assert props["end_datetime"].startswith(sst_entry.time_range[1][:19])
    cube = props["cube:dimensions"]
    assert cube["time"]["type"] == "temporal"
    assert cube["time"]["extent"] == [sst_entry.time_range[0][:19] + "Z", sst_entry.time_range[1][:19] + "Z"]
    assert cube["lon"]["axis"] == "x" and cube["lat"]["axis"] == "y"
    assert props["cube:variables"]["sst"] == {"dimensions": ["time", "lat", "lon"], "type": "data",
                                             "unit": "degC", "description": "daily sea surface temperature"}
    assert all(-180 <= x <= 180 for x in item["bbox"][::2]) and all(-90 <= y <= 90 for y in item["bbox"][1::2])
    coll = docs["Collection:sst"]
    assert coll["cube:dimensions"] == cube and "https://stac-extensions.github.io/datacube/v2.2.0/schema.json" \
        in coll["stac_extensions"]
    assert coll["extent"]["temporal"]["interval"][0][0].startswith(sst_entry.time_range[0][:10])

    expected = sst_entry.to_dask(representation="original").compute()
    assets = item["assets"]
    assert assets["zarr"]["type"] == "application/vnd+zarr" and "data" in assets["zarr"]["roles"]
    assert assets["references"]["roles"] == ["references", "index"]
    sources = [k for k in assets if k.startswith("source")]
    assert len(sources) == sst_entry.files
    for key in ("zarr", "references"):
        with xr.open_dataset(assets[key]["href"], **assets[key]["xarray:open_kwargs"]) as ds:
            np.testing.assert_array_equal(ds["sst"].values, expected["sst"].values)
            np.testing.assert_array_equal(ds["time"].values, expected["time"].values)
    with xr.open_dataset(assets[sources[0]]["href"], **assets[sources[0]]["xarray:open_kwargs"]) as one:
        np.testing.assert_array_equal(one["sst"].values[0], expected["sst"].values[0])

    dem = docs["Feature:elevation"]
    assert dem["properties"]["proj:code"] == "EPSG:32633"
    cogs = sorted(k for k in dem["assets"] if k.startswith("cog"))
    sources = sorted(k for k in dem["assets"] if k.startswith("source"))
    assert len(cogs) == len(sources) == converted["elevation"].files  # one COG per tile
    for key, src_key in zip(cogs, sources, strict=True):
        cog = dem["assets"][key]
        assert cog["type"] == "image/tiff; application=geotiff; profile=cloud-optimized"
        with xr.open_dataset(cog["href"], **cog["xarray:open_kwargs"]) as ds, \
                xr.open_dataset(dem["assets"][src_key]["href"], engine="rasterio") as src:
            np.testing.assert_array_equal(ds["band_data"].values, src["band_data"].values)
    assert docs["Feature:air"]["properties"]["cube:dimensions"]["level"]["axis"] == "z"


def test_export_replaces_only_an_earlier_export(converted: Catalog, tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "stac"
    assert main(["stac", "export", str(out), "--catalog", str(converted.path)]) == 0
    assert "4 collections, 4 items" in capsys.readouterr().out
    (out / "stale.txt").write_text("from the earlier export")
    assert main(["stac", "export", str(out), "--catalog", str(converted.path)]) == 0  # replaced whole
    assert not (out / "stale.txt").exists() and (out / "catalog.json").is_file()
    other = tmp_path / "results"
    other.mkdir()
    (other / "paper.tex").write_text("mine")
    assert main(["stac", "export", str(other), "--catalog", str(converted.path)]) != 0
    err = capsys.readouterr().err
    assert "not a geoshelf STAC export" in err and err.count("\n") == 1
    assert (other / "paper.tex").read_text() == "mine" and sorted(p.name for p in other.iterdir()) == ["paper.tex"]


def test_import_round_trips_the_export(converted: Catalog, tmp_path: Path) -> None:
    out = tmp_path / "stac"
    export_stac(converted, out)
    target = tmp_path / "imported" / "catalog.yaml"
    summary = import_stac(str(out / "catalog.json"), target, prefix="x_")
    cat = Catalog(target)
    assert "x_sst-zarr" in summary.added and any(n.startswith("x_elevation-cog") for n in summary.added)
    assert any(n.startswith("x_sst-source") for n in summary.added)
    assert not any("references" in n for n in summary.added)  # index assets are not data
    expected = converted["sst"].to_dask(representation="original").compute()
    np.testing.assert_array_equal(cat["x_sst-zarr"].to_dask()["sst"].values, expected["sst"].values)
    assert cat["x_sst-zarr"].facets["stac_collection"] == "sst"
    dem = cat[next(n for n in summary.added if n.startswith("x_elevation-cog"))]
    assert dem.format == "geotiff" and dem.crs == "EPSG:32633"
    again = import_stac(str(out / "catalog.json"), target, prefix="x_")
    assert again.added == [] and len(again.skipped) == len(summary.added)  # nothing added twice


def test_import_of_a_third_party_stac_item_with_a_relative_asset(tmp_path: Path,
                                                                data_copy: dict[str, list[Path]]) -> None:
    """A catalog written by pystac, not by geoshelf: a GeoTIFF tile and a NetCDF file as assets."""
    import datetime as dt

    import pystac

    root = tmp_path / "third"
    (root / "data").mkdir(parents=True)
    tile = shutil.copy2(data_copy["elevation"][0], root / "data" / "tile.tif")
    nc = shutil.copy2(data_copy["sst"][0], root / "data" / "day.nc")
    cat = pystac.Catalog(id="site", description="somebody else's")
    item = pystac.Item(id="scene 1", geometry=None, bbox=None, datetime=dt.datetime(2020, 1, 1), properties={})
    item.add_asset("dem", pystac.Asset(href="../../data/tile.tif", media_type=pystac.MediaType.GEOTIFF, roles=["data"]))
    item.add_asset("sst", pystac.Asset(href="../../data/day.nc", media_type="application/netcdf", roles=["data"]))
    item.add_asset("thumbnail", pystac.Asset(href="../../data/t.png", media_type=pystac.MediaType.PNG,
                                             roles=["thumbnail"]))
    cat.add_item(item)
    cat.normalize_hrefs(str(root / "stac"))
    cat.save(catalog_type=pystac.CatalogType.SELF_CONTAINED)
    target = tmp_path / "c.yaml"
    summary = import_stac(str(root / "stac" / "catalog.json"), target)
    assert sorted(summary.added) == ["scene_1-dem", "scene_1-sst"], summary.skipped
    c = Catalog(target)
    assert c["scene_1-dem"].urlpath.endswith("tile.tif") and Path(tile).is_file() and Path(nc).is_file()
    with xr.open_dataset(nc) as src:
        np.testing.assert_array_equal(c["scene_1-sst"].to_dask()["sst"].values, src["sst"].values)


def test_import_of_something_that_is_not_stac_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "nope.json"
    bad.write_text('{"hello": 1}')
    assert main(["stac", "import", str(bad), "--catalog", str(tmp_path / "c.yaml")]) != 0
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "not a readable STAC" in err
    assert not (tmp_path / "c.yaml").exists()


@settings(max_examples=300, deadline=None)
@given(west=st.floats(-180, 359.9), width=st.floats(0.01, 400), south=st.floats(-90, 0), north=st.floats(0, 90))
def test_stac_bboxes_stay_in_range_and_cover_the_same_longitudes(west: float, width: float, south: float,
                                                                 north: float) -> None:
    east = west + min(width, 360.0)
    parts = stac_bboxes((west, south, east, north))
    assert 1 <= len(parts) <= 2
    for w, s, e, n in parts:
        assert -180 <= w <= e <= 180 and (s, n) == (south, north)
    covered = sum(e - w for w, _, e, _ in parts)
    assert covered == pytest.approx(min(east - west, 360.0), abs=1e-6)
    box = overall_bbox((west, south, east, north))
    assert len(box) == 4 and (box[0] > box[2]) == (len(parts) == 2)
    geom = geometry((west, south, east, north))
    assert geom["type"] == ("MultiPolygon" if len(parts) == 2 else "Polygon")


def test_global_grids_become_the_whole_globe() -> None:
    assert stac_bboxes((0.0, -90.0, 360.0, 90.0)) == [(-180.0, -90.0, 180.0, 90.0)]
    assert stac_bboxes((170.0, -10.0, 200.0, 10.0)) == [(170.0, -10.0, 180.0, 10.0), (-180.0, -10.0, -160.0, 10.0)]
    assert stac_bboxes((-20.0, 0.0, 20.0, 5.0)) == [(-20.0, 0.0, 20.0, 5.0)]
    assert stac_bboxes((190.0, 0.0, 200.0, 5.0)) == [(-170.0, 0.0, -160.0, 5.0)]
