#!/usr/bin/env bash
# A throw-away one-node SLURM cluster for the cluster tests (Debian's slurm-wlm, no systemd).
#
# Usage (as root):
#   bash tests/slurm/cluster.sh install          # apt-get the daemons if they are missing
#   bash tests/slurm/cluster.sh start DIR [PARTITION...]
#                                                # configure and start a cluster whose files all live in
#                                                # DIR; its one node is in every partition named (the
#                                                # first is the default; 'cpu' if none is named)
#   bash tests/slurm/cluster.sh stop DIR         # stop the daemons that `start DIR` started, by PID
#   source DIR/env.sh                            # point sinfo/sbatch/squeue at that cluster (SLURM_CONF)
#
# Everything the cluster writes (config, state, spool, logs, PID files, the munge socket) lives under DIR,
# and the daemons listen on free ports picked at start, so a second cluster or a stale one from an
# interrupted run never collides with this one. `stop` kills only the PIDs recorded in DIR/pids.
set -euo pipefail

log() { printf '[cluster %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

need_root() { [[ $(id -u) -eq 0 ]] || die "must run as root (the daemons and munged need it)"; }

cmd_install() {
    need_root
    local missing=()
    for bin in slurmctld slurmd sinfo munged; do
        command -v "$bin" >/dev/null 2>&1 || missing+=("$bin")
    done
    if ((${#missing[@]} == 0)); then
        log "slurm and munge already installed ($(slurmctld -V))"
        return 0
    fi
    log "installing slurmctld slurmd slurm-client munge (missing: ${missing[*]})"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends slurmctld slurmd slurm-client munge >/dev/null
    log "installed $(slurmctld -V)"
}

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Record a daemon's PID (read from the PID file it writes after daemonizing) in DIR/pids/NAME.
record_pid() {
    local dir=$1 name=$2 pidfile=$3 i
    for i in $(seq 1 100); do
        if [[ -s $pidfile ]]; then
            local pid
            pid=$(tr -dc '0-9' <"$pidfile")
            if [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null; then
                echo "$pid" >"$dir/pids/$name"
                log "$name running, pid $pid"
                return 0
            fi
        fi
        sleep 0.1
    done
    die "$name did not write a live PID to $pidfile (see $dir/log)"
}

# Snakemake's SLURM jobstep plugin strips every SLURM_* variable (SLURM_CONF included) before its nested
# `srun`, so inside a job only the compiled-in default path finds the config, as on a real cluster where
# slurm.conf lives there. Link it there for the cluster's lifetime; refuse to replace a real config or
# the link of another live test cluster.
SYSTEM_CONF=/etc/slurm/slurm.conf
link_system_conf() {
    local dir=$1 target
    if [[ -L $SYSTEM_CONF ]]; then
        target=$(readlink "$SYSTEM_CONF")
        local other
        other=$(dirname "$target")
        if [[ -f $other/pids/slurmctld ]] && kill -0 "$(cat "$other/pids/slurmctld")" 2>/dev/null; then
            die "another test cluster ($other) is running and owns $SYSTEM_CONF; stop it first"
        fi
        log "replacing stale link $SYSTEM_CONF -> $target"
        rm -f "$SYSTEM_CONF"
    elif [[ -e $SYSTEM_CONF ]]; then
        die "$SYSTEM_CONF exists and is not a test-cluster link; refusing to replace a real configuration"
    fi
    mkdir -p "$(dirname "$SYSTEM_CONF")"
    ln -s "$dir/slurm.conf" "$SYSTEM_CONF"
    touch "$dir/pids/.linked-system-conf"
}

unlink_system_conf() {
    local dir=$1
    [[ -f $dir/pids/.linked-system-conf ]] || return 0
    if [[ -L $SYSTEM_CONF && $(readlink "$SYSTEM_CONF") == "$dir/slurm.conf" ]]; then
        rm -f "$SYSTEM_CONF"
    fi
    rm -f "$dir/pids/.linked-system-conf"
}

cmd_start() {
    need_root
    local dir=${1:?usage: cluster.sh start DIR [PARTITION...]}
    shift
    local partitions=("$@") partition
    ((${#partitions[@]})) || partitions=(cpu)
    for partition in "${partitions[@]}"; do
        [[ $partition =~ ^[A-Za-z0-9_-]+$ ]] || die "bad partition name '$partition'"
    done
    for bin in slurmctld slurmd sinfo munged; do
        command -v "$bin" >/dev/null 2>&1 || die "$bin not found: run 'cluster.sh install' first"
    done
    mkdir -p "$dir"
    dir=$(cd "$dir" && pwd)
    [[ -e $dir/pids ]] && die "$dir already holds a cluster (stop it first or use a fresh folder)"
    # munged (as the munge user) must reach its socket folder; it refuses group/world-writable ones.
    chmod 755 "$dir"
    mkdir -p "$dir"/{pids,run,state,spool,log,munge}
    chown munge:munge "$dir/munge"
    chmod 755 "$dir/munge"
    runuser -u munge -- test -w "$dir/munge" \
        || die "the munge user cannot reach $dir/munge: every folder above it must be traversable (chmod o+x)"

    local host node_mem cpus ctld_port slurmd_port
    host=$(hostname -s)
    # RealMemory must not exceed what slurmd detects, or the node is drained as "Low RealMemory".
    read -r cpus node_mem < <(slurmd -C | sed -n 's/.*CPUs=\([0-9]*\).*RealMemory=\([0-9]*\).*/\1 \2/p')
    [[ -n $cpus && -n $node_mem ]] || die "could not parse 'slurmd -C'"
    node_mem=$((node_mem * 9 / 10))
    ctld_port=$(free_port)
    slurmd_port=$(free_port)
    while [[ $slurmd_port == "$ctld_port" ]]; do slurmd_port=$(free_port); done

    cat >"$dir/slurm.conf" <<CONF
# One-node test cluster; generated by tests/slurm/cluster.sh.
ClusterName=softmaxnb
SlurmctldHost=${host}(127.0.0.1)
SlurmUser=root
SlurmdUser=root
SlurmctldPort=${ctld_port}
SlurmdPort=${slurmd_port}
AuthType=auth/munge
AuthInfo=socket=${dir}/munge/munge.socket.2
CryptoType=crypto/munge
MpiDefault=pmi2
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
# Jobs that ask for no memory get 1 GB per CPU rather than the whole node.
DefMemPerCPU=1000
SchedulerType=sched/backfill
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
# Completed jobs are recorded here with their final state: the test's evidence without slurmdbd.
JobCompType=jobcomp/filetxt
JobCompLoc=${dir}/log/jobcomp.log
# Finished jobs stay visible to squeue for 10 minutes, far above the status-check interval,
# so 'squeue' can stand in for 'sacct' as the status command.
MinJobAge=600
ReturnToService=2
SlurmdTimeout=120
InactiveLimit=0
KillWait=5
StateSaveLocation=${dir}/state
SlurmdSpoolDir=${dir}/spool
SlurmctldPidFile=${dir}/run/slurmctld.pid
SlurmdPidFile=${dir}/run/slurmd.pid
SlurmctldLogFile=${dir}/log/slurmctld.log
SlurmdLogFile=${dir}/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
NodeName=${host} NodeAddr=127.0.0.1 CPUs=${cpus} RealMemory=${node_mem} State=UNKNOWN
CONF
    local default=YES
    for partition in "${partitions[@]}"; do
        echo "PartitionName=${partition} Nodes=${host} Default=${default} MaxTime=INFINITE State=UP" >>"$dir/slurm.conf"
        default=NO
    done
    cat >"$dir/env.sh" <<ENV
export SLURM_CONF=${dir}/slurm.conf
ENV
    export SLURM_CONF=$dir/slurm.conf
    link_system_conf "$dir"

    log "starting munged (socket $dir/munge/munge.socket.2)"
    runuser -u munge -- munged \
        --socket="$dir/munge/munge.socket.2" \
        --pid-file="$dir/munge/munged.pid" \
        --log-file="$dir/munge/munged.log" \
        --seed-file="$dir/munge/munged.seed"
    record_pid "$dir" munged "$dir/munge/munged.pid"
    munge -n --socket="$dir/munge/munge.socket.2" | unmunge --socket="$dir/munge/munge.socket.2" >/dev/null \
        || die "munge round trip failed (see $dir/munge/munged.log)"

    log "starting slurmctld (port $ctld_port)"
    slurmctld -f "$dir/slurm.conf" -i
    record_pid "$dir" slurmctld "$dir/run/slurmctld.pid"
    log "starting slurmd (port $slurmd_port)"
    slurmd -f "$dir/slurm.conf"
    record_pid "$dir" slurmd "$dir/run/slurmd.pid"

    local i state=""
    for i in $(seq 1 120); do
        state=$(sinfo -h -N -o '%t' 2>/dev/null | head -1 || true)
        [[ $state == idle ]] && break
        sleep 0.5
    done
    [[ $state == idle ]] || die "node not idle after 60 s (state '${state}'; see $dir/log)"
    log "cluster ready: partitions ${partitions[*]}, node $host, ${cpus} CPUs, ${node_mem} MB"
}

cmd_stop() {
    local dir=${1:?usage: cluster.sh stop DIR}
    [[ -d $dir/pids ]] || { log "no cluster recorded in $dir"; return 0; }
    if [[ -f $dir/slurm.conf ]] && [[ -f $dir/pids/slurmctld ]] && kill -0 "$(cat "$dir/pids/slurmctld")" 2>/dev/null; then
        # Cancel what is still queued or running, so no job step outlives its slurmd.
        SLURM_CONF=$dir/slurm.conf scancel --quiet --user=root 2>/dev/null || true
        local i
        for i in $(seq 1 30); do
            [[ -z $(SLURM_CONF=$dir/slurm.conf squeue -h -t R,PD,CG -o %i 2>/dev/null) ]] && break
            sleep 0.5
        done
    fi
    # slurmd before slurmctld (it reports to the controller), munged last (both authenticate through it).
    local name pid i
    for name in slurmd slurmctld munged; do
        [[ -f $dir/pids/$name ]] || continue
        pid=$(cat "$dir/pids/$name")
        if kill -0 "$pid" 2>/dev/null; then
            kill -TERM "$pid" 2>/dev/null || true
            for i in $(seq 1 50); do
                kill -0 "$pid" 2>/dev/null || break
                sleep 0.1
            done
            if kill -0 "$pid" 2>/dev/null; then
                log "$name (pid $pid) ignored SIGTERM, sending SIGKILL"
                kill -KILL "$pid" 2>/dev/null || true
            fi
            log "stopped $name (pid $pid)"
        fi
        rm -f "$dir/pids/$name"
    done
    unlink_system_conf "$dir"
    rmdir "$dir/pids" 2>/dev/null || true
}

case ${1:-} in
    install) shift; cmd_install "$@" ;;
    start) shift; cmd_start "$@" ;;
    stop) shift; cmd_stop "$@" ;;
    *) echo "usage: $0 install | start DIR [PARTITION...] | stop DIR" >&2; exit 2 ;;
esac
