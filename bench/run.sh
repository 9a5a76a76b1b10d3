#!/usr/bin/env bash
# Containers end to end: `vessel run --rm busybox true` against the bare `vessel vm run`, and the
# memory one idle running container costs. Run with --help for what it measures and how.
set -euo pipefail

usage() {
  cat <<'EOF'
Usage: bench/run.sh [--runs N] [--root DIR] [--jar JAR] [--out DIR]

Measures, from the host, with the host's clock (date +%s%N), N interleaved rounds of:

  vm-run         `vessel vm run`: boot the default kernel with the built-in busybox initramfs,
                 whose init prints what it sees and powers off; start of the CLI to its exit
  container-run  `vessel run --rm busybox true`: create the container (writable disk made with
                 mkfs.ext4), start its supervisor, boot the same kernel with vessel-agent as
                 init, mount the image and the disk under overlayfs, run `true`, power off,
                 write the state, remove the container; start of the CLI to its exit

and reports medians and the ratio container-run / vm-run (the issue's goal: <= 1.3).
Where there is no hardware virtualization both go through the same helper machine and its
standby VMM, so the ratio compares like with like.

Then the memory of one idle running container (`vessel run -d busybox sleep 600`):
  supervisor RSS   VmRSS of the container's supervisor process on the host
  VMM RSS          (no hardware virtualization: the VM lives in the helper machine) VmRSS of
                   the container's VMM process there, guest RAM it touched included: the process
                   with a vCPU thread ("vcpu-0") that is not a waiting standby VMM (their pids are
                   in /run/vessel/*.pid); read as soon as `run -d` returns (the container's
                   process runs, the guest idles), before the standby that took the command
                   starts its successor (15 s after taking it), which would be a second such
                   process (then the figure says n/a)
A docker baseline (`docker run --rm busybox true`) is run only where a Docker engine answers.

Options:
  --runs N     rounds (default 5)
  --root DIR   Vessel state root (default: Vessel's default)
  --jar JAR    Vessel jar (default: build the working tree into ${TMPDIR:-/tmp}/vessel-bench-run)
  --out DIR    results folder (default bench/results): run-<UTC>.csv and .md
  --back-to-back
               start each command as soon as the previous one ended (default: wait until the
               helper machine's standby VMM is ready, so both kinds start alike)
  -h, --help   this text
EOF
}

die() { echo "bench/run.sh: $*" >&2; exit 1; }
say() { echo "bench: $*" >&2; }

top=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)
runs=5 root= jar= out="$top/bench/results" settle=1
while [ $# -gt 0 ]; do
  case "$1" in
    --back-to-back) settle=0; shift ;;
    --runs) runs=${2:?}; shift 2 ;;
    --root) root=${2:?}; shift 2 ;;
    --jar) jar=${2:?}; shift 2 ;;
    --out) out=${2:?}; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) usage >&2; die "unknown argument: $1" ;;
  esac
done
case "$runs" in ''|*[!0-9]*|0) die "--runs must be a positive number" ;; esac
unset VESSEL_TIMING VESSEL_DEBUG VESSEL_TRACE_IO

. "$top/bench/lib/jar.sh"
. "$top/bench/lib/aot-cache.sh"
bench_jar run
# The host CLI's JVM as ./vessel starts it: quick-start JIT and a class-data archive per command
# (made by the first run of each, kept in this benchmark's own folder).
cds_dir="${TMPDIR:-/tmp}/vessel-bench-cds"
mkdir -p "$cds_dir"
V=("$java_home/bin/java" --enable-native-access=ALL-UNNAMED -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Xss512k -XX:-UsePerfData)
vessel() {
  local verb=${1:-other} archive
  case "$verb" in *[!a-z-]*) archive=other ;; *) archive=$verb ;; esac
  timeout -k 10 600 "${V[@]}" -XX:+AutoCreateSharedArchive -XX:SharedArchiveFile="$cds_dir/$archive.jsa" \
    -Xlog:cds=off -Xlog:cds+dynamic=off -jar "$jar" ${root:+--root "$root"} "$@"
}

ms_now() { echo $(( $(date +%s%N) / 1000000 )); }
median() { sort -n | awk '{a[NR]=$1} END {if (NR==0) {print "n/a"; exit} m=int((NR+1)/2); if (NR%2) print a[m]; else printf "%.0f\n", (a[m]+a[m+1])/2}'; }

stamp=$(date -u +%Y%m%dT%H%M%SZ)
mkdir -p "$out"
csv="$out/run-$stamp.csv"
md="$out/run-$stamp.md"
echo "kind,round,ms,status" > "$csv"

say "warm-up (machine start, kernel, busybox image, caches; not counted)"
vessel vm run </dev/null >/dev/null 2>&1 || die "vessel vm run fails; see its output"
vessel run --rm busybox true </dev/null >/dev/null 2>&1 || die "vessel run --rm busybox true fails"
jar_sha=$(jar_sha16 "$jar")
if vessel machine status >/dev/null 2>&1; then
  # A new build's first run in the helper machine starts making its start-up cache in the
  # background (machine-command.sh, see MachineCommandScript): measure once it is there, as users' later runs.
  vessel machine exec -- sh -c "$aot_cache_wait_script" sh "$jar_sha" </dev/null \
    || die "the helper machine has no start-up cache for this jar (its training run failed or took over 400 s)"
  vessel vm run </dev/null >/dev/null 2>&1 || die "vessel vm run fails; see its output"
fi
# --settle (default): each measured command starts when the machine's standby VMM for this jar is
# ready, as a command that follows the previous one by a minute or more finds it; both kinds then
# start alike, and the ratio is the container path's own cost. Back to back, whichever command
# finds the standby still warming up (~30-60 s under emulation) runs a cold JVM instead.
await_standby() {
  [ "$settle" = 1 ] && vessel machine status >/dev/null 2>&1 || return 0
  vessel machine exec -- sh -c 'i=0; while [ $i -lt 1800 ]; do [ -S "/run/vessel/vmm-$1.sock" ] && exit 0
    sleep 0.1; i=$((i + 1)); done; exit 1' sh "$jar_sha" </dev/null \
    || say "warning: no standby VMM became ready within 180 s; measuring anyway"
}
for i in $(seq 1 "$runs"); do
  for kind in vm-run container-run; do
    await_standby
    t0=$(ms_now)
    if [ "$kind" = vm-run ]; then
      vessel vm run </dev/null >/dev/null 2>&1; st=$?
    else
      vessel run --rm busybox true </dev/null >/dev/null 2>&1; st=$?
    fi
    t1=$(ms_now)
    echo "$kind,$i,$((t1 - t0)),$st" >> "$csv"
    say "round $i $kind: $((t1 - t0)) ms (status $st)"
  done
done

vm_med=$(awk -F, '$1=="vm-run" && $4==0 {print $3}' "$csv" | median)
ct_med=$(awk -F, '$1=="container-run" && $4==0 {print $3}' "$csv" | median)
ratio=$(awk -v a="$ct_med" -v b="$vm_med" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }')

say "memory of one idle container"
machine=0
if vessel machine status >/dev/null 2>&1; then machine=1; fi
# The container's VMM in the machine: a process with a vCPU thread that is no waiting standby.
vmm_rss_kb() { vessel machine exec -- sh -c 'standbys=" $(cat /run/vessel/*.pid 2>/dev/null | tr "\n" " ") "
  n=0; kb=0
  for d in /proc/[0-9]*; do
    case "$standbys" in *" ${d#/proc/} "*) continue ;; esac
    grep -qx vcpu-0 "$d"/task/*/comm 2>/dev/null || continue
    n=$((n + 1)); kb=$(awk "/VmRSS/ {print \$2}" "$d/status")
  done
  [ "$n" = 1 ] && echo "$kb" || echo "n/a ($n VMM processes found)"' </dev/null; }
name="bench-idle-$$"
vessel run -d --name "$name" busybox sleep 600 </dev/null >/dev/null 2>&1 || die "cannot start an idle container"
state_dir=$(vessel inspect "$name" | awk -F'"' '/"LogPath"/ {print $4}' | xargs dirname)
shim_pid=$(awk -F': ' '/"pid"/ {gsub(/[ ,]/, "", $2); print $2}' "$state_dir/state.json")
shim_rss=$(awk '/VmRSS/ {print $2}' "/proc/$shim_pid/status")
vmm_kb=n/a; [ "$machine" = 1 ] && vmm_kb=$(vmm_rss_kb)
vessel rm -f "$name" >/dev/null 2>&1 || say "warning: could not remove $name"
echo "supervisor-rss-kb,1,$shim_rss,0" >> "$csv"
echo "machine-vmm-rss-kb,1,$vmm_kb,0" >> "$csv"

docker_line="not run: no Docker engine answers here (\`docker info\` fails)"
if command -v docker >/dev/null && docker info >/dev/null 2>&1; then
  ds=()
  for i in $(seq 1 "$runs"); do t0=$(ms_now); docker run --rm busybox true >/dev/null 2>&1; ds+=($(( $(ms_now) - t0 ))); done
  docker_line="$(printf '%s\n' "${ds[@]}" | median) ms (container baseline, not a VM)"
fi

{
  echo "| what | median | ratio |"
  echo "|---|---:|---:|"
  echo "| \`vessel vm run\` (bare boot, init, power-off) | $vm_med ms | 1.00 |"
  echo "| \`vessel run --rm busybox true\` | $ct_med ms | $ratio |"
  echo "| \`docker run --rm busybox true\` | $docker_line | |"
  echo
  echo "Idle container (\`busybox sleep 600\`): supervisor RSS on the host $((shim_rss / 1024)) MiB;"
  echo "its VMM in the helper machine (guest RAM it touched included): $(case "$vmm_kb" in *[!0-9]*|'') echo "$vmm_kb" ;; *) echo "$((vmm_kb / 1024)) MiB" ;; esac)."
  echo
  echo "$runs rounds, $(date -u), jar $(basename "$jar"), raw numbers in $(basename "$csv");"
  if [ "$settle" = 1 ]; then echo "each command started with the machine's standby VMM ready (--settle)."
  else echo "commands back to back (--back-to-back): some find the machine's standby VMM still warming up."; fi
} | tee "$md"
