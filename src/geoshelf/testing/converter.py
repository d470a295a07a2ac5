"""``ConverterTests``: the conformance suite every conversion target passes (like zarr-python's
``StoreTests``).  A target's tests subclass it and provide a :class:`Case` fixture::

    from geoshelf.testing import Case, ConverterTests

    class TestZarr(ConverterTests):
        target = "zarr"

        @pytest.fixture
        def case(self, catalog_path):
            return Case(catalog=catalog_path, entry="sst")

The cases: an exact round trip (the representation opened through the loader equals the source
opened directly; ``tolerance`` for lossy targets); a refusal leaves the catalog byte-identical and
publishes nothing; a rerun says unchanged; a SIGKILL during write and during validation publishes
nothing and a rerun succeeds; a changed source makes the representation stale and the loader falls
back to the original files; the declared options are enforced (unknown and ill-typed ones refused,
from Python, the command line and a campaign spec).

Requires pytest (a test dependency, not one of geoshelf's).
"""

from __future__ import annotations

import os
import random
import signal
import threading
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, get_args

import pandas as pd
import pytest
import xarray as xr

from ..campaign import load_spec
from ..catalog import Catalog
from ..cli import main
from ..contract import Option, Validation
from ..convert import convert, convert_entry, shelf_root
from ..errors import CampaignError, GeoshelfError, OptionError, StaleRepresentationWarning
from ..registry import get_target, list_targets
from .faults import run_child

#: Phases of a conversion the kill cases interrupt, and the target method each wraps.
PHASES = {"write": "write", "validation": "validate"}


@dataclass(frozen=True, kw_only=True)
class Case:
    """A source the target under test accepts."""

    #: The catalog file (a private copy: the cases modify it and its data).
    catalog: Path
    #: The entry to convert.
    entry: str
    #: Options of a valid conversion (the declared defaults apply to the others).
    options: dict[str, Any] = field(default_factory=dict)


def _die() -> None:
    """SIGKILL this process and its group (the driver and any local workers), like a lost node."""
    try:
        os.killpg(os.getpgid(0), signal.SIGKILL)
    finally:
        os.kill(os.getpid(), signal.SIGKILL)


def convert_and_die(catalog: str, entry: str, target: str, options: dict[str, Any], method: str,
                    delay: float) -> None:
    """In a child process: convert, SIGKILLing the process ``delay`` seconds into the target's
    ``method`` (``write`` or ``validate``), or at its end if it finishes first."""
    cls = list_targets()[target]
    original = getattr(cls, method)

    def wrapped(self: Any, *args: Any, **kwargs: Any) -> Any:
        timer = threading.Timer(delay, _die)
        timer.daemon = True
        timer.start()
        original(self, *args, **kwargs)
        _die()  # finished before the timer: still killed inside this phase, before anything is published

    setattr(cls, method, wrapped)
    convert(entry, target, catalog=catalog, **options)


def _wrong_value(opt: Option) -> Any:
    """A value of the wrong type for ``opt``."""
    if opt.type is str:
        return 12345
    if opt.type in (int, float):
        return "not-a-number"
    if opt.type is bool:
        return "maybe"
    if opt.type is dict:
        return ["not", "a", "mapping"]
    if opt.type is list:
        return 7
    return {"not": "a scalar"}


class ConverterTests:
    """Base class of a target's conformance tests; subclass it as ``TestSomething``.

    Subclasses set :attr:`target` and provide the ``case`` fixture; they may override
    :meth:`open_source` and :meth:`assert_same` (e.g. for tables, or a lossy target).
    """

    #: Name of the target under test (its entry point's name).
    target: ClassVar[str] = ""
    #: None: decoded data must be identical (``xr.testing.assert_identical``); else (rtol, atol).
    tolerance: ClassVar[tuple[float, float] | None] = None
    #: Seconds into a phase at which the kill cases strike (drawn at random below this).
    kill_within: ClassVar[float] = 0.5

    @pytest.fixture
    def case(self) -> Case:
        raise NotImplementedError("a ConverterTests subclass provides the `case` fixture")

    # -- hooks ------------------------------------------------------------------------------------
    def open_source(self, case: Case) -> Any:
        """What the representation must equal: the entry's original files, opened by the loader."""
        return self.entry(case).to_dask(representation="original")

    def assert_same(self, converted: Any, expected: Any) -> None:
        """Converted data equal the source (decoded values, coordinates and attributes)."""
        if hasattr(converted, "compute") and not isinstance(converted, xr.Dataset | xr.DataArray):
            a, b = converted.compute(), expected.compute()
            missing = [c for c in b.columns if c not in a.columns]
            assert not missing, f"columns of the source missing from the output: {missing}"
            a = a[list(b.columns)]  # a target may add columns (GeoParquet's geometry), never lose one
            key = list(b.columns)
            pd.testing.assert_frame_equal(a.sort_values(key).reset_index(drop=True),
                                          b.sort_values(key).reset_index(drop=True), check_dtype=False,
                                          check_categorical=False)
            return
        if self.tolerance is None:
            xr.testing.assert_identical(converted.load(), expected.load())
        else:
            rtol, atol = self.tolerance
            xr.testing.assert_allclose(converted.load(), expected.load(), rtol=rtol, atol=atol)

    # -- helpers ------------------------------------------------------------------------------------
    def entry(self, case: Case) -> Any:
        return Catalog(case.catalog)[case.entry]

    def convert(self, case: Case, **options: Any) -> Any:
        return convert_entry(self.entry(case), self.target, catalog_path=case.catalog, **{**case.options, **options})

    def output(self, case: Case) -> Path:
        target = get_target(self.target)
        return shelf_root(case.catalog) / target.output_name(self.entry(case), case.options)

    def leftovers(self, case: Case) -> list[Path]:
        out = self.output(case)
        return [p for p in out.parent.glob(f".{out.name}.*") if not p.name.endswith(".lock")] \
            if out.parent.exists() else []

    def assert_untouched(self, case: Case, before: bytes) -> None:
        assert case.catalog.read_bytes() == before, "the catalog changed"
        assert not self.output(case).exists(), f"{self.output(case)} was published"

    # -- the cases ------------------------------------------------------------------------------------
    def test_round_trip(self, case: Case) -> None:
        outcome = self.convert(case)
        assert outcome.action == "created"
        rep = self.entry(case).representation(self.target)
        assert rep is not None and rep.provenance is not None
        assert rep.provenance.validation in get_args(Validation)
        with warnings.catch_warnings():
            warnings.simplefilter("error", StaleRepresentationWarning)
            converted = self.entry(case).to_dask(representation=self.target)
        self.assert_same(converted, self.open_source(case))
        assert self.leftovers(case) == []

    def test_refusal_leaves_catalog_untouched(self, case: Case) -> None:
        before = case.catalog.read_bytes()
        with pytest.raises(OptionError, match="has no option 'no_such_option'"):
            self.convert(case, no_such_option=1)

        with pytest.raises(GeoshelfError, match="cannot convert|unknown target"):
            wrong = self.entry(case).replace(format="no-such-format")
            convert_entry(wrong, self.target, catalog_path=case.catalog, **case.options)
        self.assert_untouched(case, before)
        assert self.leftovers(case) == []

    def test_rerun_says_unchanged(self, case: Case) -> None:
        self.convert(case)
        before = case.catalog.read_bytes()
        outcome = self.convert(case)
        assert outcome.action == "unchanged" and "up to date" in outcome.message
        assert case.catalog.read_bytes() == before

    @pytest.mark.parametrize("phase", list(PHASES))
    def test_kill_publishes_nothing(self, case: Case, phase: str) -> None:
        before = case.catalog.read_bytes()
        delay = random.Random(f"{self.target}-{phase}").uniform(0, self.kill_within)
        run = run_child(convert_and_die, str(case.catalog), case.entry, self.target, dict(case.options),
                        PHASES[phase], delay)
        assert run.killed, f"the child was not killed during {phase}: {run.returncode} {run.stderr[-500:]}"
        self.assert_untouched(case, before)
        self.convert(case)  # the rerun cleans up and succeeds
        assert self.leftovers(case) == []
        self.assert_same(self.entry(case).to_dask(representation=self.target), self.open_source(case))

    def test_changed_source_goes_stale(self, case: Case, monkeypatch: pytest.MonkeyPatch) -> None:
        # a file changed in place (its directory untouched) is seen by the full check only; the
        # loader runs it at most every full-check-minutes (docs/catalog.md): here at every open
        monkeypatch.setenv("GEOSHELF_FULL_CHECK_MINUTES", "0")
        self.convert(case)
        entry = self.entry(case)
        first = Path(entry.source_files()[0])
        st = first.stat()
        os.utime(first, ns=(st.st_atime_ns, st.st_mtime_ns + 2 * 10**9))
        with pytest.warns(StaleRepresentationWarning, match=f"{self.target} representation .* is stale"):
            data = self.entry(case).to_dask()
        self.assert_same(data, self.entry(case).to_dask(representation="original"))  # the original files

    def test_declared_options_enforced(self, case: Case, tmp_path: Path) -> None:
        declared = get_target(self.target).options
        before = case.catalog.read_bytes()
        for opt in declared:
            typo = opt.name + "x"
            with pytest.raises(OptionError, match=f"has no option '{typo}' \\(did you mean '{opt.name}'\\?\\)"):
                self.convert(case, **{typo: opt.default})
            with pytest.raises(OptionError, match=f"option '{opt.name}' must be"):
                self.convert(case, **{opt.name: _wrong_value(opt)})
            if opt.choices and opt.type is str:
                with pytest.raises(OptionError, match=f"unknown {opt.label or opt.name} 'zz-no-such-value'"):
                    self.convert(case, **{opt.name: "zz-no-such-value"})
            assert main(["convert", case.entry, "--to", self.target, "--option", f"{typo}=1",
                         "--catalog", str(case.catalog)]) == OptionError.exit_code
            spec = tmp_path / f"{opt.name}.yaml"
            spec.write_text(f"inputs: {{entries: [{case.entry}]}}\ntarget: {self.target}\n"
                            f"catalog: {case.catalog}\noptions: {{{typo}: 1}}\n")
            with pytest.raises(CampaignError, match=f"has no option '{typo}'"):
                load_spec(spec)
        with pytest.raises(OptionError, match="has no option 'zz_unknown'"):
            self.convert(case, zz_unknown=True)
        self.assert_untouched(case, before)


__all__ = ["Case", "ConverterTests", "convert_and_die"]
