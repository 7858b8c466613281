#!/usr/bin/env bash
# Create the project's virtual environment in .venv (if missing) and install
# softmax_nb into it in editable mode, with the extras named as arguments
# (e.g. `bash scripts/setup.sh test`). Needs only python3.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
  .venv/bin/python -m pip install --quiet --upgrade pip
fi
extras=""
if [ "$#" -gt 0 ]; then
  extras="[$(IFS=,; echo "$*")]"
fi
.venv/bin/python -m pip install --quiet -e ".${extras}"
