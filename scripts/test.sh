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
exec .venv/bin/python -m pytest "${markers[@]}" "$@"
