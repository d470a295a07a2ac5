"""Whether this machine's scheduler lets a benchmark have the CPU the team's rules intend.

With ``kernel.sched_autogroup_enabled = 1`` Linux shares CPU time equally between sessions
first; ``nice`` then only orders processes within one session.  Work at ``nice -n 19`` in other
sessions does not yield to a benchmark at nice 0, and a benchmark's two campaign workers get no
more CPU than its one-thread baseline (docs/benchmarks.md, row 9 notes).
"""

from __future__ import annotations

from pathlib import Path

AUTOGROUP_ENABLED = Path("/proc/sys/kernel/sched_autogroup_enabled")
OWN_AUTOGROUP = Path("/proc/self/autogroup")
HOW = ("run it in a session of its own whose autogroup has a negative nice, e.g. setsid sh -c 'echo -20 > "
       "/proc/$$/autogroup; python scripts/bench.py ...' (root)")


def autogroup_warning(enabled: Path = AUTOGROUP_ENABLED, own: Path = OWN_AUTOGROUP) -> str:
    """A one-line warning when autogroups are on and this process's group is not favoured, else ""."""
    try:
        if enabled.read_text().strip() != "1":
            return ""
        text = own.read_text().strip()  # "/autogroup-2779 nice 0"
    except OSError:
        return ""
    try:
        nice = int(text.rsplit(" ", 1)[-1])
    except ValueError:
        return ""
    if nice < 0:
        return ""
    return (f"warning: sched_autogroup is on and this session's autogroup has nice {nice}: other sessions' work "
            f"(even at nice 19) takes an equal share of the CPU, so rows comparing several processes with one "
            f"are skewed; {HOW}")


__all__ = ["autogroup_warning"]
