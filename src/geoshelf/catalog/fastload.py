"""A streaming reader for catalogs in the regular block layout geoshelf (ruamel) and PyYAML write.

Parsing a 1,000,000-entry catalog (~1-2 GB of YAML) with a YAML parser takes ~15 minutes and
holds every entry in memory.  Catalogs written by geoshelf are regular: block mappings and
sequences, one key or item per line, plain or single-quoted scalars, ``{}`` / ``[]``.  This
reader handles exactly that subset, entry by entry, in bounded memory, and raises
:class:`Irregular` on anything else (anchors, tags, flow collections, block or multi-line
scalars, comments after values, duplicate keys, tabs, several documents, ...): the caller then
falls back to the full safe parser.  Plain scalars are resolved as YAML 1.1 (PyYAML's safe
loader) resolves them; unusual ones are handed to that loader itself.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

try:
    from yaml import CSafeLoader as _Loader
except ImportError:  # pragma: no cover
    from yaml import SafeLoader as _Loader  # type: ignore[assignment]


class Irregular(Exception):
    """The text is outside the regular subset this reader handles (use the full parser)."""


#: Words a YAML 1.1 safe loader reads as booleans or null.
_SPECIAL_WORDS = frozenset("yes Yes YES no No NO true True TRUE false False FALSE on On ON off Off OFF "
                           "y Y n N null Null NULL".split())
_KEY = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.\-/]*\Z")
_INT = re.compile(r"[-+]?(?:0|[1-9][0-9]*)\Z")
_FLOAT = re.compile(r"(?:[-+]?[0-9]+\.[0-9]*|\.[0-9]+)(?:[eE][-+][0-9]+)?\Z")  # as PyYAML: no "-.5"
_BAD_START = frozenset("&*!|>%@`{[\"#,?:")
_Line = tuple[int, str]


@lru_cache(maxsize=65536)
def _by_loader(text: str) -> Any:
    try:
        return yaml.load(text, Loader=_Loader)
    except yaml.YAMLError:
        raise Irregular(text) from None


def scalar(text: str) -> Any:
    """One scalar written on a single line (plain, single-quoted, or ``{}`` / ``[]``), as a safe loader reads it."""
    c = text[0]
    if c == "'":
        if len(text) < 2 or text[-1] != "'" or "'" in text[1:-1].replace("''", ""):
            raise Irregular(text)
        return text[1:-1].replace("''", "'")
    if c == '"':
        if len(text) < 2 or text[-1] != '"':
            raise Irregular(text)
        inner = text[1:-1]
        if "\\" not in inner and '"' not in inner:
            return inner
        return _by_loader(text)
    if text == "{}":
        return {}
    if text == "[]":
        return []
    if c in _BAD_START or ": " in text or " #" in text or text.endswith(":") or text[-1] == " ":
        raise Irregular(text)
    if c.isalpha() or c == "_" or c == "/":
        if text in _SPECIAL_WORDS:
            return _by_loader(text)
        return text
    if _INT.match(text):
        return int(text)
    if _FLOAT.match(text):
        return float(text)
    value = _by_loader(text)  # timestamps, octal, sexagesimal, .inf, ~, ...
    if isinstance(value, (dict, list)):
        raise Irregular(text)
    return value


def _key(text: str) -> Any:
    if not _KEY.match(text):
        raise Irregular(text)
    return scalar(text)


def _split(text: str) -> tuple[str, str | None]:
    """``key: value`` -> (key, value); ``key:`` -> (key, None)."""
    if text.endswith(":"):
        return text[:-1], None
    i = text.find(": ")
    if i <= 0:
        raise Irregular(text)
    return text[:i], text[i + 2:].strip()


def parse_block(lines: list[_Line], i: int, indent: int) -> tuple[Any, int]:
    """The block node starting at ``lines[i]`` (at ``indent``); returns (value, index after it)."""
    if lines[i][1].startswith("- ") or lines[i][1] == "-":
        return _sequence(lines, i, indent)
    return _mapping(lines, i, indent)


def _value(lines: list[_Line], i: int, indent: int, rest: str | None, seq_ok: bool) -> tuple[Any, int]:
    """The value of a key at ``indent`` whose line is ``lines[i - 1]``."""
    n = len(lines)
    if rest is not None:
        if i < n and lines[i][0] > indent:
            raise Irregular(lines[i][1])  # a multi-line plain scalar
        return scalar(rest), i
    if i < n:
        ind, text = lines[i]
        if ind > indent or (seq_ok and ind == indent and (text.startswith("- ") or text == "-")):
            return parse_block(lines, i, ind)
    return None, i


def _mapping(lines: list[_Line], i: int, indent: int) -> tuple[dict[Any, Any], int]:
    out: dict[Any, Any] = {}
    n = len(lines)
    while i < n:
        ind, text = lines[i]
        if ind < indent:
            break
        if ind > indent or text.startswith("- ") or text == "-":
            raise Irregular(text)
        k, rest = _split(text)
        key = _key(k)
        if key in out:
            raise Irregular(f"duplicate key {k}")
        out[key], i = _value(lines, i + 1, indent, rest, seq_ok=True)
    return out, i


def _sequence(lines: list[_Line], i: int, indent: int) -> tuple[list[Any], int]:
    out: list[Any] = []
    n = len(lines)
    while i < n:
        ind, text = lines[i]
        if ind < indent:
            break
        if ind > indent or not text.startswith("- "):
            if ind == indent and not text.startswith("-"):
                break  # the mapping this sequence sits in (PyYAML's indentless sequences) goes on
            raise Irregular(text)
        item = text[2:].lstrip()
        inner = indent + len(text) - len(item)
        if item.startswith("- ") or item == "-":
            raise Irregular(text)
        if item[0] not in "'\"" and (item.endswith(":") or ": " in item):
            lines[i] = (inner, item)  # "- key: value": a mapping at the item's column
            value, i = _mapping(lines, i, inner)
        else:
            value = scalar(item)
            i += 1
            if i < n and lines[i][0] > indent:
                raise Irregular(lines[i][1])
        out.append(value)
    return out, i


def _lines(path: Path) -> Iterator[_Line]:
    first = True
    with open(path, encoding="utf-8") as fh:
        for raw in fh:
            line = raw.rstrip("\r\n")
            text = line.lstrip(" ")
            if not text or text[0] == "#":
                continue
            if text[0] == "\t" or "\t" in line[: len(line) - len(text) + 1]:
                raise Irregular("tab in indentation")
            if first and line == "---":
                first = False
                continue
            first = False
            if line.startswith(("---", "...", "%")):
                raise Irregular(line)
            yield len(line) - len(text), text.rstrip(" ")


def read_streaming(path: Path) -> tuple[dict[str, Any], Iterator[tuple[Any, Any]]]:
    """(top-level keys other than ``sources``, an iterator of (name, entry)) of the catalog at ``path``.

    The top-level keys are known only once the iterator is exhausted (they may follow ``sources:``).
    Raises :class:`Irregular` (possibly while iterating) when the file leaves the regular subset.
    """
    doc: dict[str, Any] = {}

    def entries() -> Iterator[tuple[Any, Any]]:
        seen: set[Any] = set()
        top: list[_Line] = []
        block: list[_Line] = []
        in_sources = False
        entry_indent = -1

        def flush_top() -> None:
            if top:
                value, end = _mapping(top, 0, 0)
                if end != len(top):
                    raise Irregular(top[end][1])
                for k, v in value.items():
                    if k in doc or k == "sources":
                        raise Irregular(f"duplicate key {k}")
                    doc[k] = v
                top.clear()

        def entry() -> tuple[Any, Any]:
            value, end = _mapping(block, 0, entry_indent)
            if end != len(block) or len(value) != 1:
                raise Irregular(block[end][1] if end < len(block) else "entry")
            ((name, src),) = value.items()
            if name in seen:
                raise Irregular(f"duplicate entry {name}")
            seen.add(name)
            block.clear()
            return name, src

        for ind, text in _lines(path):
            if ind == 0:
                if in_sources and block:
                    yield entry()
                in_sources = False
                if text == "sources:":
                    if "sources" in doc or seen:
                        raise Irregular("duplicate key sources")
                    flush_top()
                    in_sources = True
                    doc["sources"] = None
                    continue
                if text.startswith("sources:"):
                    raise Irregular(text)  # sources: {} or a flow mapping
                top.append((ind, text))
                continue
            if not in_sources:
                top.append((ind, text))
                continue
            if entry_indent < 0:
                entry_indent = ind
            if ind == entry_indent:
                if block:
                    yield entry()
                if text.startswith("-"):
                    raise Irregular(text)
            elif ind < entry_indent:
                raise Irregular(text)
            block.append((ind, text))
        if block:
            yield entry()
        flush_top()
        doc.pop("sources", None)

    return doc, entries()


__all__ = ["Irregular", "read_streaming", "scalar"]
