"""The streaming reader of large catalogs reads what the safe YAML loader reads, or refuses."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from geoshelf.catalog import Catalog, add_entry
from geoshelf.catalog import catalog as catalog_module
from geoshelf.catalog.fastload import Irregular, read_streaming
from geoshelf.catalog.model import Entry

TRICKY = ["yes", "No", "on", "null", "~", "2020-01-01", "2020-01-01T00:00:00", "0755", "1_000", "1:20", "0x1f",
          ".inf", "-.5", "1e+3", "12", "-7", "3.25", "a: b", "x #y", "it's", "{{ CATALOG_DIR }}/a", "", " lead",
          "trail ", "#hash", "- dash", "[x]", "true story", "Null island", "/abs/path", "sha256:ab", "é unicode"]


def _streamed(path: Path) -> dict:
    doc, items = read_streaming(path)
    sources = dict(items)
    return {**doc, "sources": sources}


def _same(path: Path) -> None:
    expected = yaml.load(path.read_text(), Loader=yaml.SafeLoader)
    got = _streamed(path)
    assert json.dumps(got, default=str, sort_keys=True) == json.dumps(expected, default=str, sort_keys=True)
    assert got == expected


def test_geoshelf_written_catalog(tmp_path: Path) -> None:
    path = tmp_path / "cat.yaml"
    for i, word in enumerate(TRICKY):
        add_entry(path, Entry(name=f"e{i}", urlpath=f"{{{{ CATALOG_DIR }}}}/d{i}/*.nc", format="netcdf",
                              description=word, tags=[word, "ocean"] if word else ["ocean"], variables=["sst"],
                              time_range=("2020-01-01T00:00:00", "2020-12-31T00:00:00"), bbox=(0.0, -90.0, 360.0, 90.0),
                              dims={"time": 3, "lat": 4}, bytes=123, files=1))
    _same(path)


def test_pyyaml_written_catalog_with_indentless_sequences(tmp_path: Path) -> None:
    sources = {f"ds{i}": {"description": w, "driver": "netcdf", "args": {"urlpath": "x.nc", "chunks": {}},
                          "metadata": {"geoshelf": {"tags": [w, "x"], "bbox": [0.5, -1, 2e10, None],
                                                    "representations": [{"kind": "zarr", "path": w, "options": {}}],
                                                    "empty": [], "nested": [[1, 2], {"a": [w]}]}}}
               for i, w in enumerate(TRICKY)}
    path = tmp_path / "py.yaml"
    data = {"metadata": {"version": 1, "when": "2020-01-01"}, "sources": sources, "description": "after sources"}
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True))
    try:
        _same(path)
    except Irregular:  # nested sequences are outside the subset: refusing is fine, a wrong answer is not
        pass
    del data["sources"]["ds0"]["metadata"]["geoshelf"]["nested"]
    for s in sources.values():
        s["metadata"]["geoshelf"].pop("nested", None)
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True))
    _same(path)


@pytest.mark.parametrize("text", [
    "sources:\n  a: &x\n    driver: netcdf\n  b: *x\n",               # anchors
    "sources:\n  a:\n    driver: netcdf  # comment\n",               # comment after a value
    "sources:\n  a:\n    description: two\n      lines\n",            # multi-line plain scalar
    "sources:\n  a:\n    description: |\n      block\n",              # block scalar
    "sources:\n  a:\n    args: {urlpath: x}\n",                       # flow mapping
    "sources:\n  a:\n    driver: netcdf\n  a:\n    driver: csv\n",    # duplicate entry
    "sources:\n  a:\n    driver: !!python/name:os.system x\n",         # a tag
    "sources:\n  a:\n\tdriver: netcdf\n",                              # tab
    "sources: {}\n",                                                   # flow sources
    "sources:\n  a:\n    driver: netcdf\n---\nsources: {}\n",         # two documents
    "sources:\n  a:\n    description: 'unterminated\n      quote'\n",  # multi-line quoted
])
def test_irregular_text_is_refused(tmp_path: Path, text: str) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(text)
    with pytest.raises(Irregular):
        _streamed(path)


def test_large_catalog_is_indexed_by_the_streaming_reader(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from geoshelf.bench.catalog_scale import write_geoshelf_catalog

    monkeypatch.setenv("GEOSHELF_INDEX_DIR", str(tmp_path / "index"))
    path = tmp_path / "big.yaml"
    write_geoshelf_catalog(path, 3000)
    calls = []
    monkeypatch.setattr(catalog_module, "load_raw", lambda p: calls.append(p) or (_ for _ in ()).throw(AssertionError))
    monkeypatch.setattr(catalog_module, "STREAMING_MIN_BYTES", 1)
    cat = Catalog(path)
    assert not calls and cat._index is not None and len(cat) == 3000
    hits = cat.search(variable="sst", tags="team9", time="1999")
    monkeypatch.undo()
    monkeypatch.setenv("GEOSHELF_INDEX_DIR", str(tmp_path / "index2"))
    full = Catalog(path)  # parsed by the YAML loader (below the streaming size): the same answers
    assert list(full.search(variable="sst", tags="team9", time="1999")) == list(hits) and hits
    assert full[next(iter(hits))] == cat[next(iter(hits))]


def test_irregular_large_catalog_falls_back_to_the_parser(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GEOSHELF_INDEX_DIR", str(tmp_path / "index"))
    monkeypatch.setattr(catalog_module, "STREAMING_MIN_BYTES", 1)
    path = tmp_path / "odd.yaml"
    path.write_text("sources:\n  a:\n    driver: netcdf\n    description: >\n      folded\n      text\n"
                    "    args: {urlpath: x.nc}\n")
    cat = Catalog(path)
    assert cat.a.description == "folded text\n" and cat._index is None
    path.write_text("sources:\n  a:\n    driver: python_module\n")
    from geoshelf.errors import UnsafeCatalogError

    with pytest.raises(UnsafeCatalogError):  # refused by the full loader's checks, as always
        Catalog(path)
