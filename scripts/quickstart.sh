#!/usr/bin/env bash
# Install everything, then convert the bundled sample book to an audiobook with embedded defaults:
# a Temporal dev server, TorchServe with the joe voice and a Temporal worker start for the run.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
.venv/bin/voxflow convert examples/the-lighthouse-keeper.md --out voxflow-out/the-lighthouse-keeper "$@"
