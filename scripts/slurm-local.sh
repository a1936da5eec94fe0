#!/usr/bin/env bash
# A real single-node Slurm cluster on this machine, without systemd, for running and testing
# `parktwin slurm` job arrays (docs/slurm.md).
#
#   scripts/slurm-local.sh up       install slurm-wlm and munge when missing (Debian, apt-get, as
#                                   root), start munged, slurmctld and slurmd, wait until the
#                                   node is idle; does nothing for daemons already running
#   scripts/slurm-local.sh down     cancel jobs still queued or running on it, then stop exactly
#                                   the daemons `up` started (by their recorded pids)
#   scripts/slurm-local.sh status   the recorded daemons and `sinfo`
#   scripts/slurm-local.sh env      print `export SLURM_CONF=...` (eval it to use sbatch, squeue)
#
# Everything lives in one state directory, $PARKTWIN_SLURM_DIR (default target/slurm-local in
# the repository): the munge key and socket, slurm.conf, spool and state directories, daemon
# logs and `pids` (one `name pid` line per daemon started). The cluster is one node named
# `hostname -s` with the CPUs and memory `slurmd -C` reports, in one partition `local`;
# ProctrackType=proctrack/linuxproc, TaskPlugin=task/none, SlurmUser=root, select/cons_tres
# (cores are the consumable, memory is not), no accounting daemon (slurmdbd), so `sacct` has
# nothing: finished jobs are queried with `scontrol show job` for MinJobAge (600 s).
# Ports: $PARKTWIN_SLURMCTLD_PORT (6817) and $PARKTWIN_SLURMD_PORT (6818).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
state=${PARKTWIN_SLURM_DIR:-$repo/target/slurm-local}
ctld_port=${PARKTWIN_SLURMCTLD_PORT:-6817}
slurmd_port=${PARKTWIN_SLURMD_PORT:-6818}
conf=$state/etc/slurm.conf
pids=$state/pids
wait_s=${PARKTWIN_SLURM_WAIT_S:-60}

log() { echo "slurm-local: $*" >&2; }
die() { log "$*"; exit 1; }

# The pid recorded for a daemon, if that process is still that daemon.
live_pid() {
    local name=$1 pid
    [ -f "$pids" ] || return 1
    pid=$(awk -v n="$name" '$1 == n { print $2 }' "$pids" | tail -n 1)
    [ -n "$pid" ] && [ -r "/proc/$pid/comm" ] || return 1
    [ "$(cat "/proc/$pid/comm")" = "$name" ] || return 1
    echo "$pid"
}

record() {
    local name=$1 pidfile=$2 pid="" i
    for i in $(seq 1 100); do
        if [ -s "$pidfile" ]; then
            pid=$(tr -d '[:space:]' <"$pidfile")
            [ -r "/proc/$pid/comm" ] && break
        fi
        sleep 0.1
    done
    [ -n "$pid" ] && [ -r "/proc/$pid/comm" ] || die "$name did not start (see $state/log/$name.log)"
    # Keep only the latest line per daemon.
    { [ -f "$pids" ] && grep -v "^$name " "$pids" || true; } >"$pids.new"
    echo "$name $pid" >>"$pids.new"
    mv "$pids.new" "$pids"
    log "started $name (pid $pid)"
}

install_packages() {
    local need=()
    command -v munged >/dev/null || need+=(munge)
    command -v slurmctld >/dev/null && command -v slurmd >/dev/null && command -v sbatch >/dev/null \
        || need+=(slurm-wlm)
    [ ${#need[@]} -eq 0 ] && return 0
    [ "$(id -u)" -eq 0 ] || die "${need[*]} missing: install them (apt-get install ${need[*]}) or run as root"
    log "installing ${need[*]} (apt-get)"
    apt-get update -qq
    # policy-rc.d may refuse to start services: that is what we want, we start them ourselves.
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
}

write_conf() {
    local host node
    host=$(hostname -s)
    # `slurmd -C` prints this machine's node line: NodeName=... CPUs=... RealMemory=...
    node=$(slurmd -C | head -n 1)
    case $node in NodeName=*) ;; *) die "slurmd -C did not describe this node: $node" ;; esac
    mkdir -p "$state/etc" "$state/log" "$state/spool/ctld" "$state/spool/d" "$state/run"
    cat >"$conf.new" <<EOF
# Written by scripts/slurm-local.sh: a single-node cluster for local runs and CI.
ClusterName=parktwin-local
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$ctld_port
SlurmdPort=$slurmd_port
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$state/munge/munge.socket
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
SchedulerParameters=sched_interval=5
MpiDefault=none
ReturnToService=2
MinJobAge=600
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
StateSaveLocation=$state/spool/ctld
SlurmdSpoolDir=$state/spool/d
SlurmctldPidFile=$state/run/slurmctld.pid
SlurmdPidFile=$state/run/slurmd.pid
SlurmctldLogFile=$state/log/slurmctld.log
SlurmdLogFile=$state/log/slurmd.log
SlurmctldTimeout=30
SlurmdTimeout=60
$node NodeAddr=127.0.0.1 State=UNKNOWN
PartitionName=local Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF
    # The node line of `slurmd -C` carries UpTime=..., which is not a slurm.conf key.
    sed -i -E 's/ UpTime=[^ ]*//' "$conf.new"
    mv "$conf.new" "$conf"
}

start_munge() {
    if live_pid munged >/dev/null; then
        log "munged already running (pid $(live_pid munged))"
        return 0
    fi
    mkdir -p "$state/munge"
    chmod 700 "$state/munge"
    if [ ! -s "$state/munge/munge.key" ]; then
        mungekey --create --keyfile="$state/munge/munge.key" 2>/dev/null \
            || dd if=/dev/urandom of="$state/munge/munge.key" bs=1024 count=1 status=none
        chmod 600 "$state/munge/munge.key"
    fi
    rm -f "$state/munge/munged.pid"
    munged --force --key-file="$state/munge/munge.key" --socket="$state/munge/munge.socket" \
        --pid-file="$state/munge/munged.pid" --log-file="$state/log/munged.log" \
        --seed-file="$state/munge/munged.seed"
    record munged "$state/munge/munged.pid"
    # A credential round trip proves the key and socket work.
    munge -n -S "$state/munge/munge.socket" | unmunge -S "$state/munge/munge.socket" >/dev/null \
        || die "munge credential check failed (see $state/log/munged.log)"
}

node_state() {
    sinfo -h -N -n "$(hostname -s)" -o '%T' 2>/dev/null | head -n 1
}

up() {
    install_packages
    export SLURM_CONF=$conf
    if live_pid munged >/dev/null && live_pid slurmctld >/dev/null && live_pid slurmd >/dev/null \
        && [ "$(node_state)" = idle ]; then
        log "already up: $(node_state)"
        return 0
    fi
    # Rewrite the configuration only when no Slurm daemon of ours runs on the old one.
    if ! live_pid slurmctld >/dev/null && ! live_pid slurmd >/dev/null; then
        write_conf
    fi
    start_munge
    if ! live_pid slurmctld >/dev/null; then
        rm -f "$state/run/slurmctld.pid"
        # -c: start from a clean state (no jobs left over from an earlier `up`).
        slurmctld -c -f "$conf"
        record slurmctld "$state/run/slurmctld.pid"
    fi
    if ! live_pid slurmd >/dev/null; then
        rm -f "$state/run/slurmd.pid"
        slurmd -f "$conf"
        record slurmd "$state/run/slurmd.pid"
    fi
    local t0=$SECONDS s=""
    while [ $((SECONDS - t0)) -lt "$wait_s" ]; do
        s=$(node_state || true)
        case $s in
            idle) log "node $(hostname -s) idle after $((SECONDS - t0)) s; SLURM_CONF=$conf"; return 0 ;;
            down* | drain* | fail* | inval*) scontrol update nodename="$(hostname -s)" state=resume 2>/dev/null || true ;;
        esac
        sleep 1
    done
    tail -n 20 "$state/log/slurmctld.log" "$state/log/slurmd.log" >&2 || true
    die "node not idle after $wait_s s (state: ${s:-none})"
}

down() {
    local name pid i
    # Jobs still running on this cluster are cancelled first, so no job step outlives slurmd.
    if live_pid slurmctld >/dev/null && live_pid slurmd >/dev/null; then
        export SLURM_CONF=$conf
        if [ -n "$(squeue -h -o %i 2>/dev/null)" ]; then
            scancel --user="$(id -un)" 2>/dev/null || true
            for i in $(seq 1 20); do
                [ -z "$(squeue -h -t running,completing -o %i 2>/dev/null)" ] && break
                sleep 0.5
            done
        fi
    fi
    for name in slurmd slurmctld munged; do
        if pid=$(live_pid "$name"); then
            kill -TERM "$pid" 2>/dev/null || true
            for i in $(seq 1 100); do
                [ -r "/proc/$pid/comm" ] || break
                sleep 0.1
            done
            if [ -r "/proc/$pid/comm" ]; then
                log "$name (pid $pid) still running after 10 s: SIGKILL"
                kill -KILL "$pid" 2>/dev/null || true
            fi
            log "stopped $name (pid $pid)"
        fi
    done
    rm -f "$pids"
}

status() {
    local name pid
    for name in munged slurmctld slurmd; do
        if pid=$(live_pid "$name"); then echo "$name running (pid $pid)"; else echo "$name not running"; fi
    done
    if live_pid slurmctld >/dev/null; then SLURM_CONF=$conf sinfo; fi
}

case ${1:-} in
    up) up ;;
    down) down ;;
    status) status ;;
    env) echo "export SLURM_CONF=$conf" ;;
    *) echo "usage: $0 up|down|status|env" >&2; exit 2 ;;
esac
