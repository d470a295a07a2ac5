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
unit new work; the same files listed by another tool (other mtime formatting) do too.  The paths
themselves are kept only when the campaign will run (a dry run keeps none).
"""

from __future__ import annotations

import hashlib
import multiprocessing
import os
import re
import threading
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..catalog import check_name
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
        fh = open(path, encoding="utf-8", errors="surrogateescape")
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


#: Bytes of the listing parsed at once by the vectorized path (about 100,000 lines).
BLOCK = 8 << 20
#: Powers of ten for the vectorized size parse (sizes of up to 18 digits; longer ones take the line path).
_POW10 = None


def _pow10() -> Any:
    global _POW10
    if _POW10 is None:
        # deferred: numpy costs ~0.1 s; a dry run without a large listing needs none
        import numpy as np

        _POW10 = np.array([10 ** k for k in range(19)], dtype=np.uint64)
    return _POW10


class _Grouper:
    """Accumulates the listing's lines into :class:`Group` s (see :func:`group_listing`)."""

    def __init__(self, listing: Path, template: str, pattern: str | None, template_fields: list[str],
                 keep_files: bool) -> None:
        self.listing = listing
        self.template = template
        self.pattern = pattern
        self.fields_of = _fields_fn(template_fields, pattern)
        self.per_dir = set(template_fields) <= {"parent"} and pattern is None
        self.base = str(listing.parent)
        self.keep_files = keep_files
        self.names: dict[bytes, str] = {}
        self.groups: dict[str, Group] = {}

    def name_of(self, path: str) -> str:
        fields = self.fields_of(path)
        if fields is None:
            raise CampaignError(f"{path}: file name does not match inputs.pattern {self.pattern!r}")
        try:
            name = self.template.format(**fields)
        except KeyError as exc:
            raise CampaignError(f"{path}: inputs.pattern group {exc} did not match this file name") from None
        if name not in self.groups:
            try:
                check_name(name)
            except GeoshelfError:
                raise CampaignError(f"{path}: inputs.name {self.template!r} gives {name!r}, not a valid entry name "
                                    "(letters, digits, '_' or '-', starting with a letter)") from None
        return name

    def _group(self, key: bytes, path: bytes) -> Group:
        """The group of a file whose grouping key (its directory, or itself) is ``key``."""
        name = self.names.get(key) if self.per_dir else None
        if name is None:
            name = self.name_of(path.decode(errors="surrogateescape"))
            if self.per_dir:
                self.names[key] = name
        g = self.groups.get(name)
        if g is None:
            g = self.groups[name] = Group(first=path.decode(errors="surrogateescape"))
        return g

    def lines(self, lines: list[bytes], first_no: int) -> None:
        """The exact path, one line at a time: relative paths, comments, any number ``int()``/``float()`` take;
        a bad line raises naming the file and its line number."""
        sha = hashlib.sha256
        from_bytes = int.from_bytes
        per_dir = self.per_dir
        for n, line in enumerate(lines, first_no):
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
                raise CampaignError(f"{self.listing}: line {n}: {why}: {line[:200]!r}") from None
            if p[:1] != b"/" and b"://" not in p:
                p = os.path.normpath(os.path.join(self.base, p.decode(errors="surrogateescape"))).encode(
                    errors="surrogateescape")
            g = self._group(p.rpartition(b"/")[0] if per_dir else p, p)
            g.count += 1
            g.bytes += size
            g.digest += from_bytes(sha(line).digest()[:16], "big")
            if self.keep_files:
                g.files.append(p.decode(errors="surrogateescape"))

    def block(self, data: bytes, first_no: int) -> None:
        """Lines ``data`` (each ending in a newline) at a few numpy operations per block and one sha256 call per
        line, for the common listing: absolute paths grouped by directory, decimal sizes and mtimes.  Anything
        else (a comment, a relative path, a bad line...) is handed to :meth:`lines`, which gives the same
        result or names the bad line."""
        lines = data.split(b"\n")
        lines.pop()  # after the last newline
        runs = _runs(data, lines) if self.per_dir else None
        if runs is None:
            self.lines(lines, first_no)
            return
        for directory, first, count, size, digest, at in runs:
            self.add(directory, first, count, size, digest)
            if self.keep_files:
                self.groups[self.names[directory]].files.extend(
                    ln.partition(b"\t")[0].decode(errors="surrogateescape") for ln in lines[at:at + count])

    def add(self, directory: bytes, first: bytes, count: int, size: int, digest: int) -> None:
        """``count`` files of ``directory`` (the first one's path ``first``), their bytes and digest."""
        g = self._group(directory, first)
        g.count += count
        g.bytes += size
        g.digest += digest


def _runs(data: bytes, lines: list[bytes]) -> list[tuple[bytes, bytes, int, int, int, int]] | None:
    """The runs of consecutive lines of one directory in ``data`` (its ``lines``): directory, first path,
    file count, bytes, digest (not reduced modulo 2**128) and index of the run's first line; None when a
    line is not of the plain form (absolute path, decimal size and mtime): the line path reads those."""
    # deferred: numpy costs ~0.1 s; a dry run without a large listing needs none
    import numpy as np

    a = np.frombuffer(data, dtype=np.uint8)
    ends = np.flatnonzero(a == 10)
    n = len(ends)
    starts = np.empty(n, dtype=np.int64)
    starts[0], starts[1:] = 0, ends[:-1] + 1
    tabs = np.flatnonzero(a == 9)
    if len(tabs) != 2 * n or not (a[starts] == 47).all():  # a comment, a blank or relative path, a bad line
        return None
    t1, t2 = tabs[0::2], tabs[1::2]
    # every line has exactly two tabs (counts equal and each pair inside its line), no column empty
    if not ((t1 > starts).all() and (t2 > t1 + 1).all() and (ends > t2 + 1).all()):
        return None
    slen, mlen = t2 - t1 - 1, ends - t2 - 1
    if slen.max() > 18 or mlen.max() > 32:
        return None
    # sizes: decimal digits only; value = sum of digit * 10^(places to the right), read right to left
    width = int(slen.max())
    place = np.arange(width)
    inside = place < slen[:, None]
    digits = a[np.maximum(t2[:, None] - 1 - place, 0)] - np.uint8(48)
    if (digits[inside] > 9).any():
        return None
    sizes = (np.where(inside, digits, 0).astype(np.uint64) * _pow10()[:width]).sum(axis=1, dtype=np.uint64)
    # mtimes: digits and at most one '.', at least one digit (what float() of find's %T@ takes)
    width = int(mlen.max())
    place = np.arange(width)
    inside = place < mlen[:, None]
    chars = a[np.minimum(t2[:, None] + 1 + place, len(a) - 1)]
    dot = (chars == 46) & inside
    if ((chars - np.uint8(48) > 9) & ~dot & inside).any():
        return None
    dots = dot.sum(axis=1)
    if (dots > 1).any() or (dots >= mlen).any():
        return None
    # digest: the first 16 bytes of each line's sha256 as four big-endian 32-bit limbs (summed exactly)
    sha = hashlib.sha256
    limbs = np.frombuffer(b"".join([sha(ln).digest() for ln in lines]), dtype=">u4").reshape(n, 8)[:, :4]
    # groups: runs of lines in the same directory (a listing from find keeps a directory together): a
    # line starts a run unless its directory has the length and the bytes of the line before's
    slashes = np.flatnonzero(a == 47)
    last = slashes[np.searchsorted(slashes, t1) - 1]
    dlen = last - starts
    same = np.zeros(n, dtype=bool)
    same[1:] = dlen[1:] == dlen[:-1]
    width = int(dlen.max())
    if width <= 256:
        place = np.arange(width)
        here = a[np.minimum(starts[:, None] + place, len(a) - 1)]
        same[1:] &= ((here[1:] == here[:-1]) | (place >= dlen[1:, None])).all(axis=1)
    else:  # long directory names: compare them as bytes objects
        dirs = np.array([data[i:j] for i, j in zip(starts.tolist(), last.tolist(), strict=True)], dtype=object)
        same[1:] &= dirs[1:] == dirs[:-1]
    runs = np.flatnonzero(~same)
    s_list, l_list = starts.tolist(), last.tolist()
    counts = np.diff(np.concatenate((runs, [n])))
    run_bytes = np.add.reduceat(sizes, runs).tolist()
    run_limbs = np.add.reduceat(limbs.astype(np.uint64), runs, axis=0).tolist()
    t1_list = t1.tolist()
    out = []
    for j, (r, c) in enumerate(zip(runs.tolist(), counts.tolist(), strict=True)):
        s = s_list[r]
        l0, l1, l2, l3 = run_limbs[j]
        out.append((data[s:l_list[r]], data[s:t1_list[r]], c, run_bytes[j], (l0 << 96) + (l1 << 64) + (l2 << 32) + l3,
                    r))
    return out


#: Listings at least this big (dry runs, entries named by directory) are read by several processes.
PARALLEL_MIN = 64 << 20
#: At most this many processes read one listing.
MAX_WORKERS = 8


#: Environment variable: how many processes read a big listing (1: the driver alone).
ENV_READERS = "GEOSHELF_LISTING_READERS"


def reader_processes() -> int:
    """Processes to read a listing with: ``$GEOSHELF_LISTING_READERS``, else the CPUs this process may run on
    (at most :data:`MAX_WORKERS`)."""
    text = os.environ.get(ENV_READERS, "").strip()
    if text:
        try:
            n = int(text)
            if n < 1:
                raise ValueError
        except ValueError:
            raise CampaignError(f"${ENV_READERS}={text!r}: expected a whole number of processes, 1 or more") from None
        return n
    try:
        n = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        n = os.cpu_count() or 1
    return max(1, min(MAX_WORKERS, n))


def _blocks(fh: Any, size: int) -> Iterator[bytes]:
    """Blocks of whole lines (each ending in a newline) from the next ``size`` bytes of ``fh`` (which end at
    a line start or at the end of the file)."""
    rest = b""
    while size > 0:
        chunk = fh.read(min(BLOCK, size))
        if not chunk:
            break
        size -= len(chunk)
        data = rest + chunk
        cut = data.rfind(b"\n") + 1
        data, rest = data[:cut], data[cut:]
        if data:
            yield data
    if rest:
        yield rest + b"\n"


def _read_range(listing: str, start: int, size: int) -> list[tuple[bytes, bytes, int, int, int]] | None:
    """In a worker process: the directories of the listing's lines in ``size`` bytes from ``start`` (a line
    start), each with its first path, file count, bytes and digest, in order of first appearance; None when
    a line is not of the plain form (the driver then reads that range line by line)."""
    merged: dict[bytes, list[Any]] = {}
    with open(listing, "rb") as fh:
        fh.seek(start)
        for data in _blocks(fh, size):
            lines = data.split(b"\n")
            lines.pop()
            runs = _runs(data, lines)
            if runs is None:
                return None
            for directory, first, count, nbytes, digest, _ in runs:
                m = merged.get(directory)
                if m is None:
                    merged[directory] = [first, count, nbytes, digest]
                else:
                    m[1] += count
                    m[2] += nbytes
                    m[3] += digest
    return [(d, m[0], m[1], m[2], m[3]) for d, m in merged.items()]


def _ranges(listing: Path, total: int, parts: int) -> list[tuple[int, int]]:
    """``parts`` byte ranges of the listing, each starting at a line start."""
    cuts = [0]
    with open(listing, "rb") as fh:
        for k in range(1, parts):
            fh.seek(max(cuts[-1], total * k // parts))
            fh.readline()  # to the next line start
            if fh.tell() < total and fh.tell() > cuts[-1]:
                cuts.append(fh.tell())
    cuts.append(total)
    return [(a, b - a) for a, b in zip(cuts, cuts[1:], strict=False)]


def _group_in_parallel(grouper: _Grouper, listing: Path, total: int, workers: int) -> None:
    """Read the listing's ranges in ``workers`` processes and merge them in order (a range a worker cannot
    read, e.g. one holding a comment or a bad line, is read here line by line, its errors numbered)."""
    ranges = _ranges(listing, total, workers)
    # fork is cheap (nothing to import again) and safe while this process runs no other thread
    method = "fork" if "fork" in multiprocessing.get_all_start_methods() and threading.active_count() == 1 \
        else "spawn"
    with ProcessPoolExecutor(max_workers=len(ranges), mp_context=multiprocessing.get_context(method)) as pool:
        futures = [pool.submit(_read_range, str(listing), start, size) for start, size in ranges]
        for (start, size), fut in zip(ranges, futures, strict=True):
            found = fut.result()
            if found is not None:
                for directory, first, count, nbytes, digest in found:
                    grouper.add(directory, first, count, nbytes, digest)
                continue
            with open(listing, "rb") as fh:
                line_no = 1 + sum(block.count(b"\n") for block in _blocks(fh, start)) if start else 1
                fh.seek(start)
                for data in _blocks(fh, size):
                    grouper.block(data, line_no)
                    line_no += data.count(b"\n")


def group_listing(listing: Path, template: str, pattern: str | None, template_fields: list[str], *,
                  keep_files: bool, stats: dict[str, int] | None = None) -> dict[str, Group]:
    """Entry name -> :class:`Group` of the listing's files, by the spec's name template and pattern.

    One pass over the bytes of the listing, in blocks: when the template depends on the directory only
    (``{parent}``), a block's lines are checked, their sizes summed and their digests added with numpy
    (Python runs once per directory, not per line); other templates compute a name per file.  A dry run's
    listing of :data:`PARALLEL_MIN` bytes or more is read by :func:`reader_processes` processes, each a
    range of it (``stats["readers"]`` says how many were used)."""
    grouper = _Grouper(listing, template, pattern, template_fields, keep_files)
    try:
        fh = open(listing, "rb")
    except OSError as exc:
        raise CampaignError(f"{listing}: cannot read listing: {exc.strerror}") from None
    with fh:
        total = os.fstat(fh.fileno()).st_size
        workers = reader_processes()
        if grouper.per_dir and not keep_files and total >= PARALLEL_MIN and workers > 1:
            _group_in_parallel(grouper, listing, total, workers)
            if stats is not None:
                stats["readers"] = workers
        else:
            line_no = 1
            for data in _blocks(fh, total):
                grouper.block(data, line_no)
                line_no += data.count(b"\n")
    if not grouper.groups:
        raise CampaignError(f"{listing}: the listing names no files")
    for g in grouper.groups.values():
        g.digest &= _MASK
    return grouper.groups


__all__ = ["Group", "group_listing", "mtime_ns", "read_listing", "reader_processes"]
