"""Load PROJ before ecCodes, whoever imports ecCodes.

The ecCodes wheels (``eccodeslib`` + ``eckitlib``) preload every eckit library with
``RTLD_GLOBAL``, among them a PROJ and a SQLite of their own; a pyproj (or rasterio) loaded
afterwards binds to those and fails ("unable to set PROJ database path", "no database context")
or crashes at exit.  xarray imports cfgrib, hence ecCodes, as soon as it lists its backends
(any ``open_dataset``), so the order cannot be left to chance: this import hook, installed by
``import geoshelf``, imports pyproj just before the first import of ecCodes' Python bindings.
"""

from __future__ import annotations

import importlib.abc
import sys
from typing import Any

_ECCODES_MODULES = frozenset({"gribapi", "eccodes", "eccodeslib", "eckitlib", "findlibs"})


class _ProjBeforeEccodes(importlib.abc.MetaPathFinder):
    """Imports pyproj when one of ecCodes' modules is first imported; finds nothing itself."""

    def find_spec(self, fullname: str, path: Any, target: Any = None) -> None:
        if fullname in _ECCODES_MODULES and "pyproj" not in sys.modules:
            try:
                import pyproj  # noqa: F401
            except ImportError:  # pragma: no cover - pyproj is a dependency of rioxarray
                pass
        return None


def install() -> None:
    """Put the hook first on ``sys.meta_path`` (once)."""
    if not any(isinstance(f, _ProjBeforeEccodes) for f in sys.meta_path):
        sys.meta_path.insert(0, _ProjBeforeEccodes())
