#!/usr/bin/env bash
# The main job on the embedded default: demo data, demo catalog, a local conversion, a lazy open.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
exec .venv/bin/geoshelf demo "$@"
