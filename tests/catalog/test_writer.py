"""The catalog writer: an edit of one entry rewrites that entry only; every other byte stays.

Random edit sequences on a hand-commented catalog are applied to the file and to a model (an
ordered dict of entries): the file always reads back as the model, and entries never edited keep
their exact bytes, comments included.
"""

from __future__ import annotations

import os
import string
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from geoshelf.catalog import (
    Catalog,
    Entry,
    Provenance,
    Representation,
    add_entry,
    edit_entries,
    remove_entry,
    update_entry,
    writer,
)
from geoshelf.catalog.emit import emit
from geoshelf.catalog.index import MIN_ENTRIES, Index, index_path, key_offsets
from geoshelf.catalog.splice import locate
from geoshelf.catalog.yamlio import dump_text
from geoshelf.errors import CatalogError, EntryNotFoundError


@pytest.fixture(autouse=True)
def _private_index(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GEOSHELF_INDEX_DIR", str(tmp_path / "index"))


def _block(name: str, style: int) -> str:
    """A hand-written entry in one of several layouts, with comments in the places people put them."""
    if style == 0:
        return (f"  # {name}: curated by hand -- keep this comment\n"
                f"  {name}:\n"
                f"    description: 'Daily {name}'   # odd spacing on purpose\n"
                f"    driver: netcdf\n"
                f"    args:\n"
                f"      urlpath: \"/gpfs/data/{name}/*.nc\"\n"
                f"      chunks: {{}}\n"
                f"    metadata:\n"
                f"      owner: ocean-team   # ask before changing\n"
                f"      geoshelf: {{format: netcdf, variables: [sst, anom], bytes: 10, files: 2}}\n")
    if style == 1:
        return (f"\n  {name}:   # reanalysis\n"
                f"      driver: zarr\n"
                f"      args:\n"
                f"        urlpath: /gpfs/data/{name}.zarr\n"
                f"      metadata:\n"
                f"        geoshelf:\n"
                f"          format: zarr\n"
                f"          tags:\n"
                f"          - reanalysis\n"
                f"          - hourly\n"
                f"          # more tags later\n")
    return (f"  {name}: {{driver: netcdf, args: {{urlpath: /d/{name}.nc}}, "
            "metadata: {geoshelf: {format: netcdf}}}\n")


def _catalog_text(names: list[str], styles: list[int]) -> str:
    head = ("# Site catalog -- curated by the data team. Review changes in a merge request.\n"
            "metadata:\n  version: 1\n  description: \"team catalog\"   # shown in listings\n\nsources:")
    if not names:
        return head + " {}\n\n# end of the curated entries\n"
    blocks = "".join(_block(n, s) for n, s in zip(names, styles, strict=True))
    return head + "\n" + blocks + "\n# end of the curated entries\n"


_text = st.one_of(
    st.sampled_from(["", "no", "yes", "on", "1_000", "0.5", "2020-01-01", "- x", "a: b", "#hash", "x #y", "'quoted'",
                     '"dq"', "{{ CATALOG_DIR }}/x", "null", "~", "é ü", "tab\there", "line\nbreak", " lead", "trail ",
                     "Elevation", "it's", "100%", "@at", "*star", "&amp", "!bang", "|pipe", ">gt", "`bq", "? q"]),
    st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc")), max_size=30),
)
_word = st.text(alphabet=string.ascii_lowercase + "_", min_size=1, max_size=8).filter(lambda s: s[0] != "_")


@st.composite
def _entries(draw: st.DrawFn, name: str) -> Entry:
    reps = draw(st.lists(st.sampled_from(["zarr", "references"]), unique=True, max_size=2))
    return Entry(
        name=name, description=draw(_text), urlpath=draw(st.sampled_from([f"/data/{name}/*.nc", ["/a.nc", "/b.nc"]])),
        variables=draw(st.lists(_word, max_size=3, unique=True)), tags=draw(st.lists(_text, max_size=2)),
        bytes=draw(st.integers(0, 2**40)), files=draw(st.integers(0, 1000)),
        bbox=draw(st.one_of(st.none(), st.tuples(*[st.floats(-180, 180, allow_nan=False, width=32)] * 4))),
        time_range=draw(st.one_of(st.none(), st.just(("2020-01-01T00:00:00", "2020-12-31T00:00:00")))),
        representations=[Representation(kind=k, path=f"{{{{ CATALOG_DIR }}}}/shelf/{name}.{k}", format=k,
                                        provenance=Provenance(source_fingerprint="sha256:00",
                                                              versions={"geoshelf": "0.1", "numpy": "2.2.3"}))
                         for k in reps],
    )


_NAMES = [f"e{i}" for i in range(8)]


@st.composite
def _scenario(draw: st.DrawFn) -> tuple[list[str], list[int], list[tuple[str, str, Entry | None]]]:
    initial = draw(st.lists(st.sampled_from(_NAMES[:5]), unique=True, max_size=5))
    styles = draw(st.lists(st.integers(0, 2), min_size=len(initial), max_size=len(initial)))
    present = list(initial)
    ops: list[tuple[str, str, Entry | None]] = []
    for _ in range(draw(st.integers(1, 8))):
        kind = draw(st.sampled_from(["add", "update", "remove"] if present else ["add"]))
        if kind == "add":
            name = draw(st.sampled_from(_NAMES))
            if name in present:
                kind = "update"
        else:
            name = draw(st.sampled_from(present))
        if kind == "remove":
            present.remove(name)
            ops.append((kind, name, None))
        else:
            if name not in present:
                present.append(name)
            ops.append((kind, name, draw(_entries(name))))
    return initial, styles, ops


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(scenario=_scenario())
def test_random_edits_keep_untouched_bytes_and_equal_the_model(tmp_path: Path, scenario) -> None:
    initial, styles, ops = scenario
    path = tmp_path / f"cat-{abs(hash(repr(scenario)))}.yaml"
    text = _catalog_text(initial, styles)
    path.write_text(text)
    model = {name: Catalog(path)[name] for name in initial}
    touched: set[str] = set()
    for kind, name, entry in ops:
        if kind == "remove":
            remove_entry(path, name)
            del model[name]
        else:
            assert entry is not None
            add_entry(path, entry, overwrite=True)
            model[name] = entry
        touched.add(name)
        cat = Catalog(path)
        assert list(cat) == list(model)
        for n, e in model.items():
            assert cat[n] == e.replace(catalog_dir=None), n
    final = path.read_text()
    # what stock PyYAML reads is the model too (YAML 1.1 quoting of new text)
    plain = yaml.safe_load(final)
    assert list(plain["sources"] or {}) == list(model)
    # untouched entries: their bytes (lead comments, inline comments, odd indentation) are all still there, in order
    pos = 0
    for name, style in zip(initial, styles, strict=True):
        if name in touched:
            continue
        block = _block(name, style).lstrip("\n")
        at = final.find(block, pos)
        assert at >= 0, f"entry {name} was rewritten"
        pos = at + len(block)
    assert final.startswith("# Site catalog -- curated by the data team.")
    assert "  description: \"team catalog\"   # shown in listings\n" in final


def test_an_inline_comment_stays_in_its_column(tmp_path: Path) -> None:
    """Each write used to move inline comments 2 columns right (`Elevation          # checked` after 4)."""
    path = tmp_path / "dem.yaml"
    path.write_text("sources:\n  dem:\n    description: Elevation  # checked\n    driver: netcdf\n"
                    "    args:\n      urlpath: /data/dem.nc   # moved in 2024\n"
                    "    metadata:\n      geoshelf:\n        format: netcdf\n        bytes: 1\n        files: 1\n")
    lines = path.read_text().splitlines()
    for i in range(5):
        update_entry(path, Catalog(path).dem.replace(files=i + 2))
        now = path.read_text().splitlines()
        assert now[2] == "    description: Elevation  # checked"
        assert now[5] == "      urlpath: /data/dem.nc   # moved in 2024"
        assert now[:10] == lines[:10]
        assert now[10] == f"        files: {i + 2}"


@pytest.mark.parametrize("description", ["? q", "- x", "a: b", "#hash", "x #y", "{{ CATALOG_DIR }}", "@at"])
def test_an_entry_written_in_flow_style_is_updated_to_text_that_reads_back(tmp_path: Path, description: str) -> None:
    """ruamel re-wrote `description: ? q` plain inside a flow mapping: a catalog no parser could read."""
    path = tmp_path / "c.yaml"
    path.write_text(_catalog_text(["e0", "e1"], [0, 2]))
    update_entry(path, Entry(name="e1", description=description, urlpath="/data/e1/*.nc"))
    assert Catalog(path).e1.description == description
    assert yaml.safe_load(path.read_text())["sources"]["e1"]["description"] == description
    assert path.read_text().startswith(_catalog_text(["e0"], [0]).split("\n# end")[0])  # e0 untouched


def test_a_no_op_edit_does_not_write(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    add_entry(path, Entry(name="a", urlpath="/a.nc", variables=["t"], files=1))
    add_entry(path, Entry(name="b", urlpath="/b.nc", files=2))
    before = path.stat()
    cat = Catalog(path)
    assert edit_entries(path, ["a", "b"], lambda name, old: old) == []
    update_entry(path, cat.a)
    after = path.stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)


def test_the_derived_index_follows_each_edit(tmp_path: Path) -> None:
    """A large catalog's index is updated row by row, so the next open does not parse the YAML again."""
    path = tmp_path / "big.yaml"
    lines = ["metadata:\n  version: 1\nsources:\n"]
    for i in range(MIN_ENTRIES + 10):
        lines.append(f"  d{i:04d}:\n    driver: netcdf\n    args:\n      urlpath: /d/{i}.nc\n"
                     f"    metadata:\n      geoshelf:\n        format: netcdf\n        tags:\n          - t{i % 7}\n")
    path.write_text("".join(lines))
    Catalog(path)  # builds the index
    assert Catalog(path)._index is not None
    add_entry(path, Entry(name="new", urlpath="/n.nc", variables=["sst"], tags=["fresh"]))
    update_entry(path, Catalog(path).d0003.replace(tags=["changed"]))
    remove_entry(path, "d0004")
    index = Index.open(path, path.stat())
    assert index is not None, "the index went stale"
    parsed = yaml.load(path.read_text(), Loader=yaml.CSafeLoader)["sources"]
    assert list(index) == list(parsed) and list(index)[-1] == "new" and "d0004" not in index
    assert all(index[n] == parsed[n] for n in ("new", "d0003", "d0005", "d0000"))
    assert list(Catalog(path).search(tags="changed")) == ["d0003"]
    assert list(Catalog(path).search(variable="sst")) == ["new"]


@pytest.mark.parametrize("text", [
    "",
    "# only a comment\n",
    "metadata:\n  version: 1\nsources: {}\n",
    "sources:\n",
    "sources: {a: {driver: netcdf, args: {urlpath: /a.nc}}}  # flow style\n",
    "sources:\n    a:\n        driver: netcdf\n        args: {urlpath: /a.nc}\nmetadata: {version: 1}\n",
    "sources:\r\n  a:\r\n    driver: netcdf\r\n    args: {urlpath: /a.nc}\r\n",
    "base: &b {driver: netcdf, args: {urlpath: /a.nc}}\nsources:\n  a: *b\n",
    "sources:\n  a:\n    driver: netcdf\n    description: \"two\n  b: lines\"\n    args: {urlpath: /a.nc}\n",
])
def test_unusual_layouts_still_edit_correctly(tmp_path: Path, text: str) -> None:
    path = tmp_path / "c.yaml"
    path.write_bytes(text.encode())
    before = dict(yaml.safe_load(text) or {}).get("sources") or {}
    add_entry(path, Entry(name="b2", urlpath="/b2.nc", description="no"))
    got = yaml.safe_load(path.read_text())["sources"]
    assert list(got) == [*before, "b2"] and got["b2"]["description"] == "no"
    for name in before:
        assert got[name] == before[name]
    remove_entry(path, "b2")
    assert (yaml.safe_load(path.read_text())["sources"] or {}) == before
    for name in list(before):
        remove_entry(path, name)
    assert yaml.safe_load(path.read_text())["sources"] == {}  # not null: stock intake needs a mapping


def test_a_yaml_file_that_is_not_a_catalog_is_not_written(tmp_path: Path) -> None:
    path = tmp_path / "spec.yaml"
    path.write_text("inputs: {files: ['*.nc']}\ntarget: zarr\n")
    with pytest.raises(CatalogError, match="not a catalog"):
        add_entry(path, Entry(name="x", urlpath="/x.nc"))
    assert path.read_text() == "inputs: {files: ['*.nc']}\ntarget: zarr\n"


def test_removing_a_missing_entry_says_so(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    add_entry(path, Entry(name="a", urlpath="/a.nc"))
    with pytest.raises(EntryNotFoundError, match="no entry named 'zz'"):
        remove_entry(path, "zz")


_emit_text = st.one_of(_text, st.text(alphabet=string.printable, max_size=20),
                       st.from_regex(r"[0-9][0-9a-z._+-]{0,8}", fullmatch=True))
_emit_data = st.recursive(
    st.one_of(_emit_text, st.integers(-10**12, 10**12), st.booleans(), st.floats(allow_nan=True, allow_infinity=True)),
    lambda inner: st.one_of(st.lists(inner, max_size=3),
                            st.dictionaries(st.one_of(_word, _emit_text), inner, max_size=3)),
    max_leaves=12,
)


@settings(max_examples=250, deadline=None)
@given(source=st.dictionaries(_word, _emit_data, max_size=5))
def test_the_fast_emitter_writes_what_ruamel_writes_or_nothing(source: dict) -> None:
    fast = emit("entry", source)
    if fast is not None:
        assert fast == dump_text({"entry": source})


def test_the_fast_emitter_covers_what_geoshelf_writes() -> None:
    e = Entry(name="sst", description="Daily SST, 0.25 deg", urlpath="{{ CATALOG_DIR }}/data/sst/*.nc",
              args={"chunks": {}, "xarray_kwargs": {"engine": "h5netcdf"}}, variables=["sst", "anom"],
              dims={"time": 365, "lat": 720}, time_range=("2020-01-01T00:00:00", "2020-12-31T00:00:00"),
              bbox=(0.0, -90.0, 360.0, 90.0), crs="EPSG:4326", bytes=123456, files=365,
              fingerprint="sha256:" + "ab" * 32, tags=["ocean", "no"], contact="ocean@example.org",
              representations=[Representation(kind="zarr", path="{{ CATALOG_DIR }}/shelf/sst.zarr", format="zarr3",
                                              provenance=Provenance(source_fingerprint="sha256:00", bytes_out=5,
                                                                    versions={"geoshelf": "0.1", "xarray": "2025.1.2"},
                                                                    host="node1", started="2026-11-25T10:00:00"))])
    src = e.to_source()
    assert emit("sst", src) == dump_text({"sst": src})


@pytest.mark.skipif(os.geteuid() != 0, reason="mounting a small tmpfs needs root (CI runs as root)")
@pytest.mark.parametrize("fault", ["full", "read-only", "read-only-no-lock"])
def test_file_system_faults_are_one_line_and_leave_the_catalog(tmp_path: Path, fault: str) -> None:
    import subprocess

    mnt = tmp_path / "mnt"
    mnt.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mnt)], check=True)
    try:
        path = mnt / "cat.yaml"
        add_entry(path, Entry(name="a", urlpath="/a.nc", description="keep me"))
        if fault == "read-only-no-lock":
            (mnt / "cat.yaml.lock").unlink()
        if fault == "full":
            with open(mnt / "filler", "wb", buffering=0) as fh:  # fill the disk to the last block
                try:
                    while True:
                        fh.write(b"x" * 4096)
                except OSError:
                    pass
        else:
            subprocess.run(["mount", "-o", "remount,ro", str(mnt)], check=True)
        before = path.read_bytes()
        big = Entry(name="b", urlpath="/b.nc", description="x" * 20_000)
        with pytest.raises(CatalogError) as err:
            add_entry(path, big)
        message = str(err.value)
        assert "\n" not in message and message.startswith(str(path))
        assert ("no space left" if fault == "full" else "read-only file system") in message
        assert path.read_bytes() == before
        assert sorted(p.name for p in mnt.iterdir() if p.name.startswith(".")) == []  # no temporary file left
    finally:
        subprocess.run(["umount", str(mnt)], check=True)


_ADD_AS = """
import sys
from geoshelf.catalog import Entry, add_entry
from geoshelf.errors import GeoshelfError
try:
    add_entry(sys.argv[1], Entry(name="b", urlpath="/b.nc"))
except GeoshelfError as exc:
    sys.exit(str(exc))
"""


@pytest.mark.parametrize("where", ["directory", "lock file"])
def test_permission_denied_is_one_line(tmp_path: Path, where: str) -> None:
    """Another user's catalog: the edit is refused in one line (run as `nobody` when the tests run as root)."""
    import shutil
    import subprocess
    import sys
    import tempfile

    shared = Path(tempfile.mkdtemp(prefix="geoshelf-shared-"))  # pytest's own tmp dirs are private to root
    shared.chmod(0o755)
    path = shared / "cat.yaml"
    add_entry(path, Entry(name="a", urlpath="/a.nc"))
    before = path.read_bytes()
    if where == "directory":
        shared.chmod(0o555)
        (shared / "cat.yaml.lock").chmod(0o666)
    else:
        (shared / "cat.yaml.lock").chmod(0o444)
    as_user = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"] if os.geteuid() == 0 else []
    try:
        r = subprocess.run([*as_user, sys.executable, "-c", _ADD_AS, str(path)], capture_output=True, text=True,
                           env={**os.environ, "GEOSHELF_INDEX_DIR": str(shared / "idx-nobody")}, timeout=120)
        assert r.returncode == 1 and r.stderr.count("\n") == 1, r.stderr
        assert r.stderr.startswith(f"{path}: cannot write catalog: permission denied")
        assert path.read_bytes() == before
        assert [p.name for p in shared.iterdir() if p.name.endswith(".tmp")] == []
    finally:
        shared.chmod(0o755)
        shutil.rmtree(shared)


# -- large catalogs: edits follow the entry offsets the derived index records ----------------------------------
# No search of the file; the offsets always equal where the entries really are (else the writer finds them again).

N = MIN_ENTRIES + 20
_BIG_NAMES = [f"d{i:04d}" for i in range(N)]


def _recorded_equals_the_file(path: Path) -> None:
    """The index is fresh and every recorded offset is where locate() finds the entry in the file now."""
    st_ = path.stat()
    index = Index.open(path, st_)
    assert index is not None, "the index went stale"
    names = list(index)
    data = path.read_bytes()
    truth = dict(locate(data, names).keys)
    got = key_offsets(path, st_, names)
    assert got is not None, "the offsets were dropped"
    assert dict(got.keys) == truth and got.total == len(names)
    assert data[got.sources:].startswith(b"sources:")


def _big(path: Path, styles: list[int]) -> None:
    path.write_text(_catalog_text(_BIG_NAMES, [styles[i % len(styles)] for i in range(N)]))
    Catalog(path)  # builds the index
    add_entry(path, Entry(name="first", urlpath="/f.nc"))  # the first edit locates every entry and records them
    remove_entry(path, "first")


_ops = st.lists(st.tuples(st.sampled_from(["add", "update", "remove", "many"]), st.integers(0, N - 1),
                          st.integers(1, 6)), min_size=1, max_size=6)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=_ops, styles=st.lists(st.integers(0, 2), min_size=1, max_size=3))
def test_edits_follow_the_recorded_offsets_and_keep_them_true(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, ops: list[tuple[str, int, int]], styles: list[int]) -> None:
    path = tmp_path / f"cat{abs(hash((repr(ops), repr(styles))))}.yaml"
    _big(path, styles)
    _recorded_equals_the_file(path)

    def no_search(*_a: object, **_k: object) -> None:
        raise AssertionError("the writer searched the whole file although the offsets were recorded")

    with monkeypatch.context() as m:  # undone before hypothesis' next example
        m.setattr(writer, "_layout", no_search)
        order = list(_BIG_NAMES)  # the model: entry names in file order, and what the edits wrote
        expect: dict[str, tuple[str, int]] = {}
        touched: set[str] = set()
        for k, (kind, i, count) in enumerate(ops):
            name = order[i % len(order)]
            if kind == "add":
                add_entry(path, Entry(name=f"new{k}", urlpath=f"/n/{k}.nc", description="it's new", files=k))
                order.append(f"new{k}")
                expect[f"new{k}"] = ("it's new", k)
            elif kind == "update":
                update_entry(path, Catalog(path)[name].replace(description=f"changed {k}", files=k))
                expect[name] = (f"changed {k}", k)
            elif kind == "remove":
                remove_entry(path, name)
                order.remove(name)
                expect.pop(name, None)
            else:  # several at once: some replaced, one new
                some = order[i % len(order):i % len(order) + count] + [f"many{k}"]
                before = Catalog(path)
                descriptions = {n: before[n].description for n in some[:-1]}
                edit_entries(path, some, lambda n, old, k=k: (old or Entry(name=n, urlpath="/m.nc",
                                                                           description="many")).replace(files=k + 1))
                order.append(f"many{k}")
                expect.update({n: (descriptions.get(n, "many"), k + 1) for n in some})
            touched.update(order[-1:] if kind == "add" else [name] if kind != "many" else some)
            _recorded_equals_the_file(path)
            parsed = yaml.load(path.read_text(), Loader=yaml.CSafeLoader)["sources"]
            assert list(parsed) == order
            cat = Catalog(path)
            for n, (description, files) in expect.items():
                assert (cat[n].description, cat[n].files) == (description, files), n
    final = path.read_text()
    pos = 0
    for j, name in enumerate(_BIG_NAMES):  # untouched entries: byte for byte, in order
        if name in touched:
            continue
        block = _block(name, styles[j % len(styles)]).lstrip("\n")
        at = final.find(block, pos)
        assert at >= 0, f"entry {name} was rewritten"
        pos = at + len(block)
    assert final.endswith("\n# end of the curated entries\n")


def test_wrong_recorded_offsets_are_not_trusted(tmp_path: Path) -> None:
    """Offsets that do not point at the entries (a bug, a hand-edited index) are found out; the edit is right."""
    import sqlite3

    path = tmp_path / "cat.yaml"
    _big(path, [0, 1, 2])
    db = sqlite3.connect(index_path(path))
    with db:
        db.execute("UPDATE offsets SET off = off + 7")  # every entry a few bytes off
    db.close()
    update_entry(path, Catalog(path)["d0100"].replace(description="changed"))
    parsed = yaml.load(path.read_text(), Loader=yaml.CSafeLoader)["sources"]
    assert parsed["d0100"]["description"] == "changed" and list(parsed) == _BIG_NAMES
    _recorded_equals_the_file(path)  # found again and recorded


def test_a_file_changed_by_another_program_is_located_again(tmp_path: Path) -> None:
    path = tmp_path / "cat.yaml"
    _big(path, [2])
    text = path.read_text().replace("  d0001:", "  # a note added in an editor\n  d0001:")
    path.write_text(text)  # the index is stale now (size, mtime): the next open rebuilds it
    remove_entry(path, "d0003")
    parsed = yaml.load(path.read_text(), Loader=yaml.CSafeLoader)["sources"]
    assert "d0003" not in parsed and len(parsed) == N - 1
    assert "  # a note added in an editor\n  d0001:" in path.read_text()
    _recorded_equals_the_file(path)
