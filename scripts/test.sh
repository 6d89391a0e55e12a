#!/usr/bin/env bash
# Set up (first time only), then run the test suite on 2 processes (pytest-xdist; a test file's tests share one
# process, so module-scoped fixtures are made once). Extra arguments go to pytest (e.g. -m "not slow").
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export MLFLOW_DISABLE_TELEMETRY=true
exec .venv/bin/python -m pytest -n 2 --dist loadfile "$@"
