"""A fast emitter of new entries in the house style, byte for byte what ruamel writes, or nothing.

Rendering a new entry with ruamel costs a few milliseconds; a campaign that shelves 10,000 files
adds 10,000 entries at once.  :func:`emit` writes plain data (block mappings and sequences of
strings, numbers and booleans) in exactly the layout of :func:`geoshelf.catalog.yamlio.dump_text`
(mapping indent 2, sequence indent 4, offset 2; strings a YAML 1.1 reader would not read as
text single-quoted) and returns None for anything it is not certain about: the caller then
asks ruamel.  A property test holds the two to the same bytes.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

import yaml
from ruamel.yaml.nodes import ScalarNode

from .yamlio import _yaml

_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*\Z")
#: Strings ruamel writes plain (when both YAML 1.1 and 1.2 read them as text).
_PLAIN = re.compile(r"[A-Za-z0-9_/][\x20-\x22\x24-\x7e]*\Z")  # printable ASCII but '#'; no indicator first
#: Printable ASCII, which ruamel single-quotes whenever it cannot write it plain.
_PRINTABLE = re.compile(r"[\x20-\x7e]*\Z")
_FLOAT = re.compile(r"-?[0-9]+\.[0-9]+\Z")
_INDICATORS = frozenset("'\"{}[]#&*!|>%@`,")


class _Bail(Exception):
    pass


@lru_cache(maxsize=1)
def _resolvers() -> tuple[Any, Any, Any, Any]:
    return yaml.resolver.Resolver(), yaml.ScalarNode, _yaml().resolver, ScalarNode


@lru_cache(maxsize=65536)
def _is_text(s: str) -> tuple[bool, bool]:
    """Whether YAML 1.1 (PyYAML, stock intake) and YAML 1.2 (ruamel) read ``s`` unquoted as text."""
    r11, node11, r12, node12 = _resolvers()
    str_tag = "tag:yaml.org,2002:str"
    return (r11.resolve(node11, s, (True, False)) == str_tag, r12.resolve(node12, s, (True, False)) == str_tag)


def _quoted(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"


def _string(s: str) -> str:
    if len(s) > 1000:
        raise _Bail
    text11, text12 = _is_text(s) if s else (True, True)
    if not text11:
        return _quoted(s)  # the house rule (yamlio._yaml11_safe_str)
    if (s and _PLAIN.match(s) and text12 and ": " not in s and not s.endswith((":", " "))
            and not s.startswith(("- ", "? ", ": "))):
        return s
    if _PRINTABLE.match(s) and "'" not in s and (not s or s[0] in _INDICATORS or s[0] == " " or s[-1] in ": "
                                                 or ": " in s or " #" in s or s.startswith(("- ", "? "))):
        return _quoted(s)
    raise _Bail


def _scalar(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        r = repr(v)
        if math.isfinite(v) and _FLOAT.match(r):
            return r
        raise _Bail
    if isinstance(v, str):
        return _string(v)
    raise _Bail


def _key(k: Any) -> str:
    if not isinstance(k, str) or not _KEY.match(k) or _is_text(k) != (True, True):
        raise _Bail
    return k


def _mapping(d: Mapping[Any, Any], col: int, out: list[str], lead: str | None = None) -> None:
    pad = " " * col
    for i, (k, v) in enumerate(d.items()):
        prefix = (lead if i == 0 and lead is not None else pad) + _key(k)
        if isinstance(v, Mapping):
            if v:
                out.append(prefix + ":\n")
                _mapping(v, col + 2, out)
            else:
                out.append(prefix + ": {}\n")
        elif isinstance(v, (list, tuple)):
            if v:
                out.append(prefix + ":\n")
                _sequence(v, col + 2, out)
            else:
                out.append(prefix + ": []\n")
        else:
            out.append(prefix + ": " + _scalar(v) + "\n")


def _sequence(items: Any, col: int, out: list[str]) -> None:
    dash = " " * col + "- "
    for v in items:
        if isinstance(v, Mapping):
            if not v:
                raise _Bail
            _mapping(v, col + 2, out, lead=dash)
        elif isinstance(v, (list, tuple)):
            raise _Bail
        else:
            out.append(dash + _scalar(v) + "\n")


def emit(name: str, source: Mapping[str, Any]) -> str | None:
    """``name: source`` at column 0 exactly as ruamel would write it in the house style, or None."""
    out: list[str] = []
    try:
        _mapping({name: source}, 0, out)
    except _Bail:
        return None
    return "".join(out)


__all__ = ["emit"]
