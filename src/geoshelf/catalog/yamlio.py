"""Reading and writing catalog YAML: safe, comment-preserving, atomic and locked.

* Reading composes the YAML node graph first and refuses any tag outside YAML's core
  schema (``!!python/object``, ``!custom``...), so a catalog can never construct objects.
* Writing uses ruamel's round-trip mode: comments, key order, quoting and untouched
  entries come back as they were written.
* :func:`edit_catalog` takes a file lock, re-reads the file, lets the caller change the
  document, writes a temporary file in the same directory, fsyncs and renames it.
"""

from __future__ import annotations

import contextlib
import io
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout
from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError
from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from ..errors import CatalogError, UnsafeCatalogError
from ..faults import fault_point
from .limits import check_text, read_regular_text
from .model import plain_data

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
    import yaml as pyyaml

    tag = pyyaml.resolver.Resolver().resolve(pyyaml.ScalarNode, data, (True, False))
    if tag != "tag:yaml.org,2002:str":
        return representer.represent_scalar("tag:yaml.org,2002:str", data, style="'")
    return representer.represent_str(data)


def _yaml(indent: tuple[int, int, int] = (2, 4, 2)) -> YAML:
    y = YAML(typ="rt")
    y.representer.add_representer(str, _yaml11_safe_str)
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
    _yaml((2, 4, 2)).dump(doc, buf)  # one house style; untouched entries keep theirs (see render_preserving)
    return buf.getvalue()


def atomic_write_text(path: str | os.PathLike[str], text: str) -> None:
    """Write ``text`` to ``path`` atomically: temp file in the same directory, fsync, rename."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", suffix=".tmp", dir=p.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        if p.exists():
            os.chmod(tmp, p.stat().st_mode & 0o7777)
        else:
            os.chmod(tmp, 0o644)
        fault_point("catalog:before-replace")
        os.replace(tmp, p)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    with contextlib.suppress(OSError):  # make the rename durable
        dfd = os.open(p.parent, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)


def lock_for(path: str | os.PathLike[str]) -> FileLock:
    """The inter-process lock guarding edits of a catalog file."""
    p = Path(path)
    return FileLock(str(p.with_name(p.name + ".lock")), timeout=LOCK_TIMEOUT_S)


def new_document() -> Any:
    """An empty intake v1 catalog document."""
    return parse_text(
        "# geoshelf catalog: an intake v1 catalog; geoshelf keeps its fields under metadata.geoshelf\n"
        "metadata:\n  version: 1\nsources: {}\n"
    )


@contextlib.contextmanager
def edit_catalog(path: str | os.PathLike[str], *, create: bool = False) -> Iterator[Any]:
    """Lock ``path``, yield its document for editing, then write it back atomically.

    If the body raises, nothing is written.  With ``create=True`` a missing file starts
    as an empty catalog.
    """
    p = Path(path)
    try:
        with lock_for(p):
            if p.exists():
                doc, text = read_document(p)
                if doc is None:
                    doc = new_document()
            elif create:
                doc, text = new_document(), ""
            else:
                raise CatalogError(f"{p}: catalog file not found")
            if not isinstance(doc, dict):
                raise CatalogError(f"{p}: a catalog must be a YAML mapping with a 'sources:' key")
            yield doc
            new_text = render_preserving(doc, text)
            if new_text != text:
                atomic_write_text(p, new_text)
    except Timeout:
        raise CatalogError(f"{p}: catalog is locked by another process (gave up after {LOCK_TIMEOUT_S:.0f} s)") from None
    except PermissionError as exc:
        raise CatalogError(f"{p}: cannot write catalog: {exc.strerror}") from None


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())


def _entry_spans(doc: Any, lines: list[str]) -> tuple[dict[str, tuple[int, int, int]], int, int] | None:
    """Line spans (lead, key, end) of each ``sources:`` entry in the original text.

    Comment and blank lines just above an entry's key (``lead`` to ``key``) belong to
    that entry.  Returns (spans, first_line, end_line) or None for a flow-style mapping.
    """
    sources = doc.get("sources") if isinstance(doc, dict) else None
    if not isinstance(sources, dict) or not sources or sources.fa.flow_style():
        return None
    keys = list(doc)
    idx = keys.index("sources")
    block_end = doc.lc.key(keys[idx + 1])[0] if idx + 1 < len(keys) else len(lines)

    def back_over_comments(line: int, floor: int) -> int:
        while line - 1 > floor and (not lines[line - 1].strip() or lines[line - 1].lstrip().startswith("#")):
            line -= 1
        return line

    key_lines = [(sources.lc.key(name)[0], str(name)) for name in sources]
    spans: dict[str, tuple[int, int, int]] = {}
    floor = doc.lc.key("sources")[0]
    for i, (line, name) in enumerate(key_lines):
        lead = back_over_comments(line, floor)
        nxt = key_lines[i + 1][0] if i + 1 < len(key_lines) else block_end
        end = back_over_comments(nxt, line)
        spans[name] = (lead, line, end)
        floor = end - 1
    first = spans[key_lines[0][1]][0]
    return spans, first, spans[key_lines[-1][1]][2]


def _strip_trailing_comments(text: str) -> str:
    out = text.splitlines(keepends=True)
    while out and (not out[-1].strip() or out[-1].lstrip().startswith("#")):
        out.pop()
    return "".join(out)


def render_preserving(doc: Any, original_text: str) -> str:
    """Serialise ``doc`` so that entries equal to those of ``original_text`` keep their bytes.

    Entries that changed (or are new) are rendered by ruamel; everything outside
    ``sources:`` must be unchanged, otherwise the whole document is re-rendered.
    """
    if not original_text:
        return dump_text(doc)
    original = parse_text(original_text, limits=False)  # the text the edit read: already checked
    lines = original_text.splitlines(keepends=True)
    layout = _entry_spans(original, lines) if isinstance(original, dict) else None
    new_sources = doc.get("sources") if isinstance(doc, dict) else None
    outside_same = isinstance(original, dict) and {
        k: plain_data(v) for k, v in original.items() if k != "sources"
    } == {k: plain_data(v) for k, v in doc.items() if k != "sources"}
    if layout is None or not isinstance(new_sources, dict) or not new_sources or not outside_same:
        return dump_text(doc, like=original_text)
    spans, first, last = layout
    col = original["sources"].lc.key(next(iter(original["sources"])))[1]
    old_sources = original["sources"]
    pieces = []
    for name, node in new_sources.items():
        if name in spans and plain_data(old_sources[name]) == plain_data(node):
            lead, _key, end = spans[name]
            pieces.append("".join(lines[lead:end]))
            continue
        body = _strip_trailing_comments(dump_text({name: node}, like=original_text))
        if name in spans:
            lead, key, _end = spans[name]
            pieces.append("".join(lines[lead:key]))
        pieces.append("".join((" " * col + ln) if ln.strip() else ln for ln in body.splitlines(keepends=True)))
    head, tail = "".join(lines[:first]), "".join(lines[last:])
    rendered = "".join(p if p.endswith("\n") or not p else p + "\n" for p in pieces)
    return head + rendered + tail
