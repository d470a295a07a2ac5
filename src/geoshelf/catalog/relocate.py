"""``relocate``: data moved on disk, paths in the catalog follow (no re-scan)."""

from __future__ import annotations

import copy
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..errors import CatalogError
from .catalog import read_sources
from .paths import relativize, resolve
from .writer import edit_sources


def _move(value: str, old: str, new: str, catalog_dir: str) -> str | None:
    if "{{" in value:  # relative to the catalog: follows if the resolved path is under OLD
        absolute = resolve(value, catalog_dir)
        if absolute == old or absolute.startswith(old + "/"):
            return relativize(new + absolute[len(old):], catalog_dir)
        return None
    if value == old or value.startswith(old.rstrip("/") + "/"):
        return new.rstrip("/") + value[len(old.rstrip("/")):]
    return None


def relocate(path: str | os.PathLike[str], old_prefix: str, new_prefix: str) -> list[str]:
    """Rewrite source and representation paths under ``old_prefix`` to ``new_prefix``.

    Returns the names of the entries changed.  Fingerprints stay valid (they are
    computed below the files' common root).
    """
    p = Path(path).expanduser().resolve()
    old = old_prefix.rstrip("/") if "://" in old_prefix else os.path.abspath(old_prefix)
    new = new_prefix.rstrip("/") if "://" in new_prefix else os.path.abspath(new_prefix)
    if "://" not in new and not os.path.isdir(new):
        raise CatalogError(f"{p}: cannot relocate to {new}: "
                           f"{'not a directory' if os.path.exists(new) else 'no such directory'} "
                           "(move the data first, then relocate; nothing was changed)")

    def plan(sources: Mapping[str, dict[str, Any]]) -> dict[str, Any]:
        changed: dict[str, Any] = {}
        for name, original in sources.items():
            src = copy.deepcopy(original)
            touched = False
            args: Any = src.get("args") or {}
            url = args.get("urlpath")
            if isinstance(url, str):
                moved = _move(url, old, new, str(p.parent))
                if moved is not None:
                    args["urlpath"], touched = moved, True
            elif isinstance(url, list):
                for i, u in enumerate(url):
                    moved = _move(str(u), old, new, str(p.parent))
                    if moved is not None:
                        url[i], touched = moved, True
            geo = (src.get("metadata") or {}).get("geoshelf") or {}
            for rep in geo.get("representations") or []:
                moved = _move(str(rep.get("path", "")), old, new, str(p.parent))
                if moved is not None:
                    rep["path"], touched = moved, True
            if touched:
                changed[str(name)] = src
        return changed

    return list(edit_sources(p, plan, read=read_sources))
