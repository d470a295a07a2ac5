"""Benchmarks: each geoshelf measurement beside its baseline, in the same run.

``python scripts/bench.py --size small`` (or ``geoshelf bench``) generates data, measures,
and writes ``docs/benchmarks.md`` plus a JSON file of the raw numbers.  Timings are the
median of ``--repeat`` runs.  Reads are warm (page cache) unless ``--cold`` is given, which
drops the page cache before each cold read (root only).  ``--only 7,9`` runs some rows and
replaces just those rows in existing reports; ``--skip 7c`` leaves rows out of a group that
can skip them (row 7c, the slow value-by-value check), keeping their previous results.

Modules: ``report`` (rows, reports), ``reads`` (1-3), ``convert`` (4, 6), ``memory`` (5), ``references``
(7, 7b, 7c), ``campaigns`` (9, 10), ``catalog_scale`` (8, 8b, 14a-14d: the cost of an edit),
``opens`` (11: open cost by file count), ``chunks`` (12: reduction with default chunks),
``planning`` (13: campaign planning from a listing, 10k to 10M paths).
"""

from __future__ import annotations

import argparse
import importlib
import shlex
import sys
import warnings
from collections.abc import Callable
from pathlib import Path

from .context import Context
from .memory import memory_bound
from .report import Row, judge, machine, merge, read_json, write_json, write_markdown
from .sched import autogroup_warning

#: Measurement groups in run order: (row ids, "module:function").
GROUPS: list[tuple[tuple[str, ...], str]] = [
    (("4", "4b", "6"), "convert:conversion"),
    (("1a", "1b", "1c", "1d", "2", "3a", "3b"), "reads:reads"),
    (("5",), "memory:memory_row"),
    (("8",), "catalog_scale:catalog_10k"),
    (("8b",), "catalog_scale:catalog_1m"),
    (("14a", "14b"), "catalog_scale:edit_cost"),
    (("14c", "14d"), "catalog_scale:campaign_commit"),
    (("7", "7b", "7c"), "references:references_rows"),
    (("9",), "campaigns:cog_campaign"),
    (("10a",), "campaigns:campaign_overhead"),
    (("10b",), "campaigns:jobs_planned"),
    (("11a", "11b", "11c"), "opens:opens"),
    (("12",), "chunks:reduction"),
    (("13a", "13b", "13c", "13d"), "planning:planning"),
]


#: Rows a measurement group can leave out (``--skip``): 7c, the value-by-value check of references.
SKIPPABLE = frozenset({"7c"})


def _selected(ids: tuple[str, ...], only: set[str] | None) -> bool:
    if not only:
        return True
    return any(i in only or i.rstrip("abcdefgh") in only for i in ids)


def _function(ref: str) -> Callable[[Context], list[Row]]:
    module, name = ref.split(":")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)


def run(size: str = "small", workdir: Path | None = None, repeat: int = 3, cold: bool = False,
        out_md: Path | None = None, out_json: Path | None = None, log: Callable[[str], None] = print,
        only: set[str] | None = None, command: str = "", skip: set[str] | None = None) -> list[Row]:
    """Run the measurements at ``size`` (those of ``only`` if given); write the reports if paths are given.

    With ``only`` or ``skip`` (rows a group leaves out: :data:`SKIPPABLE`), rows already in ``out_json``
    that were not measured now are kept (and shown).
    """
    skip = skip or set()
    if skip - SKIPPABLE:
        raise ValueError(f"--skip: only {', '.join(sorted(SKIPPABLE))} can be skipped, not "
                         f"{', '.join(sorted(skip - SKIPPABLE))}")
    warnings.simplefilter("ignore")
    root = (workdir or Path.cwd() / "bench-work").resolve() / size
    root.mkdir(parents=True, exist_ok=True)
    ctx = Context(size=size, root=root, repeat=repeat, cold=cold, log=log, skip=frozenset(skip))
    command = command or f"python scripts/bench.py --size {size} --repeat {repeat}" + (" --cold" if cold else "")
    host = machine()
    rows: list[Row] = []
    for ids, ref in GROUPS:
        if not _selected(ids, only):
            continue
        log(f"measuring {', '.join(ids)} ...")
        for r in _function(ref)(ctx):
            judge(r)
            r.machine, r.command = host, command
            rows.append(r)
    report = merge(read_json(out_json) if ((only or skip) and out_json) else [], rows)
    if out_md:
        write_markdown(report, out_md, command, repeat, ctx.temp)
    if out_json:
        write_json(report, out_json, size=size, repeat=repeat, reads=ctx.temp, command=command)
    return rows


def _public_args(args: list[str]) -> list[str]:
    """The arguments worth quoting in a report (not where files were written)."""
    out, skip = [], False
    for x in args:
        if skip:
            skip = False
        elif x in ("--out", "--json", "--workdir"):
            skip = True
        elif not x.startswith(("--out=", "--json=", "--workdir=")):
            out.append(x)
    return out


#: The size whose results docs/benchmarks.md documents: only a run at this size (or ``--write-docs``)
#: replaces its rows.
DOCUMENTED_SIZE = "medium"
DOCS_MD = Path("docs/benchmarks.md")
DOCS_JSON = Path("docs/benchmarks.json")


def report_paths(size: str, out: Path | None, out_json: Path | None, write_docs: bool,
                 workdir: Path | None) -> tuple[Path, Path, str | None]:
    """Where a run writes its reports, and a note when that is not the docs.

    Explicit ``--out`` / ``--json`` win.  Otherwise a run at :data:`DOCUMENTED_SIZE` (or with
    ``write_docs``) updates ``docs/benchmarks.md``/``.json``; any other size writes beside its data
    (``<workdir>/<size>/benchmarks.md``), so a quick tiny run never replaces the documented rows.
    """
    if write_docs or size == DOCUMENTED_SIZE:
        return out or DOCS_MD, out_json or DOCS_JSON, None
    root = (workdir or Path.cwd() / "bench-work").resolve() / size
    md, js = out or root / "benchmarks.md", out_json or root / "benchmarks.json"
    note = None
    if out is None or out_json is None:
        note = (f"--size {size} is not the documented size ({DOCUMENTED_SIZE}): reports written to {md} and {js}, "
                f"{DOCS_MD} is left as it is (--write-docs replaces its rows)")
    return md, js, note


def main(argv: list[str] | None = None) -> int:
    """The command line of ``scripts/bench.py`` and ``geoshelf bench``."""
    p = argparse.ArgumentParser(prog="geoshelf bench", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--size", default="small", choices=["tiny", "small", "medium", "large"])
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--cold", action="store_true", help="drop the page cache before each read (root)")
    p.add_argument("--workdir", type=Path, default=None)
    p.add_argument("--out", type=Path, default=None,
                   help=f"Markdown report (default: {DOCS_MD} at --size {DOCUMENTED_SIZE} or with --write-docs, "
                   "else WORKDIR/SIZE/benchmarks.md)")
    p.add_argument("--json", type=Path, default=None, help="JSON report (default: beside the Markdown one, as --out)")
    p.add_argument("--write-docs", action="store_true",
                   help=f"update {DOCS_MD} even though --size is not {DOCUMENTED_SIZE}")
    p.add_argument("--only", default=None,
                   help="comma-separated rows to run, e.g. 7,9,10,8b (1 = 1a-1d, 3 = 3a+3b, 10 = 10a+10b, 14 = "
                        "14a-14d)")
    p.add_argument("--skip", default=None,
                   help="comma-separated rows to leave out of their group, keeping their previous results: "
                   + ", ".join(sorted(SKIPPABLE)) + " (the value-by-value references check, the slowest row)")
    a = p.parse_args(argv)
    only = {s.strip() for s in a.only.split(",") if s.strip()} if a.only else None
    skip = {s.strip() for s in a.skip.split(",") if s.strip()} if a.skip else set()
    if skip - SKIPPABLE:
        p.error(f"--skip: only {', '.join(sorted(SKIPPABLE))} can be skipped")
    command = "python scripts/bench.py " + " ".join(shlex.quote(x) for x in _public_args(
        sys.argv[1:] if argv is None else argv))
    out_md, out_json, note = report_paths(a.size, a.out, a.json, a.write_docs, a.workdir)
    if note:
        print(note, file=sys.stderr)
    if warning := autogroup_warning():
        print(warning, file=sys.stderr)
    rows = run(a.size, a.workdir, a.repeat, a.cold, out_md, out_json, log=lambda m: print(m, file=sys.stderr),
               only=only, command=command.strip(), skip=skip)
    for r in rows:
        print(f"{r.ratio:9.2f}x  {'ok ' if r.met else '-   ' if r.met is None else 'MISS'}  {r.measurement}")
    return 0


__all__ = ["DOCUMENTED_SIZE", "GROUPS", "SKIPPABLE", "Row", "main", "memory_bound", "report_paths", "run"]
