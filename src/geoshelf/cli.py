"""The ``geoshelf`` command: thin argument parsing over the library.

Expected failures (:class:`GeoshelfError`) print one line on stderr and exit non-zero;
anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

from ruamel.yaml import YAML

from . import __version__
from .campaign.cli import add_campaign_commands
from .catalog import Catalog, add_entry, check_name, remove_entry
from .catalog.html import _size as size
from .catalog.lint import lint
from .catalog.locate import configured_catalog_path, default_catalog_path, demo_catalog_path
from .catalog.relocate import relocate
from .errors import GeoshelfError, GeoshelfWarning
from .intake_view import write_intake_view
from .registry import get_target, list_targets, target_names
from .serve.cli import add_serve_commands
from .stac.cli import add_stac_commands


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # one line, not usage + line
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def _catalog_path(args: argparse.Namespace) -> Path:
    return Path(args.catalog).expanduser() if args.catalog else default_catalog_path()


def _catalog_to_write(args: argparse.Namespace, command: str) -> Path:
    """The catalog an editing command writes: ``--catalog`` or the configured one; never the bundled
    demo by default (a data manager's entries would land in generated demo data)."""
    if args.catalog:
        return Path(args.catalog).expanduser()
    configured = configured_catalog_path()
    if configured is None:
        raise GeoshelfError(
            f"no catalog configured: `geoshelf {command}` will not edit the demo catalog ({demo_catalog_path()}) "
            "unless asked; pass --catalog FILE (e.g. --catalog catalogs/site.yaml, or the demo's own path), "
            "or set GEOSHELF_CATALOG")
    return configured


def _open(args: argparse.Namespace) -> Any:
    return Catalog(_catalog_path(args))


def _size(n: int) -> str:
    return size(n)


def _kv(items: Sequence[str] | None, what: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in items or ():
        if "=" not in item:
            raise GeoshelfError(f"{what} {item!r} is not KEY=VALUE")
        k, v = item.split("=", 1)
        try:
            out[k] = json.loads(v)
        except ValueError:
            out[k] = v
    return out


# -- commands ------------------------------------------------------------------------------

def cmd_add(args: argparse.Namespace) -> int:
    # deferred: scan imports xarray (~1 s); only adding files needs it
    from .scan import scan

    path = _catalog_to_write(args, "add")
    check_name(args.name)
    if path.exists() and not args.update and args.name in Catalog(path):
        raise GeoshelfError(f"{path}: an entry named {args.name!r} already exists (use --update to re-scan it)")
    if args.untag and not args.update:
        raise GeoshelfError("--untag removes tags of an existing entry: use it with --update")
    extra = {k: v for k, v in (("contact", args.contact), ("license", args.license)) if v}
    so = _kv(args.storage_option, "--storage-option")
    entry = scan(args.paths, args.name, catalog_dir=str(path.expanduser().resolve().parent),
                 description=args.description or "", tags=args.tag or [], storage_options=so or None,
                 progress=_progress(f"scanning {args.name}", minimum=PROGRESS_MIN_FILES), **extra)
    if args.update and path.exists() and args.name in (cat := Catalog(path)):
        old = cat[args.name]
        entry = entry.replace(representations=old.representations,
                              description=entry.description or old.description,
                              tags=merge_tags(old.tags, args.tag or [], args.untag or []),
                              contact=entry.contact or old.contact,
                              license=entry.license or old.license, extra_metadata=old.extra_metadata)
    add_entry(path, entry, overwrite=args.update)
    print(f"{'updated' if args.update else 'added'} {args.name}: {entry.files} {entry.format} files, "
          f"{_size(entry.bytes)}, variables {', '.join(entry.variables) or '-'} -> {path}")
    return 0


def merge_tags(old: Sequence[str], add: Sequence[str], remove: Sequence[str]) -> list[str]:
    """Tags after ``--tag`` (added, in order, once) and ``--untag`` (removed)."""
    drop = set(remove)
    return [t for t in dict.fromkeys([*old, *add]) if t not in drop]


def cmd_remove(args: argparse.Namespace) -> int:
    path = _catalog_to_write(args, "remove")
    remove_entry(path, args.name)
    print(f"removed {args.name} from {path} (no data was touched)")
    return 0


def _entry_summary(name: str, e: Any) -> dict[str, Any]:
    return {"name": name, "description": e.description, "format": e.format, "variables": e.variables,
            "time_range": list(e.time_range) if e.time_range else None, "files": e.files, "bytes": e.bytes,
            "representations": [r.kind for r in e.representations], "tags": e.tags}


def _print_table(rows: list[tuple[str, Any]]) -> None:
    if not rows:
        print("(no entries)")
        return
    width = max(len(n) for n, _ in rows)
    for name, e in rows:
        reps = ",".join(["original"] + [r.kind for r in e.representations])
        time = f"{e.time_range[0][:10]}..{e.time_range[1][:10]}" if e.time_range else "-"
        print(f"{name:<{width}}  {e.format:<8} {e.files:>6} files {_size(e.bytes):>9}  {time:<22} [{reps}]"
              f"  {e.description}")


def cmd_list(args: argparse.Namespace) -> int:
    cat = _open(args)
    rows = list(cat.walk())
    if args.json:
        print(json.dumps([_entry_summary(n, e) for n, e in rows], indent=2))
    else:
        _print_table(rows)
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    cat = _open(args)
    e = cat[args.name]
    if not hasattr(e, "to_source"):
        print(f"{args.name}: included catalog {e.path} ({len(e)} entries)")
        return 0
    if args.json:
        print(json.dumps({"name": e.name, **e.to_source()}, indent=2, default=str))
        return 0

    y = YAML()
    y.default_flow_style = False
    y.dump({e.name: e.to_source()}, sys.stdout)
    return 0


def cmd_search(args: argparse.Namespace) -> int:
    cat = _open(args)
    facets: dict[str, list[str]] = {}
    for item in args.facet or ():
        if "=" not in item:
            raise GeoshelfError(f"--facet {item!r} is not KEY=VALUE")
        key, value = item.split("=", 1)
        facets.setdefault(key, []).append(value)
    hits = cat.search(args.text, variable=args.variable, time=args.time, bbox=args.bbox, tags=args.tag,
                      standard_name=args.standard_name, long_name=args.long_name, **facets)
    if args.json:
        print(json.dumps([_entry_summary(n, e) for n, e in hits.items()], indent=2))
    else:
        _print_table(list(hits.items()))
    return 0


def cmd_intake_view(args: argparse.Namespace) -> int:
    path = write_intake_view(_catalog_path(args))
    print(f"wrote {path} (rewritten by every convert from now on)")
    return 0


def cmd_open(args: argparse.Namespace) -> int:
    cat = _open(args)
    obj = cat[args.name].to_dask(representation=args.representation)
    print(obj)
    return 0


def cmd_lint(args: argparse.Namespace) -> int:
    path = _catalog_path(args)
    problems = lint(path, open_representations=not args.no_open)
    if path.is_file():
        # deferred: the convert package costs ~5-10 ms at start-up; only lint and convert need it
        from .convert.record import lint_journals

        problems += lint_journals(path)
    for p in problems:
        print(p)
    orphans = []
    if not any(p.entry == "(catalog)" for p in problems):
        # deferred: shelf imports the convert package (~5-10 ms at start-up); only lint and gc need it
        from .shelf import find_orphans

        orphans = find_orphans(path)
    for o in orphans:
        print(f"warning: (shelf): output no entry names: {o.path} ({_size(o.bytes)}; `geoshelf gc` removes it)")
    errors = sum(p.level == "error" for p in problems)
    print(f"{path}: {errors} errors, {len(problems) - errors + len(orphans)} warnings")
    return 1 if errors else 0


def cmd_dedupe(args: argparse.Namespace) -> int:
    # deferred: dedupe imports numpy (~70 ms at start-up); only this command needs it
    from .dedupe import dedupe

    cat = None
    try:
        cat = Catalog(_catalog_path(args))
    except GeoshelfError:
        if args.catalog:
            raise
    progress = _progress("hashing") if not args.json else None
    report = dedupe(args.paths, cat, progress=progress)
    if args.json:
        print(json.dumps(report.to_dict(), indent=2))
        return 0
    for g in report.groups:
        print(f"{len(g.files)} copies of the same data ({_size(g.reclaimable)} reclaimable), keep {g.keep}:")
        for f, s in zip(g.files, g.sizes, strict=True):
            tag = f"  [catalogued: {g.catalogued[f]}]" if f in g.catalogued else ""
            kind = f", {g.kinds[f]}" if g.kinds.get(f) else ""
            print(f"  {'*' if f == g.keep else ' '} {f} ({_size(s)}{kind}){tag}")
        if g.repoint:
            print(f"  (before removing copies, point {', '.join(g.repoint)} at {g.keep}: `geoshelf add ... --update`)")
    for d in report.datasets:
        print(f"dataset {d.location}: {d.files} files ({_size(d.bytes)}) duplicate catalogued entry "
              f"{d.duplicates_entry}")
    for err in report.errors:
        print(f"skipped: {err}", file=sys.stderr)
    print(f"{report.files_scanned} files scanned, {len(report.groups)} duplicate groups, "
          f"{_size(report.reclaimable)} reclaimable (nothing was deleted)")
    return 0


def cmd_gc(args: argparse.Namespace) -> int:
    # deferred: shelf imports the convert package (~5-10 ms at start-up); only gc needs it
    from .shelf import remove_orphans

    path = _catalog_path(args)
    orphans = remove_orphans(path, dry_run=not args.yes)
    for o in orphans:
        print(f"{'removed' if args.yes else 'would remove'} {o.path} ({_size(o.bytes)})")
    total = _size(sum(o.bytes for o in orphans))
    if args.yes:
        print(f"{len(orphans)} outputs no entry of {path} names removed, {total} freed")
    else:
        print(f"{len(orphans)} outputs no entry of {path} names, {total}; nothing was removed (rerun with --yes)")
    return 0


def cmd_refresh(args: argparse.Namespace) -> int:
    # deferred: refresh imports xarray (~1.5 s); only this command needs it
    from .refresh import refresh, refresh_all

    if bool(args.name) == bool(args.all):
        raise GeoshelfError("refresh: give one entry NAME or --all")
    path = _catalog_path(args)
    if args.all:
        results = refresh_all(path, verify=args.verify, progress=_progress("refreshing"))
    else:
        results = [refresh(path, args.name, verify=args.verify)]
    for r in results:
        print(r.describe())
    changed = sum(r.changed for r in results)
    print(f"{len(results)} entries checked, {changed} re-scanned -> {path}")
    return 0


def cmd_relocate(args: argparse.Namespace) -> int:
    path = _catalog_path(args)
    changed = relocate(path, args.old_prefix, args.new_prefix)
    print(f"{len(changed)} entries relocated in {path}" + (f": {', '.join(changed)}" if changed else ""))
    return 0


def cmd_convert(args: argparse.Namespace) -> int:
    # deferred: the convert package costs ~5-10 ms at start-up; only this command needs it
    from .convert import convert_entry

    target = get_target(args.to)
    texts = _kv_text(args.option, "--option")
    for name in args.target_options:  # the generated flags: --layout, --zarr-version, ...
        value = getattr(args, f"opt_{name}", None)
        if value is not None:
            if name in texts:
                raise GeoshelfError(f"option {name!r} given twice (--{name.replace('_', '-')} and --option)")
            texts[name] = value
    options = target.parse_options(texts)  # unknown, ill-typed or not this target's: refused here
    path = _catalog_path(args)
    entry = Catalog(path)[args.name]
    outcome = convert_entry(entry, args.to, catalog_path=path, output=args.output, validate=args.validate, **options)
    print(outcome.message)
    return 0


def _kv_text(items: Sequence[str] | None, what: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in items or ():
        if "=" not in item:
            raise GeoshelfError(f"{what} {item!r} is not KEY=VALUE")
        k, v = item.split("=", 1)
        out[k.strip()] = v
    return out


def _add_target_options(parser: argparse.ArgumentParser) -> None:
    """One flag per option declared by the installed targets (``--layout`` ...); an option several
    targets declare is one flag, its help naming each.  Values are checked by the chosen target."""
    declared: dict[str, list[tuple[str, Any]]] = {}
    for name, cls in list_targets().items():
        for opt in cls.options:
            declared.setdefault(opt.name, []).append((name, opt))
    reserved = {"--to", "--output", "--validate", "--option", "--catalog", "--help"}
    names = []
    group = parser.add_argument_group("target options (generated from the installed targets)")
    for opt_name, uses in declared.items():
        first = uses[0][1]
        if first.flag in reserved:
            continue  # reachable as --option NAME=VALUE
        helps = {o.help for _t, o in uses}
        owners = ", ".join(t for t, _o in uses)
        text = f"{first.help} [{owners}]" if len(helps) == 1 else "; ".join(f"{t}: {o.help}" for t, o in uses)
        choices = {o.choices for _t, o in uses}
        metavar = first.metavar or (("{" + ",".join(map(str, first.choices)) + "}") if first.choices and
                                    len(choices) == 1 else opt_name.upper())
        group.add_argument(first.flag, dest=f"opt_{opt_name}", metavar=metavar, help=text.replace("%", "%%"))
        names.append(opt_name)
    parser.set_defaults(target_options=names)


def cmd_demo(args: argparse.Namespace) -> int:
    # deferred: the demo imports xarray and pandas (~1.3 s); only this command needs it
    from .demo.run import run_demo

    run_demo(Path(args.dir) if args.dir else None, size=args.size, convert=not args.no_convert)
    return 0


#: Fewer files than this are quick: no progress shown.
PROGRESS_MIN_FILES = 50


def _progress(label: str, *, minimum: int = 0, interval: float = 10.0) -> Any:
    """A progress callback: tqdm on a terminal; otherwise a log line at every 10 % or ``interval`` seconds,
    whichever comes first.  Totals below ``minimum`` show nothing."""
    state: dict[str, Any] = {"bar": None, "last": -1, "t": time.monotonic()}

    def update(done: int, total: int) -> None:
        if total < minimum:
            return
        if sys.stderr.isatty():
            if state["bar"] is None:
                # deferred: tqdm costs ~30 ms at start-up; only a long conversion on a terminal shows a bar
                from tqdm import tqdm

                state["bar"] = tqdm(total=total, desc=label, unit="file")
            state["bar"].update(done - state["bar"].n)
            if done == total:
                state["bar"].close()
        else:
            step = max(1, total // 10)
            now = time.monotonic()
            if done == total or done // step != state["last"] or now - state["t"] >= interval:
                state["last"], state["t"] = done // step, now
                print(f"{label}: {done}/{total}", file=sys.stderr, flush=True)

    return update


# -- parser ----------------------------------------------------------------------------------

def _add_entry_commands(sub: Any, common: argparse.ArgumentParser) -> None:
    """``add`` and ``remove``: the commands that edit entries."""
    a = sub.add_parser("add", parents=[common], help="scan files into a catalog entry")
    a.add_argument("paths", nargs="+", metavar="PATH", help="files, globs (quoted) or a directory")
    a.add_argument("--name", required=True, help="entry name (letters, digits, _ and -)")
    a.add_argument("--description", help="one-line description")
    a.add_argument("--tag", action="append", help="a tag (repeatable; with --update: added to the entry's tags)")
    a.add_argument("--untag", action="append", metavar="TAG", help="with --update: remove this tag (repeatable)")
    a.add_argument("--contact", help="who to ask about the data")
    a.add_argument("--license", help="licence of the data")
    a.add_argument("--storage-option", action="append", metavar="KEY=VALUE",
                   help="fsspec storage option for remote sources (no secrets: use the user config)")
    a.add_argument("--update", action="store_true", help="re-scan an existing entry (e.g. new files arrived)")
    a.set_defaults(func=cmd_add)

    rm = sub.add_parser("remove", parents=[common], help="remove an entry from the catalog (never touches data)")
    rm.add_argument("name")
    rm.set_defaults(func=cmd_remove)


def _add_query_commands(sub: Any, common: argparse.ArgumentParser) -> None:
    """``list``, ``show``, ``search`` and ``open``: the commands that read the catalog."""
    ls = sub.add_parser("list", parents=[common], help="list catalog entries")
    ls.add_argument("--json", action="store_true", help="machine-readable output")
    ls.set_defaults(func=cmd_list)

    sh = sub.add_parser("show", parents=[common], help="show one entry")
    sh.add_argument("name")
    sh.add_argument("--json", action="store_true")
    sh.set_defaults(func=cmd_show)

    se = sub.add_parser("search", parents=[common], help="find entries")
    se.add_argument("text", nargs="?", help="words that must appear in name, description, tags or variables")
    se.add_argument("--variable", action="append",
                    help="variable name (repeatable: any of them); 're:PATTERN' for a regular expression")
    se.add_argument("--standard-name", action="append", help="CF standard_name of a variable (repeatable, re: allowed)")
    se.add_argument("--long-name", action="append", help="long_name of a variable (repeatable, re: allowed)")
    se.add_argument("--facet", action="append", metavar="KEY=VALUE",
                    help="facet value, e.g. experiment_id=historical (repeatable; same key: any of them)")
    se.add_argument("--time", help="YYYY[-MM[-DD]] or START/END")
    se.add_argument("--bbox", help="west,south,east,north in degrees (negative values work: --bbox -150,-10,-110,10)")
    se.add_argument("--tag", action="append", help="required tag (repeatable: all of them)")
    se.add_argument("--json", action="store_true")
    se.set_defaults(func=cmd_search)

    op = sub.add_parser("open", parents=[common], help="open an entry lazily and print it")
    op.add_argument("name")
    op.add_argument("--representation", choices=["original", *target_names()],
                    help="open this representation (default: the best one that is not stale)")
    op.set_defaults(func=cmd_open)


def _add_upkeep_commands(sub: Any, common: argparse.ArgumentParser) -> None:
    """``lint``, ``dedupe``, ``refresh``, ``gc`` and ``relocate``: keeping catalog and shelf in order."""
    li = sub.add_parser("lint", parents=[common], help="check the catalog")
    li.add_argument("--no-open", action="store_true", help="do not try to open representations")
    li.set_defaults(func=cmd_lint)

    de = sub.add_parser("dedupe", parents=[common], help="find duplicated data (never deletes)")
    de.add_argument("paths", nargs="+", metavar="PATH")
    de.add_argument("--json", action="store_true")
    de.set_defaults(func=cmd_dedupe)

    rf = sub.add_parser("refresh", parents=[common],
                        help="re-scan an entry's recorded files (new files of its glob too); --verify compares content")
    rf.add_argument("name", nargs="?", help="entry name (team.name for an included catalog)")
    rf.add_argument("--all", action="store_true", help="every entry, included catalogs too")
    rf.add_argument("--verify", action="store_true",
                    help="compare each stale representation's content with the sources: equal (a copy, new mtimes) "
                    "-> fresh again; different -> stays stale")
    rf.set_defaults(func=cmd_refresh)

    gc = sub.add_parser("gc", parents=[common],
                        help="remove shelf outputs no entry names (dry run unless --yes; only geoshelf outputs)")
    gc.add_argument("--yes", action="store_true", help="really remove them")
    gc.set_defaults(func=cmd_gc)

    rl = sub.add_parser("relocate", parents=[common], help="data moved on disk: rewrite paths")
    rl.add_argument("old_prefix", metavar="OLD_PREFIX")
    rl.add_argument("new_prefix", metavar="NEW_PREFIX")
    rl.set_defaults(func=cmd_relocate)


def _add_convert_command(sub: Any, common: argparse.ArgumentParser, target_options: bool) -> None:
    """``convert``, with the flags the installed targets declare when ``target_options``."""
    cv = sub.add_parser("convert", parents=[common], help="convert an entry to a cloud-optimized copy")
    cv.add_argument("name")
    cv.add_argument("--to", required=True, choices=target_names(), metavar="TARGET",
                    help=f"the target: {', '.join(target_names())} (the installed ones)")
    cv.add_argument("--output", metavar="PATH", help="output path (default: the shelf beside the catalog)")
    cv.add_argument("--validate", choices=["full", "sample", "metadata", "values"], default="full",
                    help="full (default): the target's complete check, every value compared with the source (for "
                    "references: every chunk's byte range and codec and the decoded coordinates checked against "
                    "the sources, recorded as metadata); sample: coordinates in full, values of sampled files "
                    "or blocks; references also: metadata (= full), values (every value compared); the check "
                    "that ran is recorded in the provenance; see docs/conversions.md")
    cv.add_argument("--option", action="append", metavar="KEY=VALUE",
                    help="a target option by name (any declared option; see the flags below)")
    cv.set_defaults(func=cmd_convert, target_options=[])
    if target_options:
        _add_target_options(cv)


def _add_tool_commands(sub: Any) -> None:
    """``demo`` and ``bench``."""
    dm = sub.add_parser("demo", help="generate demo data, shelve it, convert and open it")
    dm.add_argument("--dir", help="work directory (default: demo/ in the checkout or ~/.local/share/geoshelf/demo)")
    dm.add_argument("--size", default="small", choices=["tiny", "small", "medium", "large"])
    dm.add_argument("--no-convert", action="store_true", help="skip the local conversion")
    dm.set_defaults(func=cmd_demo)

    bench = sub.add_parser("bench", help="benchmarks against their baselines (writes docs/benchmarks.md)",
                           add_help=False)
    bench.add_argument("bench_args", nargs=argparse.REMAINDER)  # listed for --help; main() hands it over unparsed


def _add_intake_view_command(sub: Any, common: argparse.ArgumentParser) -> None:
    """``intake-view``: the stock-intake catalog beside a geoshelf catalog."""
    iv = sub.add_parser("intake-view", parents=[common],
                        help="write NAME.intake.yaml: a stock-intake catalog opening each entry's best fresh copy")
    iv.set_defaults(func=cmd_intake_view)


def build_parser(target_options: bool = True) -> argparse.ArgumentParser:
    """The argument parser of ``geoshelf``.  ``target_options``: add ``convert``'s flags generated
    from the installed targets (imports every target: about a second, so only when needed)."""
    common = _Parser(add_help=False)
    common.add_argument("--catalog", metavar="FILE",
                        help="catalog file (default: $GEOSHELF_CATALOG, the configured site catalog, or the demo)")
    p = _Parser(prog="geoshelf", description="Catalog it once, convert it once, open it lazily.")
    p.add_argument("--version", action="version", version=f"geoshelf {__version__}")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)
    sub.required = True
    _add_entry_commands(sub, common)
    _add_query_commands(sub, common)
    _add_upkeep_commands(sub, common)
    _add_convert_command(sub, common, target_options)
    _add_tool_commands(sub)
    add_stac_commands(sub, common)
    _add_intake_view_command(sub, common)
    add_serve_commands(sub, common)
    add_campaign_commands(sub)
    return p


#: Options whose value may start with '-' (a negative number): ``--bbox -150,-10,-110,10``.
_NEGATIVE_OK = frozenset({"--bbox"})


def _join_negative_values(argv: list[str]) -> list[str]:
    """``--bbox -150,...`` -> ``--bbox=-150,...`` (argparse takes a leading '-' for an option)."""
    out: list[str] = []
    i = 0
    while i < len(argv):
        if argv[i] in _NEGATIVE_OK and i + 1 < len(argv) and argv[i + 1][:1] == "-" and argv[i + 1][1:2].isdigit():
            out.append(f"{argv[i]}={argv[i + 1]}")
            i += 2
            continue
        out.append(argv[i])
        i += 1
    return out


def _one_line_warnings() -> None:
    """geoshelf's own warnings (e.g. an unusable catalog entry that was skipped) as one stderr line."""
    shown = warnings.showwarning
    if getattr(shown, "_geoshelf", False):
        return

    def show(message: Any, category: type[Warning], filename: str, lineno: int, file: Any = None,
             line: str | None = None) -> None:
        if issubclass(category, GeoshelfWarning):
            print(f"geoshelf: warning: {message}", file=sys.stderr)
        else:
            shown(message, category, filename, lineno, file, line)

    show._geoshelf = True  # type: ignore[attr-defined]
    warnings.showwarning = show


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``geoshelf`` command."""
    args_list = list(sys.argv[1:] if argv is None else argv)
    if args_list[:1] == ["bench"]:  # argparse's REMAINDER drops leading options: hand them over whole
        # deferred: bench imports statistics and shlex (~5 ms at start-up); only `geoshelf bench` needs it
        from .bench import main as bench_main

        return bench_main(args_list[1:])
    parser = build_parser(target_options="convert" in args_list)
    args = parser.parse_args(_join_negative_values(args_list))
    _one_line_warnings()
    try:
        return int(args.func(args) or 0)
    except GeoshelfError as exc:
        print(f"geoshelf: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("geoshelf: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # e.g. `geoshelf list | head`
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
