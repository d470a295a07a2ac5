"""Keep ecCodes' bundled C libraries out of every other library's way.

The ecCodes wheels (``eccodeslib`` + ``eckitlib``) are found through ``findlibs``, which preloads
every eckit library, and with them eckit's own vendored PROJ, SQLite, libcurl and OpenSSL, with
``RTLD_GLOBAL``.  Their symbols then take precedence for every library bound afterwards:

- a pyproj (or rasterio) bound afterwards picks eckit's PROJ and fails ("unable to set PROJ
  database path", "no database context") or crashes at exit;
- GDAL's ``/vsicurl/`` (rasterio opening an ``http://`` GeoTIFF or COG) binds its lazily
  resolved curl calls to eckit's libcurl while the rest of it uses its own: a segmentation fault
  at the first HTTP read.

xarray imports cfgrib, hence ecCodes, as soon as it lists its backends (any ``open_dataset``), so
this cannot be left to chance.  ``install()`` (run by ``import geoshelf``) puts an import hook
first on ``sys.meta_path``; when ecCodes' Python bindings are first imported it makes ``findlibs``
preload with ``RTLD_LOCAL`` instead: a library that names eckit as a dependency still finds the
already loaded one by its soname, but nobody else binds to eckit's copies.  pyproj is also
imported first, as before (harmless, and a guard should ``findlibs`` change).
"""

from __future__ import annotations

import ctypes
import importlib.abc
import os
import sys
from typing import Any

_ECCODES_MODULES = frozenset({"gribapi", "eccodes", "eccodeslib", "eckitlib", "findlibs"})
_BINDINGS = frozenset({"gribapi", "eccodes"})


def _load_locally(path: str) -> ctypes.CDLL:
    """findlibs' preload, with the library's symbols kept to those that name it as a dependency."""
    return ctypes.CDLL(path, mode=os.RTLD_LOCAL)


def _localize_findlibs() -> None:
    try:
        # deferred: findlibs is optional (it comes with ecCodes) and only ecCodes' first import needs it
        import findlibs
    except ImportError:  # pragma: no cover - findlibs comes with eccodes
        return
    if hasattr(findlibs, "_load_globally"):
        findlibs._load_globally = _load_locally


class _ProjBeforeEccodes(importlib.abc.MetaPathFinder):
    """Before ecCodes' first import: pyproj loaded, findlibs made to preload locally; finds nothing itself."""

    def find_spec(self, fullname: str, path: Any, target: Any = None) -> None:
        if fullname in _ECCODES_MODULES and "pyproj" not in sys.modules:
            try:
                # deferred: pyproj (~60 ms) is loaded only before ecCodes' first import: the point of this guard
                import pyproj  # noqa: F401
            except ImportError:  # pragma: no cover - pyproj is a dependency of rioxarray
                pass
        if fullname in _BINDINGS:
            _localize_findlibs()
        return None


def install() -> None:
    """Put the hook first on ``sys.meta_path`` (once)."""
    if not any(isinstance(f, _ProjBeforeEccodes) for f in sys.meta_path):
        sys.meta_path.insert(0, _ProjBeforeEccodes())
