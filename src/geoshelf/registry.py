"""The installed conversion targets, found through the ``geoshelf.converters`` entry points.

Like xarray's ``list_engines()``: discovered once and cached (:func:`refresh_targets` forgets
them, e.g. after installing a plugin in a running session); a plugin that fails to load warns
and is skipped, it never breaks ``import geoshelf`` or the other targets.  The target's name is
its entry point's name.

A leaf module (imports the contract and the errors only): the loader asks it for openers, the
converters and the campaign code for targets, the CLI for flags and choices.
"""

from __future__ import annotations

import warnings
from functools import lru_cache
from importlib.metadata import entry_points

from .catalog.model import REPRESENTATION_ORDER
from .contract import Converter
from .errors import ConversionError, GeoshelfWarning

GROUP = "geoshelf.converters"


def _order(name: str) -> tuple[int, str]:
    return (REPRESENTATION_ORDER.index(name) if name in REPRESENTATION_ORDER else len(REPRESENTATION_ORDER), name)


@lru_cache(maxsize=1)
def target_names() -> tuple[str, ...]:
    """Names of the installed targets (geoshelf's in order of preference, then plugins' by name), without
    importing them (cheap: package metadata only)."""
    return tuple(sorted({ep.name for ep in entry_points(group=GROUP)}, key=_order))


@lru_cache(maxsize=1)
def list_targets() -> dict[str, type[Converter]]:
    """Installed targets by name, imported (a broken plugin warns and is left out)."""
    out: dict[str, type[Converter]] = {}
    for ep in sorted(entry_points(group=GROUP), key=lambda e: _order(e.name)):
        if ep.name in out:
            continue  # the first distribution on the path wins, as importlib resolves modules
        try:
            cls = ep.load()
        except Exception as exc:  # noqa: BLE001 - a plugin's import error must not break geoshelf
            warnings.warn(f"conversion target {ep.name!r} ({ep.value}) failed to load: {exc}", GeoshelfWarning,
                          stacklevel=2)
            continue
        if not (isinstance(cls, type) and issubclass(cls, Converter)):
            warnings.warn(f"conversion target {ep.name!r} ({ep.value}) is not a geoshelf.contract.Converter "
                          "subclass; skipped", GeoshelfWarning, stacklevel=2)
            continue
        out[ep.name] = cls
    return out


def refresh_targets() -> None:
    """Forget the discovered targets: the next call looks at the installed entry points again."""
    target_names.cache_clear()
    list_targets.cache_clear()


def get_target(name: str) -> Converter:
    """An instance of the named target, or a ConversionError listing those installed."""
    targets = list_targets()
    if name not in targets:
        raise ConversionError(f"unknown target {name!r} (installed targets: {', '.join(targets) or 'none'})")
    return targets[name](name)


def find_target(kind: str) -> Converter | None:
    """The installed target that makes representations of ``kind``, or None."""
    cls = list_targets().get(kind)
    return cls(kind) if cls is not None else None


__all__ = ["GROUP", "find_target", "get_target", "list_targets", "refresh_targets", "target_names"]
