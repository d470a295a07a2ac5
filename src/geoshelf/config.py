"""Reading geoshelf's configuration files: the user's (``$GEOSHELF_CONFIG`` or
``$XDG_CONFIG_HOME/geoshelf/config.yaml``) and the site's (``/etc/geoshelf/config.yaml``).

A leaf (imports the errors only) so that the catalog, the converters, the cluster profiles and the
server read their sections without depending on each other.  What each section means is the
business of the module that reads it (``catalog:`` in :mod:`geoshelf.catalog.locate`, ``shelf:``
in :mod:`geoshelf.convert`, ``cluster:`` in :mod:`geoshelf.cluster`, ...).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml

from .errors import CatalogError, one_line

ENV_CONFIG = "GEOSHELF_CONFIG"
SITE_CONFIG = Path("/etc/geoshelf/config.yaml")


def user_config_path() -> Path:
    """``$GEOSHELF_CONFIG`` or ``$XDG_CONFIG_HOME/geoshelf/config.yaml``."""
    if os.environ.get(ENV_CONFIG):
        return Path(os.environ[ENV_CONFIG]).expanduser()
    base = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    return base / "geoshelf" / "config.yaml"


def read_config(path: Path) -> dict[str, Any]:
    """A geoshelf config file as plain data ({} when missing)."""
    if not path.is_file():
        return {}
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (yaml.YAMLError, OSError, UnicodeDecodeError) as exc:
        raise CatalogError(f"{path}: unreadable geoshelf config: {one_line(exc)}") from None
    if not isinstance(data, dict):
        raise CatalogError(f"{path}: a geoshelf config must be a YAML mapping")
    return data


__all__ = ["ENV_CONFIG", "SITE_CONFIG", "read_config", "user_config_path"]
