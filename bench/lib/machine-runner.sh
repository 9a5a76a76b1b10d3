# Sourced inside the helper machine (busybox ash) by the benchmarks' runners; machine-bench.sh
# sends it as W/common.sh. W is the benchmark's work folder there.
#
#   bench_check QEMU_DIR        fails (status 3, with a message) without /dev/kvm, or if the QEMU
#                               sent to QEMU_DIR (if any) does not start; prints its version and
#                               bench_facts as FACT lines
#   bench_facts                 FACT lines about the machine (CPUs, memory, CPU model, kernel, Java)
#   bench_show W TAG SUFFIX...  prints W/TAG.SUFFIX for each SUFFIX (a run's logs, for error reports)
#   bench_bad_mode MODE         says that the runner has no such mode, exits 2
#   bench_track W NAME PID      records a process the benchmark started (W/NAME.pid), for bench_cleanup
#   bench_undo W COMMAND        a shell command bench_cleanup runs (e.g. remove a folder outside W)
#   bench_cleanup W             ends every process recorded in W/*.pid and its children (by pid),
#                               runs the undo commands, removes W

bench_check() {
  [ -c /dev/kvm ] || { echo "no /dev/kvm in the helper machine" >&2; exit 3; }
  if [ -e "$1/bin/qemu-system-x86_64" ]; then
    v=$(LD_LIBRARY_PATH=$1/lib "$1/bin/qemu-system-x86_64" --version 2>&1) \
      || { echo "QEMU does not start in the machine: $v" >&2; exit 3; }
    echo "FACT qemu_in_machine ${v%%
*}"
  fi
  bench_facts
}

bench_show() {
  local w=$1 t=$2 x
  shift 2
  for x in "$@"; do
    echo "--- $x"
    cat "$w/$t.$x" 2>/dev/null
  done
}

bench_bad_mode() {
  echo "unknown mode $1" >&2
  exit 2
}

bench_facts() {
  echo "FACT machine_cpus $(grep -c '^processor' /proc/cpuinfo)"
  echo "FACT machine_mem_kb $(sed -n 's/^MemTotal: *\([0-9]*\) kB/\1/p' /proc/meminfo)"
  echo "FACT machine_cpu_model $(sed -n 's/^model name[^:]*: //p' /proc/cpuinfo | head -n 1)"
  echo "FACT machine_kernel $(uname -r)"
  j=$(ls /opt/java/lib/server/*.jsa 2>/dev/null | tr '\n' ' ')
  echo "FACT machine_java_cds ${j:-none}"
  echo "FACT machine_java $(/opt/java/bin/java -XX:-UsePerfData -version 2>&1 | head -n 1)"
}

bench_track() {
  echo "$3" > "$1/$2.pid"
}

bench_undo() {
  printf '%s\n' "$2" >> "$1/undo"
}

bench_cleanup() {
  local w=$1 f p d s
  for f in "$w"/*.pid; do
    [ -f "$f" ] || continue
    p=$(cat "$f")
    case "$p" in ''|*[!0-9]*) continue ;; esac
    for d in /proc/[0-9]*; do
      s=
      { read -r s < "$d/stat"; } 2>/dev/null
      s=${s##*) }
      set -- $s
      [ "${2:-}" = "$p" ] && kill -KILL "${d#/proc/}" 2>/dev/null
    done
    kill -KILL "$p" 2>/dev/null
  done
  sleep 0.2
  [ -f "$w/undo" ] && sh "$w/undo" >/dev/null 2>&1
  rm -rf "$w"
}
