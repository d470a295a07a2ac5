"""A shared catalog is untrusted input: bad names, paths, options and fields make THAT entry
unusable with one line; the rest of the catalog still opens; lint reports each; the HTML repr
escapes everything.  (docs/security.md lists the rules these tests enforce.)"""

from __future__ import annotations

import shutil
import warnings
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
import yaml

from geoshelf.catalog import Catalog, Entry, Provenance, Representation
from geoshelf.catalog.html import catalog_html, entry_html
from geoshelf.catalog.lint import lint
from geoshelf.catalog.locate import storage_options_for
from geoshelf.catalog.trust import check_storage_options, effective_storage_options
from geoshelf.cli import main
from geoshelf.errors import CatalogError, GeoshelfError, UnsafeCatalogError, UnusableEntryWarning


@pytest.fixture(scope="module")
def shelf(tmp_path_factory: pytest.TempPathFactory, demo_files: dict[str, list[Path]]) -> Path:
    """A directory with a private copy of the demo data and a catalog of it, made once per module."""
    from geoshelf.catalog import add_entry
    from geoshelf.scan import scan

    root = tmp_path_factory.mktemp("shelf")
    for name, key, tags in (("sst", "sst", ["ocean", "daily"]), ("air", "air", ["atmosphere"]),
                            ("elevation", "elevation", ["land"]), ("stations", "stations", ["in-situ"])):
        (root / "data" / key).mkdir(parents=True)
        files = [str(shutil.copy2(f, root / "data" / key / f.name)) for f in demo_files[key]]
        add_entry(root / "template.yaml", scan(files, name, catalog_dir=str(root), description=f"demo {name}",
                                               tags=tags))
    return root


@pytest.fixture
def catalog_path(shelf: Path, tmp_path: Path) -> Path:
    """This test's own copy of the demo catalog (beside the shared, read-only data)."""
    path = shelf / f"catalog-{tmp_path.name}.yaml"
    shutil.copy(shelf / "template.yaml", path)
    return path


def with_entries(catalog_path: Path, extra: dict[str, Any]) -> Path:
    """The demo catalog with hand-written entries added (as a colleague would write them)."""
    data = yaml.safe_load(catalog_path.read_text())
    data["sources"].update(extra)
    catalog_path.write_text(yaml.safe_dump(data, sort_keys=False))
    return catalog_path


def like_sst(catalog_path: Path, **args: Any) -> dict[str, Any]:
    """A copy of the demo sst entry with ``args`` changed (None deletes a key)."""
    src = yaml.safe_load(catalog_path.read_text())["sources"]["sst"]
    for k, v in args.items():
        if v is None:
            src["args"].pop(k, None)
        else:
            src["args"][k] = v
    return src


def assert_unusable(cat: Catalog, name: str, match: str) -> None:
    with pytest.raises(UnsafeCatalogError, match=match) as info:
        cat[name]
    assert "\n" not in str(info.value)


def good_names_still_listed(cat: Catalog, bad: set[str]) -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        listed = [n for n, _ in cat.walk()]
    assert listed == ["sst", "air", "elevation", "stations"]
    assert len([w for w in caught if issubclass(w.category, UnusableEntryWarning)]) == len(bad)


# -- 4. names ------------------------------------------------------------------------------------

BAD_NAMES = ["../../victim/thesis", "/abs/name", "nul\x00name", "x" * 250, "1starts_with_digit", "has.dot"]


def test_bad_entry_names_make_only_that_entry_unusable(catalog_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with_entries(catalog_path, {name: like_sst(catalog_path) for name in BAD_NAMES})
    cat = Catalog(catalog_path)
    for name in BAD_NAMES:
        assert_unusable(cat, name, "invalid entry name")
        assert name in list(cat)  # still listed by name (lint and `show` can say why it is unusable)
    assert_unusable(cat, "x" * 250, "longer than 128")
    assert_unusable(cat, "nul\x00name", "invalid entry name")
    assert_unusable(cat, "../../victim/thesis", "invalid entry name")
    good_names_still_listed(cat, set(BAD_NAMES))
    problems = [p for p in lint(catalog_path, open_representations=False) if p.level == "error"]
    assert {p.entry for p in problems} == set(BAD_NAMES)
    assert all("invalid entry name" in p.message for p in problems)
    # every command refuses the entry in one line; list still works
    assert main(["list", "--catalog", str(catalog_path)]) == 0
    assert main(["show", "../../victim/thesis", "--catalog", str(catalog_path)]) != 0
    err = capsys.readouterr().err
    assert "invalid entry name" in err and "Traceback" not in err
    assert err.strip().splitlines()[-1].startswith("geoshelf: error:")


# -- 5. ~ and environment variables ------------------------------------------------------------------

@pytest.mark.parametrize("path, rule", [
    ("~/.ssh/id_rsa", "starts with '~'"),
    ("~root/x.nc", "starts with '~'"),
    ("$HOME/private.nc", "environment variables"),
    ("/data/${USER}/x.nc", "environment variables"),
    ("{{ env('HOME') }}/x.nc", "only template"),
    ("simplecache::http://127.0.0.1:1/x.nc", "chained URLs"),
    ("filecache::s3://bucket/x.nc", "chained URLs"),
    ("sftp://host/x.nc", "protocol 'sftp' is not allowed"),
    ("http://user:pw@127.0.0.1:1/x.nc", "credentials in a URL"),
])
def test_catalog_paths_never_expand_home_env_or_chain(catalog_path: Path, path: str, rule: str) -> None:
    with_entries(catalog_path, {"bad": like_sst(catalog_path, urlpath=path),
                                "bad_list": like_sst(catalog_path, urlpath=["/data/ok.nc", path])})
    cat = Catalog(catalog_path)
    assert_unusable(cat, "bad", rule)
    assert_unusable(cat, "bad_list", rule)
    good_names_still_listed(cat, {"bad", "bad_list"})


def test_representation_and_include_paths_are_checked(catalog_path: Path, tmp_path: Path) -> None:
    sst = like_sst(catalog_path)
    sst["metadata"]["geoshelf"]["representations"] = [{"kind": "zarr", "path": "~/stolen.zarr"}]
    with_entries(catalog_path, {"rep": sst, "inc": {"driver": "yaml_file_cat", "args": {"path": "~/other.yaml"}}})
    cat = Catalog(catalog_path)
    assert_unusable(cat, "rep", "starts with '~'")
    assert_unusable(cat, "inc", "starts with '~'")


def test_user_paths_still_expand_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from geoshelf.catalog.paths import resolve

    monkeypatch.setenv("HOME", str(tmp_path))
    assert resolve("~/x.nc", "/cat", expand_user=True) == str(tmp_path / "x.nc")
    assert resolve("~/x.nc", "/cat") == "/cat/~/x.nc"  # catalog text: never the reader's home


# -- 1. opener options --------------------------------------------------------------------------------

@pytest.mark.parametrize("kwargs, rule", [
    ({"engine": "netcdf4", "mode": "w"}, "option 'mode' is not allowed"),
    ({"backend_kwargs": {"mode": "w"}}, "option 'backend_kwargs' has a value not allowed"),
    ({"engine": "netcdf4", "persist": True}, "option 'persist' is not allowed"),
    ({"engine": "my.module.Backend"}, "option 'engine' has a value not allowed"),
    ({"decode_times": "yes please"}, "option 'decode_times' has a value not allowed"),
    ({"chunks": {"time": "x"}}, "option 'chunks' has a value not allowed"),
    ([1, 2], "must be a mapping"),
])
def test_xarray_kwargs_outside_the_allow_list_make_the_entry_unusable(catalog_path: Path, kwargs: Any,
                                                                       rule: str) -> None:
    with_entries(catalog_path, {"bad": like_sst(catalog_path, xarray_kwargs=kwargs)})
    cat = Catalog(catalog_path)
    assert_unusable(cat, "bad", rule)
    good_names_still_listed(cat, {"bad"})
    errors = [p for p in lint(catalog_path, open_representations=False) if p.level == "error"]
    assert [p.entry for p in errors] == ["bad"] and rule.split(" ")[1] in errors[0].message


def test_read_options_written_by_geoshelf_pass(catalog: Catalog) -> None:
    for _, entry in catalog.walk():  # what `add` writes is within the allow-lists
        assert entry.name in ("sst", "air", "elevation", "stations")
    assert catalog.sst.args["xarray_kwargs"]["engine"] == "netcdf4"


def test_csv_kwargs_and_representation_options_are_allow_listed(catalog_path: Path) -> None:
    stations = yaml.safe_load(catalog_path.read_text())["sources"]["stations"]
    stations["args"]["csv_kwargs"] = {"sep": ",", "storage_options": {"cache_storage": "/tmp/x"}}
    sst = like_sst(catalog_path)
    sst["metadata"]["geoshelf"]["representations"] = [
        {"kind": "zarr", "path": "{{ CATALOG_DIR }}/sst.zarr", "options": {"consolidated": True, "mode": "w"}}]
    with_entries(catalog_path, {"bad_csv": stations, "bad_rep": sst})
    cat = Catalog(catalog_path)
    assert_unusable(cat, "bad_csv", "option 'storage_options' is not allowed")
    assert_unusable(cat, "bad_rep", "representation 'zarr' options: option 'mode' is not allowed")


# -- 2. storage options ---------------------------------------------------------------------------------

@pytest.mark.parametrize("url, options, rule", [
    ("http://127.0.0.1:1/x.nc", {"cache_storage": "/home/u/.ssh"}, "'cache_storage' is not allowed"),
    ("http://127.0.0.1:1/x.nc", {"simplecache": {"cache_storage": "/home/u/.ssh", "same_names": True}},
     "'simplecache' is not allowed"),
    ("http://127.0.0.1:1/x.nc", {"cache_type": "mmap"}, "'cache_type' has a value not allowed"),
    ("http://127.0.0.1:1/x.nc", {"headers": {"Authorization": "Bearer x"}}, "looks like a credential"),
    ("s3://bucket/x.nc", {"key": "AKIA", "secret": "s"}, "looks like a credential"),
    ("s3://bucket/x.nc", {"profile": "prod"}, "looks like a credential"),
    ("s3://bucket/x.nc", {"client_kwargs": {"aws_secret_access_key": "s"}}, "client_kwargs 'aws_secret_access_key'"),
    ("s3://bucket/x.nc", {"config_kwargs": {"proxies": {}}}, "'config_kwargs' is not allowed"),
    ("/data/x.nc", {"auto_mkdir": True}, "'auto_mkdir' is not allowed"),
])
def test_storage_options_allow_list(url: str, options: dict[str, Any], rule: str) -> None:
    with pytest.raises(UnsafeCatalogError, match=rule):
        check_storage_options(url, options)


def test_storage_options_in_a_catalog_entry(catalog_path: Path) -> None:
    with_entries(catalog_path, {"cache": like_sst(catalog_path, storage_options={"cache_storage": "/tmp/evil"})})
    assert_unusable(Catalog(catalog_path), "cache", "'cache_storage' is not allowed")


def write_user_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, options: dict[str, Any]) -> None:
    cfg = tmp_path / "user-config.yaml"
    cfg.write_text(yaml.safe_dump({"storage_options": options}))
    monkeypatch.setenv("GEOSHELF_CONFIG", str(cfg))


def test_the_users_config_wins_over_the_catalog(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    user = {"key": "mine", "secret": "s", "client_kwargs": {"endpoint_url": "http://127.0.0.1:9000"}}
    write_user_config(tmp_path, monkeypatch, {"s3://bucket": user})
    entry = Entry.from_source("x", {"driver": "netcdf", "args": {
        "urlpath": "s3://bucket/x.nc", "storage_options": {"default_block_size": 1024, "anon": True}}})
    got = entry.storage_options
    assert got.pop("config_kwargs")["connect_timeout"] == 10.0  # geoshelf's timeouts (catalog/remote.py)
    assert got == {"default_block_size": 1024, "anon": True, **user}
    redirect = Entry.from_source("x", {"driver": "netcdf", "args": {
        "urlpath": "s3://bucket/x.nc", "storage_options": {"client_kwargs": {"endpoint_url": "http://evil:1"}}}})
    with pytest.raises(UnsafeCatalogError, match="'client_kwargs' may not be set by a catalog"):
        _ = redirect.storage_options
    endpoint = Entry.from_source("x", {"driver": "netcdf", "args": {
        "urlpath": "s3://bucket/x.nc", "storage_options": {"endpoint_url": "http://evil:1"}}})
    with pytest.raises(UnsafeCatalogError, match="'endpoint_url' may not be set"):
        _ = endpoint.storage_options


def test_a_catalog_endpoint_is_read_anonymously(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_user_config(tmp_path, monkeypatch, {})
    got = effective_storage_options("s3://public/x.nc", {"client_kwargs": {"endpoint_url": "http://127.0.0.1:9"}}, {})
    assert got["anon"] is True  # the reader's ambient AWS credentials never go to a catalog's endpoint


# -- 3. credentials matched on the parsed URL ---------------------------------------------------------

def test_credentials_match_scheme_host_port_and_bucket(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_user_config(tmp_path, monkeypatch, {
        "http://127.0.0.1:18081": {"headers": {"Authorization": "Bearer K1"}},
        "http://127.0.0.1:18081/deep/": {"headers": {"Authorization": "Bearer K2"}},
        "s3://team": {"key": "K3", "secret": "S3"},
        "https://Data.Example.org/pub": {"block_size": 1},
    })
    assert storage_options_for("http://127.0.0.1:18081@127.0.0.1:18084/sst.nc") == {}
    assert storage_options_for("http://127.0.0.1:18084/sst.nc") == {}
    assert storage_options_for("https://127.0.0.1:18081/sst.nc") == {}
    assert storage_options_for("http://127.0.0.1:180811/sst.nc") == {}
    assert storage_options_for("http://127.0.0.1:18081/sst.nc")["headers"]["Authorization"] == "Bearer K1"
    assert storage_options_for("http://127.0.0.1:18081/deep/a.nc")["headers"]["Authorization"] == "Bearer K2"
    assert storage_options_for("http://127.0.0.1:18081/deeper/a.nc")["headers"]["Authorization"] == "Bearer K1"
    assert storage_options_for("s3://team/x.nc") == {"key": "K3", "secret": "S3"}
    assert storage_options_for("s3://team-evil/x.nc") == {}
    assert storage_options_for("s3://teamx.nc") == {}
    assert storage_options_for("https://data.example.org:443/pub/x.nc") == {"block_size": 1}
    assert storage_options_for("https://data.example.org/public/x.nc") == {}


# -- 7 (fields). malformed fields: one line, that entry only ----------------------------------------

@pytest.mark.parametrize("geo, rule", [
    ({"time_range": ["x"]}, "time_range must be"),
    ({"bbox": ["a"]}, "bbox must be"),
    ({"dims": {"x": "y"}}, "dims.x must be a whole number"),
    ({"dims": [1]}, "dims must be a mapping"),
    ({"files": "many"}, "files must be a whole number"),
    ({"tags": "ocean"}, "tags must be a list"),
    ({"variables": [{"a": 1}]}, "variables must be a list"),
    ({"representations": "zarr"}, "representations must be a list"),
    ({"representations": [{"kind": "zarr"}]}, "needs a 'path'"),
    ({"representations": [{"kind": "zarr", "path": "/x", "provenance": {"files_out": "<img src=x>"}}]},
     "files_out must be a whole number"),
    ({"crs": ["EPSG", 4326]}, "crs must be text"),
])
def test_malformed_fields_make_the_entry_unusable_in_one_line(catalog_path: Path, geo: dict[str, Any],
                                                                rule: str) -> None:
    sst = like_sst(catalog_path)
    sst["metadata"]["geoshelf"].update(geo)
    with_entries(catalog_path, {"bad": sst})
    cat = Catalog(catalog_path)
    with pytest.raises(CatalogError, match=rule) as info:
        cat["bad"]
    assert "\n" not in str(info.value) and str(catalog_path) in str(info.value)
    good_names_still_listed(cat, {"bad"})
    assert [p.entry for p in lint(catalog_path, open_representations=False) if p.level == "error"] == ["bad"]


def test_a_driver_that_is_not_a_name_is_one_line(catalog_path: Path) -> None:
    sst = like_sst(catalog_path)
    sst["driver"] = ["netcdf"]
    with_entries(catalog_path, {"bad": sst})
    with pytest.raises(CatalogError, match="driver must be a name"):
        Catalog(catalog_path)
    assert "driver must be a name" in lint(catalog_path)[0].message


# -- 6. HTML repr ---------------------------------------------------------------------------------

class Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: set[str] = set()
        self.attrs: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        self.attrs.update(a for a, _ in attrs)


SAFE_TAGS = {"div", "style", "p", "b", "table", "thead", "tbody", "tr", "th", "td", "span", "code"}
EVIL = "<img src=x onerror=alert(1)>"


def parsed(html: str) -> Tags:
    t = Tags()
    t.feed(html)
    return t


def test_html_repr_escapes_every_field(catalog_path: Path) -> None:
    sst = like_sst(catalog_path)
    geo = sst["metadata"]["geoshelf"]
    geo.update(tags=[EVIL], contact=EVIL, license=EVIL, crs=EVIL, format=EVIL, variables=[EVIL],
               time_range=[EVIL, EVIL], dims={EVIL: 3})
    geo["representations"] = [{"kind": "zarr", "path": f"/x/{EVIL}", "format": EVIL,
                               "provenance": {"source_fingerprint": EVIL, "finished": EVIL, "host": EVIL}}]
    sst["description"] = EVIL
    with_entries(catalog_path, {"evil": sst})
    cat = Catalog(catalog_path)
    for html in (catalog_html(cat), entry_html(cat.evil), cat._repr_html_(), cat.evil._repr_html_()):
        t = parsed(html)
        assert t.tags <= SAFE_TAGS, t.tags - SAFE_TAGS
        assert t.attrs <= {"class", "colspan"}
        assert "&lt;img src=x onerror=alert(1)&gt;" in html
    # a hand-built value of the wrong type (Python allows it) is escaped too
    rep = Representation(kind="zarr", path="/x", provenance=Provenance(
        source_fingerprint="s", files_out=EVIL, bytes_out=0))  # type: ignore[arg-type]
    html = entry_html(Entry(name="e", urlpath="/x.nc", files=EVIL, representations=[rep]))  # type: ignore[arg-type]
    assert parsed(html).tags <= SAFE_TAGS and "onerror" not in parsed(html).attrs


def test_every_catalog_error_is_a_geoshelf_error() -> None:
    assert issubclass(UnsafeCatalogError, GeoshelfError)


# -- 7. parser limits ---------------------------------------------------------------------------------

def alias_bomb(levels: int = 9) -> str:
    lines = ["a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, levels)]
    return "".join("      " + line + "\n" for line in lines)


def merge_bomb(levels: int = 9) -> str:
    lines = ["m0: &m0 {k0: 1, k1: 2, k2: 3, k3: 4, k4: 5, k5: 6, k6: 7, k7: 8, k8: 9, k9: 10}"]
    lines += [f"m{i}: &m{i} {{<<: [" + ", ".join([f"*m{i - 1}"] * 10) + "]}" for i in range(1, levels)]
    return "".join("      " + line + "\n" for line in lines)


ENTRY_HEAD = ("sources:\n  ok:\n    driver: netcdf\n    args: {urlpath: /data/x.nc}\n"
              "  sst:\n    driver: netcdf\n    metadata:\n")


@pytest.mark.parametrize("text, rule", [
    (ENTRY_HEAD + alias_bomb(), "aliases expand to more than"),
    (ENTRY_HEAD + merge_bomb(), "aliases expand to more than"),
    (ENTRY_HEAD + "      x: " + "[" * 990 + "]" * 990 + "\n", "nested deeper than 64"),
    (ENTRY_HEAD + "".join("  " * (i + 3) + f"k{i}:\n" for i in range(200)) + "  " * 203 + "v: 1\n",
     "nested deeper than 64"),
    ("sources:\n  sst: &s\n    driver: netcdf\n    metadata: {me: *s}\n", "refers to the node that contains it"),
    ("sources:\n  sst:\n    driver: netcdf\n  sst:\n    driver: zarr\n", "line 4: duplicate key 'sst'"),
    ("sources:\n  sst:\n    driver: netcdf\n    args: {urlpath: /a.nc, urlpath: /b.nc}\n", "duplicate key 'urlpath'"),
    ("sources: {}\nsources: {}\n", "duplicate key 'sources'"),
])
def test_parser_limits_give_one_line_everywhere(tmp_path: Path, text: str, rule: str,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "hostile.yaml"
    path.write_text(text)
    with pytest.raises(CatalogError, match=rule):
        Catalog(path)
    problems = lint(path)
    assert len(problems) == 1 and rule.split("'")[0] in problems[0].message
    for argv in (["list"], ["show", "sst"], ["add", "/nonexistent.nc", "--name", "new"]):
        assert main([*argv, "--catalog", str(path)]) != 0
        err = capsys.readouterr().err
        assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    assert main(["lint", "--catalog", str(path)]) != 0
    out = capsys.readouterr().out
    assert out.startswith("error: (catalog): ") and "1 errors" in out
    assert path.read_text() == text


def test_edits_refuse_hostile_text_before_ruamel_builds_it(tmp_path: Path) -> None:
    from geoshelf.catalog import add_entry

    path = tmp_path / "hostile.yaml"
    text = ENTRY_HEAD + alias_bomb()
    path.write_text(text)
    with pytest.raises(CatalogError, match="aliases expand"):
        add_entry(path, Entry(name="new", urlpath="/x.nc"))
    assert path.read_text() == text


def test_special_files_are_refused_without_blocking(tmp_path: Path) -> None:
    import os

    fifo = tmp_path / "fifo.yaml"
    os.mkfifo(fifo)
    with pytest.raises(CatalogError, match="not a regular file"):
        Catalog(fifo)
    assert "not a regular file" in lint(fifo)[0].message
    inc = tmp_path / "inc.yaml"
    inc.write_text("sources:\n"
                   f"  pipe:\n    driver: yaml_file_cat\n    args: {{path: {fifo}}}\n"
                   "  zero:\n    driver: yaml_file_cat\n    args: {path: /dev/zero}\n"
                   "  ok:\n    driver: netcdf\n    args: {urlpath: /data/x.nc}\n")
    cat = Catalog(inc)
    for name in ("pipe", "zero"):
        with pytest.raises(CatalogError, match="not a regular file"):
            cat[name]
    assert [n for n, _ in cat.walk()] == ["ok"]
    assert {p.entry for p in lint(inc) if "not a regular file" in p.message} == {"pipe", "zero"}


def test_include_cycles_found_by_real_path_in_open_and_lint(tmp_path: Path) -> None:
    import os

    (tmp_path / "a.yaml").write_text("sources:\n  b:\n    driver: yaml_file_cat\n"
                                     "    args: {path: '{{ CATALOG_DIR }}/b.yaml'}\n")
    (tmp_path / "b.yaml").write_text("sources:\n  a:\n    driver: yaml_file_cat\n"
                                     "    args: {path: '{{ CATALOG_DIR }}/a.yaml'}\n"
                                     "  x:\n    driver: netcdf\n    args: {urlpath: /data/x.nc}\n")
    os.symlink(tmp_path / "self.yaml", tmp_path / "link.yaml")
    (tmp_path / "self.yaml").write_text("sources:\n  me:\n    driver: yaml_file_cat\n"
                                        "    args: {path: '{{ CATALOG_DIR }}/link.yaml'}\n")
    a = Catalog(tmp_path / "a.yaml")
    with pytest.raises(CatalogError, match="includes itself"):
        a["b.a"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnusableEntryWarning)
        assert [n for n, _ in a.walk()] == ["b.x"]
    with pytest.raises(CatalogError, match="includes itself"):
        Catalog(tmp_path / "self.yaml")["me"]
    assert any("include cycle" in p.message for p in lint(tmp_path / "a.yaml"))
    assert any("include cycle" in p.message for p in lint(tmp_path / "self.yaml"))


def test_cli_list_names_a_skipped_entry_in_one_warning_line(catalog_path: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    with_entries(catalog_path, {"bad": like_sst(catalog_path, xarray_kwargs={"mode": "w"})})
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        assert main(["list", "--catalog", str(catalog_path)]) == 0
    captured = capsys.readouterr()
    assert [line.split()[0] for line in captured.out.splitlines()] == ["sst", "air", "elevation", "stations"]
    err = captured.err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("geoshelf: warning: ") and "'mode' is not allowed" in err[0]


def test_one_entry_reads_from_one_place_and_representations_get_their_own_options(
        catalog_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with_entries(catalog_path, {"two_hosts": like_sst(catalog_path, urlpath=["http://127.0.0.1:1/a.nc",
                                                                             "http://127.0.0.1:2/b.nc"])})
    assert_unusable(Catalog(catalog_path), "two_hosts", "several hosts")
    write_user_config(tmp_path, monkeypatch, {"http://127.0.0.1:1": {"headers": {"X-Api-Key": "K1"}}})
    entry = Entry.from_source("x", {"driver": "netcdf", "args": {"urlpath": "http://127.0.0.1:1/a.nc"}})
    assert entry.storage_options["headers"] == {"X-Api-Key": "K1"}
    assert entry.options_for("http://127.0.0.1:1/a.zarr")["headers"] == {"X-Api-Key": "K1"}
    assert "headers" not in entry.options_for("http://127.0.0.1:2/a.zarr")  # a representation elsewhere


@pytest.mark.parametrize(("kind", "files"), [
    ("cog", ["../outside.tif"]), ("cog", ["/etc/x.tif"]), ("cog", [".hidden.tif"]), ("cog", ["a/b.tif"]),
    ("cog", ["x.tif?y"]), ("cog", ["notes.txt"]), ("cog", "tile.tif"),
    ("parquet", ["year=2020/../../x.parquet"]), ("parquet", ["/abs/x.parquet"]), ("parquet", ["a//b.parquet"]),
    ("parquet", ["year=2020/.x.parquet"]), ("parquet", ["year=2020\\..\\x.parquet"]), ("parquet", ["x.csv"]),
])
def test_listed_representation_files_stay_inside(kind: str, files: Any) -> None:
    """A served catalog lists the files of COG / Parquet representations; a hostile list cannot name a
    file outside the representation."""
    from geoshelf.catalog.trust import representation_options

    with pytest.raises(UnsafeCatalogError, match="files"):
        representation_options(kind, {"files": files})


def test_listed_representation_files_accepted() -> None:
    from geoshelf.catalog.trust import representation_options

    assert representation_options("cog", {"files": ["tile_r0_c0.tif"]}) == {"files": ["tile_r0_c0.tif"]}
    ok = {"files": ["year=2020/month=1/part-0.parquet", "part-1.parquet"]}
    assert representation_options("parquet", ok) == ok
