"""The campaign driver: plan, sync the durable state, run the units on a Dask cluster,
retry failures with back-off, commit the catalog once at the end, write the report.

The driver is the only process that writes the state database and the catalog.  A rerun
after any crash recovers: units that were running become pending, done units are not
redone, and the commit is rebuilt from the state.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import errno
import heapq
import resource
import signal
import sqlite3
import sys
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from filelock import FileLock, Timeout

from ..cluster import Profile, Session, get_profile, job_script, open_session, parse_duration, settings
from ..errors import CampaignError, CatalogError, ClusterError, one_line
from ..faults import fault_point
from ..progress import Progress
from .commit import commit
from .liveness import Heartbeat, driver_liveness
from .plan import Plan, Unit, build_plan, jobs_needed, pack
from .report import build_report, render_markdown, write_report
from .spec import CampaignSpec, load_spec
from .state import State, state_size
from .work import execute_unit, run_batch


@dataclass(kw_only=True)
class RunSummary:
    """What a run did: the report (all runs so far) and where it was written."""

    report: dict[str, Any]
    markdown: Path | None = None
    json: Path | None = None

    @property
    def exit_code(self) -> int:
        """0 when every unit is done, 1 when some failed or are still pending."""
        u = self.report["units"]
        return 0 if u["failed"] == 0 and u["pending"] == 0 and u["running"] == 0 else 1


def resolve_profile(spec: CampaignSpec, cluster: str | None = None) -> Profile:
    """The cluster profile of a run: ``cluster`` (``--cluster``) or the spec's, with the spec's settings.

    The spec's ``cluster:`` settings apply when it names no profile or the one chosen;
    its ``max_jobs`` caps the jobs of any batch profile.
    """
    named = spec.cluster.get("profile")
    overrides = {k: v for k, v in spec.cluster.items() if k != "profile"}
    if cluster is not None and named is not None and cluster != named:
        overrides = {}
    kind = cluster or named
    try:
        if kind is None:
            kind = get_profile(None).kind
        if spec.max_jobs is not None and kind != "local":
            overrides["max-jobs"] = spec.max_jobs
        return get_profile(kind, overrides)
    except ClusterError as exc:
        raise CampaignError(f"{spec.path}: cluster: {exc}") from None


# -- dry run -------------------------------------------------------------------------------------------

def describe_plan(plan: Plan, profile: Profile, *, state_counts: dict[str, int] | None = None,
                  show: int = 5, with_script: bool = True, footprint: dict[str, float] | None = None) -> str:
    """The plan as text: units, batches, jobs that would be submitted, the job script; with ``footprint``,
    the planning time, the driver's peak memory and the size of the state database the run would create."""
    spec = plan.spec
    lines = [f"campaign {spec.name} ({spec.path})"]
    what = f"convert to {spec.target}" if spec.target else "shelve only"
    if spec.mode == "files":
        lines.append(f"  inputs: {plan.n_files} files -> {len(plan.units)} units (entries to shelve and {what})")
        for why in plan.missing:
            lines.append(f"  inputs missing here: {why} (a real run stops on this)")
    else:
        lines.append(f"  inputs: {len(plan.units)} catalog entries, {plan.n_files} files ({what})")
    if spec.options:
        lines.append(f"  options: {spec.options}")
    lines.append(f"  catalog: {plan.catalog_path}")
    outs = [u.output for u in plan.units if u.output]
    if outs:
        lines.append(f"  outputs: {Path(outs[0]).parent}/ ({len(outs)} outputs)")
    lines.append(f"  state: {spec.state_path}")
    if state_counts is not None:
        lines.append("  units by state: " + ", ".join(f"{n} {s}" for s, n in state_counts.items()))
    n_tasks = len(plan.batches)
    if plan.client_units:
        lines.append(f"  units of work: {len(plan.client_units)} conversions driven from the client, each a dask "
                     "graph spread over the cluster")
    if plan.batches:
        sizes = [sum(u.n_files for u in b) for b in plan.batches]
        lines.append(f"  units of work: {len(plan.units) - len(plan.client_units)} units in {n_tasks} Dask tasks "
                     f"(batch_size {spec.batch_size}: {min(sizes)}-{max(sizes)} files per task)")
    lines.append(f"  retries: {spec.retries} per unit, back-off {spec.retry_backoff:g}s doubling "
                 f"(max {spec.retry_backoff_max:g}s)")
    if profile.batch:
        jobs = jobs_needed(n_tasks, profile, len(plan.client_units))
        s = profile.settings
        life, stagger = profile.lifetime()
        lines.append(f"  cluster: {profile.kind}: {jobs} jobs would be submitted (cap {profile.max_jobs} concurrent "
                     f"jobs, adaptive 0..{profile.max_jobs}), each {s['cores']} cores / {s['memory']} / walltime "
                     f"{s['walltime']}, {profile.workers_per_job} worker(s) x {profile.threads_per_worker} thread(s)")
        lines.append(f"  workers retire after {life:.0f}s +/- {stagger:.0f}s (before the walltime); "
                     f"submissions at least {s['submit-interval']} apart")
    elif profile.kind == "gateway":
        lines.append(f"  cluster: gateway: a dask-gateway cluster at {profile.settings['address']}, adaptive "
                     f"{profile.settings.get('min-workers') or 0}..{profile.max_workers} workers; no scheduler jobs "
                     "submitted by geoshelf")
    else:
        lines.append(f"  cluster: local: {profile.workers_per_job} worker process(es) x "
                     f"{profile.threads_per_worker} thread(s) on this machine; no scheduler jobs")
    if plan.units:
        lines.append(f"  first units (of {len(plan.units)}):")
        for u in plan.units[:show]:
            dest = f" -> {u.output}" if u.output else ""
            lines.append(f"    {u.name}: {u.n_files} file(s), {u.bytes_in} bytes{dest}  [{u.id[:12]}]")
    if plan.batches:
        lines.append(f"  first tasks (of {n_tasks}):")
        for i, b in enumerate(plan.batches[:show]):
            names = b[0].name if len(b) == 1 else f"{b[0].name} .. {b[-1].name}"
            lines.append(f"    task {i + 1}: {len(b)} unit(s), {sum(u.n_files for u in b)} file(s): {names}")
    if footprint is not None:
        readers = (f", {plan.listing_readers} listing readers {footprint['worker_peak_rss'] / 2**20:.0f} MiB each"
                   if footprint.get("worker_peak_rss") else "")
        lines.append(f"  planning: {footprint['plan_seconds']:.1f} s, driver peak memory "
                     f"{footprint['driver_peak_rss'] / 2**20:.0f} MiB{readers}; the state database would be "
                     f"{footprint['state_bytes'] / 2**20:.1f} MiB ({len(plan.units)} units; measured in a temporary "
                     "directory, removed)")
    if with_script and profile.batch:
        script = job_script(profile) or ""
        lines.append(f"  job script ({profile.kind}):")
        lines += ["    " + ln for ln in script.strip().splitlines()]
    return "\n".join(lines) + "\n"


# -- the driver ----------------------------------------------------------------------------------------

@contextlib.contextmanager
def _sigterm_as_interrupt() -> Any:
    """Batch systems stop a job with SIGTERM: unwind cleanly (jobs cancelled, state consistent)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    old = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, old)


class Driver:
    """Runs the pending units of a plan on a session; records every result in the state."""

    def __init__(self, plan: Plan, state: State, session: Session, run_id: int, progress: Progress,
                 *, client_threads: int = 2, worker_wait: float = 600.0) -> None:
        self.plan = plan
        self.spec = plan.spec
        self.state = state
        self.session = session
        self.run_id = run_id
        self.progress = progress
        self.client_threads = max(1, client_threads)
        self.by_id = plan.by_id
        self.client_ids = {u.id for u in plan.client_units}
        self.ready: deque[list[Unit]] = deque()
        self.ready_client: deque[Unit] = deque()
        self.delayed: list[tuple[float, int, str]] = []
        self.in_flight: dict[Any, list[Unit]] = {}
        self.client_futs: dict[cf.Future[dict[str, Any]], Unit] = {}
        self.done = 0
        self.failed = 0
        self.retried = 0
        self.worker_wait = worker_wait
        self._workers_seen = time.monotonic()
        self._checked = 0.0

    def _queue(self, rows: list[Any]) -> None:
        now = time.time()
        fresh: list[Unit] = []
        for row in rows:
            u = self.by_id.get(row["id"])
            if u is None:
                continue
            if row["next_try"] and row["next_try"] > now:
                heapq.heappush(self.delayed, (float(row["next_try"]), u.seq, u.id))
            elif u.id in self.client_ids:
                self.ready_client.append(u)
            elif row["attempts"]:
                self.ready.append([u])  # a unit that failed before is retried alone
            else:
                fresh.append(u)
        self.ready.extend(pack(fresh, self.spec.batch_size))

    def _limit(self) -> int:
        p = self.session.profile
        return max(4, 2 * p.max_workers * p.threads_per_worker)

    def _submit(self) -> None:
        now = time.time()
        while self.delayed and self.delayed[0][0] <= now:
            _, _, uid = heapq.heappop(self.delayed)
            u = self.by_id[uid]
            (self.ready_client.append(u) if uid in self.client_ids else self.ready.append([u]))
        limit = self._limit()
        while self.ready and len(self.in_flight) < limit:
            batch = self.ready.popleft()
            self.state.mark_running([u.id for u in batch], self.run_id)
            fut = self.session.client.submit(run_batch, batch, self.plan.work, pure=False, retries=1,
                                             key=f"geoshelf-batch-{uuid.uuid4().hex}")
            self.in_flight[fut] = batch
        while self.ready_client and len(self.client_futs) < self.client_threads:
            u = self.ready_client.popleft()
            self.state.mark_running([u.id], self.run_id)
            self.client_futs[self.pool.submit(execute_unit, u, self.plan.work)] = u

    def _wait(self) -> None:
        # deferred: distributed costs ~0.4 s; a dry run, status and report need no client
        from distributed import wait

        if self.in_flight:
            with contextlib.suppress(TimeoutError):
                wait(list(self.in_flight), timeout=0.5, return_when="FIRST_COMPLETED")
        elif self.client_futs:
            cf.wait(list(self.client_futs), timeout=0.5, return_when=cf.FIRST_COMPLETED)
        elif self.delayed:
            time.sleep(max(0.0, min(0.5, self.delayed[0][0] - time.time())))

    def _task_failed(self, batch: list[Unit], reason: str) -> list[dict[str, Any]]:
        now = time.time()
        return [{"id": u.id, "status": "failed", "error": reason, "started": None, "finished": now,
                 "duration": None, "host": None, "worker": None} for u in batch]

    def _collect(self) -> None:
        for fut in [f for f in self.in_flight if f.done()]:
            batch = self.in_flight.pop(fut)
            if fut.status == "finished":
                results = fut.result()
            elif fut.status == "cancelled":
                results = self._task_failed(batch, "task cancelled (its worker or job was lost)")
            else:
                exc = fut.exception()
                reason = one_line(exc, with_type=True) if exc is not None else "unknown error"
                if type(exc).__name__ == "KilledWorker":
                    reason = f"workers died while running this task (out of memory? crashed library?): {reason}"
                results = self._task_failed(batch, f"task failed: {reason}")
            fut.release()
            self._record(results)
        for cfut in [f for f in self.client_futs if f.done()]:
            self.client_futs.pop(cfut)
            self._record([cfut.result()])

    def _record(self, results: list[dict[str, Any]]) -> None:
        spec = self.spec
        outcomes = self.state.record(results, run_id=self.run_id, retries=spec.retries, backoff=spec.retry_backoff,
                                     backoff_max=spec.retry_backoff_max)
        fault_point("campaign:recorded-unit")
        for r in results:
            o = outcomes.get(r["id"])
            if o is None:
                continue
            u = self.by_id[r["id"]]
            if o.status == "done":
                self.done += 1
            elif o.status == "failed":
                self.failed += 1
                self.progress.line(f"failed: {u.name} after {o.attempts} attempt(s): {r.get('error')}")
            else:
                self.retried += 1
                heapq.heappush(self.delayed, (o.next_try, u.seq, u.id))
                self.progress.line(f"retry: {u.name} attempt {o.attempts} failed ({r.get('error')}); "
                                   f"next attempt in {o.next_try - time.time():.0f}s")

    def _check_workers(self) -> None:
        """Fail clearly when work waits and no worker joins (submission errors, stuck jobs)."""
        now = time.monotonic()
        if now - self._checked < 2 or not (self.in_flight or self.client_futs):
            return
        self._checked = now
        if self.session.workers():
            self._workers_seen = now
            return
        profile = self.session.profile
        ledger = self.session.ledger
        if ledger is not None and ledger.errors:
            raise ClusterError(f"{profile.kind}: cannot submit worker jobs: {ledger.errors[-1]}")
        if now - self._workers_seen > self.worker_wait:
            where = f"{len(self.session.jobs)} job(s) submitted ({', '.join(self.session.jobs[-3:]) or 'none'}); " \
                "check the queue and the jobs' logs (log-directory)" if profile.batch else "the local workers died"
            raise ClusterError(f"{profile.kind}: no worker joined for {self.worker_wait:.0f}s while work waits: "
                               f"{where}; rerun to resume")

    def busy(self) -> bool:
        return bool(self.ready or self.ready_client or self.delayed or self.in_flight or self.client_futs)

    def run(self, rows: list[Any], base_done: int, base_failed: int) -> None:
        self._queue(rows)
        self.pool = cf.ThreadPoolExecutor(self.client_threads, thread_name_prefix="geoshelf-client")
        jobs_seen = -1
        try:
            while self.busy():
                self._submit()
                self._wait()
                self._collect()
                self._check_workers()
                running = sum(len(b) for b in self.in_flight.values()) + len(self.client_futs)
                jobs = len(self.session.jobs) if self.session.profile.batch else None
                if jobs is not None and jobs != jobs_seen:
                    self.state.update_run(self.run_id, jobs=self.session.jobs)
                    jobs_seen = jobs
                self.progress.update(base_done + self.done, base_failed + self.failed, running, jobs)
        finally:
            for fut in self.in_flight:
                fut.cancel()
            self.pool.shutdown(wait=True, cancel_futures=True)


def plan_campaign(spec_path: str | Path, *, cluster: str | None = None, catalog: str | Path | None = None,
                  state_dir: str | Path | None = None, out: TextIO | None = None) -> str:
    """Describe what a campaign would do (``campaign run --dry-run``): print the plan and return its text.

    Validates the spec and resolves its inputs; writes nothing.
    """
    spec = load_spec(spec_path, catalog=catalog, state_dir=state_dir)
    profile = resolve_profile(spec, cluster)
    t0 = time.perf_counter()
    plan = build_plan(spec, allow_missing=True, keep_files=False)
    planned = time.perf_counter() - t0
    counts = None
    if spec.state_path.is_file():
        st = State(spec.state_path)
        try:
            counts = st.preview(u.id for u in plan.units)
        finally:
            st.close()
    footprint = {"plan_seconds": planned, "state_bytes": state_size(plan.units),
                 "driver_peak_rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
                 # the processes that read a big listing (campaign.listing), the largest of them
                 "worker_peak_rss": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024
                 if plan.listing_readers else 0}
    text = describe_plan(plan, profile, state_counts=counts, footprint=footprint)
    print(text, end="", file=out or sys.stdout)
    return text


def run_campaign(spec_path: str | Path, *, cluster: str | None = None, retry_failed: bool = False,
                 catalog: str | Path | None = None, state_dir: str | Path | None = None,
                 out: TextIO | None = None, progress_stream: TextIO | None = None) -> RunSummary:
    """Run a campaign; return its summary (:func:`plan_campaign` describes one without running it).

    ``retry_failed`` gives failed units a fresh set of attempts first (``campaign retry``).
    """
    out = out or sys.stdout
    spec = load_spec(spec_path, catalog=catalog, state_dir=state_dir)
    profile = resolve_profile(spec, cluster)
    plan = build_plan(spec, keep_files=True)
    lock = FileLock(str(spec.state_dir / "driver.lock"), timeout=0)
    try:
        spec.state_dir.mkdir(parents=True, exist_ok=True)
        lock.acquire()
    except Timeout:
        raise CampaignError(f"campaign {spec.name} is already running (driver lock {lock.lock_file} is held); "
                            "wait for it or stop it first") from None
    except OSError as exc:
        raise CampaignError(f"{spec.state_dir}: cannot use the campaign's state directory: {exc.strerror}") from None
    try:
        return _run_locked(spec, plan, profile, retry_failed=retry_failed, out=out, progress_stream=progress_stream)
    except (sqlite3.Error, OSError) as exc:
        if isinstance(exc, OSError) and exc.errno not in (errno.ENOSPC, errno.EROFS, errno.EACCES, errno.EPERM,
                                                          errno.EDQUOT):
            raise
        raise CampaignError(f"{spec.state_path}: cannot write the campaign state or report: "
                            f"{getattr(exc, 'strerror', None) or exc}; done units are kept: run the campaign again "
                            "once there is room") from None
    finally:
        lock.release()


def _run_locked(spec: CampaignSpec, plan: Plan, profile: Profile, *, retry_failed: bool, out: TextIO,
                progress_stream: TextIO | None) -> RunSummary:
    cfg = settings()["campaign"]
    state = State(spec.state_path)
    try:
        new = state.sync(plan.units)
        recovered = state.recover()
        reset = state.reset_failed() if retry_failed else 0
        rows = state.todo()
        counts = state.counts()
        print(f"campaign {spec.name}: {len(plan.units)} units ({new} new), {counts['done']} done, "
              f"{counts['failed']} failed, {len(rows)} to run" + (f"; {recovered} interrupted units recovered"
                                                                  if recovered else "")
              + (f"; {reset} failed units reset for retry" if reset else ""), file=out, flush=True)
        if rows:
            _execute(spec, plan, profile, state, rows, counts, out=out, progress_stream=progress_stream,
                     client_threads=int(cfg.get("client-threads") or 2),
                     log_interval=parse_duration(cfg.get("log-interval", 30), "campaign.log-interval"),
                     worker_wait=parse_duration(cfg.get("worker-wait", 600), "campaign.worker-wait"))
        fault_point("campaign:before-commit")
        try:
            changed = commit(plan.catalog_path, state.units("done"))
        except (OSError, CatalogError) as exc:
            why = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            raise CampaignError(f"{plan.catalog_path}: cannot record the campaign's results: {why}; the outputs are "
                                f"published and kept in the campaign state: run `geoshelf campaign run {spec.path}` "
                                "again to record them") from None
        if changed:
            print(f"catalog {plan.catalog_path}: recorded {len(changed)} entries", file=out, flush=True)
        report = build_report(spec.name, state)
        md, js = write_report(report, spec.state_dir)
    finally:
        state.close()
    u = report["units"]
    print(f"campaign {spec.name}: {u['done']} done, {u['skipped']} skipped, {u['failed']} failed, "
          f"{u['pending'] + u['running']} pending; wall {report['wall_seconds']:.1f}s, "
          f"{report['scheduler_jobs']} scheduler jobs; report {md}", file=out, flush=True)
    for f in report["failures"]:
        print(f"  failed: {f['name']}: {f['error']}", file=out)
    return RunSummary(report=report, markdown=md, json=js)


def _execute(spec: CampaignSpec, plan: Plan, profile: Profile, state: State, rows: list[Any],
             counts: dict[str, int], *, out: TextIO, progress_stream: TextIO | None, client_threads: int,
             log_interval: float, worker_wait: float) -> None:
    run_id = state.start_run(profile=profile.kind, max_jobs=profile.max_jobs, workers=profile.max_workers)
    status = "interrupted"
    driver: Driver | None = None
    progress = Progress(spec.name, len(plan.units), already=counts["done"], stream=progress_stream,
                        interval=log_interval)
    try:
        with Heartbeat(state.path, run_id), _sigterm_as_interrupt(), open_session(profile) as session:
            state.update_run(run_id, dashboard=session.dashboard)
            where = (f"{profile.kind}, at most {profile.max_jobs} jobs" if profile.batch
                     else f"gateway, at most {profile.max_workers} workers" if profile.kind == "gateway"
                     else f"local, {profile.workers_per_job} workers")
            print(f"cluster: {where}; dashboard: {session.dashboard}", file=out, flush=True)
            driver = Driver(plan, state, session, run_id, progress, client_threads=client_threads,
                            worker_wait=worker_wait)
            driver.run(rows, counts["done"], counts["failed"])
            progress.update(counts["done"] + driver.done, counts["failed"] + driver.failed, 0,
                            len(session.jobs) if profile.batch else None, force=True)
            state.update_run(run_id, jobs=session.jobs)
            status = "finished"
    finally:
        progress.close()
        state.recover()  # anything still marked running was interrupted with this run
        fields: dict[str, Any] = {"finished": time.time(), "status": status}
        if driver is not None:
            fields.update(done=driver.done, failed=driver.failed, retried=driver.retried, jobs=driver.session.jobs)
        state.update_run(run_id, **fields)


def campaign_status(spec_path: str | Path, *, state_dir: str | Path | None = None) -> dict[str, Any]:
    """Counts by status, the last run, and failed units (from the state; nothing is planned)."""
    spec = load_spec(spec_path, state_dir=state_dir)
    state = State.open_existing(spec.state_path)
    try:
        runs = state.runs()
        lock = FileLock(str(spec.state_dir / "driver.lock"), timeout=0)
        try:
            lock.acquire()
            lock.release()
            active = False
        except Timeout:
            active = True
        last = runs[-1] if runs else None
        alive = driver_liveness(last, str(spec_path), lock_held=active)
        return {"campaign": spec.name, "state": str(spec.state_path), "counts": state.counts(),
                "driver_running": alive.state == "running", "driver": alive.state, "driver_text": alive.text,
                "last_run": last,
                "failed": [{"name": u["name"], "attempts": u["attempts"], "error": u["error"]}
                           for u in state.units("failed")],
                "retrying": [{"name": u["name"], "attempts": u["attempts"], "error": u["error"],
                              "next_try": u["next_try"]} for u in state.units("pending") if u["attempts"]]}
    finally:
        state.close()


def campaign_report(spec_path: str | Path, *, state_dir: str | Path | None = None,
                    write: bool = True) -> tuple[dict[str, Any], str]:
    """The report of a campaign (rewritten into its state directory); returns (data, markdown)."""
    spec = load_spec(spec_path, state_dir=state_dir)
    state = State.open_existing(spec.state_path)
    try:
        report = build_report(spec.name, state)
    finally:
        state.close()
    if write:
        write_report(report, spec.state_dir)
    return report, render_markdown(report)


__all__ = ["Driver", "RunSummary", "campaign_report", "campaign_status", "describe_plan", "plan_campaign",
           "resolve_profile", "run_campaign"]
