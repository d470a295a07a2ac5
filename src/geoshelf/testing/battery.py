"""The fault battery: SIGKILL geoshelf at random points of real work, rerun, check the result.

Each :class:`Scenario` is a small workspace (generated CF data, a catalog, maybe a campaign
spec) and a sequence of steps (``geoshelf`` commands, or a library call).  A trial copies the
workspace, runs the steps, kills one step at a random point (:func:`~.faults.choose_kill`:
a fault point the crash-free run reached, or a random delay), reruns that step and the rest,
and compares the catalog and every output with a crash-free run of the same steps
(:func:`~.faults.check_invariants`).

``python scripts/faults.py --kills 200`` (or ``python -m geoshelf.testing.battery``) runs the long form;
the test suite runs :func:`run_battery` with about 20 kills (marker ``reliability``).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ..catalog import add_entry, remove_entry
from ..demo.data import generate_demo
from ..scan import scan
from .faults import ChildRun, Snapshot, check_invariants, choose_kill, run_child, snapshot

#: A step: CLI arguments (``CAT`` -> the catalog, ``DIR/...`` -> below the workspace), or (callable, args).
Step = Sequence[str] | tuple[Callable[..., Any], tuple[Any, ...]]


@dataclass(frozen=True, kw_only=True)
class Scenario:
    """A workspace and the steps run in it."""

    name: str
    #: Prepares a fresh workspace (data, catalog, spec) in the given empty directory.
    setup: Callable[[Path, Path], None]
    steps: tuple[Step, ...]
    #: Share of the kills this scenario gets.
    weight: int = 1


@dataclass(kw_only=True)
class BatteryResult:
    """What a battery run found."""

    kills: int = 0
    trials: int = 0
    #: Outputs recorded but missing, partial, stale, not loading, or with data other than the crash-free run's.
    corrupt_outputs: int = 0
    #: Entries or representations the crash-free run has and the rerun lost.
    lost_entries: int = 0
    #: Any other difference from the crash-free run, or a rerun that failed.
    other_problems: int = 0
    seconds: float = 0.0
    kills_by_scenario: dict[str, int] = field(default_factory=dict)
    kills_at_points: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (self.corrupt_outputs or self.lost_entries or self.other_problems)

    def summary(self) -> str:
        by = ", ".join(f"{k} {v}" for k, v in sorted(self.kills_by_scenario.items()))
        return (f"{self.kills} kills in {self.trials} trials ({self.kills_at_points} at named fault points, the rest "
                f"after random delays; {by}): corrupt or half-published outputs {self.corrupt_outputs}, lost entries "
                f"{self.lost_entries}, other differences {self.other_problems}; {self.seconds:.0f} s")


# -- workspaces ------------------------------------------------------------------------------------

def _demo(root: Path) -> dict[str, list[Path]]:
    return {k: [Path(p) for p in v] for k, v in generate_demo(root / "data", "tiny").items()}


def _catalog(root: Path, entries: Mapping[str, Sequence[Path]]) -> Path:
    cat = root / "catalog.yaml"
    for name, files in entries.items():
        add_entry(cat, scan([str(f) for f in files], name, catalog_dir=str(root)))
    return cat


def _setup_basic(root: Path, demo: Path) -> None:
    shutil.copytree(demo / "data", root / "data", copy_function=shutil.copy2)
    files = {k: sorted((root / "data" / k).iterdir()) for k in ("sst", "air", "elevation", "stations")}
    _catalog(root, files)


def _setup_append(root: Path, demo: Path) -> None:
    """sst catalogued and converted with its first 6 days; 2 more days arrived since (to add and append)."""
    _setup_basic(root, demo)
    sst = sorted((root / "data" / "sst").iterdir())
    late = root / "late"
    late.mkdir()
    for f in sst[6:]:
        shutil.move(str(f), late / f.name)
    _catalog_update(root, "sst")
    env = _child_env(root)
    done = run_child(["convert", "sst", "--to", "zarr", "--catalog", str(root / "catalog.yaml")], env=env)
    if done.returncode:
        raise RuntimeError(f"append set-up failed: {done.stderr}")
    for f in sorted(late.iterdir()):
        shutil.move(str(f), root / "data" / "sst" / f.name)


def _catalog_update(root: Path, name: str) -> None:
    files = sorted(str(p) for p in (root / "data" / name).iterdir())
    add_entry(root / "catalog.yaml", scan(files, name, catalog_dir=str(root)), overwrite=True)


def _setup_campaign(mode: str) -> Callable[[Path, Path], None]:
    def setup(root: Path, demo: Path) -> None:
        _setup_basic(root, demo)
        cluster = {"profile": "local", "n-workers": 1, "threads-per-worker": 2, "dashboard-address": ":0"}
        inputs: dict[str, Any] = ({"files": ["data/sst/*.nc"], "name": "day_{stem}"} if mode == "files"
                                  else {"entries": ["sst", "air"]})
        spec = {"catalog": "catalog.yaml", "inputs": inputs, "target": "zarr", "batch_size": 2, "retries": 0,
                "cluster": cluster}
        (root / "campaign.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))

    return setup


def _remove(catalog: str, name: str) -> None:
    remove_entry(catalog, name)


def scenarios() -> list[Scenario]:
    """The battery's scenarios: every converter, rebuild over an old output, append, campaigns, catalog edits."""
    return [
        Scenario(name="zarr", setup=_setup_basic, weight=4, steps=(
            ["convert", "sst", "--to", "zarr", "--layout", "map", "--catalog", "CAT"],
            ["convert", "sst", "--to", "zarr", "--layout", "timeseries", "--catalog", "CAT"])),
        Scenario(name="references", setup=_setup_basic, weight=3, steps=(
            ["convert", "sst", "--to", "references", "--catalog", "CAT"],
            ["convert", "sst", "--to", "references", "--store", "parquet", "--catalog", "CAT"])),
        Scenario(name="cog", setup=_setup_basic, weight=3, steps=(
            ["convert", "elevation", "--to", "cog", "--catalog", "CAT"],)),
        Scenario(name="parquet", setup=_setup_basic, weight=3, steps=(
            ["convert", "stations", "--to", "parquet", "--catalog", "CAT"],)),
        Scenario(name="append", setup=_setup_append, weight=3, steps=(
            ["add", "DIR/data/sst", "--name", "sst", "--update", "--catalog", "CAT"],
            ["convert", "sst", "--to", "zarr", "--catalog", "CAT"])),
        Scenario(name="catalog-edits", setup=_setup_basic, weight=3, steps=(
            ["add", "DIR/data/air", "--name", "air2", "--description", "copy", "--catalog", "CAT"],
            ["add", "DIR/data/air", "--name", "air2", "--update", "--tag", "edited", "--catalog", "CAT"],
            (_remove, ("CAT", "air")))),
        Scenario(name="campaign-files", setup=_setup_campaign("files"), weight=2, steps=(
            ["campaign", "run", "DIR/campaign.yaml"],)),
        Scenario(name="campaign-entries", setup=_setup_campaign("entries"), weight=2, steps=(
            ["campaign", "run", "DIR/campaign.yaml"],)),
    ]


# -- running -------------------------------------------------------------------------------------

def _child_env(root: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GEOSHELF_")}
    # PYTHONFAULTHANDLER: a native crash (SIGSEGV, SIGABRT) prints every thread's Python stack to stderr
    env.update(GEOSHELF_CONFIG=str(root / "no-user-config.yaml"), GEOSHELF_INDEX_DIR=str(root / ".index"),
               PYTHONWARNINGS="ignore", PYTHONFAULTHANDLER="1")
    return env


def _bind(step: Step, root: Path) -> tuple[Any, tuple[Any, ...]]:
    def sub(a: Any) -> Any:
        if not isinstance(a, str):
            return a
        if a == "CAT":
            return str(root / "catalog.yaml")
        return str(root / a[4:]) if a.startswith("DIR/") else a

    if isinstance(step, tuple) and callable(step[0]):
        return step[0], tuple(sub(a) for a in step[1])
    return [sub(a) for a in step], ()


def _run_step(step: Step, root: Path, **kill: Any) -> ChildRun:
    command, args = _bind(step, root)
    return run_child(command, *args, env=_child_env(root), cwd=root, timeout=900, **kill)


@dataclass(kw_only=True)
class _Reference:
    runs: list[ChildRun]
    expected: Snapshot


def _reference(scenario: Scenario, template: Path, work: Path) -> _Reference:
    root = work / f"{scenario.name}-reference"
    shutil.copytree(template, root, symlinks=True)
    runs = []
    for step in scenario.steps:
        r = _run_step(step, root, trace=True)
        if r.returncode != 0:
            raise RuntimeError(f"{scenario.name}: crash-free step {step} failed: {r.stderr.strip()[-500:]}")
        runs.append(r)
    return _Reference(runs=runs, expected=snapshot(root / "catalog.yaml", root=root))


def _classify(problem: str) -> str:
    if "entry lost" in problem or "representation lost" in problem:
        return "lost"
    if any(w in problem for w in ("missing", "partial", "does not load", "stale", "data differs", "leftover")):
        return "corrupt"
    return "other"


def run_battery(kills: int, *, seed: int = 0, workdir: str | os.PathLike[str] | None = None,
                only: Sequence[str] | None = None, progress: Callable[[str], None] | None = None) -> BatteryResult:
    """Kill geoshelf ``kills`` times across the scenarios; return the counts of what went wrong."""
    rng = random.Random(seed)
    start = time.monotonic()
    result = BatteryResult()
    chosen = [s for s in scenarios() if only is None or s.name in only]
    weights = [s.weight for s in chosen]
    work = Path(tempfile.mkdtemp(prefix="geoshelf-battery-", dir=workdir))
    try:
        demo = work / "demo"
        _demo(demo)
        templates: dict[str, Path] = {}
        refs: dict[str, _Reference] = {}
        for s in chosen:
            templates[s.name] = work / f"{s.name}-template"
            templates[s.name].mkdir()
            s.setup(templates[s.name], demo)
            refs[s.name] = _reference(s, templates[s.name], work)
            if progress:
                progress(f"{s.name}: crash-free run {sum(r.duration for r in refs[s.name].runs):.1f} s, "
                         f"{sum(len(r.points) for r in refs[s.name].runs)} fault points reached")
        tries: dict[str, int] = {}
        while result.kills < kills and result.trials < 4 * kills:
            # each scenario until it was killed once (a delay past the end of a quick step kills nothing), then
            # by weight
            unkilled = [c for c in chosen if c.name not in result.kills_by_scenario and tries.get(c.name, 0) < 4]
            s = unkilled[0] if unkilled else rng.choices(chosen, weights=weights)[0]
            tries[s.name] = tries.get(s.name, 0) + 1
            result.trials += 1
            _trial(s, templates[s.name], refs[s.name], work / f"{s.name}-{result.trials}", rng, result, progress)
    finally:
        if result.ok:  # a failing trial's workspace is kept for inspection
            shutil.rmtree(work, ignore_errors=True)
        elif progress:
            progress(f"workspaces of the failing trials kept in {work}")
    result.seconds = time.monotonic() - start
    return result


def _keep_log(root: Path, name: str, run: ChildRun) -> None:
    """The step's exit status and output, beside the workspace (kept with it when the trial fails)."""
    with contextlib.suppress(OSError):
        (root.parent / f"{root.name}.{name}.log").write_text(
            f"returncode {run.returncode}, killed {run.killed} at {run.at or '-'}, {run.duration:.1f} s\n"
            f"--- stdout\n{run.stdout[-20000:]}\n--- stderr\n{run.stderr[-20000:]}\n")


def _trial(s: Scenario, template: Path, ref: _Reference, root: Path, rng: random.Random, result: BatteryResult,
           progress: Callable[[str], None] | None) -> None:
    """Copy the workspace, kill one step at a random point, rerun it and the rest, check the invariants."""
    shutil.copytree(template, root, symlinks=True)
    k = rng.randrange(len(s.steps))
    problems: list[str] = []
    for step in s.steps[:k]:
        r = _run_step(step, root)
        if r.returncode:
            problems.append(f"step before the kill failed: {r.stderr.strip()[-300:]}")
    r = _run_step(s.steps[k], root, **choose_kill(ref.runs[k], rng))
    _keep_log(root, f"step{k}-killed", r)
    for i, step in enumerate(s.steps[k:], start=k):
        again = _run_step(step, root)
        _keep_log(root, f"step{i}-rerun", again)
        # a rerun may refuse in one line (an `add` that was done before the kill); a traceback is a bug
        if again.returncode and "Traceback" in again.stderr:
            problems.append(f"rerun crashed: {again.stderr.strip()[-500:]}")
        elif again.returncode < 0:
            problems.append(f"rerun died of signal {-again.returncode}: {again.stderr.strip()[-300:]}")
    problems += check_invariants(root / "catalog.yaml", ref.expected, root=root)
    for p in problems:
        kind = _classify(p)
        if kind == "lost":
            result.lost_entries += 1
        elif kind == "corrupt":
            result.corrupt_outputs += 1
        else:
            result.other_problems += 1
        result.problems.append(f"{s.name} step {k} killed at {r.at or '(not killed)'}: {p}")
    if not problems:
        shutil.rmtree(root, ignore_errors=True)
        for log in root.parent.glob(f"{root.name}.step*.log"):
            log.unlink()
    if r.killed:
        result.kills += 1
        result.kills_at_points += "@" in r.at
        result.kills_by_scenario[s.name] = result.kills_by_scenario.get(s.name, 0) + 1
    if progress:
        progress(f"trial {result.trials}: {s.name} step {k} " + (f"killed at {r.at}" if r.killed else "not killed")
                 + f": {'ok' if not problems else f'{len(problems)} problems'}")


def main(argv: Sequence[str] | None = None) -> int:
    """``python scripts/faults.py --kills 200``: the long form of the fault battery."""
    p = argparse.ArgumentParser(prog="scripts/faults.py",
                                description="SIGKILL geoshelf at random points, rerun, and check the result.")
    p.add_argument("--kills", type=int, default=200, help="number of kills (default 200)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--only", action="append", help="scenario name (repeatable): " +
                   ", ".join(s.name for s in scenarios()))
    p.add_argument("--workdir", help="where the workspaces go (default: the system temp directory)")
    args = p.parse_args(argv)
    result = run_battery(args.kills, seed=args.seed, workdir=args.workdir, only=args.only,
                         progress=lambda line: print(line, file=sys.stderr, flush=True))
    for line in result.problems:
        print(line)
    print(result.summary())
    return 0 if result.ok else 1


__all__ = ["BatteryResult", "Scenario", "main", "run_battery", "scenarios"]


if __name__ == "__main__":
    sys.exit(main())
