"""Where the default catalog is: ``$GEOSHELF_CATALOG``, user/site config, then the demo."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml

from ..errors import CatalogError

ENV_CATALOG = "GEOSHELF_CATALOG"
ENV_CONFIG = "GEOSHELF_CONFIG"
ENV_DEMO_DIR = "GEOSHELF_DEMO_DIR"
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
        raise CatalogError(f"{path}: unreadable geoshelf config: {' '.join(str(exc).split())}") from None
    if not isinstance(data, dict):
        raise CatalogError(f"{path}: a geoshelf config must be a YAML mapping")
    return data


def demo_dir() -> Path:
    """Where ``geoshelf demo`` puts its data and catalog by default.

    ``$GEOSHELF_DEMO_DIR``; else ``demo/`` in the source checkout geoshelf runs from;
    else ``$XDG_DATA_HOME/geoshelf/demo``.
    """
    if os.environ.get(ENV_DEMO_DIR):
        return Path(os.environ[ENV_DEMO_DIR]).expanduser().resolve()
    repo = Path(__file__).resolve().parents[3]
    if (repo / "pyproject.toml").is_file() and (repo / "src" / "geoshelf").is_dir():
        return repo / "demo"
    base = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return base / "geoshelf" / "demo"


def demo_catalog_path() -> Path:
    """The demo catalog file written by ``geoshelf demo``."""
    return demo_dir() / "demo.yaml"


def configured_catalog_path() -> Path | None:
    """The catalog someone chose: ``$GEOSHELF_CATALOG``, else ``catalog:`` in the user config,
    else in the site config; None when nothing is configured (the demo is the fallback)."""
    if os.environ.get(ENV_CATALOG):
        return Path(os.environ[ENV_CATALOG]).expanduser()
    for cfg in (user_config_path(), SITE_CONFIG):
        value = read_config(cfg).get("catalog")
        if value:
            p = Path(str(value)).expanduser()
            return p if p.is_absolute() else (cfg.parent / p)
    return None


def default_catalog_path() -> Path:
    """The catalog ``open_catalog()`` reads with no argument.

    ``$GEOSHELF_CATALOG``; else ``catalog:`` in the user config; else in the site
    config (``/etc/geoshelf/config.yaml``); else the demo catalog.
    """
    configured = configured_catalog_path()
    if configured is not None:
        return configured
    demo = demo_catalog_path()
    if not demo.is_file():
        raise CatalogError(
            "no catalog configured and the demo catalog does not exist yet: run `geoshelf demo` first "
            f"(or set {ENV_CATALOG}=/path/to/catalog.yaml)"
        )
    return demo


def storage_options_for(url: str) -> dict[str, Any]:
    """Storage options for a URL from the user's config (``storage_options: {prefix: {...}}``).

    Secrets stay in the user's config, never in a catalog.  The longest matching prefix wins.
    """
    options = read_config(user_config_path()).get("storage_options") or {}
    best = ""
    for prefix in options:
        if url.startswith(str(prefix)) and len(str(prefix)) > len(best):
            best = str(prefix)
    return dict(options.get(best) or {}) if best else {}
