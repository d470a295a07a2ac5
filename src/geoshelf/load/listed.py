"""The files of a directory representation at a URL, from the list a served catalog gives."""

from __future__ import annotations

import urllib.parse

from ..catalog.model import Representation
from ..errors import GeoshelfError


def listed_urls(rep: Representation, root: str, what: str) -> list[str]:
    """URLs of the files the representation's ``files`` option lists below ``root`` (HTTP has no
    directory listing); each path component quoted, hive ``key=value`` directories kept readable."""
    names = rep.options.get("files")
    if not names:
        raise GeoshelfError(f"{rep.path}: a {what} representation at a URL must list its files (option 'files')")
    base = root.rstrip("/")
    return [base + "/" + "/".join(urllib.parse.quote(p, safe="=") for p in n.split("/")) for n in names]
