#!/usr/bin/env bash
# Install everything, make sure the local services answer, then run lint and the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
bash scripts/services.sh
echo "==> ruff"
.venv/bin/ruff check .
.venv/bin/ruff format --check .
echo "==> pytest"
.venv/bin/python -m pytest -ra --durations=25 "$@"
