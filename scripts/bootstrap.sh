#!/usr/bin/env bash
# Create .venv/ from the committed lock file (idempotent; reinstalls when the lock changes).
set -euo pipefail
cd "$(dirname "$0")/.."
pick_python() {
  for c in "${PYTHON:-}" python3.11 python3; do
    [ -n "$c" ] || continue
    if command -v "$c" >/dev/null 2>&1 && "$c" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then
      echo "$c"; return 0
    fi
  done
  echo "bootstrap: Python 3.11 is required (set PYTHON=/path/to/python3.11)" >&2
  return 1
}
stamp=.venv/.geoshelf-lock
if [ -x .venv/bin/python ] && [ -f "$stamp" ] && cmp -s requirements.lock "$stamp" \
   && .venv/bin/python -c 'import geoshelf' 2>/dev/null; then
  exit 0
fi
PY=$(pick_python)
echo "bootstrap: creating .venv with $($PY --version) from requirements.lock ..." >&2
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade "pip>=24"
.venv/bin/python -m pip install --quiet --disable-pip-version-check -r requirements.lock
.venv/bin/python -m pip install --quiet --disable-pip-version-check --no-deps -e .
cp requirements.lock "$stamp"
echo "bootstrap: .venv ready" >&2
