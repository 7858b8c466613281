#!/usr/bin/env bash
# The cluster test: the workflow through the SLURM profile, against a real one-node SLURM.
#
#   bash tests/slurm/run_slurm_test.sh        # as root (CI is); exits non-zero on any failure
#
# 1. installs Debian's SLURM and munge if missing, starts a one-node cluster whose files all live in
#    a temporary folder (tests/slurm/cluster.sh), with the partitions the profile names;
# 2. runs the workflow on tests/slurm/config.yaml (a sweep of 12 models) through
#    profiles/slurm, and checks that every job ran and completed under SLURM
#    (tests/slurm/check_slurm_run.py jobs), and that only the warm-up job wrote the numba cache;
# 3. runs the same config locally and checks that models and metrics are equal;
# 4. runs a config whose prepare job must fail (a malformed CSV file) and checks that the run fails,
#    with SLURM recording the job and its retry as FAILED;
# and stops every daemon it started, by PID, however it ends. Set KEEP_SLURM_TEST=1 to keep the
# temporary folder (logs, outputs) after a successful run; it is always kept after a failure.
#
# This cluster has no accounting database (slurmdbd), so `sacct` cannot report job states: the
# run passes `--slurm-status-command squeue` (the cluster keeps finished jobs for MinJobAge=600 s)
# and checks states early (`--slurm-init-seconds-before-status-checks 2`) to keep the test short.
set -euo pipefail

T0=$(date +%s)
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
PYTHON=${PYTHON:-$ROOT/.venv/bin/python}
PROFILE=profiles/slurm
# Few CPUs on a CI machine: the local comparison run uses two, like the one-node cluster.
LOCAL_CORES=${LOCAL_CORES:-2}

log() { printf '[slurm-test %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
die() { log "FAIL: $*"; exit 1; }
since() { echo $(($(date +%s) - $1)); }

[[ $(id -u) -eq 0 ]] || die "run as root: installing and starting SLURM needs it"
[[ -x $PYTHON ]] || die "no Python at $PYTHON (run 'bash scripts/setup.sh test' or set PYTHON)"
"$PYTHON" -c 'import snakemake_executor_plugin_slurm' 2>/dev/null \
    || die "snakemake-executor-plugin-slurm is not installed (pip install -e '.[slurm]')"
# Jobs inherit PATH: the nested snakemake and the softmax-nb command come from this environment.
export PATH="$(dirname "$PYTHON"):$PATH"
# Compiled kernels: reuse the caller's cache (CI exports the project's), else one for both runs.
WORK=$(mktemp -d /tmp/softmax_nb_slurm.XXXXXX)
chmod 755 "$WORK" # munged runs as the munge user and must reach its socket inside
export NUMBA_CACHE_DIR=${NUMBA_CACHE_DIR:-$WORK/numba_cache}
CLUSTER=$WORK/cluster
STATUS=failed

cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    bash "$HERE/cluster.sh" stop "$CLUSTER" || rc=1
    if ((rc == 0)) && [[ ${KEEP_SLURM_TEST:-0} != 1 ]]; then
        rm -rf "$WORK"
    else
        log "logs and outputs kept in $WORK"
    fi
    ((rc == 0)) && STATUS=passed
    log "SLURM test $STATUS in $(since "$T0") s"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# A cluster left running by an earlier run of this test that was killed outright (its trap never
# ran) still owns /etc/slurm/slurm.conf: stop it, by the PIDs that run recorded.
if [[ -L /etc/slurm/slurm.conf ]]; then
    stale=$(dirname "$(readlink /etc/slurm/slurm.conf)")
    if [[ $stale == /tmp/softmax_nb_slurm.*/cluster && -d $stale/pids ]]; then
        log "stopping a cluster left by an earlier run ($stale)"
        bash "$HERE/cluster.sh" stop "$stale"
    fi
fi

# One snapshot of the code for all three runs: the workflow and the package (first on PYTHONPATH,
# which jobs inherit), so the SLURM and local runs compare the same code even while the checkout
# changes under a running test.
mkdir -p "$WORK/src"
cp -r "$ROOT/Snakefile" "$ROOT/workflow" "$ROOT/profiles" "$ROOT/softmax_nb" "$WORK/src/"
export PYTHONPATH="$WORK/src${PYTHONPATH:+:$PYTHONPATH}"
# Python puts the current folder first on its path: leave the checkout, or it would win.
cd "$WORK"
"$PYTHON" -c 'import softmax_nb, sys; sys.exit(not softmax_nb.__file__.startswith(sys.argv[1]))' "$WORK/src/" \
    || die "the package snapshot in $WORK/src is not the one Python imports"

# --- 1. the cluster -----------------------------------------------------------------------------
T=$(date +%s)
bash "$HERE/cluster.sh" install
# The partitions the profile chooses from (partitions.yaml), the first one the default.
mapfile -t PARTITIONS < <("$PYTHON" - "$WORK/src/$PROFILE" <<'EOF'
import sys, yaml
from pathlib import Path
profile = Path(sys.argv[1])
config = yaml.safe_load((profile / "config.yaml").read_text())
partition_file = config.get("slurm-partition-config")
if partition_file:
    print(*yaml.safe_load((profile / partition_file).read_text())["partitions"], sep="\n")
else:
    print(config.get("default-resources", {}).get("slurm_partition", "cpu"))
EOF
)
bash "$HERE/cluster.sh" start "$CLUSTER" "${PARTITIONS[@]}"
# shellcheck disable=SC1091
source "$CLUSTER/env.sh"
T_CLUSTER=$(since "$T")

# A copy of the workflow per run, with the test config as its config/config.yaml (a --configfile
# would be merged into the default config's datasets and models, not replace them).
make_run_dir() {
    local dir=$1 config=$2
    mkdir -p "$dir/config"
    cp -r "$WORK/src/Snakefile" "$WORK/src/workflow" "$WORK/src/profiles" "$dir/"
    cp "$config" "$dir/config/config.yaml"
}

SLURM_FLAGS=(
    --workflow-profile "$PROFILE"
    --slurm-status-command squeue
    --slurm-init-seconds-before-status-checks 2
    --slurm-keep-successful-logs
)

# --- 2. the workflow through SLURM -------------------------------------------------------------
T=$(date +%s)
make_run_dir "$WORK/slurm" "$HERE/config.yaml"
log "running the workflow through $PROFILE (log: $WORK/slurm.log)"
if ! (cd "$WORK/slurm" && snakemake "${SLURM_FLAGS[@]}") >"$WORK/slurm.log" 2>&1; then
    tail -n 40 "$WORK/slurm.log" >&2
    die "the workflow failed under SLURM (see $WORK/slurm.log)"
fi
T_SLURM=$(since "$T")
log "SLURM run done in ${T_SLURM} s"
"$PYTHON" "$HERE/check_slurm_run.py" jobs "$WORK/slurm.log" "$CLUSTER" --workdir "$WORK/slurm" --min-models 13
[[ -s $WORK/slurm/results/summary.csv ]] || die "the SLURM run wrote no results/summary.csv"
"$PYTHON" "$HERE/check_slurm_run.py" cache "$NUMBA_CACHE_DIR" "$WORK/slurm/results/kernels/compile.json"

# --- 3. the same config, locally; outputs must agree --------------------------------------------
T=$(date +%s)
make_run_dir "$WORK/local" "$HERE/config.yaml"
log "running the models and metrics locally for comparison (log: $WORK/local.log)"
if ! (cd "$WORK/local" && snakemake --workflow-profile profiles/default --cores "$LOCAL_CORES" \
        results/summary.csv) >"$WORK/local.log" 2>&1; then
    tail -n 40 "$WORK/local.log" >&2
    die "the local run failed (see $WORK/local.log)"
fi
T_LOCAL=$(since "$T")
"$PYTHON" "$HERE/check_slurm_run.py" compare "$WORK/slurm" "$WORK/local"
# The model trained over two MPI ranks under srun is its one-process twin, bitwise.
"$PYTHON" - "$WORK/slurm/results/models/long" <<'EOF' || die "the MPI model differs from its one-process twin"
import sys, h5py, numpy as np
folder = sys.argv[1]
with h5py.File(f"{folder}/lbfgs_mpi.h5") as two, h5py.File(f"{folder}/lbfgs_C1_float64.h5") as one:
    for name in ("coef", "intercept"):
        assert np.array_equal(two[name][()], one[name][()]), name
    assert '"ranks": 2' in two.attrs["extra"]
print("[slurm-test] lbfgs_mpi (2 MPI ranks under srun) equals lbfgs_C1_float64 bitwise", file=sys.stderr)
EOF

# --- 4. a failing job fails the run ------------------------------------------------------------
T=$(date +%s)
printf 'feature_a,feature_b,label\n1.0,2.0\nnot a number,,,\n' >"$WORK/broken.csv"
"$PYTHON" - "$HERE/config.yaml" "$WORK/broken.csv" "$WORK/broken_config.yaml" <<'EOF'
import sys, yaml
config = yaml.safe_load(open(sys.argv[1]))
config["datasets"] = {"broken": {"source": "csv", "path": sys.argv[2]}}
config["run"] = {"broken": "all"}
with open(sys.argv[3], "w") as f:
    yaml.safe_dump(config, f, sort_keys=False)
EOF
make_run_dir "$WORK/failing" "$WORK/broken_config.yaml"
RETRIES=$("$PYTHON" -c 'import sys, yaml; print(yaml.safe_load(open(sys.argv[1])).get("retries", 0))' \
    "$WORK/src/$PROFILE/config.yaml")
log "running a workflow whose prepare job must fail (log: $WORK/failing.log)"
if (cd "$WORK/failing" && snakemake "${SLURM_FLAGS[@]}" results/data/broken.h5) >"$WORK/failing.log" 2>&1; then
    die "the run with a failing job exited 0 (see $WORK/failing.log)"
fi
"$PYTHON" "$HERE/check_slurm_run.py" failed "$WORK/failing.log" "$CLUSTER" --rule prepare --attempts $((RETRIES + 1))
[[ ! -e $WORK/failing/results/data/broken.h5 ]] || die "the failed job left its output behind"
T_FAIL=$(since "$T")

log "timings: cluster install+start ${T_CLUSTER} s, SLURM workflow run ${T_SLURM} s," \
    "local comparison run ${T_LOCAL} s, failing run ${T_FAIL} s"
