"""Test helpers shipped with geoshelf, for geoshelf's own suite and for third-party targets.

:mod:`geoshelf.testing.faults` runs a command in a child process, SIGKILLs it at a random
moment or at a named fault point, and checks what a rerun leaves behind.
"""

from __future__ import annotations

from .faults import ChildRun, Snapshot, check_invariants, kill_randomly, run_child, snapshot

__all__ = ["ChildRun", "Snapshot", "check_invariants", "kill_randomly", "run_child", "snapshot"]
