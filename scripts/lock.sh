#!/usr/bin/env bash
# Re-resolve dependencies from pyproject.toml in a scratch venv and rewrite requirements.lock.
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
python3.11 -m venv "$tmp/venv"
"$tmp/venv/bin/pip" install --quiet --upgrade pip setuptools wheel
"$tmp/venv/bin/pip" install --quiet ".[test]"
{ echo "# geoshelf lock file: exact versions resolved on Python 3.11 (Debian 12). Regenerate with scripts/lock.sh"
  "$tmp/venv/bin/pip" freeze --all | grep -viE "^(geoshelf|pip)[= @]"; } > requirements.lock
rm -rf "$tmp"
echo "requirements.lock rewritten ($(grep -vc '^#' requirements.lock) packages)"
