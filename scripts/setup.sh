#!/usr/bin/env bash
# Idempotent set-up: a virtualenv in .venv with the project and its test tools, and the Fashion-MNIST data.
# Usage: bash scripts/setup.sh   (then .venv/bin/python -m curriculum ...)
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
PY=${PYTHON:-python3}

if [ ! -x "$VENV/bin/python" ]; then
  echo "[setup] creating $VENV" >&2
  "$PY" -m venv "$VENV"
fi
NEEDS="curriculum, pytest, xdist, aum, cleanlab, timm, lightning, hydra_plugins.hydra_ray_launcher"   # from .[dev]
NEEDS="$NEEDS, mkdocs, material, mkdocstrings_handlers.python"   # .[docs], also in .[dev]: tests/test_docs.py
if ! "$VENV/bin/python" -c "import $NEEDS" 2>/dev/null; then
  echo "[setup] installing the project (torch is large: this takes a few minutes the first time)" >&2
  log=$(mktemp)
  if ! "$VENV/bin/python" -m pip install -e ".[dev]" >"$log" 2>&1; then
    tail -30 "$log" >&2; echo "[setup] pip install failed (full log: $log)" >&2; exit 1
  fi
fi

# Real Fashion-MNIST: Debian's package where apt is available; otherwise torchvision downloads it on first use.
FMNIST=/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz
if [ ! -f "$FMNIST" ] && command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  echo "[setup] installing Debian's dataset-fashion-mnist" >&2
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq dataset-fashion-mnist) >/dev/null 2>&1 \
    || echo "[setup] apt could not install dataset-fashion-mnist; torchvision will download it into data/" >&2
fi
