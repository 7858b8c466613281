#!/usr/bin/env bash
# Install softmax_nb from this repository (two folders up) into the freshly created
# conda environment; its dependencies come from softmax_nb.yaml.
set -euo pipefail
repository="$(cd "$(dirname "$0")/../.." && pwd)"
python -m pip install --no-deps --no-build-isolation "$repository"
