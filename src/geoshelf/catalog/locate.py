"""Where the default catalog is: ``$GEOSHELF_CATALOG``, user/site config, then the demo."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from ..config import SITE_CONFIG, read_config, user_config_path
from ..errors import CatalogError

ENV_CATALOG = "GEOSHELF_CATALOG"
ENV_DEMO_DIR = "GEOSHELF_DEMO_DIR"


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


_DEFAULT_PORTS = {"http": 80, "https": 443}


def _url_parts(url: str) -> tuple[str, str, int | None, list[str]] | None:
    """(scheme, host or bucket, port, path segments) of a URL or local path; None when malformed."""
    if "://" not in url:
        return "file", "", None, [p for p in os.path.normpath(url).split("/") if p]
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    host = (parts.hostname or "") if scheme in _DEFAULT_PORTS else parts.netloc.rpartition("@")[2]
    if scheme in _DEFAULT_PORTS:
        port = port or _DEFAULT_PORTS[scheme]
    return scheme, host.lower() if scheme in _DEFAULT_PORTS else host, port, [p for p in parts.path.split("/") if p]


def origin(url: str) -> tuple[str, str, int | None] | None:
    """(scheme, host or bucket, port) of a URL: where requests for it go (``file`` for local paths)."""
    parts = _url_parts(url)
    return parts[:3] if parts is not None else None


def configured_storage_options() -> dict[str, Any]:
    """The user's ``storage_options:`` (URL prefix -> options), checked to be a mapping."""
    options = read_config(user_config_path()).get("storage_options") or {}
    if not isinstance(options, dict):
        raise CatalogError(f"{user_config_path()}: storage_options must be a mapping of URL prefixes to options")
    return options


def matching_prefix(url: str, options: dict[str, Any]) -> str | None:
    """The configured prefix of ``options`` that holds ``url`` (longest match on the parsed URL), or None."""
    target = _url_parts(url)
    if target is None:
        return None
    best: tuple[int, str] | None = None
    for prefix in options:
        want = _url_parts(str(prefix))
        if want is None or want[:3] != target[:3] or target[3][: len(want[3])] != want[3]:
            continue
        if best is None or len(want[3]) > best[0]:
            best = (len(want[3]), prefix)
    return best[1] if best is not None else None


def storage_options_for(url: str) -> dict[str, Any]:
    """Storage options for a URL from the user's config (``storage_options: {URL prefix: {...}}``).

    Secrets stay in the user's config, never in a catalog.  A configured prefix matches on the
    parsed URL: same scheme, host and port (for object stores: bucket), and whole path segments,
    so ``http://a:1@b:2/x`` never gets the options of ``http://a:1``.  The longest match wins.
    """
    options = configured_storage_options()
    prefix = matching_prefix(url, options)
    if prefix is None:
        return {}
    found = options[prefix] or {}
    if not isinstance(found, dict):
        raise CatalogError(f"{user_config_path()}: storage_options for {prefix!r} must be a mapping")
    return dict(found)
