"""A stateful model of catalog edits from two processes (like zarr's ``testing/stateful.py``).

Two long-lived worker processes edit the same catalog file (add, update, remove, relocate, and
convert: a real conversion of real NetCDF files that publishes a Zarr store and records it in the
catalog), sometimes at the same moment; every operation is also applied to an in-memory model.  After
every step the file, read back, equals the model: nothing lost, nothing half-written, and the
hand-written comment at the top and inside the first entry are still there.
"""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    consumes,
    invariant,
    precondition,
    rule,
)

from geoshelf.catalog import Catalog, Entry, Representation, add_entry
from geoshelf.demo.data import make_sst
from geoshelf.scan import scan

WORKER = """
import json, sys
from geoshelf.catalog import Entry, add_entry, remove_entry, update_entry
from geoshelf.catalog.relocate import relocate
from geoshelf.convert import convert
from geoshelf.errors import GeoshelfError
path = sys.argv[1]
for line in sys.stdin:
    cmd = json.loads(line)
    try:
        if cmd["op"] == "add":
            add_entry(path, Entry.from_source(cmd["name"], cmd["source"]))
        elif cmd["op"] == "update":
            update_entry(path, Entry.from_source(cmd["name"], cmd["source"]))
        elif cmd["op"] == "remove":
            remove_entry(path, cmd["name"])
        elif cmd["op"] == "relocate":
            relocate(path, cmd["old"], cmd["new"])
        elif cmd["op"] == "convert":
            rep = convert(cmd["name"], "zarr", catalog=path, layout=cmd["layout"])
            print("ok " + json.dumps(rep.to_dict()), flush=True)
            continue
        print("ok", flush=True)
    except GeoshelfError as exc:
        print("error " + str(exc), flush=True)
"""

HEAD = ("# team catalog: reviewed in merge requests\nmetadata:\n  version: 1\nsources:\n"
        "  # the first entry, written by hand\n  keep:\n    description: Kept  # do not touch\n"
        "    driver: netcdf\n    args:\n      urlpath: {root}/A/keep.nc\n"
        "    metadata:\n      geoshelf:\n        format: netcdf\n")

NAMES = [f"ds{i}" for i in range(6)]
_text = st.sampled_from(["", "no", "SST, daily", "a: b", "#x", "it's", "é", "1_000", "2020-01-01"])


def _entry(root: Path, name: str, where: str, description: str, files: int, zarr: bool) -> Entry:
    reps = [Representation(kind="zarr", path=f"{root}/{where}/shelf/{name}.zarr", format="zarr3")] if zarr else []
    return Entry(name=name, urlpath=f"{root}/{where}/{name}/*.nc", description=description, files=files,
                 variables=["sst"], representations=reps)


class Worker:
    """A process applying edit commands to the catalog."""

    def __init__(self, path: Path) -> None:
        self.proc = subprocess.Popen([sys.executable, "-c", WORKER, str(path)], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True, bufsize=1)

    def send(self, **cmd: Any) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(cmd) + "\n")
        self.proc.stdin.flush()

    def answer(self) -> str:
        assert self.proc.stdout is not None
        return self.proc.stdout.readline().strip()

    def close(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        self.proc.wait(timeout=60)


class CatalogEdits(RuleBasedStateMachine):
    """Edits by two processes against a model: name -> Entry, in file order."""

    names = Bundle("names")

    def __init__(self) -> None:
        super().__init__()
        self.dir = Path(_tmp_dir()) / f"run{next(_RUNS)}"  # each example its own catalog, data and shelf
        self.dir.mkdir()
        self.path = self.dir / "catalog.yaml"
        for where in ("A", "B"):
            (self.dir / where).mkdir(exist_ok=True)
        self.path.write_text(HEAD.format(root=self.dir))
        real = self.dir / "R" / "real"  # real files (outside A and B, which relocate moves between)
        make_sst(real, days=3, ny=12, nx=24)
        add_entry(self.path, scan([str(f) for f in sorted(real.glob("*.nc"))], "real", catalog_dir=str(self.dir)))
        self.model: dict[str, Entry] = {"keep": Catalog(self.path).keep, "real": Catalog(self.path).real}
        self.workers = [Worker(self.path), Worker(self.path)]

    def teardown(self) -> None:
        for w in self.workers:
            w.close()

    def _one(self, w: int, **cmd: Any) -> str:
        self.workers[w].send(**cmd)
        return self.workers[w].answer()

    def _source(self, e: Entry) -> dict[str, Any]:
        return e.to_source()

    @rule(target=names, w=st.integers(0, 1), name=st.sampled_from(NAMES), description=_text,
          files=st.integers(0, 99), zarr=st.booleans())
    def add(self, w: int, name: str, description: str, files: int, zarr: bool) -> Any:
        e = _entry(self.dir, name, "A", description, files, zarr)
        answer = self._one(w, op="add", name=name, source=self._source(e))
        if name in self.model:
            assert answer.startswith("error ") and "already exists" in answer
            return name
        assert answer == "ok", answer
        self.model[name] = e
        return name

    @rule(w=st.integers(0, 1), name=names, description=_text, files=st.integers(0, 99), zarr=st.booleans())
    def update(self, w: int, name: str, description: str, files: int, zarr: bool) -> None:
        where = "B" if name in self.model and f"{self.dir}/B/" in str(self.model[name].urlpath) else "A"
        e = _entry(self.dir, name, where, description, files, zarr)
        answer = self._one(w, op="update", name=name, source=self._source(e))
        if name not in self.model:
            assert answer.startswith("error ") and "no entry named" in answer
            return
        assert answer == "ok", answer
        self.model[name] = e

    @rule(w=st.integers(0, 1), name=consumes(names))
    def remove(self, w: int, name: str) -> None:
        answer = self._one(w, op="remove", name=name)
        if name not in self.model:
            assert answer.startswith("error "), answer
            return
        assert answer == "ok", answer
        del self.model[name]

    @rule(w=st.integers(0, 1), back=st.booleans())
    def relocate(self, w: int, back: bool) -> None:
        old, new = (f"{self.dir}/B", f"{self.dir}/A") if back else (f"{self.dir}/A", f"{self.dir}/B")
        assert self._one(w, op="relocate", old=old, new=new) == "ok"
        for name, e in list(self.model.items()):
            reps = [Representation(kind=r.kind, format=r.format, options=r.options, provenance=r.provenance,
                                   path=new + r.path[len(old):] if r.path.startswith(old + "/") else r.path)
                    for r in e.representations]
            url = str(e.urlpath)
            self.model[name] = e.replace(urlpath=new + url[len(old):] if url.startswith(old + "/") else url,
                                         representations=reps)

    @rule(w=st.integers(0, 1), layout=st.sampled_from(["map", "timeseries"]), data=st.data())
    def convert(self, w: int, layout: str, data: st.DataObject) -> None:
        """One process converts the real entry (publishes a Zarr store, then records it in the catalog) while the
        other maybe updates another entry at the same moment: both land, nothing else changes."""
        self.workers[w].send(op="convert", name="real", layout=layout)
        others = sorted(set(self.model) - {"keep", "real"})
        changed = None
        if others and data.draw(st.booleans()):
            name = data.draw(st.sampled_from(others))
            changed = self.model[name].replace(files=data.draw(st.integers(0, 99)))
            self.workers[1 - w].send(op="update", name=name, source=self._source(changed))
        answer = self.workers[w].answer()
        assert answer.startswith("ok "), answer
        rep = Representation.from_dict(json.loads(answer[3:]))
        # a new store is returned by its path; a fresh one (same layout again) as recorded
        assert rep.kind == "zarr" and rep.path in (str(self.dir / "shelf" / "real.zarr"),
                                                   "{{ CATALOG_DIR }}/shelf/real.zarr"), rep
        if changed is not None:
            assert self.workers[1 - w].answer() == "ok"
            self.model[changed.name] = changed
        stored = Representation(kind=rep.kind, path="{{ CATALOG_DIR }}/shelf/real.zarr", format=rep.format,
                                options=rep.options, provenance=rep.provenance)
        self.model["real"] = self.model["real"].with_representation(stored)
        assert Catalog(self.path).real.to_dask()["sst"].shape[0] == 3  # the recorded store opens

    @precondition(lambda self: len(self.model) >= 4)
    @rule(data=st.data())
    def two_at_once(self, data: st.DataObject) -> None:
        """Both processes edit different entries at the same moment (the lock serialises them)."""
        a, b = data.draw(st.lists(st.sampled_from(sorted(set(self.model) - {"keep", "real"})), min_size=2,
                                  max_size=2, unique=True))
        new = data.draw(st.sampled_from([n for n in NAMES if n not in self.model] or [None]))
        ea = self.model[a].replace(description=data.draw(_text), files=data.draw(st.integers(0, 99)))
        self.workers[0].send(op="update", name=a, source=self._source(ea))
        if new is not None and data.draw(st.booleans()):
            eb = _entry(self.dir, new, "A", data.draw(_text), 1, False)
            self.workers[1].send(op="add", name=new, source=self._source(eb))
            changes = {a: ea, new: eb}
        elif data.draw(st.booleans()):
            self.workers[1].send(op="remove", name=b)
            changes = {a: ea, b: None}
        else:
            eb = self.model[b].replace(files=data.draw(st.integers(0, 99)))
            self.workers[1].send(op="update", name=b, source=self._source(eb))
            changes = {a: ea, b: eb}
        assert [w.answer() for w in self.workers] == ["ok", "ok"]
        for name, e in changes.items():
            if e is None:
                del self.model[name]
            else:
                self.model[name] = e

    @invariant()
    def file_equals_model(self) -> None:
        cat = Catalog(self.path)
        assert sorted(cat) == sorted(self.model)
        order = [n for n in cat]
        assert order[0] == "keep"
        for name, e in self.model.items():
            assert cat[name] == e.replace(catalog_dir=None), name
        text = self.path.read_text()
        assert text.startswith("# team catalog: reviewed in merge requests\n")
        assert "  # the first entry, written by hand\n  keep:\n    description: Kept  # do not touch\n" in text
        assert not list(self.dir.glob(".*.tmp"))


_TMP: list[Path] = []
_RUNS = itertools.count()


def _tmp_dir() -> Path:
    return _TMP[-1]


@pytest.fixture
def _state_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GEOSHELF_INDEX_DIR", str(tmp_path / "index"))
    monkeypatch.setenv("GEOSHELF_CONFIG", str(tmp_path / "no-user-config.yaml"))
    monkeypatch.delenv("GEOSHELF_SHELF_ROOT", raising=False)
    _TMP.append(tmp_path)


@pytest.mark.usefixtures("_state_dir")
def test_two_processes_editing_lose_nothing() -> None:
    CatalogEdits.TestCase.settings = settings(max_examples=12, stateful_step_count=12, deadline=None,
                                              suppress_health_check=[HealthCheck.too_slow])
    CatalogEdits.TestCase().runTest()
