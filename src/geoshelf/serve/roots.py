"""The directories a server may publish files from.

A catalog names files by absolute path; a shared catalog is untrusted input, so ``geoshelf serve``
publishes a file only when its real path (symlinks resolved) lies under one of the served roots:
the catalog's directory, the shelf root (where outputs go), and the directories the user lists in
their own config (``serve: {roots: [/data/cmip6, ...]}``) or in ``GEOSHELF_SERVE__ROOTS``
(separated by ``:``), or passes to :class:`~geoshelf.serve.GeoshelfServer` (``roots=``,
``geoshelf serve --root DIR``).  A catalog cannot add a root.  Anything else is refused (404)
and logged on the ``geoshelf.serve`` logger.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from ..config import read_config, user_config_path
from ..convert import shelf_root
from ..errors import GeoshelfError

ENV_ROOTS = "GEOSHELF_SERVE__ROOTS"

log = logging.getLogger("geoshelf.serve")


@dataclass(frozen=True)
class Roots:
    """Real paths of the directories whose files may be served."""

    dirs: tuple[str, ...]

    def allows(self, path: str | os.PathLike[str]) -> bool:
        """True when ``path``, symlinks resolved, is one of the roots or lies below one."""
        real = os.path.realpath(path)
        return any(real == d or real.startswith(d if d.endswith(os.sep) else d + os.sep) for d in self.dirs)

    def refuse(self, path: str | os.PathLike[str], what: str) -> None:
        """Log one refused file (the server answers 404)."""
        log.warning("serve: refused %s %s: outside the served roots (%s); add its directory to serve.roots "
                    "in your geoshelf config to publish it", what, path, ", ".join(self.dirs))


def _configured() -> list[str]:
    cfg = read_config(user_config_path()).get("serve") or {}
    if not isinstance(cfg, dict):
        raise GeoshelfError(f"{user_config_path()}: 'serve:' must be a mapping")
    listed = cfg.get("roots") or []
    if isinstance(listed, str):
        listed = [listed]
    if not isinstance(listed, list) or not all(isinstance(r, str) for r in listed):
        raise GeoshelfError(f"{user_config_path()}: serve.roots must be a list of directories")
    env = [r for r in os.environ.get(ENV_ROOTS, "").split(os.pathsep) if r]
    return [*listed, *env]


def served_roots(catalog_path: str | os.PathLike[str], extra: Iterable[str | os.PathLike[str]] = ()) -> Roots:
    """The roots of a server over ``catalog_path``: its directory, the shelf root, the user's ``serve.roots``,
    ``$GEOSHELF_SERVE__ROOTS`` and ``extra``.  Only the user's own settings name roots, never the catalog."""
    cat = Path(catalog_path).absolute()
    dirs = [cat.parent, shelf_root(cat)]
    for r in [*_configured(), *extra]:
        p = Path(r).expanduser()  # the user's own setting: ~ is theirs
        if not p.is_absolute():
            raise GeoshelfError(f"served root {str(r)!r} is not an absolute path")
        dirs.append(p)
    real = []
    for d in dirs:
        rd = os.path.realpath(d)
        if rd not in real:
            real.append(rd)
    return Roots(dirs=tuple(real))


__all__ = ["ENV_ROOTS", "Roots", "served_roots"]
