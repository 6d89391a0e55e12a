#!/usr/bin/env bash
# The package as a user installs it: build the sdist and the wheel from it (as PyPA's `build` does: the wheel holds
# only what the sdist ships, and nothing is written into the checkout but curriculum.egg-info), install the wheel
# into a fresh virtual environment and run a small `score` there from a directory outside the checkout.
# The fresh environment borrows the project venv's dependencies (torch, hydra, mlflow, ...) through a .pth line,
# added after the install, so nothing is downloaded; curriculum and its configs come only from the wheel, which the
# run asserts. Takes 17-33 s on a shared 2-core machine.
# Usage: bash scripts/check_wheel.sh   (VENV=... for another project venv)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh  # the project venv, whose setuptools builds and whose dependencies the fresh venv borrows
PY=$(realpath "${VENV:-.venv}")/bin/python
WORK=$(mktemp -d "${TMPDIR:-/tmp}/curriculum-wheel.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
unset PYTHONPATH  # a checkout on the path would be imported instead of the wheel
export MLFLOW_DISABLE_TELEMETRY=true
quiet() { "$@" >"$WORK/log" 2>&1 || { cat "$WORK/log" >&2; echo "[check_wheel] failed: $*" >&2; exit 1; }; }

"$PY" -c 'import setuptools.command.bdist_wheel' 2>/dev/null \
  || { echo "[check_wheel] building offline needs setuptools>=70.1: $PY -m pip install -e '.[dev]'" >&2; exit 1; }
echo "[check_wheel] building the sdist and the wheel" >&2
quiet "$PY" -c 'import sys; from setuptools import build_meta; build_meta.build_sdist(sys.argv[1])' "$WORK/dist"
quiet "$PY" -m pip wheel --no-deps --no-build-isolation --no-cache-dir -w "$WORK/dist" "$WORK"/dist/*.tar.gz

echo "[check_wheel] installing $(basename "$WORK"/dist/*.whl) into a fresh venv" >&2
quiet "$PY" -m venv "$WORK/venv"
quiet "$WORK/venv/bin/python" -m pip install --no-deps --no-index "$WORK"/dist/*.whl
site=$("$WORK/venv/bin/python" -c 'import sysconfig; print(sysconfig.get_path("purelib"))')
"$PY" -c 'import site; print("\n".join(site.getsitepackages()))' >"$site/project-venv-dependencies.pth"

cd "$WORK"  # outside the checkout
"$WORK/venv/bin/python" - "$WORK/venv" <<'EOF'
import sys
from pathlib import Path

import curriculum
from curriculum.cli import CONF_DIR

venv = Path(sys.argv[1]).resolve()
for what, path in (("curriculum", Path(curriculum.__file__)), ("its configs", CONF_DIR)):
    if not path.resolve().is_relative_to(venv):
        sys.exit(f"[check_wheel] {what} found at {path}, not in the fresh venv {venv}")
print(f"[check_wheel] curriculum from {Path(curriculum.__file__).parent}, configs from {CONF_DIR}", file=sys.stderr)
EOF
echo "[check_wheel] hydra/launcher=local (a Hydra plugin's config) composes" >&2
quiet "$WORK/venv/bin/python" -m curriculum score hydra/launcher=local --cfg hydra
echo "[check_wheel] python -m curriculum score data=synthetic" >&2
"$WORK/venv/bin/python" -m curriculum score data=synthetic ensemble.size=2 epochs=1 device=cpu threads=1 \
  "mlflow.tracking_uri=sqlite:///$WORK/mlflow.db" "out_dir=$WORK/score"
test -s "$WORK/score/scores.parquet" || { echo "[check_wheel] no scores.parquet written" >&2; exit 1; }
echo "[check_wheel] ok" >&2
