"""Counting metadata operations of this process: every ``os.stat``/``lstat``, directory listing and
file open goes through a counter while :func:`counting` is active (also what ``os.path.exists``,
``glob`` and ``pathlib`` call underneath).  ``strace -c -f`` gives the same at the system-call level."""

from __future__ import annotations

import builtins
import io
import os
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

#: Patched functions: module, attribute, counter key.
_TARGETS: tuple[tuple[Any, str, str], ...] = (
    (os, "stat", "stat"), (os, "lstat", "stat"), (os, "scandir", "listdir"), (os, "listdir", "listdir"),
    (os, "open", "open"), (builtins, "open", "open"), (io, "open", "open"),
)


@contextmanager
def counting() -> Iterator[Counter[str]]:
    """Count metadata operations (``stat``, ``listdir``, ``open``) made by Python code in this block."""
    counts: Counter[str] = Counter()
    saved = [(mod, attr, getattr(mod, attr)) for mod, attr, _ in _TARGETS]

    def wrap(fn: Callable[..., Any], key: str) -> Callable[..., Any]:
        def counted(*args: Any, **kwargs: Any) -> Any:
            counts[key] += 1
            return fn(*args, **kwargs)

        return counted

    try:
        for (mod, attr, key), (_, _, fn) in zip(_TARGETS, saved, strict=True):
            setattr(mod, attr, wrap(fn, key))
        yield counts
    finally:
        for mod, attr, fn in saved:
            setattr(mod, attr, fn)


def total(counts: Counter[str]) -> int:
    """All counted operations."""
    return sum(counts.values())


__all__ = ["counting", "total"]
