"""Cluster profiles: configuration layers and the job scripts dask-jobqueue renders from them.

PBS has no package here: its path is tested through the rendered ``cluster.job_script()``
text (directives, resources, scratch, environment, worker lifetime), as dask-jobqueue's
own unit tests do.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from geoshelf.cluster import Profile, collect_env, get_profile, job_script, parse_walltime, settings
from geoshelf.errors import ClusterError

SITE = {
    "queue": "normal", "account": "geo0042", "cores": 8, "processes": 4, "memory": "64GiB",
    "walltime": "02:00:00", "scratch": "$TMPDIR",
    "job-extra-directives": ["-l place=scatter", "-j oe"],
    "job-script-prologue": ["module load netcdf/4.9", "source /apps/geoshelf/venv/bin/activate"],
    "python": "/apps/geoshelf/venv/bin/python",
}


@pytest.fixture(autouse=True)
def _isolated_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No user config or GEOSHELF_* variables from the machine leak into these tests."""
    for name in list(__import__("os").environ):
        if name.startswith("GEOSHELF_") and "__" in name:
            monkeypatch.delenv(name)
    cfg = tmp_path / "config.yaml"
    monkeypatch.setenv("GEOSHELF_CONFIG", str(cfg))
    return cfg


def test_pbs_job_script_has_site_directives_resources_scratch_environment_and_lifetime() -> None:
    script = job_script(get_profile("pbs", SITE))
    assert script is not None
    lines = script.splitlines()
    assert lines[0] == "#!/usr/bin/env bash"
    assert "#PBS -N geoshelf" in lines
    assert "#PBS -q normal" in lines
    assert "#PBS -A geo0042" in lines
    assert "#PBS -l select=1:ncpus=8:mem=64GB" in lines
    assert "#PBS -l walltime=02:00:00" in lines
    assert "#PBS -l place=scatter" in lines and "#PBS -j oe" in lines
    # the prologue runs before the worker, in order: scratch, then the site's environment
    assert lines.index('export TMPDIR="${TMPDIR:-/tmp}"') < lines.index("module load netcdf/4.9") < \
        lines.index("source /apps/geoshelf/venv/bin/activate")
    worker = next(ln for ln in lines if "distributed.cli.dask_worker" in ln)
    assert worker.startswith("/apps/geoshelf/venv/bin/python -m distributed.cli.dask_worker tcp://")
    assert "--nworkers 4" in worker and "--nthreads 2" in worker
    assert "--local-directory $TMPDIR" in worker
    # 2 h walltime - 10 min margin - 2 min stagger: every worker retires >= 10 min before the walltime
    assert "--lifetime 6480s --lifetime-stagger 120s" in worker


def test_pbs_resource_spec_and_node_local_scratch_directory() -> None:
    script = job_script(get_profile("pbs", {**SITE, "resource-spec": "select=1:ncpus=8:mem=60gb:scratch=true",
                                             "scratch": "/local/scratch/$USER"}))
    assert "#PBS -l select=1:ncpus=8:mem=60gb:scratch=true" in script
    assert 'mkdir -p "/local/scratch/$USER"' in script
    assert 'export TMPDIR="/local/scratch/$USER"' in script
    assert "--local-directory /local/scratch/$USER" in script


def test_slurm_job_script_uses_this_python_and_reachable_scheduler() -> None:
    profile = get_profile("slurm", {"queue": "debug", "account": "geo", "cores": 2, "memory": "2GiB",
                                    "walltime": "00:30:00", "lifetime-margin": "5m", "lifetime-stagger": "1m",
                                    "scheduler-host": "127.0.0.1"})
    script = job_script(profile)
    assert "#SBATCH -J geoshelf" in script
    assert "#SBATCH -p debug" in script and "#SBATCH -A geo" in script
    assert "#SBATCH --cpus-per-task=2" in script and "#SBATCH --mem=2G" in script
    assert "#SBATCH -t 00:30:00" in script
    worker = next(ln for ln in script.splitlines() if "dask_worker" in ln)
    assert worker.startswith(f"{sys.executable} -m distributed.cli.dask_worker tcp://127.0.0.1:")
    assert "--lifetime 1440s --lifetime-stagger 60s" in worker


def test_local_profile_is_the_default_and_sized_to_the_machine() -> None:
    p = get_profile()
    assert p.kind == "local" and not p.batch and p.max_jobs == 0
    assert p.workers_per_job == (__import__("os").cpu_count() or 1)
    assert job_script(p) is None


def test_precedence_explicit_over_env_over_user_file_over_defaults(_isolated_config: Path) -> None:
    assert get_profile("pbs").settings["queue"] is None  # package default
    _isolated_config.write_text("cluster:\n  pbs:\n    queue: fromfile\n    max_jobs: 7\n")
    assert get_profile("pbs").settings["queue"] == "fromfile"
    assert get_profile("pbs").max_jobs == 7
    env = {"GEOSHELF_CLUSTER__PBS__QUEUE": "fromenv", "GEOSHELF_CLUSTER__PBS__MAX_JOBS": "9"}
    assert get_profile("pbs", environ=env).settings["queue"] == "fromenv"
    assert get_profile("pbs", environ=env).max_jobs == 9
    assert get_profile("pbs", {"queue": "explicit"}, environ=env).settings["queue"] == "explicit"
    assert collect_env({"GEOSHELF_CATALOG": "/x.yaml", "GEOSHELF_CAMPAIGN__BATCH_SIZE": "50"}) == \
        {"campaign": {"batch-size": 50}}
    assert settings(env)["cluster"]["pbs"]["max-jobs"] == 9


def test_config_is_merged_into_dask_config() -> None:
    import dask.config

    assert dask.config.get("geoshelf.cluster.default") == "local"
    assert dask.config.get("geoshelf.cluster.pbs.lifetime-margin") == "10m"


@pytest.mark.parametrize(("kind", "overrides", "message"), [
    ("lsf", {}, "unknown cluster profile 'lsf' (profiles: local, slurm, pbs, gateway)"),
    ("pbs", {"queeu": "x"}, "cluster profile 'pbs' has no setting 'queeu' (did you mean 'queue'?)"),
    ("pbs", {"cores": 0}, "pbs: cores must be a positive integer, not 0"),
    ("pbs", {"memory": "lots"}, "pbs: memory 'lots' is not a size (e.g. '4GiB')"),
    ("pbs", {"walltime": "00:10:00"}, "pbs: walltime 00:10:00 leaves 0 s of work after lifetime-margin 10m"),
    ("slurm", {"walltime": "soon"}, "walltime: 'soon' is not HH:MM:SS (or D-HH:MM:SS)"),
    ("slurm", {"processes": 4, "cores": 2}, "slurm: processes (4) cannot exceed cores (2)"),
])
def test_bad_profiles_are_one_clear_line(kind: str, overrides: dict, message: str) -> None:
    with pytest.raises(ClusterError) as err:
        get_profile(kind, overrides)
    assert str(err.value).startswith(message)
    assert "\n" not in str(err.value)


def test_walltime_formats() -> None:
    assert parse_walltime("01:00:00") == 3600
    assert parse_walltime("1-00:00:00") == 86400
    assert parse_walltime("90") == 5400  # Slurm: minutes
    assert parse_walltime("30:00") == 1800
    assert Profile(kind="slurm", settings={**get_profile("slurm").settings, "walltime": "2:00:00"}).lifetime() == \
        (7200 - 600 - 120, 120)


def _profile_in_subprocess(tmp_path: Path, code: str, **env: str) -> str:
    """Run ``code`` in a fresh interpreter (dask reads DASK_CONFIG at import) and return its stdout."""
    import os
    import subprocess

    full_env = {k: v for k, v in os.environ.items() if not (k.startswith("GEOSHELF_") or k.startswith("DASK_"))}
    full_env.update(GEOSHELF_CONFIG=str(tmp_path / "user.yaml"), **env)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=full_env, timeout=120)
    assert out.returncode == 0, out.stderr
    return out.stdout


def test_a_sites_jobqueue_yaml_applies_below_geoshelf_config_and_arguments(tmp_path: Path) -> None:
    """explicit arguments > geoshelf user/site config > the site's jobqueue.yaml > packaged defaults."""
    dask_dir = tmp_path / "dask"
    dask_dir.mkdir()
    (dask_dir / "jobqueue.yaml").write_text(
        "jobqueue:\n  slurm:\n    cores: 16\n    processes: 4\n    memory: 96GiB\n    walltime: '04:00:00'\n"
        "    queue: long\n    account: site-acct\n    local-directory: /scratch/local\n"
        "  pbs:\n    cores: 12\n    memory: 48GiB\n    resource-spec: select=1:ncpus=12:mem=48GB:model=bro\n")
    code = ("from geoshelf.cluster import get_profile, job_script\n"
            "import json, sys\n"
            "p = get_profile('slurm', json.loads(sys.argv[1]) if len(sys.argv) > 1 else None)\n"
            "print(json.dumps({k: p.settings[k] for k in ('cores', 'processes', 'memory', 'walltime', 'queue',"
            " 'account', 'scratch')}))\n"
            "print(json.dumps(list(p.lifetime())))\n"
            "print(job_script(p))\n"
            "q = get_profile('pbs')\n"
            "print(job_script(q))\n")
    import json

    out = _profile_in_subprocess(tmp_path, code, DASK_CONFIG=str(dask_dir))
    first, life, *script = out.splitlines()
    assert json.loads(first) == {"cores": 16, "processes": 4, "memory": "96GiB", "walltime": "04:00:00",
                                 "queue": "long", "account": "site-acct", "scratch": "/scratch/local"}
    assert json.loads(life)[0] == 4 * 3600 - 600 - 120  # the lifetime follows the site's walltime
    text = "\n".join(script)
    assert "#SBATCH -p long" in text and "#SBATCH -A site-acct" in text and "#SBATCH -t 04:00:00" in text
    assert "#SBATCH --cpus-per-task=16" in text
    assert "#PBS -l select=1:ncpus=12:mem=48GB:model=bro" in text
    # the geoshelf user config beats the site's jobqueue.yaml; DASK_JOBQUEUE__ variables count as the site's
    (tmp_path / "user.yaml").write_text("cluster:\n  slurm:\n    cores: 8\n    processes: 2\n")
    out = _profile_in_subprocess(tmp_path, code, DASK_CONFIG=str(dask_dir), DASK_JOBQUEUE__SLURM__QUEUE="express")
    got = json.loads(out.splitlines()[0])
    assert (got["cores"], got["processes"], got["memory"], got["queue"]) == (8, 2, "96GiB", "express")
    # an explicit argument beats everything
    code_arg = code.replace("import json, sys\n",
                            "import json, sys\nsys.argv = ['x', '{\"cores\": 2, \"processes\": 1}']\n")
    got = json.loads(_profile_in_subprocess(tmp_path, code_arg, DASK_CONFIG=str(dask_dir)).splitlines()[0])
    assert (got["cores"], got["processes"], got["queue"]) == (2, 1, "long")


def test_dask_jobqueues_own_defaults_do_not_beat_geoshelfs(tmp_path: Path) -> None:
    """dask-jobqueue ships walltime 00:30:00; with no site file, geoshelf's packaged 01:00:00 applies."""
    import json

    code = ("import dask_jobqueue, json\nfrom geoshelf.cluster import get_profile\n"
            "p = get_profile('slurm')\nprint(json.dumps([p.settings['walltime'], p.settings['cores']]))\n")
    empty = tmp_path / "empty-dask"
    empty.mkdir()
    assert json.loads(_profile_in_subprocess(tmp_path, code, DASK_CONFIG=str(empty))) == ["01:00:00", 1]

def test_interface_missing_here_renders_the_script_with_a_note_and_keeps_the_workers_interface() -> None:
    """A dry run on a login node without the compute network: the job script still renders."""
    script = job_script(get_profile("pbs", {**SITE, "interface": "ib9"}))
    assert script is not None
    lines = script.splitlines()
    assert lines[0].startswith("#!") and "interface 'ib9' does not exist on this machine" in lines[1]
    assert "--interface ib9" in script and "tcp://127.0.0.1:" in script


def test_interface_missing_at_run_time_is_one_cluster_error() -> None:
    """`interface: ib0` where there is none: ClusterError (exit 7), not a RuntimeError traceback."""
    from geoshelf.cluster import make_cluster
    from geoshelf.errors import ClusterError

    with pytest.raises(ClusterError, match="pbs: cannot start the scheduler: .*'ib9' is not a valid network interface"):
        make_cluster(get_profile("pbs", {**SITE, "interface": "ib9", "dashboard-address": ":0"}))


def test_local_workers_start_with_a_1mib_mmap_threshold() -> None:
    """dask's MALLOC_TRIM_THRESHOLD_ pins glibc's mmap threshold at 128 KiB (GDAL's blocks then fault
    in anew on every COG); the workers geoshelf starts get 1 MiB, dask's own settings kept."""
    import os

    from geoshelf.cluster import make_cluster

    cluster = make_cluster(get_profile("local", {"n-workers": 1, "dashboard-address": ":0"}))
    try:
        from distributed import Client

        with Client(cluster) as c:
            env = next(iter(c.run(lambda: {k: os.environ.get(k) for k in
                                           ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_")}).values()))
    finally:
        cluster.close()
    assert env == {"MALLOC_MMAP_THRESHOLD_": str(1 << 20), "MALLOC_TRIM_THRESHOLD_": "65536"}


def test_a_configured_worker_environment_wins_over_geoshelfs() -> None:
    import dask

    from geoshelf.cluster import worker_spawn_env

    key = "distributed.nanny.pre-spawn-environ"
    with dask.config.set({f"{key}.MALLOC_MMAP_THRESHOLD_": "4194304"}), worker_spawn_env():
        assert dask.config.get(key)["MALLOC_MMAP_THRESHOLD_"] == "4194304"
    with worker_spawn_env():
        assert dask.config.get(key)["MALLOC_MMAP_THRESHOLD_"] == str(1 << 20)
    assert "MALLOC_MMAP_THRESHOLD_" not in dask.config.get(key)
