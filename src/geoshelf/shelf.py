"""The shelf and the catalog agree: outputs no entry names (orphans), and ``gc`` removing them.

An *output* is what a conversion published: a directory holding a geoshelf manifest
(``.geoshelf-manifest.json``) or a file with its ``NAME.manifest.json`` sidecar
(:func:`geoshelf.convert.base.manifest_path`).  Nothing else is ever listed or removed.

Where orphans are looked for: the shelf of every catalog file involved (``shelf/`` beside it, or
the configured shelf root) and the directories holding the outputs the catalogs name.  Under a
catalog's own default shelf every unnamed output is an orphan; anywhere else (a configured shelf
root or an ``--output`` directory another catalog may share) only outputs made from the source
files of an entry of these catalogs are, so a shared directory never loses another catalog's work.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from .catalog import Catalog
from .catalog.model import Entry
from .catalog.paths import is_url
from .convert import shelf_root
from .convert.base import MANIFEST_NAME, read_manifest, remove_path, tree_size
from .convert.journal import journal_path

SIDECAR = ".manifest.json"


@dataclass(frozen=True, kw_only=True)
class Orphan:
    """A geoshelf output that no catalog entry names."""

    path: Path
    #: Bytes of the output (its sidecar manifest included).
    bytes: int
    #: Source files its manifest records.
    sources: tuple[str, ...]


def _catalogs(root: Catalog) -> Iterator[Catalog]:
    yield root
    for name in root:
        item = root[name]
        if isinstance(item, Catalog):
            yield from _catalogs(item)


def _outputs(directory: Path) -> Iterator[Path]:
    """Geoshelf outputs under ``directory`` (not descending into an output, nor into partials)."""
    try:
        children = sorted(directory.iterdir())
    except OSError:
        return
    for child in children:
        if child.name.startswith("."):  # .NAME.partial-*, .NAME.old-*: the conversion's own to clean
            continue
        if child.is_dir() and not child.is_symlink():
            if (child / MANIFEST_NAME).is_file():
                yield child
            else:
                yield from _outputs(child)
        elif child.is_file() and not child.name.endswith(SIDECAR) and child.with_name(child.name + SIDECAR).is_file():
            yield child


def _manifest_sources(output: Path) -> tuple[str, ...]:
    try:
        stats = read_manifest(output)
    except OSError:
        return ()
    return tuple(s.path for s in stats or ())


def _size(output: Path) -> int:
    if output.is_dir():
        return tree_size(output)[0]
    side = output.with_name(output.name + SIDECAR)
    return output.stat().st_size + (side.stat().st_size if side.exists() else 0)


def find_orphans(catalog_path: str | os.PathLike[str]) -> list[Orphan]:
    """Outputs on the shelf (and beside catalogued outputs) that no entry of the catalog, or of the
    catalogs it includes, names."""
    root = Catalog(catalog_path)
    catalogs = list(_catalogs(root))
    named: set[str] = set()
    sources: set[str] = set()
    scan_dirs: dict[Path, bool] = {}  # directory -> every unnamed output there is an orphan
    for cat in catalogs:
        own = cat.path.parent / "shelf"
        shelf = shelf_root(cat.path)
        scan_dirs[shelf.resolve()] = scan_dirs.get(shelf.resolve(), False) or shelf.resolve() == own.resolve()
        for name in cat:
            entry = cat[name]
            if not isinstance(entry, Entry):
                continue
            try:
                sources.update(os.path.realpath(f) for f in entry.source_files())
            except Exception:  # noqa: BLE001 - missing sources are lint's other finding
                pass
            for rep in entry.representations:
                path = entry.resolve(rep.path)
                if is_url(path):
                    continue
                real = os.path.realpath(path)
                named.add(real)
                parent = Path(real).parent
                scan_dirs.setdefault(parent, False)
    found: dict[str, Orphan] = {}
    for directory, everything in scan_dirs.items():
        for out in _outputs(directory):
            real = os.path.realpath(out)
            if real in named or real in found or journal_path(out).is_file():
                continue  # (a journaled output is published but not yet recorded: the next convert records it)
            srcs = _manifest_sources(out)
            if not everything and not any(os.path.realpath(s) in sources for s in srcs):
                continue
            found[real] = Orphan(path=Path(real), bytes=_size(out), sources=srcs)
    return sorted(found.values(), key=lambda o: str(o.path))


def remove_orphans(catalog_path: str | os.PathLike[str], *, dry_run: bool = True) -> list[Orphan]:
    """The orphans of :func:`find_orphans`; unless ``dry_run``, removed (with their manifests)."""
    orphans = find_orphans(catalog_path)
    if not dry_run:
        for o in orphans:
            remove_path(o.path)
            if not o.path.is_dir():
                remove_path(o.path.with_name(o.path.name + SIDECAR))
    return orphans


__all__ = ["Orphan", "find_orphans", "remove_orphans"]
