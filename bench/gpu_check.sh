#!/usr/bin/env bash
# One prepared check of the CUDA backend on a machine with an NVIDIA GPU.
#
#   bash bench/gpu_check.sh [OUT_DIR]        (default OUT_DIR: bench/out/gpu_check)
#
# 1. Installs the wheels found in $WHEELS (default .whl/) into a private folder, for
#    packages the machine lacks or has in the wrong version (numba-cuda, say), and
#    puts the repository itself on PYTHONPATH (softmax_nb is pure Python).
# 2. Runs tests/kernels/test_cuda_kernels.py on the GPU, with the simulator off.
# 3. Runs bench/gpu_bench.py: loss + gradient at 60000x784x10 and 1000000x784x10,
#    float32, median of repeats, X-read bandwidth as a fraction of the GPU's peak.
# Budget: under 5 minutes in all (timeouts: preflight 60 s, tests 170 s, benchmark
# 100 s; most of the test time is compiling the kernels). Logs and
# gpu_bench.json land in OUT_DIR. Exit status: 0 only if every step passed.
set -uo pipefail

cd "$(dirname "$0")/.." || exit 1
out_dir=${1:-bench/out/gpu_check}
mkdir -p "$out_dir" || exit 1
python=${PYTHON:-python3}
wheels=${WHEELS:-.whl}
site=${SITE_DIR:-/tmp/softmax_nb_site}
export PYTHONUNBUFFERED=1
export NUMBA_CACHE_DIR=${NUMBA_CACHE_DIR:-/tmp/softmax_nb_numba_cache}
# The simulator must be off here: these checks are about the real device.
unset NUMBA_ENABLE_CUDASIM
status=0

if compgen -G "$wheels/*.whl" >/dev/null; then
    echo "== installing wheels from $wheels into $site"
    "$python" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir \
        --upgrade --target "$site" "$wheels"/*.whl || exit 1
    export PYTHONPATH="$site${PYTHONPATH:+:$PYTHONPATH}"
fi
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"

echo "== device"
timeout 20 nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.memory --format=csv 2>&1 \
    || echo "nvidia-smi failed"

echo "== preflight"
timeout 60 "$python" - <<'PY' 2>&1 | tee "$out_dir/preflight.log"
import importlib, sys
missing = []
for name in ("numpy", "numba", "numba_cuda", "numba.cuda", "pytest", "softmax_nb", "softmax_nb.kernels.cuda"):
    try:
        module = importlib.import_module(name)
        print(f"{name:24s} {getattr(module, '__version__', '')}")
    except Exception as error:  # report every missing piece, not just the first
        missing.append(f"{name}: {type(error).__name__}: {error}")
if missing:
    print("missing:\n  " + "\n  ".join(missing))
    print("bring wheels for them in .whl/ (see docs/GPU.md)")
    sys.exit(1)
from softmax_nb import gpu_kernels
if gpu_kernels.simulator_enabled():
    sys.exit("the CUDA simulator is on; unset NUMBA_ENABLE_CUDASIM")
if not gpu_kernels.cuda_available():
    sys.exit("numba.cuda.is_available() is False: no usable GPU or driver")
print("device:", gpu_kernels.device_name())
PY
if [ "${PIPESTATUS[0]}" -ne 0 ]; then
    echo "preflight failed: see $out_dir/preflight.log"
    exit 1
fi

echo "== CUDA tests on the GPU (simulator off)"
timeout 170 "$python" -m pytest tests/kernels/test_cuda_kernels.py -q -p no:cacheprovider 2>&1 \
    | tee "$out_dir/tests.log"
test_status=${PIPESTATUS[0]}
[ "$test_status" -eq 0 ] || { echo "CUDA tests failed (status $test_status)"; status=1; }

echo "== loss + gradient benchmark"
timeout 100 "$python" bench/gpu_bench.py --out "$out_dir/gpu_bench.json" 2>&1 \
    | tee "$out_dir/bench.log"
bench_status=${PIPESTATUS[0]}
[ "$bench_status" -eq 0 ] || { echo "benchmark failed (status $bench_status)"; status=1; }

echo "== gpu_check: $([ "$status" -eq 0 ] && echo passed || echo FAILED)"
exit "$status"
