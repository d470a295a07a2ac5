"""Cluster profiles: ``local`` | ``slurm`` | ``pbs`` | ``gateway`` -> a ``dask.distributed`` Client.

A profile is data: the merged site configuration for one kind of cluster.  Precedence, lowest
first: the packaged ``geoshelf.yaml`` defaults, then the site's dask-jobqueue configuration
(``jobqueue.<slurm|pbs>.*`` from dask's config files or ``DASK_JOBQUEUE__*``: an HPC centre's
existing ``jobqueue.yaml`` applies), then geoshelf's own layers (a ``geoshelf:`` section in dask's
config, the site and user config files, ``GEOSHELF_*`` environment variables), then explicit
overrides.  :func:`make_cluster` turns it into a ``LocalCluster``, a
``dask_jobqueue.SLURMCluster`` / ``PBSCluster`` or a dask-gateway cluster; nothing is submitted
until the cluster scales.  :func:`client` is the one call a notebook needs;
:func:`open_session` adds what a campaign needs on a batch system:

* adaptive scaling between 0 and ``max-jobs`` concurrent jobs;
* workers that retire before the walltime (``--lifetime`` / ``--lifetime-stagger``),
  so the batch system never kills a worker in the middle of a write;
* paced submissions (at most one job per ``submit-interval``) and a ledger of the
  job ids submitted, for the report;
* node-local scratch (``$TMPDIR`` or a configured directory) for worker spill and the
  temporary files of conversions.
"""

from __future__ import annotations

import ast
import asyncio
import contextlib
import difflib
import logging
import math
import os
import re
import sys
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import dask.config
import yaml
from dask.utils import parse_bytes, parse_timedelta

from .config import SITE_CONFIG, read_config, user_config_path
from .errors import CatalogError, ClusterError, one_line
from .profiles import (  # BATCH_PROFILES: those submitting jobs through dask-jobqueue
    BATCH_PROFILES,
    PROFILES,
    ProfileKind,
)

#: dask-jobqueue settings a site's ``jobqueue.yaml`` may give, and the geoshelf key each fills.
JOBQUEUE_KEYS: dict[str, str] = {
    "cores": "cores", "processes": "processes", "memory": "memory", "walltime": "walltime",
    "queue": "queue", "account": "account", "job-extra-directives": "job-extra-directives",
    "job-directives-skip": "job-directives-skip", "job-script-prologue": "job-script-prologue",
    "python": "python", "interface": "interface", "local-directory": "scratch",
    "log-directory": "log-directory", "death-timeout": "death-timeout", "resource-spec": "resource-spec",
}
ENV_PREFIX = "GEOSHELF_"
DEFAULTS_FILE = Path(__file__).with_name("geoshelf.yaml")
#: Settings that are plain durations ("10m", "2s", or seconds as a number).
_DURATIONS = ("lifetime-margin", "lifetime-stagger", "submit-interval", "scale-down-wait")


# -- configuration ---------------------------------------------------------------------------------

def _canon(data: Any) -> Any:
    """Keys with ``_`` become ``-`` (dask's convention), recursively."""
    if isinstance(data, Mapping):
        return {str(k).replace("_", "-"): _canon(v) for k, v in data.items()}
    return data


@lru_cache(maxsize=1)
def package_defaults() -> dict[str, Any]:
    """The ``geoshelf:`` section of the packaged ``geoshelf.yaml``."""
    with open(DEFAULTS_FILE, encoding="utf-8") as f:
        data = yaml.safe_load(f)
    return _canon(data["geoshelf"])


dask.config.update_defaults({"geoshelf": package_defaults()})


def _interpret(value: str) -> Any:
    try:
        return ast.literal_eval(value)
    except (SyntaxError, ValueError):
        low = value.lower()
        return {"true": True, "false": False, "null": None, "none": None}.get(low, value)


def collect_env(environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """``GEOSHELF_CLUSTER__PBS__QUEUE=normal`` -> ``{"cluster": {"pbs": {"queue": "normal"}}}``.

    Only variables with a ``__`` (nested keys) count, so ``GEOSHELF_CATALOG`` and friends
    are not mistaken for configuration.
    """
    env = os.environ if environ is None else environ
    out: dict[str, Any] = {}
    for name, value in env.items():
        if not name.startswith(ENV_PREFIX) or "__" not in name:
            continue
        path = [p.lower().replace("_", "-") for p in name[len(ENV_PREFIX):].split("__")]
        node = out
        for key in path[:-1]:
            node = node.setdefault(key, {})
            if not isinstance(node, dict):
                break
        else:
            node[path[-1]] = _interpret(value)
    return out


def _changed(values: Mapping[str, Any], defaults: Mapping[str, Any]) -> dict[str, Any]:
    """The parts of ``values`` that differ from ``defaults`` (dask's config holds the packaged defaults
    too: only what a dask config file or ``dask.config.set`` changed is a layer of its own)."""
    out: dict[str, Any] = {}
    for key, value in values.items():
        base = defaults.get(key)
        if isinstance(value, Mapping) and isinstance(base, Mapping):
            sub = _changed(value, base)
            if sub:
                out[key] = sub
        elif key not in defaults or value != base:
            out[key] = value
    return out


def site_jobqueue(environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The site's own dask-jobqueue settings as geoshelf ``cluster:`` keys.

    Read from dask's configuration files and ``DASK_JOBQUEUE__*`` variables only, never from
    dask-jobqueue's packaged defaults (those would otherwise beat geoshelf's).
    """
    try:
        collected = dask.config.collect(paths=dask.config.paths, env=dict(os.environ if environ is None else environ))
    except Exception as exc:  # noqa: BLE001 - a broken dask config file: say which
        raise ClusterError(f"dask configuration: cannot read: {one_line(exc, 300)}") from None
    jq = _canon(collected.get("jobqueue") or {})
    out: dict[str, Any] = {}
    for kind in sorted(BATCH_PROFILES):
        section = jq.get(kind)
        if isinstance(section, Mapping):
            picked = {JOBQUEUE_KEYS[k]: v for k, v in section.items() if k in JOBQUEUE_KEYS and v is not None}
            if picked:
                out[kind] = picked
    return {"cluster": out} if out else {}


def settings(environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The merged ``cluster:`` and ``campaign:`` settings.

    package defaults < the site's ``jobqueue.<scheduler>.*`` < dask config ``geoshelf:`` < site file
    < user file < ``GEOSHELF_*`` env.
    """
    layers: list[dict[str, Any]] = [package_defaults(), site_jobqueue(environ),
                                    _changed(_canon(dask.config.get("geoshelf", {}) or {}), package_defaults())]
    for path in (SITE_CONFIG, user_config_path()):
        try:
            data = read_config(path)
        except CatalogError as exc:
            raise ClusterError(str(exc)) from None
        layers.append(_canon({k: v for k, v in data.items() if k in ("cluster", "campaign")}))
    layers.append(collect_env(environ))
    return dask.config.merge(*layers)


# -- profiles ----------------------------------------------------------------------------------------

def parse_duration(value: Any, what: str) -> float:
    """Seconds from ``90``, ``"90s"``, ``"10m"``, ``"1h"`` (a ClusterError names ``what``)."""
    try:
        seconds = parse_timedelta(value, default="seconds")
    except (ValueError, KeyError, TypeError):
        seconds = None
    if seconds is None or seconds < 0:
        raise ClusterError(f"{what}: {value!r} is not a duration (e.g. 90, '90s', '10m', '1h')")
    return float(seconds)


def parse_walltime(value: Any) -> float:
    """Seconds of a batch walltime: ``HH:MM:SS``, ``MM:SS``, ``D-HH:MM:SS`` or minutes."""
    text = str(value).strip()
    m = re.fullmatch(r"(?:(\d+)-)?(\d+)(?::(\d+))?(?::(\d+))?", text)
    if not m:
        raise ClusterError(f"walltime: {value!r} is not HH:MM:SS (or D-HH:MM:SS)")
    days, a_, b, c = (int(g) if g else None for g in m.groups())
    a = a_ or 0  # the pattern requires it
    if b is None:  # plain number: minutes (Slurm's convention)
        seconds = a * 60
    elif c is None:
        seconds = a * 60 + b if days is None else a * 3600 + b * 60
    else:
        seconds = a * 3600 + b * 60 + c
    return float(seconds + (days or 0) * 86400)


@dataclass(frozen=True, kw_only=True)
class Profile:
    """One cluster profile: its kind and merged settings (kebab-case keys)."""

    #: "local", "slurm", "pbs" or "gateway".
    kind: ProfileKind
    #: The profile's settings after every configuration layer and override.
    settings: dict[str, Any] = field(default_factory=dict)

    @property
    def batch(self) -> bool:
        """True for profiles that submit jobs to a batch scheduler."""
        return self.kind in BATCH_PROFILES

    @property
    def max_jobs(self) -> int:
        """Cap on concurrent scheduler jobs (0 for local and gateway)."""
        return int(self.settings.get("max-jobs") or 0) if self.batch else 0

    @property
    def workers_per_job(self) -> int:
        """Dask worker processes per job (for local: the number of workers; gateway: 1)."""
        if self.batch:
            return int(self.settings["processes"])
        if self.kind == "gateway":
            return 1
        return int(self.settings.get("n-workers") or os.cpu_count() or 1)

    @property
    def threads_per_worker(self) -> int:
        if self.batch:
            return max(1, int(self.settings["cores"]) // int(self.settings["processes"]))
        if self.kind == "gateway":
            return int((self.settings.get("cluster-options") or {}).get("worker_cores") or 1)
        return int(self.settings.get("threads-per-worker") or 1)

    @property
    def max_workers(self) -> int:
        """Worker processes at full scale."""
        if self.kind == "gateway":
            return int(self.settings["max-workers"])
        return self.max_jobs * self.workers_per_job if self.batch else self.workers_per_job

    def lifetime(self) -> tuple[float, float]:
        """(lifetime, stagger) in seconds: every worker retires before walltime - margin."""
        wall = parse_walltime(self.settings["walltime"])
        margin = parse_duration(self.settings["lifetime-margin"], "lifetime-margin")
        stagger = parse_duration(self.settings["lifetime-stagger"], "lifetime-stagger")
        life = wall - margin - stagger
        if life < 60:
            raise ClusterError(
                f"{self.kind}: walltime {self.settings['walltime']} leaves {max(life, 0):.0f} s of work after "
                f"lifetime-margin {self.settings['lifetime-margin']} and lifetime-stagger "
                f"{self.settings['lifetime-stagger']}: ask for a longer walltime or lower the margin"
            )
        return life, stagger


def _profile_kind(kind: str) -> ProfileKind:
    for known in PROFILES:
        if kind == known:
            return known
    raise ClusterError(f"unknown cluster profile {kind!r} (profiles: {', '.join(PROFILES)})")


def get_profile(kind: str | None = None, overrides: Mapping[str, Any] | None = None,
                environ: Mapping[str, str] | None = None) -> Profile:
    """The named profile (default: ``cluster.default``), with ``overrides`` applied last.

    ``overrides`` are the keys of that profile (e.g. a campaign spec's ``cluster:``
    section); an unknown key raises ClusterError naming the closest known one.
    """
    cfg = settings(environ)["cluster"]
    over = _canon(dict(overrides or {}))
    kind = kind or over.pop("profile", None) or cfg.get("default") or "local"
    over.pop("profile", None)
    if kind not in PROFILES:
        raise ClusterError(f"unknown cluster profile {kind!r} (profiles: {', '.join(PROFILES)})")
    base = dict(cfg.get(kind) or {})
    for key in over:
        if key not in base:
            close = difflib.get_close_matches(key, list(base), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else f" (keys: {', '.join(sorted(base))})"
            raise ClusterError(f"cluster profile {kind!r} has no setting {key!r}{hint}")
    merged = {**base, **over}
    _check_profile(kind, merged)
    return Profile(kind=_profile_kind(kind), settings=merged)


def _check_profile(kind: str, s: dict[str, Any]) -> None:
    def positive_int(key: str, allow_none: bool = False) -> None:
        v = s.get(key)
        if v is None and allow_none:
            return
        if isinstance(v, bool) or not isinstance(v, int) or v <= 0:
            raise ClusterError(f"{kind}: {key} must be a positive integer, not {v!r}")

    if kind == "local":
        positive_int("n-workers", allow_none=True)
        positive_int("threads-per-worker")
        return
    if kind == "gateway":
        address = s.get("address")
        if not address or not isinstance(address, str) or not address.startswith(("http://", "https://")):
            raise ClusterError(
                f"gateway: address {address!r} is not the http(s) URL of a dask-gateway server; set "
                "cluster.gateway.address in the user config or GEOSHELF_CLUSTER__GATEWAY__ADDRESS"
            )
        positive_int("max-workers")
        if s.get("auth") not in (None, "basic", "kerberos", "jupyterhub"):
            raise ClusterError(f"gateway: auth {s.get('auth')!r} is not one of basic, kerberos, jupyterhub")
        if not isinstance(s.get("cluster-options") or {}, Mapping):
            raise ClusterError("gateway: cluster-options must be a mapping of dask-gateway cluster options")
        parse_duration(s.get("worker-wait", "10m"), "worker-wait")
        return
    for key in ("cores", "processes", "max-jobs"):
        positive_int(key)
    if s["processes"] > s["cores"]:
        raise ClusterError(f"{kind}: processes ({s['processes']}) cannot exceed cores ({s['cores']})")
    try:
        parse_bytes(str(s["memory"]))
    except (ValueError, TypeError):
        raise ClusterError(f"{kind}: memory {s['memory']!r} is not a size (e.g. '4GiB')") from None
    for key in _DURATIONS:
        parse_duration(s[key], key)
    for key in ("job-extra-directives", "job-script-prologue", "job-directives-skip"):
        if not isinstance(s.get(key) or [], list):
            raise ClusterError(f"{kind}: {key} must be a list of strings")
    Profile(kind=_profile_kind(kind), settings=s).lifetime()


# -- clusters ------------------------------------------------------------------------------------------

class JobLedger:
    """Paces job submissions and records the job ids a cluster submitted."""

    def __init__(self, interval: float = 0.0) -> None:
        self.interval = interval
        self.jobs: list[str] = []
        #: Why submissions failed (one line each), e.g. ``qsub: command not found``.
        self.errors: list[str] = []
        self._last = -math.inf
        self._lock: asyncio.Lock | None = None

    async def submit(self, start: Any) -> None:
        """Run one job's ``start`` coroutine function no sooner than ``interval`` after the last."""
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            wait = self._last + self.interval - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            self._last = time.monotonic()
            await start()


def submission_error(text: str) -> str:
    """The scheduler's own words from dask-jobqueue's failed-submission text (its ``stderr:`` part, e.g.
    ``sbatch: error: invalid partition specified: nope``), on one line."""
    err = text.split("stderr:", 1)[1] if "stderr:" in text else text
    lines = [ln.strip() for ln in err.splitlines() if ln.strip()]
    return "; ".join(lines)[:500] if lines else " ".join(text.split())[:500]


def _paced_job_class(base: Any, ledger: JobLedger) -> type:
    """A subclass of ``base``, a dask-jobqueue Job class, whose submissions go through ``ledger``."""

    class PacedJob(base):
        async def start(self) -> None:
            try:
                await ledger.submit(super().start)
            except Exception as exc:
                ledger.errors.append(submission_error(str(exc)) or type(exc).__name__)
                with contextlib.suppress(AttributeError):
                    exc.geoshelf_recorded = True  # type: ignore[attr-defined]  # see _QuietRecordedSubmissions
                raise
            if self.job_id:
                ledger.jobs.append(str(self.job_id))

    PacedJob.__name__ = PacedJob.__qualname__ = base.__name__
    return PacedJob


class _QuietRecordedSubmissions:
    """A logging filter for tornado's "Exception in callback" traceback of a job submission that failed: the
    ledger holds the scheduler's words and the driver stops the campaign with them on one line."""

    @staticmethod
    def filter(record: Any) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        return not getattr(exc, "geoshelf_recorded", False)


def _quiet_recorded_submissions() -> None:
    log = logging.getLogger("tornado.application")
    if not any(isinstance(f, _QuietRecordedSubmissions) for f in log.filters):
        log.addFilter(_QuietRecordedSubmissions())


def _scratch_prologue(scratch: str | None) -> list[str]:
    if not scratch:
        return []
    if scratch.strip() in ("$TMPDIR", "${TMPDIR}"):
        # PBS sets TMPDIR to a node-local per-job directory; Slurm often does not set it at all
        return ['export TMPDIR="${TMPDIR:-/tmp}"']
    return [f'mkdir -p "{scratch}"', f'export TMPDIR="{scratch}"']


def jobqueue_kwargs(profile: Profile) -> dict[str, Any]:
    """Keyword arguments of SLURMCluster / PBSCluster for a batch profile."""
    s = profile.settings
    life, stagger = profile.lifetime()
    scratch = s.get("scratch")
    sched: dict[str, Any] = {"dashboard_address": s.get("dashboard-address") or ":8787"}
    if s.get("scheduler-host"):
        sched["host"] = s["scheduler-host"]
    kwargs: dict[str, Any] = {
        "job_name": "geoshelf",
        "queue": s.get("queue"),
        "account": s.get("account"),
        "cores": int(s["cores"]),
        "processes": int(s["processes"]),
        "memory": str(s["memory"]),
        "walltime": str(s["walltime"]),
        "job_extra_directives": list(s.get("job-extra-directives") or []),
        "job_directives_skip": list(s.get("job-directives-skip") or []),
        "job_script_prologue": _scratch_prologue(scratch) + list(s.get("job-script-prologue") or []),
        "python": s.get("python") or sys.executable,
        "local_directory": scratch or None,
        "worker_extra_args": ["--lifetime", f"{int(life)}s", "--lifetime-stagger", f"{int(stagger)}s"],
        "interface": s.get("interface"),
        "death_timeout": s.get("death-timeout"),
        "log_directory": s.get("log-directory"),
        "scheduler_options": sched,
    }
    if profile.kind == "pbs" and s.get("resource-spec"):
        kwargs["resource_spec"] = s["resource-spec"]
    return {k: v for k, v in kwargs.items() if v is not None}


#: Environment of the worker processes a LocalCluster starts, set before they start (glibc reads it
#: once).  dask's nanny sets ``MALLOC_TRIM_THRESHOLD_``, which also fixes glibc's mmap threshold at
#: 128 KiB: every buffer above it (GDAL's 256 KiB blocks, window reads) is a fresh mmap whose pages
#: fault in anew, about a quarter more CPU per COG than the same translate in a plain process
#: (docs/benchmarks.md, row 9).  Up to 1 MiB then comes from the heap; bigger arrays are still
#: mmap'd and returned to the system at once.  A value in dask's config or the environment wins.  Like
#: dask's own, the variable is also left in the environment of the process that starts the cluster.
WORKER_SPAWN_ENV: dict[str, str] = {"MALLOC_MMAP_THRESHOLD_": str(1 << 20)}


@contextlib.contextmanager
def worker_spawn_env() -> Iterator[None]:
    """Add :data:`WORKER_SPAWN_ENV` to ``distributed.nanny.pre-spawn-environ`` while workers start."""
    key = "distributed.nanny.pre-spawn-environ"
    configured = dask.config.get(key, default=None) or {}
    with dask.config.set({key: {**WORKER_SPAWN_ENV, **dict(configured)}}):
        yield


def make_cluster(profile: Profile, *, ledger: JobLedger | None = None) -> Any:
    """A cluster object for the profile; batch profiles submit nothing until they scale."""
    if profile.kind == "local":
        # deferred: distributed costs ~0.4 s; a dry run and `job_script` start no cluster
        from distributed import LocalCluster

        s = profile.settings
        scratch = s.get("scratch") or None
        with worker_spawn_env():
            return LocalCluster(n_workers=profile.workers_per_job, threads_per_worker=profile.threads_per_worker,
                                processes=True, memory_limit=s.get("memory-limit") or "auto",
                                local_directory=os.path.expandvars(scratch) if scratch else None,
                                dashboard_address=s.get("dashboard-address") or ":8787",
                                silence_logs=logging.ERROR)
    if profile.kind == "gateway":
        return _gateway_cluster(profile)
    # deferred: dask-jobqueue costs ~0.5 s; only batch profiles need it
    import dask_jobqueue

    cls: Any = {"slurm": dask_jobqueue.SLURMCluster, "pbs": dask_jobqueue.PBSCluster}[profile.kind]
    kwargs = jobqueue_kwargs(profile)
    if ledger is not None:
        kwargs["job_cls"] = _paced_job_class(cls.job_cls, ledger)
        _quiet_recorded_submissions()
    try:
        return cls(silence_logs="error", **kwargs)
    except (ValueError, OSError) as exc:
        raise ClusterError(f"{profile.kind}: cannot set up the cluster: {one_line(exc)}") from None
    except RuntimeError as exc:  # distributed wraps the scheduler's start failure (e.g. an unknown interface)
        cause = exc.__cause__ or exc
        raise ClusterError(f"{profile.kind}: cannot start the scheduler: {one_line(cause)}") from None


def missing_interface(name: str | None) -> bool:
    """True when ``name`` is set but is not a network interface of this machine."""
    if not name:
        return False
    # deferred: psutil costs ~12 ms; only a missing --interface check needs it
    import psutil

    return name not in psutil.net_if_addrs()


def _gateway_auth(s: Mapping[str, Any]) -> Any:
    # deferred: dask-gateway costs ~0.6 s; only the gateway profile needs it
    from dask_gateway import BasicAuth, JupyterHubAuth, KerberosAuth

    kind = s.get("auth")
    if kind == "basic":
        return BasicAuth(username=s.get("username") or None, password=os.environ.get("DASK_GATEWAY_PASSWORD"))
    if kind == "kerberos":
        return KerberosAuth()
    if kind == "jupyterhub":
        return JupyterHubAuth(api_token=os.environ.get("JUPYTERHUB_API_TOKEN"))
    return None  # dask-gateway's own configuration (gateway.auth) decides


def _gateway_cluster(profile: Profile) -> Any:
    """A new cluster on the configured dask-gateway server (one line on any failure)."""
    try:
        # deferred: dask-gateway costs ~0.6 s; only the gateway profile needs it
        from dask_gateway import Gateway
    except ImportError:  # pragma: no cover - a declared dependency
        raise ClusterError("gateway: the dask-gateway client library is not installed") from None
    s = profile.settings
    try:
        gateway = Gateway(address=s["address"], proxy_address=s.get("proxy-address") or None, auth=_gateway_auth(s))
        options = dict(s.get("cluster-options") or {})
        return gateway.new_cluster(**options) if options else gateway.new_cluster()
    except Exception as exc:  # noqa: BLE001 - aiohttp / gateway errors of many kinds
        raise ClusterError(f"gateway: cannot start a cluster at {s['address']}: "
                           f"{one_line(exc, 300) or type(exc).__name__}") from None


def _adapt(profile: Profile, cluster: Any) -> None:
    """Adaptive scaling: batch jobs 0..max-jobs, gateway workers 0..max-workers."""
    if profile.batch:
        wait = parse_duration(profile.settings["scale-down-wait"], "scale-down-wait")
        cluster.adapt(minimum_jobs=0, maximum_jobs=profile.max_jobs, interval="1s",
                      wait_count=max(1, int(math.ceil(wait))))
    elif profile.kind == "gateway":
        cluster.adapt(minimum=int(profile.settings.get("min-workers") or 0), maximum=profile.max_workers)


def client(profile: str | None = None, **overrides: Any) -> Any:
    """A Dask client on a cluster of the named profile, the same profiles campaigns use.

    ``client("local")`` starts a LocalCluster; ``"slurm"`` / ``"pbs"`` a dask-jobqueue cluster
    scaling adaptively between 0 and ``max-jobs`` jobs; ``"gateway"`` a dask-gateway cluster
    scaling between ``min-workers`` and ``max-workers``.  ``overrides`` are that profile's
    settings (``client("slurm", queue="short", max_jobs=2)``).  The client becomes the default;
    ``client.cluster.close()`` releases the cluster (it also goes when the process exits).
    """
    # deferred: distributed costs ~0.4 s; a dry run, status and report need no client
    from distributed import Client

    prof = get_profile(profile, overrides)
    ledger = JobLedger(parse_duration(prof.settings["submit-interval"], "submit-interval")) if prof.batch else None
    cluster = make_cluster(prof, ledger=ledger)
    try:
        cl = Client(cluster, set_as_default=True)
        _adapt(prof, cluster)
    except Exception:
        with contextlib.suppress(Exception):
            cluster.close()
        raise
    return cl


def job_script(profile: Profile) -> str | None:
    """The job script a batch profile submits (None for local); nothing is submitted and no scheduler started.

    dask-jobqueue renders it from the same keyword arguments :func:`make_cluster` gives the cluster, with
    the scheduler's address as the run would have it: the configured ``scheduler-host`` (else the address
    of ``interface``, else this machine's) and the configured port, else ``<port>`` (chosen when the
    scheduler starts).  Starting a scheduler only to print its address cost seconds (a minute on a busy
    login node) of every dry run."""
    if not profile.batch:
        return None
    settings_ = {**profile.settings, "dashboard-address": ":0"}
    note = ""
    interface = settings_.get("interface")
    if missing_interface(interface) and not settings_.get("scheduler-host"):
        # a dry run on a login node without the compute network: render the script with a local
        # scheduler address; the workers' `--interface` stays as configured
        settings_["scheduler-host"] = "127.0.0.1"
        note = (f"# note: interface {interface!r} does not exist on this machine, so the scheduler address "
                "below is a placeholder; run the driver where it exists\n")
    # deferred: dask-jobqueue costs ~0.5 s; only batch profiles need it
    import dask_jobqueue

    cls: Any = {"slurm": dask_jobqueue.SLURMCluster, "pbs": dask_jobqueue.PBSCluster}[profile.kind]
    kwargs = jobqueue_kwargs(Profile(kind=profile.kind, settings=settings_))
    sched = {**(dask.config.get(f"jobqueue.{cls.job_cls.default_config_name()}.scheduler-options", None) or {}),
             **kwargs.pop("scheduler_options", {})}
    try:
        script = str(cls.job_cls(_scheduler_address(sched, kwargs.get("interface")), name="dummy-name",
                                 **kwargs).job_script())
    except (TypeError, ValueError) as exc:
        raise ClusterError(f"{profile.kind}: cannot render the job script: {one_line(exc)}") from None
    if note:  # after the shebang line
        first, _, rest = script.partition("\n")
        script = f"{first}\n{note}{rest}"
    return script


def _scheduler_address(sched: Mapping[str, Any], interface: str | None) -> str:
    """``tcp://HOST:PORT`` of the scheduler a run would start (see :func:`job_script`)."""
    host = sched.get("host")
    iface = sched.get("interface") or interface
    if not host and iface:
        # deferred: psutil and distributed cost ~0.4 s; only a started cluster needs an address
        import psutil

        addrs = [a.address for a in psutil.net_if_addrs().get(iface, []) if a.family.name == "AF_INET"]
        host = addrs[0] if addrs else None
    if not host:
        # deferred: distributed costs ~0.4 s; only a started cluster needs an address
        from distributed.utils import get_ip

        host = get_ip()
    port = sched.get("port") or "<port>"
    protocol = str(sched.get("protocol") or "tcp").split(":")[0]
    return f"{protocol}://{host}:{port}"


@dataclass(kw_only=True)
class Session:
    """A running cluster and its client, as a campaign uses them."""

    profile: Profile
    cluster: Any
    client: Any
    ledger: JobLedger | None = None

    @property
    def jobs(self) -> list[str]:
        """Scheduler job ids submitted so far (empty for local)."""
        return list(self.ledger.jobs) if self.ledger else []

    def workers(self) -> int:
        """Workers connected to the scheduler right now."""
        try:
            return len(self.client.scheduler_info().get("workers", {}))
        except Exception:  # noqa: BLE001 - a lost scheduler shows as no workers
            return 0

    @property
    def dashboard(self) -> str:
        """The Dask dashboard address, or a hint when the dashboard is not available."""
        try:
            services = self.client.scheduler_info().get("services", {})
        except Exception:  # noqa: BLE001 - informational only
            services = {}
        if "dashboard" not in services:
            return "not available (install bokeh>=3.1 for the Dask dashboard)"
        with contextlib.suppress(Exception):
            return str(self.client.dashboard_link)
        return "not available"


@contextlib.contextmanager
def open_session(profile: Profile) -> Iterator[Session]:
    """Start the profile's cluster and a Client (the default client while open); close both after.

    Batch profiles scale adaptively between 0 and ``max-jobs`` jobs, submissions paced.
    """
    # deferred: distributed costs ~0.4 s; a dry run, status and report need no client
    from distributed import Client

    ledger = None
    if profile.batch:
        ledger = JobLedger(parse_duration(profile.settings["submit-interval"], "submit-interval"))
    cluster = make_cluster(profile, ledger=ledger)
    client = None
    try:
        client = Client(cluster, set_as_default=True)
        _adapt(profile, cluster)
        yield Session(profile=profile, cluster=cluster, client=client, ledger=ledger)
    finally:
        if client is not None:
            with contextlib.suppress(Exception):
                client.close()
        with contextlib.suppress(Exception):
            cluster.close()


__all__ = ["BATCH_PROFILES", "PROFILES", "JobLedger", "Profile", "Session", "client", "collect_env", "get_profile",
           "job_script", "jobqueue_kwargs", "make_cluster", "open_session", "parse_duration", "parse_walltime",
           "settings", "site_jobqueue", "worker_spawn_env", "WORKER_SPAWN_ENV"]
