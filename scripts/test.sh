#!/usr/bin/env bash
# Set up (first time only), then run the test suite on 2 processes (pytest-xdist; a test file's tests share one
# process, so module-scoped fixtures are made once). Files go out in the order tests/conftest.py collects them, the
# long ones first (--no-loadscope-reorder: xdist would otherwise send the files with the most tests first, and
# the few long end-to-end files last, to one process). Extra arguments go to pytest (e.g. -m "not slow").
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export MLFLOW_DISABLE_TELEMETRY=true
exec .venv/bin/python -m pytest -n 2 --dist loadfile --no-loadscope-reorder "$@"
