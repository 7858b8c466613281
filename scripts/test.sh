#!/usr/bin/env bash
# The project's test command (README quick start; .ci/run calls it):
# sets up .venv with the test extras, then runs
#   1. the whole pytest suite (CPU kernels, estimator, I/O, CLI, workflow, ...),
#   2. the CUDA kernel tests on numba's CUDA simulator,
#   3. the SLURM cluster test (needs root for apt-get; skipped otherwise).
# As root it first installs Debian's chromium for the report's browser test.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh test
export NUMBA_CACHE_DIR="$PWD/.numba_cache"
export PATH="$PWD/.venv/bin:$PATH"

# The report's browser test renders it in Debian's chromium (skipped without it).
if ! command -v chromium >/dev/null 2>&1 && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "== installing chromium (headless browser for tests/test_report_browser.py) =="
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null
fi

echo "== pytest (CPU) =="
python -m pytest -q

echo "== pytest (CUDA kernels on numba's CUDA simulator) =="
NUMBA_ENABLE_CUDASIM=1 python -m pytest -q -p no:cacheprovider tests/kernels/test_cuda_kernels.py tests/model/test_cuda_estimator.py

if [ -f tests/slurm/run_slurm_test.sh ]; then
  if [ "$(id -u)" = 0 ] && [ "${SOFTMAX_NB_SKIP_SLURM:-0}" != 1 ]; then
    echo "== SLURM cluster test =="
    bash tests/slurm/run_slurm_test.sh
  else
    echo "== SLURM cluster test skipped (needs root to install and start SLURM;" \
         "set SOFTMAX_NB_SKIP_SLURM=0 as root to run it) =="
  fi
fi
