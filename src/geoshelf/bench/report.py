"""Benchmark rows, timing helpers, machine description, and the Markdown / JSON reports."""

from __future__ import annotations

import json
import os
import platform
import statistics
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

#: Units where a smaller number is better: the ratio is baseline / geoshelf (a speed-up).
LOWER_IS_BETTER = ("s", "MiB", "jobs", "ms/file")


@dataclass
class Row:
    """One measurement: geoshelf beside its baseline."""

    measurement: str
    geoshelf: float
    baseline: float
    unit: str
    target: str
    #: True when the target is met.
    met: bool | None = None
    note: str = ""
    #: Short id ("1a", "7", "8b", ...); derived from the measurement text when empty.
    id: str = ""
    #: The machine and the command that measured this row (rows of partial runs are merged).
    machine: str = ""
    command: str = ""

    def __post_init__(self) -> None:
        if not self.id:
            self.id = self.measurement.split(" ", 1)[0].rstrip(".")

    @property
    def ratio(self) -> float:
        """geoshelf relative to its baseline, >1 meaning geoshelf is better (for times: a speed-up)."""
        if self.unit in LOWER_IS_BETTER:
            return self.baseline / self.geoshelf if self.geoshelf else float("inf")
        return self.geoshelf / self.baseline if self.baseline else float("inf")

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Row:
        """A row from the JSON report (unknown keys such as ``ratio`` ignored)."""
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})


def median_time(fn: Callable[[], Any], repeat: int, before: Callable[[], None] | None = None) -> float:
    """Median wall time of ``repeat`` calls of ``fn`` (``before`` runs untimed before each)."""
    times = []
    for _ in range(max(1, repeat)):
        if before:
            before()
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def drop_caches(enabled: bool) -> Callable[[], None] | None:
    """A function dropping the page cache (root only), or None when not ``enabled``."""
    if not enabled:
        return None

    def drop() -> None:
        os.sync()
        with open("/proc/sys/vm/drop_caches", "w") as fh:
            fh.write("3\n")

    return drop


def files_under(path: Path) -> list[Path]:
    """Every file below ``path``."""
    return [p for p in path.rglob("*") if p.is_file()]


def bytes_under(path: Path) -> int:
    """Total size of the files below ``path`` (or of ``path`` itself)."""
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in files_under(path))


def machine() -> str:
    """CPU, cores, memory and OS of this machine."""
    try:
        with open("/proc/cpuinfo") as fh:
            cpu = next(line.split(":", 1)[1].strip() for line in fh if line.startswith("model name"))
    except (OSError, StopIteration):
        cpu = platform.processor()
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return f"{cpu}, {os.cpu_count()} cores, {mem:.0f} GiB, {platform.platform()}, Python {platform.python_version()}"


def judge(row: Row) -> None:
    """Set ``row.met`` from its target when the measuring code did not."""
    if row.met is not None:
        return
    t = row.target
    if t.startswith(">="):
        row.met = row.ratio >= float(t.split()[1].rstrip("x"))
    elif "files/GB" in row.unit:
        row.met = row.geoshelf <= 10
    elif "cost" in t:
        row.met = row.ratio >= 0.5
    elif row.id == "8":
        row.met = row.geoshelf < 0.3 and row.geoshelf < row.baseline


def merge(old: Iterable[Row], new: Iterable[Row]) -> list[Row]:
    """Rows of ``old`` replaced by the rows of ``new`` with the same id (new ids appended), in id order."""
    merged = {r.id: r for r in old}
    for r in new:
        merged[r.id] = r
    return sorted(merged.values(), key=_order)


def _order(row: Row) -> tuple[int, str]:
    digits = "".join(c for c in row.id if c.isdigit())
    return (int(digits) if digits else 999, row.id)


def read_json(path: Path) -> list[Row]:
    """Rows of an existing JSON report (none when missing or unreadable)."""
    try:
        data = json.loads(path.read_text())
        top_machine = data.get("machine", "")
        top_command = data.get("command") or (f"python scripts/bench.py --size {data['size']} --repeat {data['repeat']}"
                                              if "size" in data and "repeat" in data else "")
        rows = [Row.from_dict(r) for r in data.get("rows", [])]
    except (OSError, ValueError, TypeError):
        return []
    for r in rows:  # reports written before rows carried their own machine and command
        r.machine = r.machine or top_machine
        r.command = r.command or top_command
    return rows


def write_json(rows: list[Row], path: Path, **info: Any) -> None:
    """The raw numbers: ``info`` (size, repeat, ...) and every row with its ratio."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({**info, "machine": machine(),
                                "rows": [asdict(r) | {"ratio": r.ratio} for r in rows]}, indent=2))


def _fmt(v: float) -> str:
    return f"{v:g}" if abs(v) < 1e6 else f"{v:,.0f}"


def write_markdown(rows: list[Row], path: Path, command: str, repeat: int, temp: str) -> None:
    """The table of ``docs/benchmarks.md``; the hand-written notes after ``<!-- notes -->`` are kept."""
    lines = [
        "# Benchmarks", "",
        f"Measured by the committed `scripts/bench.py`; last command: `{command}` (each row names the command "
        "and machine that measured it: partial runs with `--only` replace their rows).",
        f"Every timing is the median of the runs asked for (`--repeat`), geoshelf and its baseline measured in the "
        f"same run; reads are {temp}.",
        "", "| measurement | geoshelf | baseline | ratio | target | met | note | machine | command |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(f"| {r.measurement} | {_fmt(r.geoshelf)} {r.unit} | {_fmt(r.baseline)} {r.unit} | {r.ratio:.2f}x "
                     f"| {r.target} | {'yes' if r.met else 'NO'} | {r.note} | {r.machine} | `{r.command}` |")
    path.parent.mkdir(parents=True, exist_ok=True)
    existing = path.read_text() if path.exists() else ""
    notes = existing.split("<!-- notes -->", 1)[1] if "<!-- notes -->" in existing else "\n"
    path.write_text("\n".join(lines) + "\n\n<!-- notes -->" + notes)


__all__ = ["Row", "bytes_under", "drop_caches", "files_under", "judge", "machine", "median_time", "merge",
           "read_json", "write_json", "write_markdown"]
