"""Progress: log lines for batch logs (a tqdm bar on a terminal)."""

from __future__ import annotations

import io

from geoshelf.campaign.progress import Progress


def test_progress_logs_lines_when_not_a_terminal() -> None:
    out = io.StringIO()
    p = Progress("era5", 100, already=10, stream=out, interval=3600, tty=False)
    p.update(20, 1, 8, jobs=3)  # first update logs at once
    p.update(30, 1, 8, jobs=3)  # within the interval: quiet
    p.update(100, 2, 0, jobs=0, force=True)
    lines = out.getvalue().splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("campaign era5: 20/100 done, 1 failed, 8 running, 3 jobs, ")
    assert lines[1].startswith("campaign era5: 100/100 done, 2 failed, 0 running, 0 jobs, ")
