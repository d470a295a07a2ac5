"""What the measurements of one run share: size, work directory, the generated SST year and its catalog."""

from __future__ import annotations

import glob
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from ..catalog import add_entry
from .report import drop_caches


@dataclass(kw_only=True)
class Context:
    """One benchmark run: where data lives, how often to repeat, and lazily generated inputs."""

    size: str
    root: Path
    repeat: int = 3
    cold: bool = False
    log: Callable[[str], None] = print
    #: Rows to leave out of their group (``--skip``).
    skip: frozenset[str] = frozenset()
    #: Results shared between measurements (e.g. stores written by the conversion rows).
    shared: dict[str, Any] = field(default_factory=dict)

    @property
    def demo(self) -> Any:
        """The demo size (``geoshelf.demo.data.SIZES[size]``)."""
        # deferred: bench/__init__ imports this module; `geoshelf bench --help` needs no xarray/pandas (~1 s)
        from ..demo.data import SIZES

        return SIZES[self.size]

    @property
    def temp(self) -> str:
        """"cold" or "warm" reads."""
        return "cold" if self.cold else "warm"

    @property
    def drop(self) -> Callable[[], None] | None:
        """Drops the page cache before each cold read (None for warm reads)."""
        return drop_caches(self.cold)

    @cached_property
    def files(self) -> list[str]:
        """The SST year: one NetCDF4 file per day (generated once per work directory)."""
        # deferred: bench/__init__ imports this module; `geoshelf bench --help` needs no xarray/pandas (~1 s)
        from ..demo.data import make_sst

        s = self.demo
        data = self.root / "data" / "sst"
        if not data.exists() or len(list(data.glob("*.nc"))) != s.days:
            shutil.rmtree(data, ignore_errors=True)
            t0 = time.perf_counter()
            make_sst(data, days=s.days, ny=s.ny, nx=s.nx)
            self.log(f"generated {s.days} files of {s.ny}x{s.nx} in {time.perf_counter() - t0:.1f} s")
        return sorted(glob.glob(str(data / "*.nc")))

    @cached_property
    def catalog(self) -> Path:
        """A fresh catalog with the SST year as entry ``sst``."""
        # deferred: bench/__init__ imports this module; `geoshelf bench --help` needs no xarray/pandas (~1 s)
        from ..scan import scan

        files = self.files
        cat_path = self.root / "catalog.yaml"
        cat_path.unlink(missing_ok=True)
        add_entry(cat_path, scan([str(Path(files[0]).parent)], "sst", catalog_dir=str(self.root)))
        return cat_path

    @property
    def shelf(self) -> Path:
        """Where the conversions of the read and conversion rows are written."""
        return self.root / "shelf"


__all__ = ["Context"]
