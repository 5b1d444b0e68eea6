# shellcheck shell=bash disable=SC2034,SC2154  # layout variables are for the sourcing scripts; they set $prog
# scripts/slurm-common.sh — sourced by scripts/slurm-up and scripts/slurm-down:
# the layout of a private test cluster's directory, its names, and the
# process checks both scripts use. Not a command.
#
# A cluster lives entirely under one directory (DIR):
#   DIR/etc/slurm.conf, DIR/etc/cgroup.conf   its configuration
#   DIR/munge/                                 munged's key, socket, log (owned by munge)
#   DIR/state/  DIR/spool/                     slurmctld's state, slurmd's spool
#   DIR/log/                                   daemon logs, jobcomp.txt (for sacct -c)
#   DIR/run/<daemon>.pid                       the pids slurm-up started
#   DIR/jobs/                                  world-writable (sticky) scratch for job output
#   DIR/env                                    `source DIR/env` sets SLURM_CONF for clients
# Its node is called tx<8 hex digits of DIR's path>: Debian builds Slurm with
# multiple-slurmd support, so Slurm names its cgroups /sys/fs/cgroup/<controller>/
# slurm_<node>/..., one tree per cluster that slurm-down can remove without
# touching another cluster's.

slurm_default_dir() { printf '%s\n' "${TMPDIR:-/tmp}/torchexam-slurm"; }

say() { printf '\033[1m==> %s\033[0m\n' "$*"; }
die() { printf '%s: %s\n' "$prog" "$*" >&2; exit 1; }

# Sets the layout variables for the cluster in $1 (made absolute; it need not exist yet).
slurm_layout() {
  local d=$1
  case $d in /*) ;; *) d=$PWD/$d ;; esac
  d=$(realpath -m -- "$d")
  cluster_dir=$d
  conf_dir=$d/etc
  slurm_conf=$d/etc/slurm.conf
  cgroup_conf=$d/etc/cgroup.conf
  munge_dir=$d/munge
  munge_socket=$d/munge/munge.socket
  state_dir=$d/state
  spool_dir=$d/spool
  log_dir=$d/log
  run_dir=$d/run
  jobs_dir=$d/jobs
  env_file=$d/env
  node_name=tx$(printf '%s' "$d" | sha256sum | cut -c1-8)
  daemons=(slurmd slurmctld munged)   # the order to stop them in
}

daemon_exe() {
  case $1 in
    munged) echo /usr/sbin/munged ;;
    slurmctld) echo /usr/sbin/slurmctld ;;
    slurmd) echo /usr/sbin/slurmd ;;
  esac
}

# The recorded pid of daemon $1, or nothing.
recorded_pid() {
  local f=$run_dir/$1.pid pid
  [ -r "$f" ] || return 0
  pid=$(tr -dc 0-9 <"$f")
  [ -n "$pid" ] && echo "$pid"
  return 0
}

# True when pid $2 is daemon $1 of this cluster: the process runs the daemon's
# binary and its command line names this cluster's directory (a reused pid
# does neither). Zombies have no exe and count as gone.
is_our_daemon() {
  local name=$1 pid=$2 exe
  [ -n "$pid" ] || return 1
  exe=$(readlink "/proc/$pid/exe" 2>/dev/null) || return 1
  [ "$exe" = "$(readlink -f "$(daemon_exe "$name")")" ] || return 1   # Debian: /usr/sbin/slurmd -> slurmd-wlm
  tr '\0' '\n' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$cluster_dir/" || return 1
}

daemon_running() { is_our_daemon "$1" "$(recorded_pid "$1")"; }

# Deadlines and timings in microseconds since the epoch (bash 5's EPOCHREALTIME).
now_us() { local t=${EPOCHREALTIME/[.,]/}; echo $((10#$t)); }
deadline_in() { echo $(( $(now_us) + $1 * 1000000 )); }   # $1 whole seconds
before() { [ "$(now_us)" -lt "$1" ]; }
# Seconds between two now_us values, two decimals.
seconds_between() { local d=$(( $2 - $1 )); printf '%d.%02d' $((d / 1000000)) $((d % 1000000 / 10000)); }

# Polls (every 50 ms) until the command succeeds or $1 seconds pass; returns 1 on timeout.
wait_until() {
  local end; end=$(deadline_in "$1"); shift
  while ! "$@" >/dev/null 2>&1; do
    before "$end" || return 1
    sleep 0.05
  done
}
