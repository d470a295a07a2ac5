"""URLs and paths in a catalog: ``{{ CATALOG_DIR }}`` templating, globs, fingerprints.

Sources and representations are fsspec URLs (local or shared-file-system paths,
``https://``, ``s3://``...).  Paths under the catalog's directory are stored relative
to it as ``{{ CATALOG_DIR }}/...`` so stock intake resolves them the same way.
"""

from __future__ import annotations

import glob as _glob
import hashlib
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import SourceError
from .remote import remote_errors

_TEMPLATE = re.compile(r"\{\{\s*CATALOG_DIR\s*\}\}")
_GLOB_CHARS = set("*?[")


def is_url(path: str) -> bool:
    """True for ``scheme://`` URLs other than ``file://``."""
    return "://" in path and not path.startswith("file://")


def resolve(path: str, catalog_dir: str | os.PathLike[str] | None, *, expand_user: bool = False) -> str:
    """Expand ``{{ CATALOG_DIR }}`` and make a relative local path absolute.

    ``~`` is expanded only with ``expand_user`` (a path the user typed): catalog text never names
    the reader's home directory.
    """
    base = str(catalog_dir) if catalog_dir is not None else os.getcwd()
    out = _TEMPLATE.sub(lambda _m: base.rstrip("/"), path)
    if out.startswith("file://"):
        out = out[len("file://"):]
    if is_url(out):
        return out
    if expand_user:
        out = os.path.expanduser(out)
    if not os.path.isabs(out):
        out = os.path.join(base, out)
    return os.path.normpath(out)


def relativize(path: str, catalog_dir: str | os.PathLike[str] | None) -> str:
    """Store ``path`` relative to the catalog (``{{ CATALOG_DIR }}/...``) when it lies below it."""
    if is_url(path) or catalog_dir is None:
        return path
    absolute = os.path.normpath(os.path.abspath(os.path.expanduser(path)))
    base = os.path.normpath(os.path.abspath(str(catalog_dir)))
    if absolute == base:
        return "{{ CATALOG_DIR }}"
    if absolute.startswith(base + os.sep):
        return "{{ CATALOG_DIR }}/" + os.path.relpath(absolute, base).replace(os.sep, "/")
    return absolute


def visible_files(directory: str) -> list[str]:
    """The files directly in ``directory`` (not hidden, not subdirectories), sorted: what a directory
    argument of ``geoshelf add`` or a campaign's ``inputs.files`` stands for."""
    return sorted(os.path.join(directory, f) for f in os.listdir(directory)
                  if not f.startswith(".") and os.path.isfile(os.path.join(directory, f)))


def has_glob(path: str) -> bool:
    """True when the path contains glob characters."""
    return bool(_GLOB_CHARS & set(path))


def expand(urlpath: str | Sequence[str], catalog_dir: str | os.PathLike[str] | None = None,
           storage_options: dict[str, Any] | None = None, *, must_exist: bool = True,
           expand_user: bool = False) -> list[str]:
    """Resolve an entry's ``urlpath`` (path, glob or list) to a sorted list of files.

    ``expand_user``: paths the user typed (``~`` expanded); never for catalog text.
    """
    items = [urlpath] if isinstance(urlpath, str) else list(urlpath)
    out: list[str] = []
    for item in items:
        url = resolve(str(item), catalog_dir, expand_user=expand_user)
        if is_url(url):
            # deferred: fsspec costs 0.1-0.4 s at every start-up; only URLs need it
            import fsspec

            with remote_errors(url, "cannot list"):
                fs, _, paths = fsspec.get_fs_token_paths(url, storage_options=storage_options or {})
            protocol = fs.protocol[0] if isinstance(fs.protocol, (tuple, list)) else fs.protocol
            found = [p if "://" in p else f"{protocol}://{p}" for p in paths] if has_glob(url) else [url]
        elif has_glob(url):
            found = sorted(_glob.glob(url))
        else:
            found = [url]
        if must_exist and not found:
            raise SourceError(f"{url}: no files match")
        out.extend(found)
    if must_exist:
        for f in out:
            if not is_url(f) and not os.path.exists(f):
                raise SourceError(f"{f}: no such file")
    return sorted(dict.fromkeys(out))


@dataclass(frozen=True)
class FileStat:
    """What the fingerprint of one file is made of."""

    path: str
    size: int
    mtime_ns: int

    def token(self, root: str = "") -> str:
        name = self.path[len(root):] if root and self.path.startswith(root) else self.path
        return f"{name}\x00{self.size}\x00{self.mtime_ns}"


def stat_files(files: Iterable[str], storage_options: dict[str, Any] | None = None) -> list[FileStat]:
    """Size and modification time of each file (local ``os.stat`` or fsspec ``info``)."""
    out = []
    for f in files:
        if is_url(f):
            # deferred: fsspec costs 0.1-0.4 s at start-up; only URLs need it
            import fsspec

            with remote_errors(f, "cannot stat"):
                fs, _, (p,) = fsspec.get_fs_token_paths(f, storage_options=storage_options or {})
                info = fs.info(p)
            mtime = info.get("mtime") or info.get("LastModified") or info.get("ETag") or info.get("last_modified") or 0
            if hasattr(mtime, "timestamp"):
                mtime = int(mtime.timestamp() * 1e9)
            elif isinstance(mtime, str):
                mtime = int(hashlib.sha1(mtime.encode()).hexdigest()[:15], 16)
            out.append(FileStat(f, int(info.get("size") or 0), int(mtime)))
        else:
            try:
                st = os.stat(f)
            except OSError as exc:
                raise SourceError(f"{f}: cannot stat: {exc.strerror}") from None
            out.append(FileStat(f, st.st_size, st.st_mtime_ns))
    return out


def common_root(files: Sequence[str]) -> str:
    """Longest common directory prefix (with trailing separator) of the files."""
    if not files:
        return ""
    if len(files) == 1:
        return files[0].rsplit("/", 1)[0] + "/"
    root = os.path.commonpath([f.replace("://", ":/") for f in files]).replace(":/", "://", 1)
    return root.rstrip("/") + "/"


def fingerprint(stats: Sequence[FileStat]) -> str:
    """Content fingerprint of a set of files: sha256 over (name below the common root, size, mtime).

    Names are taken below the files' common root so moving a dataset (``geoshelf
    relocate``) keeps its fingerprint.
    """
    root = common_root([s.path for s in stats])
    h = hashlib.sha256()
    for s in sorted(stats, key=lambda s: s.path):
        h.update(s.token(root).encode())
        h.update(b"\n")
    return "sha256:" + h.hexdigest()


def compact_urlpath(files: Sequence[str]) -> str | list[str]:
    """A glob for the files when they are all the files of that extension in one directory."""
    if len(files) == 1:
        return files[0]
    dirs = {os.path.dirname(f) for f in files}
    exts = {Path(f).suffix for f in files}
    if len(dirs) == 1 and len(exts) == 1 and not any(is_url(f) for f in files):
        pattern = os.path.join(dirs.pop(), "*" + exts.pop())
        if sorted(_glob.glob(pattern)) == sorted(files):
            return pattern
    return list(files)
