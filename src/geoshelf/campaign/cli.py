"""``geoshelf campaign run|status|report|retry SPEC``: thin argument parsing over
:mod:`geoshelf.campaign.run`.  :func:`add_campaign_commands` is called by ``geoshelf.cli``."""

from __future__ import annotations

import argparse
import datetime as _dt
import json
from typing import Any

from ..profiles import PROFILES


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("spec", metavar="SPEC", help="campaign spec (YAML, e.g. converters/era5.yaml)")
    p.add_argument("--state-dir", metavar="DIR", help="state directory (default: the spec's, else beside it)")


def _run_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--cluster", choices=PROFILES, help="cluster profile (default: the spec's, else the site default)")
    p.add_argument("--catalog", metavar="FILE", help="catalog file (default: the spec's `catalog:`)")


def cmd_run(args: argparse.Namespace) -> int:
    # deferred: campaign.run imports dask and distributed (~0.8 s at start-up)
    from .run import plan_campaign, run_campaign

    if args.dry_run:
        plan_campaign(args.spec, cluster=args.cluster, catalog=args.catalog, state_dir=args.state_dir)
        return 0
    return run_campaign(args.spec, cluster=args.cluster, catalog=args.catalog, state_dir=args.state_dir).exit_code


def cmd_retry(args: argparse.Namespace) -> int:
    # deferred: campaign.run imports dask and distributed (~0.8 s at start-up)
    from .run import run_campaign

    return run_campaign(args.spec, cluster=args.cluster, retry_failed=True, catalog=args.catalog,
                        state_dir=args.state_dir).exit_code


def _ago(t: float | None) -> str:
    if not t:
        return "-"
    return _dt.datetime.fromtimestamp(t).isoformat(sep=" ", timespec="seconds")


def cmd_status(args: argparse.Namespace) -> int:
    # deferred: campaign.run imports dask and distributed (~0.8 s at start-up)
    from .run import campaign_status

    st = campaign_status(args.spec, state_dir=args.state_dir)
    if args.json:
        print(json.dumps(st, indent=2, default=str))
        return 0
    c = st["counts"]
    total = sum(c.values())
    print(f"campaign {st['campaign']}: {total} units: {c['done']} done, {c['failed']} failed, "
          f"{c['running']} running, {c['pending']} pending")
    print(f"driver: {st['driver_text']}")
    run: dict[str, Any] | None = st["last_run"]
    if run:
        print(f"last run {run['id']}: {run['status']}, {run['profile']}, started {_ago(run['started'])}, "
              f"{len(run['jobs'])} scheduler jobs, dashboard {run['dashboard'] or '-'}")
    for r in st["retrying"]:
        print(f"  retrying: {r['name']} (attempt {r['attempts']} failed: {r['error']})")
    for f in st["failed"]:
        print(f"  failed: {f['name']} after {f['attempts']} attempt(s): {f['error']}")
    print(f"state: {st['state']}")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    # deferred: campaign.run imports dask and distributed (~0.8 s at start-up)
    from .run import campaign_report

    data, markdown = campaign_report(args.spec, state_dir=args.state_dir)
    print(json.dumps(data, indent=2) if args.json else markdown, end="" if not args.json else "\n")
    return 0


def add_campaign_commands(subparsers: Any) -> None:
    """Register ``campaign run|status|report|retry`` on the ``geoshelf`` subparsers."""
    camp = subparsers.add_parser("campaign", help="run a conversion campaign from a spec (converters/*.yaml)",
                                 description="Conversion campaigns: a declarative spec run on Dask, resumable.")
    sub = camp.add_subparsers(dest="campaign_command", required=True, metavar="COMMAND")

    run = sub.add_parser("run", help="run (or resume) a campaign")
    _common(run)
    _run_args(run)
    run.add_argument("--dry-run", action="store_true",
                     help="print the plan (units, tasks, jobs, job script) and submit nothing")
    run.set_defaults(func=cmd_run)

    st = sub.add_parser("status", help="units done / failed / pending, from the campaign's state")
    _common(st)
    st.add_argument("--json", action="store_true")
    st.set_defaults(func=cmd_status)

    rp = sub.add_parser("report", help="the campaign report (Markdown; also written as report.md/.json)")
    _common(rp)
    rp.add_argument("--json", action="store_true")
    rp.set_defaults(func=cmd_report)

    rt = sub.add_parser("retry", help="give failed units a fresh set of attempts and run them")
    _common(rt)
    _run_args(rt)
    rt.set_defaults(func=cmd_retry)


__all__ = ["add_campaign_commands"]
