"""Test helpers shipped with geoshelf, for geoshelf's own suite and for third-party targets.

:mod:`geoshelf.testing.faults` runs a command in a child process, SIGKILLs it at a random
moment or at a named fault point, and checks what a rerun leaves behind.
:mod:`geoshelf.testing.converter` is ``ConverterTests``, the conformance suite every conversion
target subclasses (it needs pytest, so it is imported on first use).
"""

from __future__ import annotations

from typing import Any

from .faults import ChildRun, Snapshot, check_invariants, kill_randomly, run_child, snapshot


def __getattr__(name: str) -> Any:
    if name in ("Case", "ConverterTests"):  # pytest is a test dependency: imported only when asked for
        # deferred: PEP 562: ConverterTests needs pytest, a test dependency, so it is imported on first use
        from . import converter

        return getattr(converter, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["Case", "ChildRun", "ConverterTests", "Snapshot", "check_invariants", "kill_randomly", "run_child",
           "snapshot"]
