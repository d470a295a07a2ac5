"""Catalogs read over HTTP(S) (e.g. from ``geoshelf serve``): fetched once into geoshelf's cache, read-only.

The copy lives in ``$XDG_CACHE_HOME/geoshelf/remote/`` under a name derived from the URL, so a catalog
served elsewhere is parsed by the same safe reader, with the same limits, as a local file.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from ..atomic import write_file
from ..errors import CatalogError
from .remote import describe, timeouts

#: Remote catalogs larger than this are refused (a catalog, not a data file).
MAX_BYTES = 256 * 2**20


def cache_dir() -> Path:
    """``$XDG_CACHE_HOME/geoshelf/remote`` (``~/.cache/geoshelf/remote``)."""
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "geoshelf" / "remote"


def fetch(url: str) -> Path:
    """Download the catalog at ``url`` (http or https) into the cache and return the local copy."""
    # deferred: urllib.request costs ~20 ms at every start-up; only remote catalogs need it
    import urllib.error
    import urllib.request


    if not url.startswith(("http://", "https://")):
        raise CatalogError(f"{url}: only http(s) catalogs can be opened remotely")
    target = cache_dir() / (hashlib.sha256(url.encode()).hexdigest()[:24] + ".yaml")
    try:
        with urllib.request.urlopen(url, timeout=timeouts().read) as resp:
            data = resp.read(MAX_BYTES + 1)
    except urllib.error.HTTPError as exc:
        raise CatalogError(f"{url}: cannot fetch the catalog: HTTP {exc.code} {exc.reason}") from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise CatalogError(f"{url}: cannot fetch the catalog: "
                           f"{describe(reason) if isinstance(reason, BaseException) else reason}") from None
    if len(data) > MAX_BYTES:
        raise CatalogError(f"{url}: the catalog is larger than {MAX_BYTES // 2**20} MiB")
    write_file(target, data, sync=False)  # a cached copy: fetched again if lost
    return target
