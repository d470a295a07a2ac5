"""The campaign report (Markdown and JSON), built from the state database alone."""

from __future__ import annotations

import datetime as _dt
import json
import time
from pathlib import Path
from typing import Any

from ..catalog.yamlio import atomic_write_text
from .state import State


def _size(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if abs(n) < 1000 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} PB"


def _when(t: float | None) -> str:
    if not t:
        return "-"
    return _dt.datetime.fromtimestamp(t, _dt.UTC).isoformat(timespec="seconds")


def _dur(seconds: float) -> str:
    m, s = divmod(seconds, 60)
    h, m = divmod(int(m), 60)
    return f"{h}h{m:02d}m{s:02.0f}s" if h else f"{m}m{s:04.1f}s" if m else f"{s:.1f}s"


def build_report(name: str, state: State) -> dict[str, Any]:
    """Counts, bytes, throughput, wall time, jobs and failures of a campaign (all its runs)."""
    units = state.units()
    counts = state.counts()
    done = [u for u in units if u["status"] == "done"]
    skipped = [u for u in done if u.get("action") == "unchanged"]
    converted = [u for u in done if u.get("action") != "unchanged"]
    runs = state.runs()
    now = time.time()
    wall = sum((r["finished"] or now) - r["started"] for r in runs if r["started"])
    jobs = [j for r in runs for j in r["jobs"]]
    bytes_in = sum(int(u["bytes_in"] or 0) for u in converted)
    bytes_out = sum(int(u["bytes_out"] or 0) for u in converted)
    unit_seconds = sum(float(u["duration"] or 0) for u in done)
    failures = [{"name": u["name"], "id": u["id"][:12], "attempts": u["attempts"], "error": u["error"] or "",
                 "files": u["files"], "host": u["host"], "worker": u["worker"]}
                for u in units if u["status"] == "failed"]
    return {
        "campaign": name,
        "state": str(state.path),
        "generated": _when(now),
        "units": {"total": len(units), "done": len(converted), "skipped": len(skipped), "failed": counts["failed"],
                  "pending": counts["pending"], "running": counts["running"]},
        "files": sum(int(u["files"] or 0) for u in units),
        "bytes_in": bytes_in,
        "bytes_out": bytes_out,
        "wall_seconds": round(wall, 3),
        "unit_seconds": round(unit_seconds, 3),
        "throughput_bytes_per_s": round(bytes_in / wall, 1) if wall > 0 else 0.0,
        "units_per_s": round(len(converted) / wall, 3) if wall > 0 else 0.0,
        "retried_attempts": state.retried(),
        "scheduler_jobs": len(jobs),
        "runs": [{"id": r["id"], "profile": r["profile"], "started": _when(r["started"]),
                  "wall_seconds": round((r["finished"] or now) - r["started"], 3), "status": r["status"],
                  "max_jobs": r["max_jobs"], "workers": r["workers"], "jobs": r["jobs"], "done": r["done"],
                  "failed": r["failed"], "dashboard": r["dashboard"], "host": r["host"]} for r in runs],
        "failures": failures,
    }


def render_markdown(report: dict[str, Any]) -> str:
    """The report as Markdown."""
    u = report["units"]
    lines = [
        f"# Campaign {report['campaign']}",
        "",
        f"Generated {report['generated']} from `{report['state']}`.",
        "",
        "| | |",
        "|---|---|",
        f"| units | {u['total']} ({report['files']} files) |",
        f"| done | {u['done']} |",
        f"| skipped (already up to date) | {u['skipped']} |",
        f"| failed | {u['failed']} |",
        f"| pending | {u['pending'] + u['running']} |",
        f"| bytes in / out | {_size(report['bytes_in'])} / {_size(report['bytes_out'])} |",
        f"| wall time | {_dur(report['wall_seconds'])} over {len(report['runs'])} run(s) |",
        f"| throughput | {_size(report['throughput_bytes_per_s'])}/s, {report['units_per_s']:.2f} units/s |",
        f"| time in units (sum) | {_dur(report['unit_seconds'])} |",
        f"| retried attempts | {report['retried_attempts']} |",
        f"| scheduler jobs used | {report['scheduler_jobs']} |",
        "",
        "## Runs",
        "",
        "| run | profile | started | wall | status | max jobs | jobs | done | failed |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in report["runs"]:
        lines.append(f"| {r['id']} | {r['profile']} | {r['started']} | {_dur(r['wall_seconds'])} | {r['status']} | "
                     f"{r['max_jobs'] or '-'} | {len(r['jobs'])} | {r['done']} | {r['failed']} |")
    lines += ["", "## Failures", ""]
    if not report["failures"]:
        lines.append("None.")
    else:
        lines += ["| unit | attempts | reason |", "|---|---|---|"]
        for f in report["failures"]:
            reason = f["error"].replace("|", "\\|")
            lines.append(f"| {f['name']} | {f['attempts']} | {reason} |")
    return "\n".join(lines) + "\n"


def write_report(report: dict[str, Any], directory: Path) -> tuple[Path, Path]:
    """Write ``report.md`` and ``report.json`` into ``directory``; return their paths."""
    md, js = directory / "report.md", directory / "report.json"
    atomic_write_text(md, render_markdown(report))
    atomic_write_text(js, json.dumps(report, indent=2) + "\n")
    return md, js


__all__ = ["build_report", "render_markdown", "write_report"]
