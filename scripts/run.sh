#!/usr/bin/env bash
# Set up (first time only), then run a curriculum command; with no arguments, the default score run
# on real Fashion-MNIST.  Usage: bash scripts/run.sh [score|train|compare|analyze] [key=value ...]
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export MLFLOW_DISABLE_TELEMETRY=true
if [ $# -eq 0 ]; then set -- score; fi
exec .venv/bin/python -m curriculum "$@"
