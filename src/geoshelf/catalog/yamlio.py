"""Catalog YAML text: safe round-trip parsing, the house style, atomic file writes, the edit lock.

* Parsing composes the YAML node graph first and refuses any tag outside YAML's core
  schema (``!!python/object``, ``!custom``...), so a catalog can never construct objects.
* Writing uses ruamel's round-trip mode (:func:`dump_text`): comments, key order and quoting
  of what did not change come back as they were written.  Edits themselves go through
  :func:`geoshelf.catalog.writer.edit_sources` (lock, verify, splice only the changed entries).
"""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Any

import yaml as pyyaml
from filelock import FileLock
from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError
from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from ..atomic import write_file
from ..errors import CatalogError, UnsafeCatalogError, one_line
from ..faults import fault_point
from .limits import check_text, read_regular_text

_CORE_TAGS = frozenset(
    "tag:yaml.org,2002:" + t
    for t in ("str", "int", "float", "bool", "null", "map", "seq", "timestamp", "merge", "binary")
)

LOCK_TIMEOUT_S = 60.0


def _yaml11_safe_str(representer: Any, data: str) -> Any:
    """Quote strings a YAML 1.1 reader (PyYAML, stock intake) would read as bool/number/null.

    ruamel writes YAML 1.2, where ``no``, ``on`` or ``1_000`` are plain strings; PyYAML
    would read them as ``False``, ``True`` or ``1000``.
    """
    tag = pyyaml.resolver.Resolver().resolve(pyyaml.ScalarNode, data, (True, False))
    if tag != "tag:yaml.org,2002:str":
        return representer.represent_scalar("tag:yaml.org,2002:str", data, style="'")
    return representer.represent_str(data)


def _yaml11_exact_float(representer: Any, data: float) -> Any:
    """Floats as Python's shortest exact repr, in a form YAML 1.1 reads as a float.

    ruamel drops a digit of some (``2.654577078986531e-12`` came back as ``...653e-12``) and
    writes ``1e+16``, which a YAML 1.1 reader takes for a string.
    """
    if data != data:
        value = ".nan"
    elif data in (float("inf"), float("-inf")):
        value = ".inf" if data > 0 else "-.inf"
    else:
        value = repr(data).lower()
        if "e" in value and "." not in value:
            value = value.replace("e", ".0e")
    return representer.represent_scalar("tag:yaml.org,2002:float", value)


def _yaml(indent: tuple[int, int, int] = (2, 4, 2)) -> YAML:
    y = YAML(typ="rt")
    y.representer.add_representer(str, _yaml11_safe_str)
    y.representer.add_representer(float, _yaml11_exact_float)
    y.preserve_quotes = True
    y.width = 4096
    mapping, sequence, offset = indent
    y.indent(mapping=mapping, sequence=sequence, offset=offset)
    return y


def _check_tags(node: Node | None, path: str, seen: set[int] | None = None) -> None:
    if node is None:
        return
    seen = set() if seen is None else seen
    if id(node) in seen:
        return
    seen.add(id(node))
    if node.tag not in _CORE_TAGS:
        line = node.start_mark.line + 1 if node.start_mark else "?"
        raise UnsafeCatalogError(
            f"{path}: line {line}: YAML tag {node.tag!r} is not allowed in a catalog "
            "(only plain YAML data; nothing may construct Python objects)"
        )
    if isinstance(node, MappingNode):
        for key, value in node.value:
            _check_tags(key, path, seen)
            _check_tags(value, path, seen)
    elif isinstance(node, SequenceNode):
        for item in node.value:
            _check_tags(item, path, seen)
    elif not isinstance(node, ScalarNode):  # pragma: no cover - ruamel has no other kinds
        raise UnsafeCatalogError(f"{path}: unexpected YAML node {type(node).__name__}")


def parse_text(text: str, path: str = "<string>", *, limits: bool = True) -> Any:
    """Parse catalog YAML text safely into ruamel round-trip containers."""
    if limits:  # depth, alias expansion, duplicate keys: bounded before ruamel builds anything
        check_text(text, path)
    y = _yaml()
    try:
        nodes = list(y.compose_all(io.StringIO(text)))
    except RecursionError:  # pragma: no cover - check_text bounds the depth first
        raise CatalogError(f"{path}: nested too deep") from None
    except YAMLError as exc:
        raise CatalogError(f"{path}: malformed YAML: {_one_line(exc)}") from None
    if len(nodes) > 1:
        raise CatalogError(f"{path}: a catalog is one YAML document, found {len(nodes)}")
    if not nodes or nodes[0] is None:
        return None
    _check_tags(nodes[0], path)
    try:
        return y.load(text)
    except YAMLError as exc:
        raise CatalogError(f"{path}: malformed YAML: {_one_line(exc)}") from None


def read_text(path: str | os.PathLike[str]) -> str:
    """A catalog file's text, or one CatalogError line naming the file and the problem."""
    return read_regular_text(path)  # regular files only: a FIFO or /dev/zero is refused at once


def read_document(path: str | os.PathLike[str]) -> tuple[Any, str]:
    """Read a catalog file; return (document, text)."""
    text = read_text(path)
    return parse_text(text, str(path)), text


def dump_text(doc: Any, like: str = "") -> str:
    """Serialise a round-trip document in the house style (``like`` is accepted for symmetry)."""
    buf = io.StringIO()
    _yaml((2, 4, 2)).dump(doc, buf)  # one house style; untouched entries keep theirs (see splice.py)
    return buf.getvalue()


def atomic_write_text(path: str | os.PathLike[str], text: str) -> None:
    """Write ``text`` to ``path`` atomically: temp file in the same directory, fsync, rename."""
    write_file(path, text, before_replace=lambda: fault_point("catalog:before-replace"))


def lock_for(path: str | os.PathLike[str]) -> FileLock:
    """The inter-process lock guarding edits of a catalog file."""
    p = Path(path)
    return FileLock(str(p.with_name(p.name + ".lock")), timeout=LOCK_TIMEOUT_S)


def _one_line(exc: BaseException) -> str:
    return one_line(exc)
