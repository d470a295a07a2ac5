"""Progress: log lines for batch logs (a tqdm bar on a terminal)."""

from __future__ import annotations

import io

from geoshelf.progress import Progress, steps


def test_progress_logs_lines_when_not_a_terminal() -> None:
    out = io.StringIO()
    p = Progress("era5", 100, already=10, stream=out, interval=3600, tty=False)
    p.update(20, 1, 8, jobs=3)  # first update logs at once
    p.update(25, 1, 8, jobs=3)  # within the interval and the same tenth of the units: quiet
    p.update(100, 2, 0, jobs=0, force=True)
    lines = out.getvalue().splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("campaign era5: 20/100 done, 1 failed, 8 running, 3 jobs, ")
    assert lines[1].startswith("campaign era5: 100/100 done, 2 failed, 0 running, 0 jobs, ")


def test_progress_logs_each_tenth_without_waiting_for_the_interval() -> None:
    """A batch log shows a campaign moving even when it is shorter than ``log-interval``."""
    out = io.StringIO()
    p = Progress("sst", 1000, stream=out, interval=3600, tty=False)
    for done in range(1, 1001):
        p.update(done, 0, 2)
    lines = out.getvalue().splitlines()
    assert [ln.split(": ")[1].split(" ")[0] for ln in lines] == ["1/1000"] + [f"{k}00/1000" for k in range(1, 11)]


def test_steps_of_one_phase_log_files_done_without_campaign_counts() -> None:
    out = io.StringIO()
    with steps("sst", 20, label="indexing", stream=out, tty=False, interval=3600) as advance:
        for _ in range(20):
            advance(1)
    lines = out.getvalue().splitlines()
    assert [ln.split(": ")[1].split(" ")[0] for ln in lines] == ["1/20"] + [f"{k}/20" for k in range(2, 21, 2)]
    assert lines[-1].startswith("indexing sst: 20/20 done, ") and " files/s, eta " in lines[-1]
    assert "failed" not in out.getvalue() and "running" not in out.getvalue()


def test_steps_below_the_minimum_show_nothing() -> None:
    out = io.StringIO()
    with steps("sst", 5, label="indexing", minimum=50, stream=out, tty=False) as advance:
        for _ in range(5):
            advance(1)
    assert out.getvalue() == ""


def test_steps_on_a_terminal_draw_a_bar() -> None:
    out = io.StringIO()
    with steps("sst", 4, label="reading", stream=out, tty=True) as advance:
        for _ in range(4):
            advance(1)
    assert "reading sst" in out.getvalue() and "4/4" in out.getvalue()
