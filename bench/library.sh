#!/usr/bin/env bash
# Vessel as a library: VMs booted by one warm JVM through the VM object, against fresh QEMU
# processes, side by side in the same helper machine. Run with --help for what it measures.
set -euo pipefail

usage() {
  cat <<'EOF2'
Usage: bench/library.sh [--runs N] [--out DIR] [--root DIR] [--jar JAR | --commit REV] [--build-dir DIR]
                        [--fresh-machine] [--keep-machine] [--run-timeout S]

Runs bench/java/LibraryBench.java inside Vessel's helper machine (`vessel machine java`, the way
the README tells a program that embeds Vessel to run there), which boots, for the same kernel,
initramfs (busybox; its init prints a marker and powers off) and command line, 1 vCPU, 256 MiB:

  library       one VM at a time in the program's own JVM: VirtualMachine.create, start,
                awaitExit, close; the JVM stays up between VMs (a discarded warm-up VM first)
  qemu          qemu-system-x86_64 7.2 -accel kvm -M microvm, a fresh process per VM (the host's
                QEMU and its libraries, sent into the machine)
  library-pair  two VMs at once in that JVM

and reports for each, with the program's clock:
  init          from create (library) or process start (qemu) to the init's marker on the console
  total         to the guest's power-off (the VM's end, or QEMU's exit)
  close         library only: VirtualMachine.close() after the guest powered off (vCPU threads
                joined, devices quiesced, every fd and mapping released)
  RSS           library: how much the JVM's resident set grew from before create to the marker
                (what one more VM costs a program that already runs); qemu: the QEMU process's
                peak RSS (VmHWM) at the marker (what one more VM costs with QEMU: a process)

Order: a warm-up of each, then N rounds of library, qemu, library-pair, interleaved.

Options:
EOF2
  bench_common_usage 5
  bench_usage_footer "failed runs' output" "stops the QEMU and Java processes it started"
}

top=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)
BENCH_NAME=library
. "$top/bench/lib/machine-bench.sh"
. "$top/bench/lib/qemu-bundle.sh"
runs=5
while [ $# -gt 0 ]; do
  case "$1" in
    -h|--help) usage; exit 0 ;;
    *) bench_option "$@" || { usage >&2; die "unknown argument: $1"; }; shift "$bench_shift" ;;
  esac
done

qemu_bundle_find || exit 1
bench_start
csv="$out/library-$stamp.csv"
md="$out/library-$stamp.md"

# The program, compiled against the jar under test, as a user's project is.
JAVAC="$(dirname "$JAVA")/javac"
JAR_TOOL="$(dirname "$JAVA")/jar"
mkdir -p "$tmp/classes"
"$JAVAC" -cp "$jar" -d "$tmp/classes" "$top/bench/java/LibraryBench.java" || die "LibraryBench.java does not compile against $jar"
"$JAR_TOOL" cf "$tmp/bench.jar" -C "$tmp/classes" .

# Kernel, initramfs and QEMU go into the machine's work folder.
bench_kernel
bundle="$tmp/bundle"
qemu_bundle_make "$bundle"
cp "$KERNEL" "$bundle/vmlinuz"
cat > "$tmp/init" <<'INIT'
#!/bin/busybox sh
/bin/busybox mount -t proc proc /proc
echo "vessel-bench: init uptime=$(/bin/busybox cut -d' ' -f1 /proc/uptime)"
/bin/busybox poweroff -f
INIT
bench_initramfs "$bundle/initramfs.cpio" "$tmp/init"
bench_send "$bundle"
facts=$(mexec sh -c '. "$1/common.sh"; bench_check "$1"' sh "$W" </dev/null) || die "the machine cannot run the benchmark (see above)"

say "running $runs rounds in the machine"
st=0
timeout --foreground -k 15 $((run_timeout * runs)) "${V[@]}" machine java -cp "$tmp/bench.jar" LibraryBench \
  "$W/vmlinuz" "$W/initramfs.cpio" "$runs" "$(qemu_bundle_run_prefix "$W")" </dev/null > "$csv" || st=$?
hung "$st" "the benchmark program"
[ "$st" = 0 ] || die "the benchmark program failed (status $st); its output is in $csv"

stats() { # KIND COLUMN: median (min–max) of the runs that ended well
  awk -F, -v k="$1" -v c="$2" '$1 == k && $7 == "0" && $c != "" && $c != -1 { print $c }' "$csv" | bench_stats \
    | awk '{ if ($1 == "NA") print "n/a"; else printf "%s (%s–%s)", $1, $2, $3 }'
}
ratio() { # KIND-A KIND-B COLUMN: median of A / median of B
  local a b
  a=$(awk -F, -v k="$1" -v c="$3" '$1 == k && $7 == "0" { print $c }' "$csv" | bench_stats | cut -d' ' -f1)
  b=$(awk -F, -v k="$2" -v c="$3" '$1 == k && $7 == "0" { print $c }' "$csv" | bench_stats | cut -d' ' -f1)
  awk -v a="$a" -v b="$b" 'BEGIN { if (b + 0 > 0) printf "%.2f", a / b; else print "n/a" }'
}
{
  echo "Vessel as a library against QEMU, $(date -u '+%Y-%m-%d %H:%M UTC'), $version, $runs rounds (median (min–max))"
  echo
  echo "| | init (ms) | total to power-off (ms) | close (ms) | RSS (kB) |"
  echo "|---|---:|---:|---:|---:|"
  echo "| library: one VM in a warm JVM | $(stats library 3) | $(stats library 4) | $(stats library 5) | $(stats library 6) (growth) |"
  echo "| qemu: a fresh process per VM | $(stats qemu 3) | $(stats qemu 4) | | $(stats qemu 6) (peak) |"
  echo "| library: two VMs at once | $(stats library-pair 3) | $(stats library-pair 4) | | $(stats library-pair 6) (growth) |"
  echo
  echo "Ratios library/qemu (medians): init $(ratio library qemu 3), total $(ratio library qemu 4), RSS $(ratio library qemu 6)."
  echo
  echo "Failed runs: $(awk -F, 'NR > 1 && $7 != "0"' "$csv" | wc -l) (in $(basename "$csv"))."
  echo
  echo "- Command: \`bench/library.sh $(bench_shown --runs "$runs")\`; machine: $machine_origin"
  echo "- Host: $(bench_host_line)"
  printf '%s\n' "$facts" | sed -n 's/^FACT /- /p'
} | tee "$md"
