#!/usr/bin/env bash
# VM exits per second: a guest that does nothing but port writes no device claims, under Vessel
# and under QEMU 7.2 + KVM, side by side in the same helper machine. Run with --help for more.
set -euo pipefail

usage() {
  cat <<'EOF'
Usage: bench/exits.sh [--loops A,B] [--port P] [--jvm-options S] [--compare-jvm-options S]
                      [--runs N] [--out DIR] [--root DIR] [--jar JAR | --commit REV]
                      [--build-dir DIR] [--fresh-machine] [--keep-machine] [--run-timeout S]

Inside Vessel's helper machine (QEMU/TCG with nested KVM), both VMMs boot the same guest:
bench/java/ExitsGuest.java, a PVH ELF "kernel" of a few instructions that writes LOOPS times to
port P (one VM exit each: an OUT to a port no device claims in either VMM, handled in user space),
then ends the VM (QEMU: isa-debug-exit at 0xf4; Vessel: the ACPI S5 write to 0x600). Each VMM
process is timed with the machine's clock (busybox ash $EPOCHREALTIME around it), for two loop
counts A and B; the cost of one exit is

  per exit = (wall time at B - wall time at A) / (B - A)

which cancels everything else (process and JVM start-up, loading, shutdown). Reported: that
cost and its inverse (exits per second) from the medians, and per round (A and B run next to
each other), the VMM's peak RSS (GNU time %M) and CPU time (user+sys, also per exit), and the
start-up the difference leaves out (wall at A - A * per exit).

  vessel       java <--jvm-options> -XX:AOTCache=... -jar vessel.jar vm run --accel kvm
               --kernel GUEST --initrd GUEST --cmdline '' --cpus 1 --memory 256M: a fresh VMM per
               run, with a start-up cache the script trains first (one run of the A guest with
               -XX:AOTCacheOutput), as `vessel vm run` has in the machine. VESSEL_STATS=1 checks
               that the VMM handled LOOPS (+2) exits.
  vessel-alt   the same with --compare-jvm-options (and a cache of its own); only if given
  qemu         qemu-system-x86_64 -M microvm,x-option-roms=off -accel kvm -cpu host -m 256 -smp 1
               -nodefaults -no-user-config -nographic -device isa-debug-exit,iobase=0xf4,iosize=4
               -kernel GUEST (the host's QEMU and its libraries, sent in; exit status 1 is the
               guest's isa-debug-exit write of 0)

Order: a discarded warm-up of each at A; then N rounds, in each every kind at A then at B, the
kinds' order rotated from round to round.

Options:
  --loops A,B       the two loop counts (default 20000,200000)
  --port P          the port the guest writes (default 0x80; below 0x100, not 0xf4)
  --compare-jvm-options S
                    a second Vessel kind (vessel-alt) run with these JVM options instead
EOF
  bench_common_usage 5 jvm
  bench_usage_footer "its console and stderr" "removes the start-up caches it made"
}

top=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)
BENCH_NAME=exits
. "$top/bench/lib/machine-bench.sh"
. "$top/bench/lib/qemu-bundle.sh"
runs=5
loops_a=20000
loops_b=200000
port=0x80
alt_options=
while [ $# -gt 0 ]; do
  case "$1" in
    --loops|--port|--compare-jvm-options)
      [ $# -ge 2 ] || die "$1 needs a value"
      case "$1" in
        --loops) loops_a=${2%%,*}; loops_b=${2#*,} ;;
        --port) port=$2 ;;
        --compare-jvm-options) alt_options=$2 ;;
      esac
      shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) bench_option "$@" || { usage >&2; die "unknown argument: $1"; }; shift "$bench_shift" ;;
  esac
done
case "$loops_a$loops_b" in *[!0-9]*|'') die "--loops takes two numbers, A,B" ;; esac
[ "$loops_a" -ge 1 ] && [ "$loops_b" -gt "$loops_a" ] || die "--loops A,B needs 1 <= A < B"

GNU_TIME=/usr/bin/time
qemu_bundle_find || exit 1
case "$QEMU_VERSION" in *"version 7.2"*) ;; *) say "warning: expected QEMU 7.2, found: $QEMU_VERSION" ;; esac
[ -x "$GNU_TIME" ] && "$GNU_TIME" --version 2>&1 | grep -q 'GNU' || die "GNU time not found at $GNU_TIME: apt-get install time"
bench_start

kinds=(vessel qemu)
[ -z "$alt_options" ] || kinds=(vessel vessel-alt qemu)

# --- the guests, the jar, QEMU ------------------------------------------------------------------
bundle="$tmp/bundle"
mkdir -p "$bundle"
for n in "$loops_a" "$loops_b"; do
  "$JAVA" "$top/bench/java/ExitsGuest.java" "$bundle/guest-$n.elf" "$n" "$port" || die "could not build the guest ($n loops)"
done
cp "$jar" "$bundle/vessel.jar"
qemu_bundle_make "$bundle/qemu"
cp "$GNU_TIME" "$bundle/qemu/bin/time"

vessel_argv() { # JVM-OPTIONS KIND: the VMM's command line, @GUEST@ standing for the guest
  local o
  printf '%s\n' /opt/java/bin/java
  for o in $1; do printf '%s\n' "$o"; done
  printf '%s\n' "-XX:AOTCache=$W/$2.aot" -Xlog:aot=off -jar "$W/vessel.jar" vm run --accel kvm \
    --kernel @GUEST@ --initrd @GUEST@ --cmdline '' --cpus 1 --memory 256M
}
vessel_argv "$jvm_options" vessel > "$bundle/vessel.argv"
[ -z "$alt_options" ] || vessel_argv "$alt_options" vessel-alt > "$bundle/vessel-alt.argv"
qemu_argv=("$W/qemu/bin/qemu-system-x86_64" -L "$W/qemu/share/qemu" -M microvm,x-option-roms=off
  -accel kvm -cpu host -m 256 -smp 1 -nodefaults -no-user-config -nographic
  -device isa-debug-exit,iobase=0xf4,iosize=0x04 -kernel @GUEST@)
printf '%s\n' "${qemu_argv[@]}" > "$bundle/qemu.argv"

cat > "$bundle/runner.sh" <<'RUNNER'
# bench/exits.sh's helper inside the helper machine (busybox ash). Usage: runner.sh MODE W ...
set -u
W=$2
. "$W/common.sh"
argv() { # KIND LOOPS: sets "$@" to KIND's command line for the guest of LOOPS (into file $W/cmd)
  g=$W/guest-$2.elf
  : > "$W/cmd"
  while IFS= read -r a; do [ "$a" = @GUEST@ ] && a=$g; printf '%s\n' "$a" >> "$W/cmd"; done < "$W/$1.argv"
}
case "$1" in
check)
  "$W/qemu/bin/time" -f '' true 2>/dev/null || { echo "GNU time does not run in the machine" >&2; exit 3; }
  bench_check "$W/qemu"
  ;;
train)
  # runner.sh train W KIND LOOPS: makes KIND's start-up cache with one run of the LOOPS guest.
  argv "$3" "$4"
  cache=$W/$3.aot
  set --
  while IFS= read -r a; do
    [ "$a" = "-XX:AOTCache=$cache" ] && a=-XX:AOTCacheOutput=$cache
    set -- "$@" "$a"
  done < "$W/cmd"
  "$@" </dev/null >"$W/train-$3.log" 2>&1 &
  bench_track "$W" training $!
  wait $!
  st=$?
  rm -f "$W/training.pid"
  [ "$st" = 0 ] && [ -s "$cache" ] || { echo "training the start-up cache of $3 failed (status $st):" >&2; tail -n 20 "$W/train-$3.log" >&2; exit 3; }
  ls -l "$cache" | awk '{ print "FACT cache_" $NF " " $5 }' | sed "s|$W/||"
  ;;
run)
  # runner.sh run W KIND LOOPS TAG: one run; prints "RESULT t0 t1 status rss_kb elapsed user sys vmm_exits".
  kind=$3
  loops=$4
  tag=$5
  argv "$kind" "$loops"
  set --
  while IFS= read -r a; do set -- "$@" "$a"; done < "$W/cmd"
  case "$kind" in
    qemu) export LD_LIBRARY_PATH=$W/qemu/lib ;;
    *) export VESSEL_STATS=1 ;;
  esac
  res=$W/$tag.time
  rm -f "$res"
  t0=$EPOCHREALTIME
  "$W/qemu/bin/time" -o "$res" -f '%M %e %U %S' "$@" </dev/null >"$W/$tag.console" 2>"$W/$tag.stderr" &
  pid=$!
  bench_track "$W" running $pid
  wait $pid
  st=$?
  t1=$EPOCHREALTIME
  rm -f "$W/running.pid"
  ex=$(sed -n 's/.*vessel-stats: vmm_exits=\([0-9]*\).*/\1/p' "$W/$tag.stderr")
  set -- $(tail -n 1 "$res" 2>/dev/null)
  echo "RESULT $t0 $t1 $st ${1:-none} ${2:-none} ${3:-none} ${4:-none} ${ex:-none}"
  ;;
show) bench_show "$W" "$3" console stderr ;;
*) bench_bad_mode "$1" ;;
esac
RUNNER

bench_send "$bundle"
facts=$(mexec sh "$W/runner.sh" check "$W" </dev/null) || die "the machine cannot run the benchmark (see above)"
fact() { printf '%s\n' "$facts" | sed -n "s/^FACT $1 //p"; }
for k in "${kinds[@]}"; do
  [ "$k" != qemu ] || continue
  say "training the start-up cache of $k (one run of the $loops_a-loop guest with -XX:AOTCacheOutput)"
  o=$(mexec sh "$W/runner.sh" train "$W" "$k" "$loops_a" </dev/null) || die "could not make the start-up cache of $k (see above)"
  facts="$facts
$o"
done

# --- measured runs -------------------------------------------------------------------------------
csv="$out/exits-$stamp.csv"
md="$out/exits-$stamp.md"
failures="$out/exits-$stamp-failed"
echo "round,kind,warmup,loops,wall_s,exit_status,peak_rss_kb,user_s,sys_s,vmm_exits,host_load1" > "$csv"
load1() { cut -d' ' -f1 /proc/loadavg; }
keep_failure() { mkdir -p "$failures"; cat > "$failures/$1.log"; say "  (its console and stderr: $failures/$1.log)"; }
expected_status() { [ "$1" = qemu ] && echo 1 || echo 0; }

machine_run() { # KIND LOOPS ROUND WARMUP
  local kind=$1 loops=$2 round=$3 warm=$4 tag="$1-$2-$3" o rs r t0 t1 st rss el us sy ex wall ok=1
  o=$(mexec sh "$W/runner.sh" run "$W" "$kind" "$loops" "$tag" </dev/null; echo "STATUS $?")
  rs=$(sed -n 's/^STATUS //p' <<<"$o")
  hung "$rs" "$kind run $round ($loops loops)"
  [ "$rs" != 130 ] && [ "$rs" != 143 ] || die "interrupted"
  r=$(grep '^RESULT ' <<<"$o" || true)
  [ -n "$r" ] || die "$kind run $round ($loops loops) produced no result in the machine (status $rs)"
  read -r _ t0 t1 st rss el us sy ex <<<"$r"
  wall=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')
  [ "$ex" != none ] || ex=
  [ "$st" = "$(expected_status "$kind")" ] || ok=0
  # Vessel counts the exits it handled: the loop's, the isa-debug-exit write and the power-off.
  [ "$kind" = qemu ] || { [ -n "$ex" ] && [ "$ex" -ge $((loops + 2)) ] && [ "$ex" -le $((loops + 100)) ]; } || ok=0
  [ "$ok" = 1 ] || st="bad:$st"
  echo "$round,$kind,$warm,$loops,$wall,$st,$rss,$us,$sy,$ex,$(load1)" >> "$csv"
  if [ "$ok" = 0 ]; then
    say "  $kind #$round $loops loops FAILED: exit status ${st#bad:}, VMM exits ${ex:-?}; not counted"
    mexec sh "$W/runner.sh" show "$W" "$tag" </dev/null 2>&1 | keep_failure "$tag"
    return 0
  fi
  say "  $kind #$round $loops loops: $wall s, peak RSS $rss kB${ex:+, $ex VMM exits}"
}

say "warm-up: one run of each at $loops_a loops (discarded)"
for k in "${kinds[@]}"; do machine_run "$k" "$loops_a" 0 1; done
for ((i = 1; i <= runs; i++)); do
  say "round $i of $runs"
  n=${#kinds[@]}
  for ((j = 0; j < n; j++)); do
    k=${kinds[(i + j) % n]}
    machine_run "$k" "$loops_a" "$i" 0
    machine_run "$k" "$loops_b" "$i" 0
  done
done

# --- report ----------------------------------------------------------------------------------------
ok() { # KIND LOOPS COLUMN: the column of the measured runs that ended well
  awk -F, -v k="$1" -v n="$2" -v c="$3" 'NR > 1 && $2 == k && $4 == n && $3 == 0 && $6 !~ /^bad/ && $c != "" {
    print (c == 8 ? $8 + $9 : $c) }' "$csv"
}
med() { bench_stats | cut -d' ' -f1; }
per_round() { # KIND COLUMN: (B - A) / (B - A loops) within each round, microseconds; "median min max"
  awk -F, -v k="$1" -v c="$2" -v a="$loops_a" -v b="$loops_b" 'NR > 1 && $2 == k && $3 == 0 && $6 !~ /^bad/ {
      v = (c == 8 ? $8 + $9 : $c); if ($4 == a) A[$1] = v; if ($4 == b) B[$1] = v }
    END { for (r in A) if (r in B) print (B[r] - A[r]) / (b - a) * 1e6 }' "$csv" | bench_stats
}
fmt() { # "median min max" DECIMALS
  awk -v d="$2" '{ if ($1 == "NA") { print "—"; exit } f = "%." d "f"; printf f " (" f "–" f ")\n", $1, $2, $3 }' <<<"$1"
}
declare -A per_exit rate startup
for k in "${kinds[@]}"; do
  wa=$(ok "$k" "$loops_a" 5 | med); wb=$(ok "$k" "$loops_b" 5 | med)
  per_exit[$k]=$(awk -v a="$wa" -v b="$wb" -v na="$loops_a" -v nb="$loops_b" 'BEGIN {
    if (a == "NA" || b == "NA") print "NA"; else printf "%.2f", (b - a) / (nb - na) * 1e6 }')
  rate[$k]=$(awk -v p="${per_exit[$k]}" 'BEGIN { if (p == "NA" || p <= 0) print "NA"; else printf "%.0f", 1e6 / p }')
  startup[$k]=$(awk -v a="$wa" -v p="${per_exit[$k]}" -v na="$loops_a" 'BEGIN {
    if (a == "NA" || p == "NA") print "NA"; else printf "%.2f", a - na * p / 1e6 }')
done
ratio() { awk -v v="$1" -v q="$2" 'BEGIN { if (v == "NA" || q == "NA" || q == 0) print "—"; else printf "%.2f×\n", v / q }'; }
cells() { # FUNCTION ARGS...: one cell per kind
  local k line=
  for k in "${kinds[@]}"; do line="$line | $("$@" "$k")"; done
  printf '%s' "$line"
}
c_wall() { fmt "$(ok "$2" "$1" 5 | bench_stats)" 2; }
c_per_exit() { echo "**${per_exit[$1]}**"; }
c_rate() { echo "**${rate[$1]}**"; }
c_per_round() { fmt "$(per_round "$1" 5)" 2; }
c_rate_round() { per_round "$1" 5 | awk '{ if ($1 == "NA" || $2 <= 0) print "—"; else printf "%.0f (%.0f–%.0f)\n", 1e6 / $1, 1e6 / $3, 1e6 / $2 }'; }
c_cpu_exit() { fmt "$(per_round "$1" 8)" 2; }
c_startup() { echo "${startup[$1]}"; }
c_rss() { fmt "$(ok "$2" "$1" 7 | bench_stats | awk '{ if ($1 == "NA") print; else printf "%.1f %.1f %.1f\n", $1 / 1024, $2 / 1024, $3 / 1024 }')" 1; }
shown_file() { local a; mapfile -t a < "$1"; bench_shown "${a[@]}" | sed "s|$W/|<work>/|g"; }
header="| |"; rule="|---|"
for k in "${kinds[@]}"; do header="$header $k |"; rule="$rule---|"; done
{
  echo "VM exits per second, $(date -u '+%Y-%m-%d %H:%M UTC'), Vessel $version, $runs rounds (median (min–max))"
  echo
  echo "$header Vessel/QEMU |"
  echo "$rule---|"
  echo "| Wall, $loops_a exits (s)$(cells c_wall "$loops_a") | |"
  echo "| Wall, $loops_b exits (s)$(cells c_wall "$loops_b") | |"
  echo "| Per exit, from the medians (µs)$(cells c_per_exit) | $(ratio "${per_exit[vessel]}" "${per_exit[qemu]}") time |"
  echo "| Exits per second, from the medians$(cells c_rate) | **$(ratio "${rate[vessel]}" "${rate[qemu]}")** |"
  echo "| Per exit, per round (µs)$(cells c_per_round) | |"
  echo "| Exits per second, per round$(cells c_rate_round) | |"
  echo "| VMM CPU (user+sys) per exit, per round (µs)$(cells c_cpu_exit) | |"
  echo "| Start-up and shutdown (wall at $loops_a - $loops_a × per exit, s)$(cells c_startup) | |"
  echo "| VMM peak RSS, $loops_a exits (MiB)$(cells c_rss "$loops_a") | |"
  echo "| VMM peak RSS, $loops_b exits (MiB)$(cells c_rss "$loops_b") | |"
  [ -z "$alt_options" ] || echo "
vessel-alt/vessel exits per second (medians): $(ratio "${rate[vessel-alt]}" "${rate[vessel]}")."
  echo
  echo "- Guest: bench/java/ExitsGuest.java, $loops_a and $loops_b writes to port $port, 1 vCPU, 256 MiB."
  echo "- vessel: \`$(shown_file "$bundle/vessel.argv")\`"
  [ -z "$alt_options" ] || echo "- vessel-alt: \`$(shown_file "$bundle/vessel-alt.argv")\`"
  echo "- qemu: \`LD_LIBRARY_PATH=<work>/qemu/lib $(bench_shown "${qemu_argv[@]}" | sed "s|$W/|<work>/|g")\`"
  echo "- Start-up caches: $(printf '%s\n' "$facts" | sed -n 's/^FACT cache_\([^ ]*\) \(.*\)/\1 \2 bytes/p' | paste -sd, - | sed 's/,/, /g')."
  echo "- Machine: $(fact machine_cpus) vCPUs, $(( $(fact machine_mem_kb) / 1024 )) MiB, kernel $(fact machine_kernel), CPU \"$(fact machine_cpu_model)\" (QEMU TCG, nested KVM); $(fact machine_java)."
  echo "- Host: $(bench_host_line)."
  echo "- Runs that failed (not counted; logs in $(basename "$failures")/): $(awk -F, 'NR > 1 && $6 ~ /^bad/ { n++ } END { print n + 0 }' "$csv"), warm-ups included."
  echo "- Host load (1-min load average at the end of each run, in order): $(awk -F, 'NR > 1 { l = l sep $11; sep = ", " } END { print l }' "$csv")."
  echo "- Helper machine: $machine_origin."
  echo "- Command: \`bench/exits.sh $(bench_shown --loops "$loops_a,$loops_b" --runs "$runs" ${alt_options:+--compare-jvm-options "$alt_options"})\`; raw numbers: $(basename "$csv")."
} | tee "$md"
say "results: $csv, $md"
