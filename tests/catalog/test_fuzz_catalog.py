"""Structure-aware fuzzing of catalog YAML: real catalogs mutated field by field (wrong types,
hostile strings and options) and as text (aliases, deep nesting, duplicate keys, odd scalars and
tags, truncation).  Opening, listing, the HTML repr, lint and an attempt to open each entry never
raise anything but GeoshelfError, and no case hangs (hypothesis' deadline: 30 s a case, far above the
0.1-1.7 s a case takes on a loaded 2-core machine, far below the 40-50 s an alias bomb took before the
parser limits).

CI runs 40 fixed cases (``derandomize``: the same cases every run, no example database), so a CI
failure is reproducible.  The long random form draws new cases each run:
``GEOSHELF_FUZZ_EXAMPLES=2000 GEOSHELF_FUZZ_RANDOM=1 python -m pytest -m fuzz -q``
(add ``--hypothesis-seed=N`` to replay a run).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import warnings
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from geoshelf.catalog import Catalog
from geoshelf.catalog.lint import lint
from geoshelf.errors import GeoshelfError
from geoshelf.scan import scan

pytestmark = pytest.mark.fuzz

EXAMPLES = int(os.environ.get("GEOSHELF_FUZZ_EXAMPLES", "40"))
#: Random cases (new ones each run, the example database on) instead of CI's fixed ones.
RANDOM = os.environ.get("GEOSHELF_FUZZ_RANDOM", "") not in ("", "0")


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory, demo_files: dict[str, list[Path]]) -> dict[str, Any]:
    """A real catalog (the demo entries, a private copy of the data) as plain data, and its files' digests."""
    root = tmp_path_factory.mktemp("fuzzbase")
    sources: dict[str, Any] = {}
    for name in ("sst", "elevation", "stations"):
        dest = root / "data" / name
        dest.mkdir(parents=True)
        files = [shutil.copy2(f, dest / f.name) for f in demo_files[name]]
        sources[name] = scan([str(f) for f in files], name, catalog_dir=str(root)).to_source()
    sources["sst"]["metadata"]["geoshelf"]["representations"] = [
        {"kind": "zarr", "path": "{{ CATALOG_DIR }}/sst.zarr", "options": {"consolidated": True}},
        {"kind": "references", "path": "{{ CATALOG_DIR }}/sst.json", "options": {"store": "json"}}]
    sources["team"] = {"driver": "yaml_file_cat", "args": {"path": "{{ CATALOG_DIR }}/team.yaml"}}
    (root / "team.yaml").write_text(yaml.safe_dump({"sources": {"air": sources["sst"]}}))
    digests = {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in root.rglob("*") if p.is_file()}
    return {"root": root, "doc": {"metadata": {"version": 1}, "sources": sources}, "digests": digests}


ODD_STRINGS = st.sampled_from([
    "", "~", "~/.ssh/authorized_keys", "$HOME/x.nc", "${USER}", "../../../etc/passwd", "/dev/zero", "\x00",
    "<img src=x onerror=alert(1)>", "simplecache::http://127.0.0.1:9/x", "file:///etc/shadow", "http://u:p@h:1/x",
    "{{ env('HOME') }}", "{{ CATALOG_DIR }}/../..", "x" * 300, "NaN", "yes", "2020-01-01", "🌊", "a\nb", "w",
])
SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-2**70, 2**70), st.floats(allow_nan=True), ODD_STRINGS,
                    st.text(max_size=12))
VALUES = st.recursive(SCALARS, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                        st.dictionaries(st.one_of(ODD_STRINGS, st.text(max_size=6)),
                                                                        inner, max_size=4)), max_leaves=12)
OPENER_KEYS = st.sampled_from(["mode", "engine", "backend_kwargs", "decode_times", "chunks", "persist", "group",
                               "storage_options", "cache_storage", "simplecache", "key", "client_kwargs",
                               "endpoint_url", "anon", "drop_variables", "format", "lock"])
FIELDS = [
    ("driver",), ("description",), ("args",), ("metadata",), ("args", "urlpath"), ("args", "xarray_kwargs"),
    ("args", "csv_kwargs"), ("args", "storage_options"), ("args", "chunks"), ("args", "path"),
    ("metadata", "geoshelf"), ("metadata", "geoshelf", "format"), ("metadata", "geoshelf", "variables"),
    ("metadata", "geoshelf", "dims"), ("metadata", "geoshelf", "time_range"), ("metadata", "geoshelf", "bbox"),
    ("metadata", "geoshelf", "crs"), ("metadata", "geoshelf", "bytes"), ("metadata", "geoshelf", "files"),
    ("metadata", "geoshelf", "tags"), ("metadata", "geoshelf", "representations"),
    ("metadata", "geoshelf", "fingerprint"), ("metadata", "geoshelf", "contact"),
]


@st.composite
def mutated(draw: st.DrawFn, doc: dict[str, Any]) -> str:
    """A real catalog with a few structural mutations, rendered, then maybe mutated as text."""
    data = yaml.safe_load(yaml.safe_dump(doc))  # a deep copy
    sources = data["sources"]
    for _ in range(draw(st.integers(1, 3))):
        name = draw(st.sampled_from(sorted(sources)))
        kind = draw(st.sampled_from(["field", "opener", "rename", "rep", "top"]))
        if kind == "field":
            node: Any = sources[name]
            *parents, leaf = draw(st.sampled_from(FIELDS))
            for key in parents:
                if not isinstance(node, dict):
                    break
                node = node.setdefault(key, {}) if isinstance(node.get(key), dict) or key not in node else node[key]
            if isinstance(node, dict):
                node[leaf] = draw(VALUES)
        elif kind == "opener":
            args = sources[name].setdefault("args", {})
            if isinstance(args, dict):
                where = draw(st.sampled_from(["xarray_kwargs", "csv_kwargs", "storage_options"]))
                if not isinstance(args.get(where), dict):
                    args[where] = {}
                args[where][draw(OPENER_KEYS)] = draw(VALUES)
        elif kind == "rename":
            sources[draw(st.one_of(ODD_STRINGS, st.text(max_size=8)))] = sources.pop(name)
        elif kind == "rep":
            geo = sources[name].get("metadata", {}).get("geoshelf") if isinstance(sources[name], dict) else None
            if isinstance(geo, dict):
                geo.setdefault("representations", [])
                if isinstance(geo["representations"], list):
                    geo["representations"].append({"kind": draw(st.sampled_from(["zarr", "cog", "parquet", "x"])),
                                                   "path": draw(ODD_STRINGS), "options": draw(VALUES),
                                                   "provenance": draw(VALUES)})
        else:
            data[draw(st.sampled_from(["metadata", "description", "sources", "extra"]))] = draw(VALUES)
    text = yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
    lines = text.splitlines(keepends=True)
    edit = draw(st.sampled_from(["none", "dup", "alias", "deep", "scalar", "tag", "truncate", "merge"]))
    i = draw(st.integers(0, max(0, len(lines) - 1)))
    if edit == "dup":
        lines.insert(i, lines[i])
    elif edit == "alias":
        bomb = ["  bomb:\n", "    driver: netcdf\n", "    metadata:\n",
                "      a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n"]
        bomb += [f"      a{k}: &a{k} [{', '.join([f'*a{k - 1}'] * 10)}]\n" for k in range(1, draw(st.integers(2, 9)))]
        at = next((j + 1 for j, line in enumerate(lines) if line.startswith("sources:")), len(lines))
        lines[at:at] = bomb
    elif edit == "deep":
        depth = draw(st.integers(50, 1200))
        lines.insert(i, "deep: " + "[" * depth + "]" * depth + "\n")
    elif edit == "scalar":
        odd = draw(st.sampled_from([".inf", "-.nan", "0o17", "0x1F", "2020-01-01 00:00:00", "~", "yes", "1_000",
                                    "'unterminated", "{a: 1", "- list", "*undefined", "&anchor x", "!!binary AAAA"]))
        if ": " in lines[i]:
            lines[i] = lines[i].split(": ", 1)[0] + ": " + odd + "\n"
    elif edit == "tag":
        lines.insert(i, "evil: !!python/object/apply:os.system ['true']\n")
    elif edit == "truncate":
        lines = lines[:i] + [lines[i][: draw(st.integers(0, max(0, len(lines[i]) - 1)))]] if lines else lines
    elif edit == "merge":
        lines.insert(0, "base: &b {driver: netcdf, args: {urlpath: /data/x.nc}}\n")
        at = next((j + 1 for j, line in enumerate(lines) if line.startswith("sources:")), len(lines))
        lines[at:at] = ["  merged:\n", "    <<: *b\n"]
    return "".join(lines)


def exercise(path: Path) -> None:
    """What a reader does with a catalog: open, list, show, render, lint, open each entry."""
    cat = Catalog(path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        entries = list(cat.walk())
        cat._repr_html_()
        cat.search("sst")
        for _, entry in entries:
            entry._repr_html_()
            entry.to_source()
        for name in list(cat):
            try:
                cat[name]
            except GeoshelfError:
                pass
        for _, entry in entries[:2]:
            try:
                entry.to_dask()
            except GeoshelfError:
                pass


@settings(max_examples=EXAMPLES, deadline=30_000, derandomize=not RANDOM,
          **({} if RANDOM else {"database": None}),
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                 HealthCheck.data_too_large])
@given(data=st.data())
def test_catalog_fuzz_only_geoshelf_errors(base: dict[str, Any], tmp_path: Path, data: st.DataObject) -> None:
    text = data.draw(mutated(base["doc"]))
    path = base["root"] / "catalog.yaml"  # beside the data, so {{ CATALOG_DIR }} paths resolve
    path.write_text(text, encoding="utf-8")
    try:
        exercise(path)
    except GeoshelfError as exc:
        assert "\n" not in str(exc), str(exc)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for problem in lint(path):
            assert "\n" not in problem.message
    assert path.read_text(encoding="utf-8") == text  # reading never writes the catalog ...
    for p, digest in base["digests"].items():  # ... nor any file it names
        assert hashlib.sha256(p.read_bytes()).hexdigest() == digest, p
