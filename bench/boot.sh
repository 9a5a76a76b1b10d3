#!/usr/bin/env bash
# Boot-to-init time and VMM peak memory: Vessel against QEMU 7.2 + KVM, side by side in the
# same helper machine, same kernel, same initramfs, same kernel command line, 1 vCPU, 256 MiB.
# Run with --help for what it measures and how.
set -euo pipefail

usage() {
  cat <<'EOF'
Usage: bench/boot.sh [--runs N] [--out DIR] [--root DIR] [--jar JAR | --commit REV] [--build-dir DIR]
                     [--fresh-machine] [--keep-machine] [--run-timeout S]

Measures, inside Vessel's helper machine (QEMU/TCG with nested KVM), for the same kernel,
initramfs and kernel command line, 1 vCPU and 256 MiB:

  boot to init   wall time from starting the VMM process to the guest init's first line
                 ("Vessel micro-VM: ..."), taken with the machine's clock (busybox ash
                 $EPOCHREALTIME, microseconds, no fork), so the host<->machine relay is excluded
  guest uptime   the guest's own /proc/uptime at init (the "vessel-facts: ... uptime=" line)
  total          wall time from starting the VMM process until it has exited (guest power-off)
  peak RSS       the VMM process's maximum resident set size over its life (GNU time %M, i.e.
                 ru_maxrss from wait4: exact, no sampling); it includes the guest RAM the VMM
                 touched, for both VMMs
  CPU            user+sys CPU seconds of the VMM process (GNU time %U + %S)

for
  vessel   the exact java command line that `vessel vm run` runs in the machine (JVM options
           included): captured from /proc/PID/cmdline of that java process during the warm-up
           `vessel vm run`, then run directly in the machine
  qemu     the host's qemu-system-x86_64 (and the shared libraries ldd lists for it, GNU time and
           bios-microvm.bin, the only firmware file -M microvm loads), sent into the machine and
           run there: -accel kvm -cpu host -m 256 -smp 1 -M microvm,x-option-roms=off,rtc=on
           -nodefaults -no-user-config -nographic -serial stdio, plus -L for the firmware folder
  vessel-standby
           the fast path `vessel vm run` takes in the machine: the same arguments handed to a
           standby VMM (`vessel vm standby`, started ahead of time and warmed up) through
           `vessel-agent --vmm-client`; timed from starting the client. Before each run the script
           waits until a standby is ready (its socket is there); its peak RSS is the standby
           process's VmHWM read when the init's facts line comes (the guest powers off right
           after it); CPU is left out (GNU time sees only the client)
Before every run in the machine the script waits for a standby that is still warming up (it
starts at nice 19 after a standby run) to be ready, so that no run shares the machine's CPUs.
and, separately, the end-to-end figures a user waits for, timed with the host's clock:
  vessel-e2e   `vessel vm run` started on the host (host JVM, file checks, relay to the machine
               and back included; a standby takes it in the machine); no RSS
  vessel-cold  the user's `./vessel vm run` (the launcher script, VESSEL_JAR=the measured jar),
               cold: no standby waits in the machine and none may start (the script holds the
               slot's claim), so a fresh JVM runs the VM there; exec to exit
  qemu-e2e     QEMU with the same arguments, started from the host the same way
               (`./vessel machine exec -- ...`): the same launcher, host JVM and relay, so the
               ratio vessel-cold/qemu-e2e is the cold VMM against QEMU, user's view

Order: a discarded warm-up of each (vessel-e2e first: it also provides the command to
capture), then N rounds of vessel, qemu, vessel-standby, vessel-e2e, vessel-cold, qemu-e2e,
interleaved. Then one more vessel run
with VESSEL_TIMING=1 (not counted) whose milestones are saved beside the results.

Options:
EOF
  bench_common_usage 5 | sed 's|(default: bench/results/ in the repo)|(default: bench/results/ in the repo); writes\
                    boot-<UTC time>.csv (raw numbers), .md (the table) and -timing.txt|'
  cat <<'EOF'

Needs on the host: a Java 25 JDK, qemu-system-x86 (7.2), GNU time (apt-get install time), tar.
Prints a markdown table on stdout; progress goes to stderr. A run that fails is recorded in the
CSV with its exit status and left out of the table; its console and stderr go to
boot-<UTC time>-failed/. On exit, also on Ctrl-C, it ends what it started in the machine (by pid)
and removes its work folder there (/tmp/vessel-bench.PID; the sent bundle is unpacked there and
deleted from the machine's file store at once).
EOF
}

top=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)
BENCH_NAME=boot
. "$top/bench/lib/machine-bench.sh"
. "$top/bench/lib/qemu-bundle.sh"
runs=5
while [ $# -gt 0 ]; do
  case "$1" in
    -h|--help) usage; exit 0 ;;
    *) bench_option "$@" || { usage >&2; die "unknown argument: $1"; }; shift "$bench_shift" ;;
  esac
done

# --- host prerequisites --------------------------------------------------------------------
GNU_TIME=/usr/bin/time
qemu_bundle_find || exit 1
[ -x "$GNU_TIME" ] && "$GNU_TIME" --version 2>&1 | grep -q 'GNU' \
  || die "GNU time not found at $GNU_TIME: apt-get install time"
command -v ldd >/dev/null || die "ldd not found"
qemu_version=$QEMU_VERSION
case "$qemu_version" in *"version 7.2"*) ;; *) say "warning: expected QEMU 7.2, found: $qemu_version" ;; esac

# --- the Vessel jar, the helper machine ------------------------------------------------
bench_start
csv="$out/boot-$stamp.csv"
md="$out/boot-$stamp.md"
timing_log="$out/boot-$stamp-timing.txt"

# --- what runs inside the machine: ash, busybox only ---------------------------------------
bundle="$tmp/bundle"
# QEMU, every library ldd lists for it and its firmware (bench/lib/qemu-bundle.sh), GNU time.
qemu_bundle_make "$bundle"
cp "$GNU_TIME" "$bundle/bin/time"
cat > "$bundle/runner.sh" <<'RUNNER'
# bench/boot.sh's helper inside the helper machine (busybox ash). Usage: runner.sh MODE W ...
set -u
W=$2
. "$W/common.sh"
case "$1" in
check)
  "$W/bin/time" -f '' true 2>/dev/null || { echo "GNU time does not run in the machine" >&2; exit 3; }
  bench_check "$W"
  ;;
capture)
  # Finds the java process `vessel vm run` starts in the machine and saves its argv, one per line.
  timeout=$3
  bench_track "$W" capture $$
  i=0
  while [ ! -e "$W/capture.stop" ] && [ $i -lt $((timeout * 10)) ]; do
    for d in /proc/[0-9]*; do
      comm=
      { read -r comm < "$d/comm"; } 2>/dev/null
      [ "$comm" = java ] || continue
      tr '\0' '\n' < "$d/cmdline" > "$W/cand" 2>/dev/null || continue
      if grep -qx vm "$W/cand" && grep -qx run "$W/cand" && grep -qx -- --kernel "$W/cand"; then
        tr '\0' '\n' < "$d/environ" > "$W/vessel.environ" 2>/dev/null
        mv "$W/cand" "$W/vessel.argv"
        rm -f "$W/capture.pid"
        cat "$W/vessel.argv"
        exit 0
      fi
    done
    sleep 0.1
    i=$((i + 1))
  done
  rm -f "$W/capture.pid"
  echo "saw no java process of \`vessel vm run\` in the machine" >&2
  exit 1
  ;;
run)
  # runner.sh run W KIND TAG: runs the VMM of KIND once; prints one RESULT line.
  kind=$3
  tag=$4
  # The standby VMM of the captured jar (MachineCommandScript.standbySocket: /run/vessel/vmm-<16 hex of its sha>.sock).
  jar=$(awk 'f { print; exit } $0 == "-jar" { f = 1 }' "$W/vessel.argv")
  sha=${jar%/*}; sha=${sha##*/}
  sock=/run/vessel/vmm-$(printf '%.16s' "$sha").sock
  # Every run starts on a quiet machine: a standby that is still warming up (at nice 19, after the
  # previous standby run) would share the machine's CPUs with it. Ready = its socket is there.
  if [ "$kind" = vessel-standby ] || ps -o args | grep -q '[v]m standby --socket'; then
    i=0
    while [ ! -S "$sock" ] && [ $i -lt 1200 ]; do sleep 0.1; i=$((i + 1)); done
  fi
  case "$kind" in
    vessel) argv=$W/vessel.argv ;;
    vessel-timing) argv=$W/vessel.argv; export VESSEL_TIMING=1 ;;
    qemu) argv=$W/qemu.argv; export LD_LIBRARY_PATH=$W/lib ;;
    vessel-standby)
      # The command `vessel vm run` hands a ready standby (vessel-agent --vmm-client): the captured
      # arguments after the jar. GNU time then measures the client, so RSS and CPU are not the VMM's.
      [ -S "$sock" ] || { echo "no standby VMM became ready at $sock within 120 s" >&2; exit 4; }
      { echo /sbin/vessel-agent; echo --vmm-client; echo "$sock"; echo --
        awk 'f == 2 { print } f == 1 { f = 2 } $0 == "-jar" && !f { f = 1 }' "$W/vessel.argv"; } > "$W/standby.argv"
      argv=$W/standby.argv ;;
    *) echo "unknown kind $kind" >&2; exit 2 ;;
  esac
  spid=
  [ "$kind" = vessel-standby ] && spid=$(cat "${sock%.sock}.pid" 2>/dev/null)
  hwm=
  set --
  while IFS= read -r a; do set -- "$@" "$a"; done < "$argv"
  con=$W/$tag.console
  err=$W/$tag.stderr
  res=$W/$tag.time
  rm -f "$W/fifo" "$con" "$res"
  mkfifo "$W/fifo"
  t1=
  up=
  t0=$EPOCHREALTIME
  "$W/bin/time" -o "$res" -f '%M %e %U %S' "$@" </dev/null >"$W/fifo" 2>"$err" &
  pid=$!
  bench_track "$W" running $pid
  while IFS= read -r line; do
    if [ -z "$t1" ]; then
      case "$line" in *"Vessel micro-VM:"*) t1=$EPOCHREALTIME ;; esac
    fi
    case "$line" in *"vessel-facts:"*uptime=*)
      up=${line##*uptime=}; up=${up%%[!0-9.]*}
      # The standby VMM's peak RSS so far (the guest powers off right after this line).
      [ -n "$spid" ] && hwm=$(awk '/^VmHWM:/ { print $2 }' "/proc/$spid/status" 2>/dev/null) ;;
    esac
    printf '%s\n' "$line" >> "$con"
  done < "$W/fifo"
  wait $pid
  st=$?
  t2=$EPOCHREALTIME
  rm -f "$W/running.pid" "$W/fifo"
  set -- $(tail -n 1 "$res" 2>/dev/null)
  if [ "$kind" = vessel-standby ]; then set -- "${hwm:-none}" none none none; fi
  echo "RESULT $kind $t0 ${t1:-none} $t2 ${up:-none} $st ${1:-none} ${2:-none} ${3:-none} ${4:-none}"
  ;;
stop-standbys)
  # runner.sh stop-standbys W: SIGTERM to the waiting standby VMMs (they remove their own files),
  # so that the next \`vessel vm run\` runs a fresh JVM whose command line can be captured.
  for f in /run/vessel/*.pid; do
    [ -e "$f" ] || continue
    p=$(cat "$f" 2>/dev/null); case "$p" in ''|*[!0-9]*) continue ;; esac
    kill "$p" 2>/dev/null
    i=0; while [ -e "/proc/$p" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
  done
  ;;
ensure-standby)
  # runner.sh ensure-standby W: starts a standby VMM of the captured command line unless one is
  # alive, as \`vessel vm run\` does after a cold start (own session, stdio on /dev/null).
  jar=$(awk 'f { print; exit } $0 == "-jar" { f = 1 }' "$W/vessel.argv")
  sha=${jar%/*}; sha=${sha##*/}
  sock=/run/vessel/vmm-$(printf '%.16s' "$sha").sock
  p=$(cat "${sock%.sock}.pid" 2>/dev/null); case "$p" in ''|*[!0-9]*) p=none ;; esac
  kill -0 "$p" 2>/dev/null && exit 0
  mkdir -p /run/vessel
  set --
  while IFS= read -r a; do set -- "$@" "$a"; [ "$a" = "$jar" ] && break; done < "$W/vessel.argv"
  setsid setsid sh -c 'renice 19 -p $$ >/dev/null 2>&1; exec "$@"' sh "$@" vm standby --socket "$sock" </dev/null >/dev/null 2>&1
  ;;
hold-slot|release-slot)
  # runner.sh hold-slot W: stops the captured jar's standby and holds its slot's claim, so that no
  # standby waits or starts and the next `vm run` runs cold; release-slot W lets go of the claim.
  jar=$(awk 'f { print; exit } $0 == "-jar" { f = 1 }' "$W/vessel.argv")
  sha=${jar%/*}; sha=${sha##*/}
  sock=/run/vessel/vmm-$(printf '%.16s' "$sha").sock
  claim=${sock%.sock}.starting
  if [ "$1" = release-slot ]; then rmdir "$claim" 2>/dev/null; exit 0; fi
  mkdir -p /run/vessel
  mkdir "$claim" 2>/dev/null || touch "$claim"
  p=$(cat "${sock%.sock}.pid" 2>/dev/null); case "$p" in ''|*[!0-9]*) p= ;; esac
  # A standby still warming up has no pid file yet: find it by its command line.
  for d in /proc/[0-9]*; do
    case "$(tr '\0' ' ' < "$d/cmdline" 2>/dev/null)" in *"vm standby --socket $sock"*) p="$p ${d#/proc/}" ;; esac
  done
  for q in $p; do
    kill "$q" 2>/dev/null
    i=0; while [ -e "/proc/$q" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
  done
  ;;
qemu-e2e)
  # runner.sh qemu-e2e W: QEMU with this process's stdio (timed from the host, through machine exec).
  set --
  while IFS= read -r a; do set -- "$@" "$a"; done < "$W/qemu.argv"
  LD_LIBRARY_PATH=$W/lib exec "$@"
  ;;
show) bench_show "$W" "$3" console stderr ;;  # runner.sh show W TAG (error reports, timing log)
*) bench_bad_mode "$1" ;;
esac
RUNNER

bench_send "$bundle"
facts=$(mexec sh "$W/runner.sh" check "$W" </dev/null) || die "the machine cannot run the benchmark (see above)"
fact() { printf '%s\n' "$facts" | sed -n "s/^FACT $1 //p"; }

# --- warm-up 1: `vessel vm run` end to end, capturing the command it runs in the machine -------
# Runs `vessel vm run` from the host with stdout piped (not a terminal: the guest powers off after
# init). Timed with the host's clock. Prints "KIND t0 t1 t2 status".
e2e_run() {
  local tag=$1 kind=${2:-vessel-e2e} t0 t1= t2 st line
  local -a cmd=(vessel vm run)
  # The user's launcher, measuring the given jar; bounded like every other command here.
  local -a launcher=(timeout --foreground -k 15 "$run_timeout" env VESSEL_JAR="$jar" "$top/vessel" ${root:+--root "$root"})
  case "$kind" in
    vessel-cold) cmd=("${launcher[@]}" vm run) ;;
    qemu-e2e) cmd=("${launcher[@]}" machine exec -- sh "$W/runner.sh" qemu-e2e "$W") ;;
  esac
  : > "$tmp/$tag.console"
  shopt -s lastpipe
  set +e +o pipefail
  t0=$EPOCHREALTIME
  "${cmd[@]}" </dev/null 2>"$tmp/$tag.stderr" | while IFS= read -r line; do
    if [ -z "$t1" ]; then case "$line" in *"Vessel micro-VM:"*) t1=$EPOCHREALTIME ;; esac; fi
    printf '%s\n' "$line" >> "$tmp/$tag.console"
  done
  st=${PIPESTATUS[0]}
  t2=$EPOCHREALTIME
  [ "$st" != 124 ] && [ "$st" != 137 ] || echo "timed out after $run_timeout s" >> "$tmp/$tag.stderr"
  set -e -o pipefail
  echo "$kind $t0 ${t1:-none} $t2 $st"
}

say "warm-up: vessel vm run from the host (discarded; a new build's first run starts making its start-up cache)"
e2e_run warm-cold >/dev/null
bench_await_cache
say "warm-up: vessel vm run from the host (discarded; captures the in-machine command)"
# A waiting standby would take that command, and a standby's command line is not `vm run`'s.
mexec sh "$W/runner.sh" stop-standbys "$W" </dev/null || die "could not stop the machine's standby VMMs"
mexec sh "$W/runner.sh" capture "$W" "$run_timeout" </dev/null >"$tmp/vessel.argv" 2>"$tmp/capture.err" &
capture_pid=$!
warm_e2e=$(e2e_run warm-e2e)
mexec touch "$W/capture.stop" </dev/null >/dev/null 2>&1 || true
capture_status=0
wait "$capture_pid" || capture_status=$?
[ "$capture_status" = 0 ] && [ -s "$tmp/vessel.argv" ] \
  || die "could not capture the command \`vessel vm run\` runs in the machine: $(cat "$tmp/capture.err")
\`vessel vm run\` said: $(tail -n 20 "$tmp/warm-e2e.console" "$tmp/warm-e2e.stderr")"
mapfile -t vessel_argv < "$tmp/vessel.argv"
arg_after() { local i; for ((i = 0; i < ${#vessel_argv[@]} - 1; i++)); do
  [ "${vessel_argv[i]}" = "$1" ] && { printf '%s' "${vessel_argv[i + 1]}"; return 0; }; done; return 1; }
kernel=$(arg_after --kernel) || die "no --kernel in the captured command"
initrd=$(arg_after --initrd) || die "no --initrd in the captured command"
cmdline=$(arg_after --cmdline) || die "no --cmdline in the captured command"
qemu_argv=("$W/bin/qemu-system-x86_64" -L "$W/share/qemu" -accel kvm -cpu host -m 256 -smp 1
  -M microvm,x-option-roms=off,rtc=on -nodefaults -no-user-config -nographic -serial stdio
  -kernel "$kernel" -initrd "$initrd" -append "$cmdline")
printf '%s\n' "${qemu_argv[@]}" > "$tmp/qemu.argv"
mexec sh -c 'cat > "$1"' sh "$W/qemu.argv" < "$tmp/qemu.argv" || die "could not write the QEMU command into the machine"
# Does the JVM have its class-data archive / ahead-of-time cache after Vessel's first run in the
# machine (the first run creates it)?
cds_file=$(printf '%s\n' "${vessel_argv[@]}" | sed -n 's/^-XX:SharedArchiveFile=//p; s/^-XX:AOTCache=//p' | head -n 1)
if [ -n "$cds_file" ]; then
  if mexec test -s "$cds_file" </dev/null; then cds_state="present ($cds_file)"; else cds_state="ABSENT ($cds_file was not created)"; fi
else
  cds_state="none named on the java command line"
fi
cds_state="$cds_state; the machine's runtime's own CDS archive: $(fact machine_java_cds)"
say "JVM archive/cache after the first run: $cds_state"

# --- measured runs -------------------------------------------------------------------------
echo "round,kind,warmup,to_init_ms,guest_uptime_s,total_ms,peak_rss_kb,user_s,sys_s,exit_status,host_load1" > "$csv"
failures="$out/boot-$stamp-failed"   # console and stderr of runs that failed, if any
load1() { cut -d' ' -f1 /proc/loadavg; }
keep_failure() { # TAG: saves a failed run's console and stderr (read from stdin)
  mkdir -p "$failures"; cat > "$failures/$1.log"; say "  (its console and stderr: $failures/$1.log)"; }
ms() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "none" || b == "none") print ""; else printf "%.1f", (b - a) * 1000 }'; }
na() { [ "$1" = none ] && echo "" || echo "$1"; }

machine_run() { # KIND ROUND WARMUP
  local kind=$1 round=$2 warm=$3 tag="$1-$2" r _k t0 t1 t2 up st rss el us sy
  local o rs
  o=$(mexec sh "$W/runner.sh" run "$W" "$kind" "$tag" </dev/null; echo "STATUS $?")
  rs=$(sed -n 's/^STATUS //p' <<<"$o")
  r=$(grep '^RESULT ' <<<"$o" || true)
  hung "$rs" "$kind run $round"
  [ "$rs" != 130 ] && [ "$rs" != 143 ] || die "interrupted"
  [ -n "$r" ] || die "$kind run $round produced no result in the machine (status $rs)"
  read -r _ _k t0 t1 t2 up st rss el us sy <<<"$r"
  echo "$round,$kind,$warm,$(ms "$t0" "$t1"),$(na "$up"),$(ms "$t0" "$t2"),$(na "$rss"),$(na "$us"),$(na "$sy"),$st,$(load1)" >> "$csv"
  if [ "$st" != 0 ] || [ "$t1" = none ]; then
    say "  $kind #$round FAILED: exit status $st$([ "$t1" = none ] && echo ", no init line"); not counted"
    mexec sh "$W/runner.sh" show "$W" "$tag" </dev/null 2>&1 | keep_failure "$tag"
    return 0
  fi
  say "  $kind #$round: init $(ms "$t0" "$t1") ms, guest uptime ${up} s, total $(ms "$t0" "$t2") ms, peak RSS $rss kB"
}
e2e_record() { # ROUND WARMUP RESULT TAG
  local k t0 t1 t2 st
  local tag=$4 up
  read -r k t0 t1 t2 st <<<"$3"
  up=$(sed -n 's/.*vessel-facts:.*uptime=\([0-9.]*\).*/\1/p' "$tmp/$tag.console")
  echo "$1,$k,$2,$(ms "$t0" "$t1"),$up,$(ms "$t0" "$t2"),,,,$st,$(load1)" >> "$csv"
  if [ "$st" != 0 ] || [ "$t1" = none ]; then
    say "  $k #$1 FAILED: exit status $st$([ "$t1" = none ] && echo ", no init line"); not counted"
    { echo "--- console"; cat "$tmp/$tag.console"; echo "--- stderr"; cat "$tmp/$tag.stderr"; } 2>&1 | keep_failure "$tag"
    return 0
  fi
  say "  $k #$1: init $(ms "$t0" "$t1") ms, total $(ms "$t0" "$t2") ms (host clock)"
}
cold_round() { # ROUND WARMUP: vessel-cold (no standby in the machine), then qemu-e2e
  local st=0
  mexec sh "$W/runner.sh" hold-slot "$W" </dev/null || st=$?
  hung "$st" "stopping the standby"
  e2e_record "$1" "$2" "$(e2e_run "cold-$1" vessel-cold)" "cold-$1"
  mexec sh "$W/runner.sh" release-slot "$W" </dev/null || true
  mexec sh "$W/runner.sh" ensure-standby "$W" </dev/null || die "could not start a standby VMM in the machine"
  e2e_record "$1" "$2" "$(e2e_run "qemu-e2e-$1" qemu-e2e)" "qemu-e2e-$1"
}

e2e_record 0 1 "$warm_e2e" warm-e2e
mexec sh "$W/runner.sh" ensure-standby "$W" </dev/null || die "could not start a standby VMM in the machine"
say "warm-up: vessel, qemu and vessel-standby in the machine (discarded)"
machine_run vessel 0 1
machine_run qemu 0 1
machine_run vessel-standby 0 1
cold_round 0 1
for ((i = 1; i <= runs; i++)); do
  say "round $i of $runs"
  machine_run vessel "$i" 0
  machine_run qemu "$i" 0
  machine_run vessel-standby "$i" 0
  e2e_record "$i" 0 "$(e2e_run "e2e-$i")" "e2e-$i"
  cold_round "$i" 0
done

say "one more vessel run with VESSEL_TIMING=1 (not counted)"
r=$(mexec sh "$W/runner.sh" run "$W" vessel-timing timing </dev/null | grep '^RESULT ' || true)
read -r _ _ t0 t1 t2 up st _ <<<"${r:-x x none none none none none}"
{
  echo "# One vessel run in the machine with VESSEL_TIMING=1 (not counted in the table)."
  echo "# From the shell's start of the VMM process: first init line after $(ms "$t0" "$t1") ms, exit after $(ms "$t0" "$t2") ms; guest uptime at init ${up} s; exit status $st."
  echo "# 'timing: N ms' lines count from the JVM's start."
  mexec sh "$W/runner.sh" show "$W" timing </dev/null || true
} > "$timing_log"

# --- report --------------------------------------------------------------------------------
stats() { # KIND COLUMN -> "median min max" over the measured (non-warm-up) runs
  awk -F, -v k="$1" -v c="$2" '$2 == k && $3 == 0 && $10 == 0 && $4 != "" && $c != "" { print $c }' "$csv" | bench_stats
}
cpu_stats() { # KIND -> user+sys per run
  awk -F, -v k="$1" '$2 == k && $3 == 0 && $10 == 0 && $4 != "" && $8 != "" { print $8 + $9 }' "$csv" | bench_stats
}
fmt() { # "median min max" SCALE DECIMALS -> "median (min–max)"
  awk -v s="$2" -v d="$3" '{ if ($1 == "NA") { print "—"; exit }
    f = "%." d "f"; printf f " (" f "–" f ")\n", $1 / s, $2 / s, $3 / s }' <<<"$1"
}
ratio() { awk '{ split($0, x, "|"); split(x[1], a, " "); split(x[2], b, " ");
  if (a[1] == "NA" || b[1] == "NA" || b[1] == 0) print "—"; else printf "%.2f×\n", a[1] / b[1] }' <<<"$1|$2"; }

round_ratios() { # COLUMN [KIND [REF]] -> "median min max" of KIND (vessel)/REF (qemu) within each round
  # (runs next to each other see the most similar host load: the steadier comparison on a shared host)
  awk -F, -v c="$1" -v k="${2:-vessel}" -v ref="${3:-qemu}" 'NR > 1 && $3 == 0 && $10 == 0 && $4 != "" && $c != "" {
      if ($2 == k) vs[$1] = (c == 8 ? $8 + $9 : $c)
      if ($2 == ref) qs[$1] = (c == 8 ? $8 + $9 : $c) }
    END { for (r in vs) if ((r in qs) && qs[r] > 0) print vs[r] / qs[r] }' "$csv" | bench_stats \
    | awk '{ if ($1 == "NA") print "—"; else printf "%.2f× (%.2f–%.2f)\n", $1, $2, $3 }'
}
row() { # LABEL COLUMN SCALE DECIMALS
  local v q
  v=$(stats vessel "$2"); q=$(stats qemu "$2")
  echo "| $1 | $(fmt "$v" "$3" "$4") | $(fmt "$q" "$3" "$4") | $(ratio "$v" "$q") | $(round_ratios "$2") |"
}
failed() { awk -F, -v k="$1" '$2 == k && ($10 != 0 || $4 == "") { n++ } END { print n + 0 }' "$csv"; }
cv=$(cpu_stats vessel); cq=$(cpu_stats qemu)
e_init=$(stats vessel-e2e 4); e_total=$(stats vessel-e2e 6)
{
  echo "Boot to init and VMM memory, $(date -u '+%Y-%m-%d %H:%M UTC'), Vessel $version, $runs measured runs each (median (min–max))"
  echo
  echo "| Measured in the helper machine | Vessel | QEMU 7.2 | Vessel/QEMU (medians) | Vessel/QEMU per round |"
  echo "|---|---|---|---|---|"
  row "Boot to init, wall (s)" 4 1000 2
  row "Guest uptime at init (s)" 5 1 2
  row "Start to exit, wall (s)" 6 1000 2
  row "VMM peak RSS (MiB)" 7 1024 1
  echo "| VMM CPU time, user+sys (s) | $(fmt "$cv" 1 2) | $(fmt "$cq" 1 2) | $(ratio "$cv" "$cq") | $(round_ratios 8) |"
  echo
  sb=$(stats vessel-standby 4); q4=$(stats qemu 4)
  echo "| Standby VMM (\`vessel vm run\`'s fast path in the machine) | Vessel | QEMU 7.2 | Vessel/QEMU (medians) | Vessel/QEMU per round |"
  echo "|---|---|---|---|---|"
  echo "| Request to init, wall (s) | $(fmt "$sb" 1000 2) | $(fmt "$q4" 1000 2) | $(ratio "$sb" "$q4") | $(round_ratios 4 vessel-standby) |"
  echo "| Guest uptime at init (s) | $(fmt "$(stats vessel-standby 5)" 1 2) | $(fmt "$(stats qemu 5)" 1 2) | | |"
  echo "| VMM peak RSS (MiB; the standby's VmHWM at init) | $(fmt "$(stats vessel-standby 7)" 1024 1) | $(fmt "$(stats qemu 7)" 1024 1) | $(ratio "$(stats vessel-standby 7)" "$(stats qemu 7)") | $(round_ratios 7 vessel-standby) |"
  echo
  echo "| End to end from the host: \`vessel vm run\` | |"
  echo "|---|---|"
  echo "| Start to init line on the host (s) | $(fmt "$e_init" 1000 2) |"
  echo "| Guest uptime at init (s) | $(fmt "$(stats vessel-e2e 5)" 1 2) |"
  echo "| Start to exit (s) | $(fmt "$e_total" 1000 2) |"
  echo
  ci=$(stats vessel-cold 4); ct=$(stats vessel-cold 6); qi=$(stats qemu-e2e 4); qt=$(stats qemu-e2e 6)
  echo "| Cold, from the host: \`./vessel vm run\` with no standby, against QEMU through \`./vessel machine exec\` | Vessel | QEMU 7.2 | Vessel/QEMU (medians) | Vessel/QEMU per round |"
  echo "|---|---|---|---|---|"
  echo "| Exec to init line (s) | $(fmt "$ci" 1000 2) | $(fmt "$qi" 1000 2) | $(ratio "$ci" "$qi") | $(round_ratios 4 vessel-cold qemu-e2e) |"
  echo "| **Exec to exit (s)** | $(fmt "$ct" 1000 2) | $(fmt "$qt" 1000 2) | **$(ratio "$ct" "$qt")** | $(round_ratios 6 vessel-cold qemu-e2e) |"
  echo
  echo "- Machine: $(fact machine_cpus) vCPUs, $(( $(fact machine_mem_kb) / 1024 )) MiB, kernel $(fact machine_kernel), CPU \"$(fact machine_cpu_model)\" (QEMU TCG, nested KVM)."
  echo "- Host: $(bench_host_line)."
  echo "- Guest kernel command line (both): \`$cmdline\`"
  echo "- Vessel in the machine (captured from \`vessel vm run\`): \`${vessel_argv[*]}\`"
  echo "- QEMU in the machine: \`LD_LIBRARY_PATH=$W/lib ${qemu_argv[*]}\`"
  echo "- Runs that failed (not counted; logs in $(basename "$failures")/): $(failed vessel) vessel, $(failed qemu) qemu, $(failed vessel-standby) vessel-standby, $(failed vessel-e2e) vessel-e2e, $(failed vessel-cold) vessel-cold, $(failed qemu-e2e) qemu-e2e, warm-ups included."
  echo "- Host load (1-min load average, other work on the host shares its cores): $(awk -F, 'NR > 1 { l = l sep $11; sep = ", " } END { print l }' "$csv") at the end of each run, in order."
  echo "- Helper machine: $machine_origin."
  echo "- Warm-up: one discarded run of each first (the first \`vessel vm run\` of a build in the machine also creates the JVM's archive/cache). After it: $cds_state."
  echo "- Raw numbers: $(basename "$csv"); Vessel's own milestones (VESSEL_TIMING=1): $(basename "$timing_log")."
} | tee "$md"
say "results: $csv, $md, $timing_log"
