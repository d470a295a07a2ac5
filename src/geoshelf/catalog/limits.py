"""Parser limits for catalog files: what a hostile or careless catalog cannot make a reader do.

* only regular files are read (a FIFO, a device such as ``/dev/zero``, a socket: refused at once,
  without blocking);
* YAML is composed by libyaml, then checked before anything is built from it: nesting depth
  (:data:`MAX_DEPTH`), nodes added by aliases (:data:`MAX_ALIAS_NODES`; an alias bomb is refused
  in milliseconds instead of exhausting memory), recursive aliases, and duplicate keys (which YAML
  loaders otherwise resolve silently: the second ``sst:`` would win).

The file's size is not capped: a 1,000,000-entry catalog is legitimate.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode

from ..errors import CatalogError, one_line

try:  # libyaml is much faster; both are safe loaders
    from yaml import CSafeLoader as _Loader
except ImportError:  # pragma: no cover
    from yaml import SafeLoader as _Loader  # type: ignore[assignment]

#: Deepest nesting of mappings and sequences a catalog may use (geoshelf's own entries use ~8).
MAX_DEPTH = 64
#: Most nodes that aliases may add beyond those written out (a catalog rarely uses aliases at all).
MAX_ALIAS_NODES = 100_000
_MERGE = "tag:yaml.org,2002:merge"


def read_regular_text(path: str | os.PathLike[str], what: str = "catalog") -> str:
    """The UTF-8 text of a regular file; anything else (FIFO, device, socket, directory) is refused
    in one line without blocking."""
    data = read_regular_bytes(path, what)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise CatalogError(f"{path}: not a text (UTF-8) file") from None


def read_regular_bytes(path: str | os.PathLike[str], what: str = "catalog") -> bytes:
    """The bytes of a regular file; anything else (FIFO, device, socket, directory) is refused in one
    line without blocking."""
    p = Path(path)
    try:
        fd = os.open(p, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        raise CatalogError(f"{p}: {what} file not found") from None
    except IsADirectoryError:
        raise CatalogError(f"{p}: is a directory, not a {what} file") from None
    except OSError as exc:
        raise CatalogError(f"{p}: cannot read {what}: {exc.strerror or exc}") from None
    try:
        mode = os.fstat(fd).st_mode
        if stat.S_ISDIR(mode):
            raise CatalogError(f"{p}: is a directory, not a {what} file")
        if not stat.S_ISREG(mode):
            raise CatalogError(f"{p}: not a regular file (a FIFO, device or socket cannot be a {what})")
        os.set_blocking(fd, True)
        with os.fdopen(fd, "rb") as fh:
            fd = -1
            data = fh.read()
    except OSError as exc:
        raise CatalogError(f"{p}: cannot read {what}: {exc.strerror or exc}") from None
    finally:
        if fd >= 0:
            os.close(fd)
    return data


def _line(node: Node) -> str:
    return str(node.start_mark.line + 1) if node.start_mark else "?"


def check_node(root: Node, path: str) -> None:
    """Refuse a composed YAML node graph that nests too deep, expands too far through aliases,
    refers to itself, or repeats a key in one mapping.  Linear in the nodes written (aliased
    containers are measured once); scalars are counted without being visited."""
    if isinstance(root, ScalarNode):
        return
    done: dict[int, tuple[int, int]] = {}  # container id -> (expanded size, depth)
    open_: dict[int, tuple[list[Node], int]] = {}  # containers on the current path -> (child containers, scalars)
    stack: list[Node] = [root]
    distinct = 0
    while stack:
        node = stack[-1]
        nid = id(node)
        if nid in done:
            stack.pop()
            continue
        pending = open_.get(nid)
        if pending is None:
            if isinstance(node, MappingNode):
                items = [n for pair in node.value for n in pair]
                _check_keys(node, path)
            else:
                items = node.value
            kids = [k for k in items if not isinstance(k, ScalarNode)]
            open_[nid] = (kids, len(items) - len(kids))
            distinct += 1 + len(items) - len(kids)
            for k in kids:
                if id(k) in open_:
                    raise CatalogError(f"{path}: line {_line(k)}: an alias refers to the node that contains it")
                if id(k) not in done:
                    stack.append(k)
            continue
        kids, scalars = pending
        size = 1 + scalars + sum(done[id(k)][0] for k in kids)
        depth = 1 + max((done[id(k)][1] for k in kids), default=1 if scalars else 0)
        if depth > MAX_DEPTH:
            raise CatalogError(f"{path}: line {_line(node)}: nested deeper than {MAX_DEPTH} levels")
        done[nid] = (size, depth)
        del open_[nid]
        stack.pop()
    if done[id(root)][0] - distinct > MAX_ALIAS_NODES:
        raise CatalogError(f"{path}: aliases expand to more than {MAX_ALIAS_NODES:,} extra nodes "
                           "(an alias bomb?); write the data out")


def _check_keys(node: MappingNode, path: str) -> None:
    seen: set[tuple[str, str]] = set()
    for key, _value in node.value:
        if isinstance(key, ScalarNode) and key.tag != _MERGE:
            k = (key.tag, key.value)
            if k in seen:
                raise CatalogError(f"{path}: line {_line(key)}: duplicate key {key.value!r}"[:200])
            seen.add(k)


def load_yaml_documents(text: str, path: str) -> list[Any]:
    """Every YAML document of ``text``, safely (core tags only), within the limits above."""
    loader = _Loader(text)
    docs: list[Any] = []
    try:
        while loader.check_node():
            node = loader.get_node()
            if node is None:  # pragma: no cover - libyaml gives no empty nodes
                docs.append(None)
                continue
            check_node(node, path)
            docs.append(loader.construct_document(node))
    finally:
        loader.dispose()
    return docs


def check_text(text: str, path: str) -> None:
    """Apply the limits to catalog text without building anything from it (before another parser)."""
    loader = _Loader(text)
    try:
        while loader.check_node():
            node = loader.get_node()
            if node is not None:
                check_node(node, path)
    except yaml.YAMLError as exc:
        raise CatalogError(f"{path}: malformed YAML: {one_line(exc)}") from None
    finally:
        loader.dispose()


__all__ = ["MAX_ALIAS_NODES", "MAX_DEPTH", "check_node", "check_text", "load_yaml_documents", "read_regular_text"]
