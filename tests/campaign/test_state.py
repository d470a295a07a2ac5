"""The durable state: transitions, retries with back-off, recovery after a crash."""

from __future__ import annotations

import time
from pathlib import Path

from geoshelf.campaign.plan import Unit
from geoshelf.campaign.state import State


def _units(n: int) -> list[Unit]:
    return [Unit(id=f"id{i}", seq=i, kind="files", name=f"u{i}", files=(f"/d/f{i}.nc",), bytes_in=100,
                 output=f"/o/u{i}.zarr") for i in range(n)]


def _result(uid: str, status: str, **kw: object) -> dict:
    now = time.time()
    return {"id": uid, "status": status, "started": now, "finished": now, "duration": 0.01, "host": "h",
            "worker": "w", **kw}


def test_transitions_pending_running_done_failed_with_backoff(tmp_path: Path) -> None:
    st = State(tmp_path / "s" / "state.sqlite")
    assert st.sync(_units(3)) == 3
    assert st.counts() == {"pending": 3, "running": 0, "done": 0, "failed": 0}
    st.mark_running(["id0", "id1", "id2"], run_id=1)
    assert st.counts()["running"] == 3
    t0 = time.time()
    out = st.record([_result("id0", "done", action="created", bytes_out=7, representation={"kind": "zarr"}),
                     _result("id1", "failed", error="id1: corrupt"),
                     _result("id2", "failed", error="boom")], run_id=1, retries=1, backoff=10, backoff_max=60)
    assert out["id0"].status == "done"
    assert out["id1"].status == "pending" and out["id1"].attempts == 1
    assert t0 + 9 < out["id1"].next_try < time.time() + 11  # back-off before the retry
    assert st.counts() == {"pending": 2, "running": 0, "done": 1, "failed": 0}
    st.mark_running(["id1"], run_id=1)
    out = st.record([_result("id1", "failed", error="id1: corrupt")], run_id=1, retries=1, backoff=10,
                    backoff_max=60)
    assert out["id1"].status == "failed" and out["id1"].attempts == 2  # retries exhausted
    failed = st.units("failed")
    assert [(u["name"], u["attempts"], u["error"]) for u in failed] == [("u1", 2, "id1: corrupt")]
    assert [a["status"] for a in st.attempts("id1")] == ["failed", "failed"]
    assert st.retried() == 2  # id1's first failure was retried, id2's will be
    # `campaign retry` gives failed units a fresh set of attempts
    assert st.reset_failed() == 1
    assert {u["id"]: u["attempts"] for u in st.units("pending")} == {"id1": 0, "id2": 1}
    st.close()


def test_backoff_doubles_up_to_the_maximum(tmp_path: Path) -> None:
    st = State(tmp_path / "state.sqlite")
    st.sync(_units(1))
    waits = []
    for _ in range(5):
        now = time.time()
        o = st.record([_result("id0", "failed", error="x")], run_id=1, retries=10, backoff=2, backoff_max=10)["id0"]
        waits.append(round(o.next_try - now))
    assert waits == [2, 4, 8, 10, 10]


def test_crash_recovery_and_replanning(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite"
    st = State(path)
    st.sync(_units(4))
    st.record([_result("id0", "done", action="created")], run_id=1, retries=0, backoff=1, backoff_max=1)
    st.mark_running(["id1", "id2"], run_id=1)
    st.db.close()  # the driver dies: no cleanup at all
    st = State(path)  # the rerun
    assert st.counts() == {"pending": 1, "running": 2, "done": 1, "failed": 0}
    assert st.recover() == 2
    assert [r["id"] for r in st.todo()] == ["id1", "id2", "id3"]  # done work is not redone
    assert st.units("done")[0]["attempts"] == 1
    # a changed spec: units no longer planned are left out of counts and reports, kept in the file
    assert st.sync(_units(2)) == 0
    assert st.counts() == {"pending": 1, "running": 0, "done": 1, "failed": 0}
    st.close()

