"""The installed conversion targets, found through the ``geoshelf.converters`` entry points.

Like xarray's ``list_engines()``: discovered once and cached (:func:`refresh_targets` forgets
them, e.g. after installing a plugin in a running session); a plugin that fails to load warns
and is skipped, it never breaks ``import geoshelf`` or the other targets.  The target's name is
its entry point's name.

A leaf module (imports the contract and the errors only): the catalog model asks it for the loader,
the loader for openers, the converters and the campaign code for targets, the CLI for flags and choices.
"""

from __future__ import annotations

import warnings
from functools import cache, lru_cache
from typing import Any

from .contract import Converter, Loader
from .errors import ConversionError, GeoshelfWarning

#: Kinds of representation, best first (the loader's order of preference; geoshelf's targets are listed in it).
REPRESENTATION_ORDER: tuple[str, ...] = ("zarr", "references", "cog", "parquet", "original")

GROUP = "geoshelf.converters"
#: The entry point group of the loader (one entry, ``geoshelf``).
LOADERS = "geoshelf.loaders"


def entry_points(group: str) -> Any:
    """The installed entry points of ``group`` (package metadata only: nothing is imported)."""
    # deferred: importlib.metadata costs 15-20 ms at `import geoshelf` (the catalog model imports this
    # module for Entry.to_dask); only plugin discovery needs it
    from importlib.metadata import entry_points as installed

    return installed(group=group)


def _order(name: str) -> tuple[int, str]:
    return (REPRESENTATION_ORDER.index(name) if name in REPRESENTATION_ORDER else len(REPRESENTATION_ORDER), name)


@lru_cache(maxsize=1)
def target_names() -> tuple[str, ...]:
    """Names of the installed targets (geoshelf's in order of preference, then plugins' by name), without
    importing them (cheap: package metadata only)."""
    return tuple(sorted({ep.name for ep in entry_points(group=GROUP)}, key=_order))


def _load(ep: Any) -> type[Converter] | None:
    """The target class of one entry point, or None (warning) when it fails to load or is not a Converter."""
    try:
        cls = ep.load()
    except Exception as exc:  # noqa: BLE001 - a plugin's import error must not break geoshelf
        warnings.warn(f"conversion target {ep.name!r} ({ep.value}) failed to load: {exc}", GeoshelfWarning,
                      stacklevel=3)
        return None
    if not (isinstance(cls, type) and issubclass(cls, Converter)):
        warnings.warn(f"conversion target {ep.name!r} ({ep.value}) is not a geoshelf.contract.Converter "
                      "subclass; skipped", GeoshelfWarning, stacklevel=3)
        return None
    return cls


@lru_cache(maxsize=1)
def list_targets() -> dict[str, type[Converter]]:
    """Installed targets by name, imported (a broken plugin warns and is left out)."""
    out: dict[str, type[Converter]] = {}
    for ep in sorted(entry_points(group=GROUP), key=lambda e: _order(e.name)):
        if ep.name in out:
            continue  # the first distribution on the path wins, as importlib resolves modules
        cls = _one_target(ep.name) if ep.name in _one_target_loaded else _load(ep)
        if cls is not None:
            out[ep.name] = cls
    return out


#: Names :func:`_one_target` has imported (so :func:`list_targets` does not warn twice about one).
_one_target_loaded: set[str] = set()


@cache
def _one_target(name: str) -> type[Converter] | None:
    """The named target alone (the first entry point of that name), without importing the others."""
    _one_target_loaded.add(name)
    for ep in entry_points(group=GROUP):
        if ep.name == name:
            return _load(ep)
    return None


def refresh_targets() -> None:
    """Forget the discovered targets: the next call looks at the installed entry points again."""
    target_names.cache_clear()
    list_targets.cache_clear()
    _one_target.cache_clear()
    _one_target_loaded.clear()


def get_target(name: str) -> Converter:
    """An instance of the named target, or a ConversionError listing those installed.

    Imports that target only (not every installed one: each pulls in its libraries, a second or more
    of start-up for e.g. a campaign's dry run)."""
    cls = list_targets().get(name) if list_targets.cache_info().currsize else _one_target(name)
    if cls is None:
        raise ConversionError(f"unknown target {name!r} (installed targets: {', '.join(list_targets()) or 'none'})")
    return cls(name)


def find_target(kind: str) -> Converter | None:
    """The installed target that makes representations of ``kind``, or None."""
    cls = list_targets().get(kind)
    return cls(kind) if cls is not None else None


@cache
def loader() -> Loader:
    """The loader the catalog layer opens entries with: the ``geoshelf`` entry point of the
    ``geoshelf.loaders`` group (geoshelf's own :mod:`geoshelf.load`, unless a site installs another);
    geoshelf's own when the installed metadata predates that group (an older editable install)."""
    found = [ep for ep in entry_points(group=LOADERS) if ep.name == "geoshelf"]
    if not found:
        # deferred: as in entry_points() above
        from importlib.metadata import EntryPoint

        found = [EntryPoint(name="geoshelf", value="geoshelf.load", group=LOADERS)]
    module: Loader = found[0].load()
    return module


__all__ = ["GROUP", "LOADERS", "find_target", "get_target", "list_targets", "loader", "refresh_targets", "target_names"]
