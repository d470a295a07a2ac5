"""Where each entry of a catalog file lies, and the file with some entries replaced: the rest byte for byte.

An edit of one entry must cost that entry, not the catalog: :func:`locate` finds the byte offset
of every entry's key line of the ``sources:`` block, given the names a safe parser read (or the
derived index holds), with ``bytes.find`` alone (no YAML parser, no memory beyond the file's
bytes); :func:`layout_from_lines` derives the same from ruamel's line numbers for layouts it does
not handle; :func:`splice` renders only the changed entries (ruamel round trip of *that entry's*
text, so the comments inside it survive; new ones by :mod:`.emit`) and copies every other byte.

Nothing found by searching is trusted unchecked: :func:`verify` parses the entries around each
change on their own and compares them with what the parser read from the whole file.  The offsets
the derived index keeps from one edit to the next give :func:`sparse_layout`: just the entries an
edit touches, their neighbours and the last one, checked the same way (no search at all).
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml

from .emit import emit
from .model import plain_data
from .yamlio import dump_text, parse_text

#: A top-level ``sources:`` line (with an optional comment, or an empty flow mapping).
_SOURCES = re.compile(rb"^sources:(?P<empty>[ ]+\{\})?[ ]*(?:#[^\n]*)?$", re.M)
#: A plain key of an entry line (the loader resolves it; the caller compares the names).
_NAMES = re.compile(r"(?:[A-Za-z0-9_][A-Za-z0-9_.\-/]*\n)*")
#: The first line with content after a position, and its indentation.
_FIRST = re.compile(rb"\n( *)[^ \n#]")
#: A top-level line (with content).
_TOP = re.compile(rb"\n[^ \n#]")


class Unhandled(Exception):
    """The text is outside what the splicer handles (the caller falls back to a full parse)."""


@dataclass(frozen=True, kw_only=True)
class Layout:
    """Byte offsets of a catalog's ``sources:`` block and of each entry's key line."""

    #: Offsets of the ``sources:`` line: its start and the start of the next line.
    sources_line: tuple[int, int]
    #: True when the line is ``sources: {}`` (no entries yet).
    empty_flow: bool
    #: Column of the entry keys.
    indent: int
    #: (name, offset of the key line's first byte), in file order.
    keys: tuple[tuple[str, int], ...]
    #: Offset of the first line after the block (a top-level line, or the end of the file).
    block_end: int
    #: Number of entries in the block: ``keys`` may hold only some of them (:func:`sparse_layout`), but then
    #: always the neighbours of those an edit changes, and the last one.
    total: int | None = None

    @property
    def count(self) -> int:
        """Entries in the block."""
        return len(self.keys) if self.total is None else self.total

    @property
    def names(self) -> list[str]:
        """Entry names in file order."""
        return [n for n, _ in self.keys]


def _line_start(b: bytes, i: int) -> int:
    return b.rfind(b"\n", 0, i) + 1


def _is_lead_line(line: bytes, indent: int) -> bool:
    """A blank line, or a comment no deeper than the entry keys: it belongs to the entry below."""
    text = line.strip()
    if not text:
        return True
    return text.startswith(b"#") and len(line) - len(line.lstrip(b" ")) <= indent


def _back_over_lead(b: bytes, start: int, floor: int, indent: int) -> int:
    """The offset of the first of the lead lines directly above the line starting at ``start``."""
    while start > floor:
        prev = _line_start(b, start - 1)
        if prev < floor or not _is_lead_line(b[prev:start], indent):
            break
        start = prev
    return start


def _sources_line(b: bytes) -> re.Match[bytes]:
    at = [0] if b.startswith(b"sources:") else []
    i = b.find(b"\nsources:")
    while i >= 0:
        at.append(i + 1)
        i = b.find(b"\nsources:", i + 1)
    if len(at) != 1:
        raise Unhandled("no single top-level 'sources:' line")
    m = _SOURCES.match(b, at[0])
    if m is None:
        raise Unhandled("sources: line")
    return m


def locate(b: bytes, names: list[str]) -> Layout:
    """The layout of a block-style catalog whose entries are ``names`` (in file order, as a safe parser
    read them); raises :class:`Unhandled` when the text is not laid out so.

    No YAML is parsed: each name's key line is searched in turn (``\\n<indent>name:``), so the cost is
    one pass of ``bytes.find`` over the file.  A key line found inside the previous entry's text
    (a quoted scalar continued at the entries' column) is caught by :func:`verify`.
    """
    if b"\r" in b:
        raise Unhandled("carriage returns")
    m = _sources_line(b)
    line_end = m.end() + 1 if m.end() < len(b) else len(b)
    sources_line = (m.start(), line_end)
    first = _FIRST.search(b, m.end())
    if first is None or not first.group(1):  # nothing after sources, or the next line is top-level
        if names:
            raise Unhandled("entries not in block style")
        block_end = first.start() + 1 if first is not None else len(b)
        return Layout(sources_line=sources_line, empty_flow=bool(m.group("empty")), indent=2, keys=(),
                      block_end=block_end)
    if m.group("empty") or not names:
        raise Unhandled("sources: {} followed by indented lines")
    indent = len(first.group(1))
    if not _NAMES.fullmatch("\n".join(names) + "\n"):
        raise Unhandled("an entry name outside the plain key characters")
    pad = b"\n" + b" " * indent
    keys: list[tuple[str, int]] = []
    pos = first.start()
    find, startswith, ends = b.find, b.startswith, (b" ", b"\n")
    for name in names:
        needle = pad + name.encode("utf-8") + b":"
        while True:
            i = find(needle, pos)
            if i < 0:
                raise Unhandled(f"entry {name!r} not found in order")
            pos = i + 1
            j = i + len(needle)
            if j == len(b) or startswith(ends, j):
                break
        keys.append((name, pos))
    if keys[0][1] != first.start() + 1:
        raise Unhandled("the first line of sources is not the first entry")
    top = _TOP.search(b, keys[-1][1])
    block_end = top.start() + 1 if top is not None else len(b)
    return Layout(sources_line=sources_line, empty_flow=False, indent=indent, keys=tuple(keys),
                  block_end=block_end)


def sparse_layout(b: bytes, sources_at: int, keys: tuple[tuple[str, int], ...], total: int) -> Layout:
    """The layout of some entries of a block-style catalog from recorded offsets: of the ``sources:`` line and
    of the key lines of ``keys`` ((name, offset), in file order, ending with the last entry); ``total`` entries
    in all.  Each offset must start the line ``<indent>name:`` (else :class:`Unhandled`): the spans between
    them are then checked by :func:`verify` as for :func:`locate`."""
    if not keys or b"\r" in b[sources_at:sources_at + 4096]:
        raise Unhandled("no recorded entries")
    if sources_at and b[sources_at - 1:sources_at] != b"\n":
        raise Unhandled("sources: line")
    m = _SOURCES.match(b, sources_at)
    if m is None or m.group("empty"):
        raise Unhandled("sources: line")
    first = keys[0][1]
    eol = b.find(b"\n", first)
    line = b[first:eol if eol >= 0 else len(b)]
    indent = len(line) - len(line.lstrip(b" "))
    if not indent or not _NAMES.fullmatch("\n".join(n for n, _ in keys) + "\n"):
        raise Unhandled("recorded entries")
    pad = b" " * indent
    prev = m.end()
    for name, off in keys:
        j = off + indent + len(name.encode("utf-8")) + 1
        if off <= prev or b[off - 1:off] != b"\n" or not b.startswith(pad + name.encode("utf-8") + b":", off) \
                or not (j == len(b) or b.startswith((b" ", b"\n"), j)):
            raise Unhandled(f"entry {name!r} is not where it was recorded")
        prev = off
    line_end = m.end() + 1 if m.end() < len(b) else len(b)
    top = _TOP.search(b, keys[-1][1])
    return Layout(sources_line=(m.start(), line_end), empty_flow=False, indent=indent, keys=keys,
                  block_end=top.start() + 1 if top is not None else len(b), total=total)


def verify(b: bytes, layout: Layout, i: int, expected: Any) -> None:
    """Raise :class:`Unhandled` unless entry ``i``'s text, parsed on its own by the safe loader, is
    ``expected`` (the entry as the loader read the whole file): its span is then exactly right."""
    _lead, key, end = entry_span(b, layout, i)
    name = layout.keys[i][0]
    try:
        parsed = yaml.load(_dedent(b[key:end].decode("utf-8"), layout.indent),
                           Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except (yaml.YAMLError, UnicodeDecodeError):
        raise Unhandled(f"entry {name!r} does not parse on its own") from None
    if not isinstance(parsed, dict) or list(parsed) != [name]:
        raise Unhandled(f"entry {name!r} text")

    def norm(x: Any) -> Any:
        return json.loads(json.dumps(x, default=str, sort_keys=True))

    if norm(parsed[name]) != norm(expected):
        raise Unhandled(f"entry {name!r} differs from the parsed file")


def layout_from_lines(b: bytes, sources_line: int, key_lines: list[tuple[str, int, int]],
                      block_end_line: int | None) -> Layout:
    """A layout from a parser's 0-based line numbers: of ``sources:``, of each (name, line, column) key,
    and of the first top-level key after the block (None: the block runs to the end)."""
    starts = [0]
    pos = b.find(b"\n")
    while pos >= 0:
        starts.append(pos + 1)
        pos = b.find(b"\n", pos + 1)

    def at(line: int) -> int:
        return starts[line] if line < len(starts) else len(b)

    columns = {c for _, _, c in key_lines}
    if len(columns) > 1:
        raise Unhandled("entry keys at different columns")
    s0 = at(sources_line)
    if not b[s0:].startswith(b"sources:") or any(at(line) > at(line + 1) for _, line, _ in key_lines):
        raise Unhandled("sources line")
    return Layout(sources_line=(s0, at(sources_line + 1)), empty_flow=False,
                  indent=columns.pop() if columns else 2, keys=tuple((n, at(line)) for n, line, _ in key_lines),
                  block_end=at(block_end_line) if block_end_line is not None else len(b))


def _dedent(text: str, indent: int) -> str:
    out = []
    for line in text.splitlines(keepends=True):
        width = len(line) - len(line.lstrip(" "))
        out.append(line[min(width, indent):])
    return "".join(out)


def _indent(text: str, indent: int) -> str:
    pad = " " * indent
    return "".join(pad + ln if ln.strip() else ln for ln in text.splitlines(keepends=True))


def merge(node: Any, new: Mapping[str, Any]) -> None:
    """Update a ruamel mapping in place to equal ``new`` (plain data), so comments inside it survive."""
    for key in [k for k in node if k not in new]:
        del node[key]
    for key, value in new.items():
        if key in node and isinstance(node[key], dict) and isinstance(value, dict):
            merge(node[key], value)
        elif key not in node or plain_data(node[key]) != value:
            node[key] = value


def render_entry(name: str, source: Mapping[str, Any], old: str | None = None) -> str:
    """The YAML text (at column 0) of entry ``name: source``; ``old`` is the entry's current text at
    column 0, whose comments, key order and quoting are kept for what did not change."""
    if old is None:
        return emit(name, source) or dump_text({name: dict(source)})
    doc = parse_text(old)
    if not isinstance(doc, dict) or list(doc) != [name] or not isinstance(doc[name], dict):
        raise Unhandled(f"entry {name!r} text")
    if _has_anchors(old):
        raise Unhandled(f"entry {name!r} holds an anchor")
    merge(doc[name], source)
    _exact_floats(doc[name])
    text = dump_text(doc)
    if not _reads_back(text, name, source):  # e.g. ruamel writes `description: ? q` plain inside a flow mapping
        return render_entry(name, source)  # the entry afresh, in block style (its inner comments cannot stay)
    return text


def _reads_back(text: str, name: str, source: Mapping[str, Any]) -> bool:
    """Whether a safe loader reads ``text`` as exactly ``{name: source}``."""
    try:
        parsed = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except yaml.YAMLError:
        return False

    def norm(x: Any) -> Any:
        return json.loads(json.dumps(x, default=str, sort_keys=True))

    return isinstance(parsed, dict) and list(parsed) == [name] and norm(parsed[name]) == norm(dict(source))


def _exact_floats(node: Any) -> None:
    """Replace ruamel's ScalarFloat values by plain floats: ruamel re-writes some of them inexactly
    (``2.654577078986531e-12`` as ``2.654577078986530e-12``, ``1_000.5`` as ``01000.5``)."""
    items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
    for key, value in list(items):
        if isinstance(value, float) and type(value) is not float:
            node[key] = float(value)
        elif isinstance(value, (dict, list)):
            _exact_floats(value)


def _has_anchors(text: str) -> bool:
    if "&" not in text:
        return False

    try:
        events = yaml.parse(io.StringIO(text), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
        return any(getattr(e, "anchor", None) for e in events)
    except yaml.YAMLError:
        return True


@dataclass(frozen=True, kw_only=True)
class Spliced:
    """The new file (pieces: unchanged ranges of the old one are views, not copies) and the text
    (column 0) of each entry written, for the derived index."""

    pieces: tuple[bytes | memoryview, ...]
    rendered: dict[str, str]
    #: (old offset, delta): key lines at or after that offset of the old file moved by delta.
    shifts: tuple[tuple[int, int], ...] = ()
    #: Offset in the new file of the key line of each entry written (replaced or appended).
    placed: dict[str, int] = field(default_factory=dict)


def entry_span(b: bytes, layout: Layout, i: int) -> tuple[int, int, int]:
    """(lead, key, end) offsets of entry ``i``: comment/blank lines above it, its key line, the end of its body."""
    floor = layout.keys[i - 1][1] + 1 if i > 0 else layout.sources_line[1]
    key = layout.keys[i][1]
    lead = _back_over_lead(b, key, floor, layout.indent)
    if i + 1 < len(layout.keys):
        nxt = layout.keys[i + 1][1]
        end = _back_over_lead(b, nxt, key + 1, layout.indent)
    else:
        end = _back_over_lead(b, layout.block_end, key + 1, layout.indent)
    return lead, key, end


#: One edit of the file: (start, end, new bytes, entries placed in them as (name, offset in the new bytes)).
_Cut = tuple[int, int, bytes, tuple[tuple[str, int], ...]]


def _checker(b: bytes, layout: Layout, current: Mapping[str, Any]) -> Callable[[int], None]:
    """``check(i)``: :func:`verify` entry ``i`` (once; indices outside the entries are ignored)."""
    checked: set[int] = set()

    def check(i: int) -> None:
        if 0 <= i < len(layout.keys) and i not in checked:
            verify(b, layout, i, current[layout.keys[i][0]])
            checked.add(i)

    return check


def _edit_cuts(b: bytes, layout: Layout, changes: Mapping[str, Mapping[str, Any] | None],
               position: Mapping[str, int],
               check: Callable[[int], None]) -> tuple[list[_Cut], dict[str, str], list[tuple[str, bytes]]]:
    """The cuts replacing or removing the changed entries already in ``b`` (each checked with its neighbour
    above), the text of every entry rendered, and the new entries' blocks to append, in order."""
    cuts: list[_Cut] = []
    rendered: dict[str, str] = {}
    appended: list[tuple[str, bytes]] = []
    n = layout.indent
    for name, source in changes.items():
        i = position.get(name)
        if i is None:
            if source is None:
                continue
            text = render_entry(name, source)
            rendered[name] = text
            appended.append((name, _indent(text, n).encode("utf-8")))
            continue
        check(i - 1)
        check(i)
        lead, key, end = entry_span(b, layout, i)
        if source is None:
            cuts.append((lead, end, b"", ()))
            continue
        old = _dedent(b[key:end].decode("utf-8"), n)
        text = render_entry(name, source, old)
        rendered[name] = text
        cuts.append((key, end, _indent(text, n).encode("utf-8"), ((name, 0),)))
    return cuts, rendered, appended


def _append_cuts(b: bytes, layout: Layout, appended: list[tuple[str, bytes]],
                 check: Callable[[int], None]) -> list[_Cut]:
    """The cuts appending new entries after the last one (or after an empty ``sources:`` line)."""
    s0, s1 = layout.sources_line
    cuts: list[_Cut] = []
    lead_nl = b""
    if layout.keys:
        check(len(layout.keys) - 1)
        at = entry_span(b, layout, len(layout.keys) - 1)[2]
        if at > 0 and b[at - 1:at] != b"\n":
            lead_nl = b"\n"
    else:  # "sources:" or "sources: {}" -> "sources:", keeping a comment; the entries follow it
        at = s1
        line = re.sub(rb"^sources:[ ]*(?:\{\}[ ]*)?", b"sources:  " if b"#" in b[s0:s1] else b"sources:",
                      b[s0:s1].rstrip(b"\n"))
        cuts.append((s0, s1, line.rstrip(b" ") + b"\n", ()))
    placed, rel = [], len(lead_nl)
    for name, block in appended:
        placed.append((name, rel))
        rel += len(block)
    cuts.append((at, at, lead_nl + b"".join(block for _name, block in appended), tuple(placed)))
    return cuts


def _assemble(b: bytes, cuts: list[_Cut], rendered: dict[str, str]) -> Spliced:
    """``b`` with the cuts made (they must not overlap), where the placed entries start, and the shifts."""
    view = memoryview(b)
    cuts = sorted(cuts, key=lambda c: (c[0], c[1]))
    out: list[bytes | memoryview] = []
    pos = shift = 0
    shifts: list[tuple[int, int]] = []
    where: dict[str, int] = {}
    for start, end, data, names_at in cuts:
        if start < pos:
            raise Unhandled("overlapping edits")
        out.append(view[pos:start])
        out.append(data)
        pos = end
        for name, rel in names_at:
            where[name] = start + shift + rel
        delta = len(data) - (end - start)
        if delta:
            shifts.append((end, delta))
            shift += delta
    out.append(view[pos:])
    return Spliced(pieces=tuple(x for x in out if len(x)), rendered=rendered, shifts=tuple(shifts), placed=where)


def splice(b: bytes, layout: Layout, changes: Mapping[str, Mapping[str, Any] | None],
           current: Mapping[str, Any]) -> Spliced:
    """``b`` with the entries of ``changes`` replaced (a mapping), removed (None) or appended (new names).

    ``current`` holds the entries as the safe loader read them from ``b``: the text around every
    change is checked against it (:func:`verify`).  Every byte outside the changed entries is kept;
    a changed entry keeps its lead comments and the comments inside it.  Raises :class:`Unhandled`
    when an entry's text cannot be edited on its own.
    """
    names = layout.names
    if len(changes) <= 16:  # list.index runs in C: cheaper than a dict of 100,000 names
        position = {name: names.index(name) for name in changes if name in current}
    else:
        position = {name: i for i, name in enumerate(names)}
    check = _checker(b, layout, current)
    cuts, rendered, appended = _edit_cuts(b, layout, changes, position, check)
    s0, s1 = layout.sources_line
    if appended:
        cuts += _append_cuts(b, layout, appended, check)
    elif layout.keys and sum(1 for name, src in changes.items() if src is None and name in position) == layout.count:
        # the last entry goes: an empty mapping, not null (stock intake cannot read a null sources)
        cuts.append((s0, s1, re.sub(rb"^sources:[ ]*", b"sources: {}  " if b"#" in b[s0:s1] else b"sources: {}",
                                    b[s0:s1]), ()))
    return _assemble(b, cuts, rendered)


__all__ = ["Layout", "Spliced", "Unhandled", "entry_span", "layout_from_lines", "locate", "merge",
           "render_entry", "sparse_layout", "splice", "verify"]
