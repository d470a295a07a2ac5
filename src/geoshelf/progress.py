"""Progress of long work (campaigns, region writes, the files of a conversion): a tqdm bar on a terminal;
otherwise (batch job logs) a log line every ``log-interval`` and at every tenth of the work finished, whichever
comes first."""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any, TextIO


def _eta(seconds: float) -> str:
    if seconds != seconds or seconds == float("inf"):  # NaN or inf
        return "?"
    m, s = divmod(int(seconds), 60)
    h, m = divmod(m, 60)
    return f"{h}h{m:02d}m" if h else f"{m}m{s:02d}s"


class Progress:
    """Shows units finished out of the total; :meth:`update` is cheap to call often."""

    def __init__(self, name: str, total: int, *, already: int = 0, stream: TextIO | None = None,
                 interval: float = 30.0, tty: bool | None = None, label: str = "campaign",
                 unit: str = "unit") -> None:
        self.name = name
        self.label = label
        self.unit = unit
        self.total = total
        self.already = already
        self.stream = stream or sys.stderr
        self.interval = interval
        self.tty = self.stream.isatty() if tty is None else tty
        self.t0 = time.monotonic()
        self.last_log = -float("inf")
        self.last_tenth = (10 * already) // total if total else 0
        self.bar: Any = None
        self.done = already
        self.failed = 0
        if self.tty:
            # deferred: tqdm costs ~30 ms at start-up; only a bar on a terminal needs it
            from tqdm import tqdm

            self.bar = tqdm(total=total, initial=already, desc=f"{label} {name}", unit=unit, file=self.stream,
                            dynamic_ncols=True)

    def line(self, text: str) -> None:
        """A message that does not break the bar."""
        if self.bar is not None:
            self.bar.write(text, file=self.stream)
        else:
            print(text, file=self.stream, flush=True)

    def update(self, done: int, failed: int = 0, running: int | None = None, jobs: int | None = None, *,
               force: bool = False) -> None:
        """``done`` (and ``failed``) of the total so far; ``running`` None: not counted (one step after another)."""
        self.done, self.failed = done, failed
        if self.bar is not None:
            self.bar.update(done + failed - self.bar.n)
            if running is not None:
                post = {"failed": failed, "running": running}
                if jobs is not None:
                    post["jobs"] = jobs
                self.bar.set_postfix(post, refresh=False)
            return
        now = time.monotonic()
        tenth = (10 * (done + failed)) // self.total if self.total else 0
        if not force and now - self.last_log < self.interval and tenth == self.last_tenth:
            return
        self.last_log, self.last_tenth = now, tenth
        elapsed = now - self.t0
        new = done + failed - self.already
        rate = new / elapsed if elapsed > 0 else 0.0
        left = self.total - done - failed
        counts = f", {failed} failed, {running} running" if running is not None else \
            f", {failed} failed" if failed else ""
        jobs_txt = f", {jobs} jobs" if jobs is not None else ""
        self.line(f"{self.label} {self.name}: {done}/{self.total} done{counts}{jobs_txt}, "
                  f"{rate:.2f} {self.unit}s/s, eta {_eta(left / rate) if rate else '?'}")

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def _ignore_steps(n: int = 1) -> None:
    """The ``advance`` of a phase too short to show."""


@contextlib.contextmanager
def steps(name: str, total: int, *, label: str, unit: str = "file", minimum: int = 1, interval: float = 10.0,
          stream: TextIO | None = None, tty: bool | None = None) -> Iterator[Callable[[int], None]]:
    """Progress of one phase of ``total`` steps (files indexed, read...): yields ``advance(n=1)``, called as
    steps finish.  Fewer than ``minimum`` steps show nothing."""
    if total < minimum:
        yield _ignore_steps
        return
    progress = Progress(name, total, label=label, unit=unit, interval=interval, stream=stream, tty=tty)
    done = 0

    def advance(n: int = 1) -> None:
        nonlocal done
        done += n
        progress.update(done)

    try:
        yield advance  # the last step logs a line of its own: it completes the last tenth
    finally:
        progress.close()


__all__ = ["Progress", "steps"]
