"""Campaign inputs from a **listing file**, so planning needs no ``stat`` of the archive.

One file per line: ``path<TAB>size<TAB>mtime`` with the modification time in seconds since the
epoch (fractions allowed), as ``find /data -type f -printf '%p\\t%s\\t%T@\\n'`` writes it or a
parallel file system's policy engine can (GPFS ``mmapplypolicy`` with a LIST rule showing
``FILE_SIZE`` and ``MODIFICATION_TIME`` as seconds, reformatted to these three columns).  Lines
starting with ``#`` and blank lines are skipped; relative paths are relative to the listing's
directory.

Planning streams the listing once, in bounded memory per *unit* (not per file): each unit keeps
its file count, bytes, and an order-independent digest of its files (the sum of the sha256 of each
line's text, modulo 2^128), from which its id is made: a file whose size or mtime changed makes its
unit new work; the same files listed by another tool (other mtime formatting) do too.  The paths themselves are kept only when the
campaign will run (a dry run keeps none).
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import CampaignError, GeoshelfError

_MASK = (1 << 128) - 1


@dataclass
class Group:
    """A unit being planned from a listing: what its id and report need, and optionally its paths."""

    count: int = 0
    bytes: int = 0
    digest: int = 0
    first: str = ""
    files: list[str] = field(default_factory=list)


def mtime_ns(text: str) -> int:
    """``1732541234.1234567890`` (seconds) -> nanoseconds, exactly (no float rounding)."""
    whole, _, frac = text.partition(".")
    return int(whole) * 1_000_000_000 + (int((frac + "000000000")[:9]) if frac else 0)


def read_listing(path: Path) -> Iterator[tuple[str, int, int]]:
    """``(path, size, mtime_ns)`` of every line; a :class:`CampaignError` names the file and line."""
    base = str(path.parent)
    try:
        fh = open(path, encoding="utf-8", errors="surrogateescape")  # noqa: SIM115 - closed below
    except OSError as exc:
        raise CampaignError(f"{path}: cannot read listing: {exc.strerror}") from None
    with fh:
        for n, line in enumerate(fh, 1):
            line = line.rstrip("\n")
            if not line or line[0] == "#":
                continue
            parts = line.split("\t")
            try:
                if len(parts) != 3:
                    raise ValueError(f"expected 3 tab-separated columns (path, size, mtime), found {len(parts)}")
                p, size, mtime = parts
                if not p:
                    raise ValueError("empty path")
                yield (p if p[0] == "/" or "://" in p else os.path.normpath(os.path.join(base, p))), int(size), \
                    mtime_ns(mtime)
            except ValueError as exc:
                raise CampaignError(f"{path}: line {n}: {exc}: {line[:200]!r}") from None


def _fields_fn(template_fields: list[str], pattern: str | None) -> Any:
    """A fast function path -> name-template fields (plain string operations, no pathlib)."""
    rx = re.compile(pattern) if pattern else None
    need = set(template_fields)

    def fields(path: str) -> dict[str, str] | None:
        parent, _, name = path.rpartition("/")
        out: dict[str, str] = {}
        if "name" in need:
            out["name"] = name
        if "parent" in need:
            out["parent"] = parent.rpartition("/")[2]
        if "stem" in need or "suffix" in need:
            dot = name.rfind(".")
            stem, suffix = (name[:dot], name[dot + 1:]) if dot > 0 else (name, "")
            out["stem"], out["suffix"] = stem, suffix
        if rx is not None:
            m = rx.search(name)
            if m is None:
                return None
            out.update({k: v for k, v in m.groupdict().items() if v is not None})
        return out

    return fields


def group_listing(listing: Path, template: str, pattern: str | None, template_fields: list[str], *,
                  keep_files: bool) -> dict[str, Group]:
    """Entry name -> :class:`Group` of the listing's files, by the spec's name template and pattern.

    One pass over the bytes of the listing (~2 us a line): names are computed once per directory when
    the template depends on the directory only (``{parent}``), else once per file."""
    from ..catalog import check_name

    fields_of = _fields_fn(template_fields, pattern)
    per_dir = set(template_fields) <= {"parent"} and pattern is None
    base = str(listing.parent)
    names: dict[bytes, str] = {}
    groups: dict[str, Group] = {}
    sha = hashlib.sha256
    from_bytes = int.from_bytes

    def name_of(path: str) -> str:
        fields = fields_of(path)
        if fields is None:
            raise CampaignError(f"{path}: file name does not match inputs.pattern {pattern!r}")
        try:
            name = template.format(**fields)
        except KeyError as exc:
            raise CampaignError(f"{path}: inputs.pattern group {exc} did not match this file name") from None
        if name not in groups:
            try:
                check_name(name)
            except GeoshelfError:
                raise CampaignError(f"{path}: inputs.name {template!r} gives {name!r}, not a valid entry name "
                                    "(letters, digits, '_' or '-', starting with a letter)") from None
        return name

    try:
        fh = open(listing, "rb")  # noqa: SIM115 - closed below
    except OSError as exc:
        raise CampaignError(f"{listing}: cannot read listing: {exc.strerror}") from None
    with fh:
        for n, raw in enumerate(fh, 1):
            line = raw.rstrip(b"\n")
            if not line or line[:1] == b"#":
                continue
            parts = line.split(b"\t")
            try:
                p, size_b, mtime_b = parts
                size = int(size_b)
                float(mtime_b)
                if not p:
                    raise ValueError("empty path")
            except ValueError as exc:
                why = (f"expected 3 tab-separated columns (path, size, mtime), found {len(parts)}"
                       if len(parts) != 3 else str(exc))
                raise CampaignError(f"{listing}: line {n}: {why}: {line[:200]!r}") from None
            if p[:1] != b"/" and b"://" not in p:
                p = os.path.normpath(os.path.join(base, p.decode(errors="surrogateescape"))).encode(
                    errors="surrogateescape")
            key = p.rpartition(b"/")[0] if per_dir else p
            name = names.get(key) if per_dir else None
            if name is None:
                name = name_of(p.decode(errors="surrogateescape"))
                if per_dir:
                    names[key] = name
            g = groups.get(name)
            if g is None:
                g = groups[name] = Group(first=p.decode(errors="surrogateescape"))
            g.count += 1
            g.bytes += size
            g.digest += from_bytes(sha(line).digest()[:16], "big")
            if keep_files:
                g.files.append(p.decode(errors="surrogateescape"))
    if not groups:
        raise CampaignError(f"{listing}: the listing names no files")
    for g in groups.values():
        g.digest &= _MASK
    return groups


__all__ = ["Group", "group_listing", "mtime_ns", "read_listing"]
