"""Every shell command and Python snippet in README.md and docs/*.md runs as written.

The convention (docs/writing-docs.md): fenced ``bash``/``sh``/``shell``/``console`` and
``python`` blocks run, in document order, in a scratch copy of the repository on which
``geoshelf demo --size tiny`` has run (once per session; each document gets its own copy).
``yaml`` blocks must parse.  Inline code spans that are complete ``geoshelf ...`` commands run
too; synopses (``NAME``, ``A|B``, ``[...]``) and mentions of a bare subcommand do not.
A comment ``<!-- docs-test: MODE -->`` right before a block (or paragraph / table) says how:
``run`` (default), ``dry-run``, ``background``, ``skip REASON``, ``exit N``.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
SHELL = {"bash", "sh", "shell", "console"}
MODES = {"run", "dry-run", "background", "skip", "exit"}
MARKER = re.compile(r"<!--\s*docs-test:\s*(?P<mode>[a-z-]+)\s*(?P<arg>.*?)\s*-->")
FENCE = re.compile(r"^(?P<indent>\s*)```(?P<lang>[\w-]*)\s*$")
LIST_ITEM = re.compile(r"^\s*(\d+\.|[-*+])\s")
SYNOPSIS = re.compile(r"\b[A-Z][A-Z_]{2,}\b|[|\[<]|\.\.\.")
ROOT_IGNORE = {".git", ".venv", "demo", "shelf", "bench-work", "build", "tests", ".pytest_cache", ".hypothesis"}
ANY_IGNORE = shutil.ignore_patterns("__pycache__", "*.state", "*.egg-info", "*.lock")


def _ignore(directory: str, names: list[str]) -> set[str]:
    """What the scratch copy leaves out: the checkout's own work (venv, demo, shelf, states, locks)."""
    skip = set(ANY_IGNORE(directory, names))
    if Path(directory).resolve() == REPO:
        skip |= ROOT_IGNORE & set(names)
    return skip
TIMEOUT = 300
BACKGROUND_SECONDS = 5


@dataclass(frozen=True)
class Snippet:
    """One runnable piece of a document."""

    doc: str
    line: int
    lang: str  # "shell", "python", "yaml"
    text: str
    mode: str = "run"
    arg: str = ""

    def __str__(self) -> str:
        return f"{self.doc}:{self.line}"


def _marker(lines: list[str], i: int, path: Path) -> tuple[str, str]:
    """The docs-test marker on the lines just before line ``i`` (blank lines allowed between)."""
    j = i - 1
    while j >= 0 and not lines[j].strip():
        j -= 1
    if j >= 0 and (m := MARKER.search(lines[j])):
        mode, arg = m["mode"], m["arg"]
        if mode not in MODES:
            raise ValueError(f"{path.name}:{j + 1}: unknown docs-test mode {mode!r} (known: {sorted(MODES)})")
        if mode == "skip" and not arg:
            raise ValueError(f"{path.name}:{j + 1}: docs-test: skip needs a reason")
        return mode, arg
    return "run", ""


def _inline_commands(paragraph: str) -> list[str]:
    return [c for c in re.findall(r"`([^`\n]+)`", paragraph) if c.startswith("geoshelf ")]


def extract(path: Path) -> list[Snippet]:
    """The snippets of one Markdown file, in document order."""
    lines = path.read_text(encoding="utf-8").splitlines()
    name = str(path.relative_to(REPO))
    out: list[Snippet] = []
    i = 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if m:
            lang, indent, start = m["lang"].lower(), len(m["indent"]), i
            body: list[str] = []
            i += 1
            while i < len(lines) and not re.match(r"^\s*```\s*$", lines[i]):
                body.append(lines[i][indent:] if lines[i][:indent].strip() == "" else lines[i])
                i += 1
            i += 1
            mode, arg = _marker(lines, start, path)
            text = "\n".join(body) + "\n"
            if lang in SHELL:
                if lang == "console":
                    text = "\n".join(ln[2:] for ln in body if ln.startswith("$ ")) + "\n"
                out.append(Snippet(name, start + 1, "shell", text, mode, arg))
            elif lang in ("python", "py"):
                out.append(Snippet(name, start + 1, "python", text, mode, arg))
            elif lang in ("yaml", "yml"):
                out.append(Snippet(name, start + 1, "yaml", text, mode, arg))
            continue
        if lines[i].strip() and not MARKER.search(lines[i]):  # a paragraph, list item block or table
            start = i
            para: list[str] = []
            while i < len(lines) and lines[i].strip() and not FENCE.match(lines[i]) \
                    and not MARKER.search(lines[i]) and not (para and LIST_ITEM.match(lines[i])):
                para.append(lines[i])
                i += 1
            mode, arg = _marker(lines, start, path)
            for cmd in _inline_commands(" ".join(para)):
                out.append(Snippet(name, start + 1, "inline", cmd, mode, arg))
            continue
        i += 1
    return out


def _parse_error(cmd: str) -> str | None:
    """argparse's complaint about an inline ``geoshelf`` command, or None when it parses."""
    from geoshelf.cli import build_parser

    err = io.StringIO()
    try:
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            build_parser().parse_args(shlex.split(cmd)[1:])
    except SystemExit as exc:  # --help, --version exit 0: a command that parses
        return None if exc.code == 0 else (err.getvalue().strip() or f"exit {exc.code}")
    return None


def _is_mention(cmd: str) -> bool:
    """A synopsis (``geoshelf convert NAME --to A|B``) or a bare mention (``geoshelf add``)."""
    if SYNOPSIS.search(cmd):
        return True
    err = _parse_error(cmd)
    return err is not None and ("arguments are required" in err or "expected one argument" in err)


def _dry(text: str) -> str:
    """``geoshelf campaign run|retry`` lines get ``--dry-run``; the rest of the block is only parsed."""
    return "\n".join(
        ln + " --dry-run" if re.search(r"\bgeoshelf campaign run\b", ln) and "--dry-run" not in ln else ln
        for ln in text.splitlines() if re.search(r"\bgeoshelf campaign run\b", ln)
    ) + "\n"


# -- the scratch repository -----------------------------------------------------------------------

def _env(root: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GEOSHELF_", "XDG_"))}
    home = root / "home"
    home.mkdir(exist_ok=True)
    env.update(HOME=str(home), PYTHONPATH=str(root / "src"), GEOSHELF_INDEX_DIR=str(home / "index"),
               PATH=f"{root / '.venv' / 'bin'}{os.pathsep}{env.get('PATH', '')}", PYTHONDONTWRITEBYTECODE="1")
    env.pop("VIRTUAL_ENV", None)
    return env


@pytest.fixture(scope="session")
def docs_base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the repository (no .git, no venv) with the tiny demo generated in it."""
    base = tmp_path_factory.mktemp("docs") / "repo"
    shutil.copytree(REPO, base, ignore=_ignore)
    (base / ".venv").symlink_to(Path(sys.prefix))
    proc = subprocess.run(["geoshelf", "demo", "--size", "tiny"], cwd=base, env=_env(base), capture_output=True,
                          text=True, timeout=TIMEOUT)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert (base / "demo" / "demo.yaml").is_file()
    return base


def _run(snippet: Snippet, root: Path) -> None:
    env = _env(root)
    if snippet.lang == "yaml":
        yaml.safe_load(snippet.text)
        return
    text = snippet.text
    if snippet.lang == "inline":
        if _is_mention(text):
            return
        err = _parse_error(text)
        assert err is None, f"{snippet}: `{text}`: {err}"
    if snippet.mode == "dry-run":
        if snippet.lang == "python":
            compile(text, str(snippet), "exec")
            return
        check = subprocess.run(["bash", "-n"], input=text, text=True, capture_output=True)
        assert check.returncode == 0, f"{snippet}: shell syntax: {check.stderr}"
        text = _dry(text)
    if snippet.lang == "python":  # -c, as in a notebook: Dask's spawned workers re-import no __main__ file
        argv, text = [str(root / ".venv" / "bin" / "python"), "-c", text], ""
    else:
        argv = ["bash", "-e", "-o", "pipefail", "-s"]
    if snippet.mode == "background":
        proc = subprocess.Popen(argv, cwd=root, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True, start_new_session=True)
        assert proc.stdin is not None
        proc.stdin.write(text)
        proc.stdin.close()
        proc.stdin = None  # closed: communicate() must not flush it
        time.sleep(BACKGROUND_SECONDS)
        alive = proc.poll() is None
        if alive:
            os.killpg(proc.pid, signal.SIGTERM)
        out = proc.communicate(timeout=60)[0]
        assert alive, f"{snippet}: exited early ({proc.returncode}):\n{out[-3000:]}"
        return
    proc2 = subprocess.run(argv, cwd=root, env=env, input=text, text=True, capture_output=True, timeout=TIMEOUT)
    want = int(snippet.arg.split()[0]) if snippet.mode == "exit" else 0
    assert proc2.returncode == want, (
        f"{snippet}: exit {proc2.returncode} (expected {want}) running:\n{text}\n"
        f"--- stdout\n{proc2.stdout[-3000:]}\n--- stderr\n{proc2.stderr[-3000:]}"
    )


@pytest.mark.parametrize("doc", DOCS, ids=[d.name for d in DOCS])
def test_doc_runs_as_written(doc: Path, docs_base: Path, tmp_path: Path) -> None:
    """Every snippet of the document, in order, in the document's own copy of the scratch repository."""
    snippets = extract(doc)
    root = tmp_path / "repo"
    shutil.copytree(docs_base, root, symlinks=True)
    for snippet in snippets:
        if snippet.mode == "skip":
            continue
        _run(snippet, root)


# -- the extractor itself ------------------------------------------------------------------------

def test_extract_blocks_markers_and_inline(tmp_path: Path) -> None:
    md = REPO / "docs" / "_extract_probe.md"
    text = (
        "Intro `geoshelf lint` and `geoshelf convert NAME --to zarr|cog` and `geoshelf add`.\n\n"
        "<!-- docs-test: skip needs a PBS cluster -->\n"
        "```bash\nqsub job.sh\n```\n\n"
        "```python\nprint(1)\n```\n\n"
        "<!-- docs-test: dry-run -->\n"
        "   ```bash\n   geoshelf campaign run converters/era5.yaml --cluster pbs\n   ```\n"
        "```\nnot run\n```\n"
    )
    try:
        md.write_text(text)
        got = extract(md)
    finally:
        md.unlink()
    assert [(s.lang, s.mode, s.text.strip()) for s in got] == [
        ("inline", "run", "geoshelf lint"),
        ("inline", "run", "geoshelf convert NAME --to zarr|cog"),
        ("inline", "run", "geoshelf add"),
        ("shell", "skip", "qsub job.sh"),
        ("python", "run", "print(1)"),
        ("shell", "dry-run", "geoshelf campaign run converters/era5.yaml --cluster pbs"),
    ]
    assert [_is_mention(s.text) for s in got[:3]] == [False, True, True]
    assert _dry(got[-1].text).strip().endswith("--cluster pbs --dry-run")
    assert _parse_error("geoshelf lint --no-such-flag") is not None
    assert not _is_mention("geoshelf lint --no-such-flag")  # a wrong flag is a failure, not a mention
