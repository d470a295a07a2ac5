"""Atomic writes: a file written beside its target then renamed over it (zarr's ``_atomic_write``),
and a directory written aside then put in place with one rename, the old one going last."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import uuid
from collections.abc import Callable, Iterable
from pathlib import Path


def fsync_dir(directory: str | os.PathLike[str]) -> None:
    """Make the renames in ``directory`` durable (best effort: some file systems refuse)."""
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def temp_beside(path: Path, pieces: Iterable[bytes | memoryview], mode: int, *, sync: bool = True) -> str:
    """The concatenated ``pieces`` in a temporary file in ``path``'s directory (synced to disk unless
    ``sync`` is false), with permissions ``mode``; its path.  Removed again if anything fails."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            for piece in pieces:
                fh.write(piece)
            if sync:
                fh.flush()
                os.fsync(fh.fileno())
        os.chmod(tmp, mode)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return tmp


def write_file(path: str | os.PathLike[str], data: str | bytes, *, mode: int | None = None, sync: bool = True,
               before_replace: Callable[[], None] | None = None) -> None:
    """Replace ``path`` with ``data`` (text is UTF-8) atomically: a temporary file beside it, then one
    rename; a reader sees the old or the new content, never a part.  ``mode``: the permissions (default:
    those of the file replaced, else 0o644).  ``sync``: fsync the file and the directory (durable);
    caches pass False.  ``before_replace`` runs just before the rename (fault injection)."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    if mode is None:
        try:
            mode = p.stat().st_mode & 0o7777
        except FileNotFoundError:
            mode = 0o644
    tmp = temp_beside(p, [data.encode("utf-8") if isinstance(data, str) else data], mode, sync=sync)
    try:
        if before_replace is not None:
            before_replace()
        os.replace(tmp, p)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    if sync:
        fsync_dir(p.parent)


def remove_path(path: Path) -> None:
    """Delete a file or directory tree if it exists."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


def replace_directory(partial: Path, target: Path) -> None:
    """Move the finished directory ``partial`` to ``target``; an existing ``target`` is moved aside first
    and removed only once the new one is in place (it is put back if that rename fails)."""
    old = None
    if target.exists():
        old = target.with_name(f".{target.name}.old-{uuid.uuid4().hex[:8]}")
        os.rename(target, old)
    try:
        os.rename(partial, target)
    except BaseException:
        if old is not None:
            os.rename(old, target)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
