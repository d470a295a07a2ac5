"""Where a conversion may write: outputs are created or removed only under the shelf root, or at
an ``--output`` that does not exist yet or already holds a geoshelf output (its manifest).

A catalog is untrusted input (docs/security.md): an entry name such as ``../../victim/thesis``
or ``/home/someone/thesis`` must not make ``convert`` replace a directory outside the shelf, and
``--output .`` must not replace the working directory.  Every check here runs before any work.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from ..config import read_config, user_config_path
from ..errors import ConversionError
from .base import MANIFEST_NAME
from .journal import journal_path

#: Longest output name (bytes): its temporary siblings ``.NAME.partial-XXXXXXXX`` and the
#: ``.manifest.json`` sidecar must still fit the 255-byte name limit of common file systems.
MAX_OUTPUT_NAME = 200


def check_output_name(name: str) -> str:
    """An output's file name: one path component, no NUL, short enough for its temporary siblings."""
    if "\x00" in name:
        raise ConversionError(f"output name {name!r} contains a NUL character")
    if name in ("", ".", "..") or "/" in name or (os.altsep and os.altsep in name) or os.sep in name:
        raise ConversionError(f"output name {name!r} would leave the shelf: it must be a plain file name")
    size = len(name.encode("utf-8", "surrogateescape"))
    if size > MAX_OUTPUT_NAME:
        raise ConversionError(f"output name {name[:40]}... is {size} bytes long; at most {MAX_OUTPUT_NAME} "
                              "(rename the entry)")
    return name


def output_in_shelf(root: str | os.PathLike[str], name: str, *,
                    protect: Iterable[str | os.PathLike[str]] = ()) -> Path:
    """The output ``name`` directly under the shelf ``root``; refused when it would land elsewhere
    or replace one of ``protect`` (the catalog file)."""
    check_output_name(name)
    root_abs = Path(os.path.abspath(os.fspath(root)))
    out = root_abs / name
    if out.is_symlink():
        raise ConversionError(f"{out}: is a symbolic link; geoshelf replaces only outputs it wrote itself")
    if os.path.realpath(out.parent) != os.path.realpath(root_abs):
        raise ConversionError(f"{out}: not under the shelf root {root_abs}")
    _check_protected(out, protect)
    return out


def _check_protected(out: Path, protect: Iterable[str | os.PathLike[str]]) -> None:
    real = Path(os.path.realpath(out))
    for p in protect:
        kept = Path(os.path.realpath(os.fspath(p)))
        if kept == real or real in kept.parents:
            raise ConversionError(f"output {out}: would replace {kept}; choose a new path for the output")


def is_geoshelf_output(path: Path) -> bool:
    """True when ``path`` holds an output geoshelf published (its manifest, or its publish journal, is there)."""
    if journal_path(path).is_file():
        return True
    if path.is_dir():
        return (path / MANIFEST_NAME).is_file()
    return path.with_name(path.name + ".manifest.json").is_file()


def check_explicit_output(output: str | os.PathLike[str], *, protect: Iterable[str | os.PathLike[str]] = ()) -> Path:
    """An ``--output`` path: it must not exist yet, or hold a geoshelf output; never contain ``protect``.

    ``protect`` lists paths that must survive whatever happens to the output (the catalog file).
    """
    text = os.fspath(output)
    if "\x00" in text:
        raise ConversionError(f"--output {text!r} contains a NUL character")
    out = Path(os.path.abspath(os.path.expanduser(text)))
    check_output_name(out.name)
    if out.is_symlink():
        raise ConversionError(f"{out}: is a symbolic link; geoshelf replaces only outputs it wrote itself")
    _check_protected(out, protect)
    if out.exists() and not is_geoshelf_output(out):
        raise ConversionError(
            f"--output {out}: exists and is not a geoshelf output (no {MANIFEST_NAME}); geoshelf replaces only "
            "its own outputs: choose a path that does not exist yet")
    return out


def check_output_in_dir(directory: str | os.PathLike[str], name: str, *, shelf: bool,
                        protect: Iterable[str | os.PathLike[str]] = ()) -> Path:
    """An output ``name`` in a campaign's output directory: the shelf (anything there is geoshelf's)
    or a directory of the user's, where only a new path or an existing geoshelf output is replaced."""
    out = output_in_shelf(directory, name, protect=protect)
    if not shelf and out.exists() and not is_geoshelf_output(out):
        raise ConversionError(f"{out}: exists and is not a geoshelf output (no {MANIFEST_NAME}); geoshelf "
                              "replaces only its own outputs: move it away or choose another output directory")
    return out


ENV_SHELF = "GEOSHELF_SHELF_ROOT"


def shelf_root(catalog_path: Path) -> Path:
    """Where outputs go: ``$GEOSHELF_SHELF_ROOT``, ``shelf:`` in the user config, else ``shelf/`` beside the catalog."""
    if os.environ.get(ENV_SHELF):
        return Path(os.environ[ENV_SHELF]).expanduser()
    cfg = read_config(user_config_path()).get("shelf")
    if cfg:
        return Path(str(cfg)).expanduser()
    return catalog_path.parent / "shelf"


__all__ = ["ENV_SHELF", "MAX_OUTPUT_NAME", "check_explicit_output", "check_output_in_dir", "check_output_name",
           "is_geoshelf_output", "output_in_shelf", "shelf_root"]
