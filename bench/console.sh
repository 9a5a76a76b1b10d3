#!/usr/bin/env bash
# Console throughput and VM exits: the emulated 16550 UART (full virtualization, one exit per byte)
# against virtio-console (paravirtualization, shared rings), both in Vessel, side by side in the
# same helper machine; QEMU 7.2's 16550 and virtconsole as a reference. Run with --help for more.
set -euo pipefail

usage() {
  cat <<'EOF'
Usage: bench/console.sh [--size SIZE] [--no-qemu] [--keep-output] [--poll S] [--jvm-options OPTS]
                        [--runs N] [--out DIR] [--root DIR] [--jar JAR | --commit REV]
                        [--build-dir DIR] [--fresh-machine] [--keep-machine] [--run-timeout S]

Inside Vessel's helper machine (QEMU/TCG with nested KVM), the same guest (the cached Debian cloud
kernel, `vessel kernel`; a busybox initramfs built here with the host's cpio) writes SIZE of text
(64-byte lines) to its console, with the tty in raw mode (no \n -> \r\n), and times it with its
own clock (busybox ash $EPOCHREALTIME, from before the write until `stty` has drained the tty):

  vessel-uart     vessel vm run --console serial, console=ttyS0, the guest writes to /dev/ttyS0
  vessel-virtio   vessel vm run --console virtio, console=hvc0, the guest writes to /dev/hvc0
                  (needs virtio_console; the initramfs loads virtio_ring virtio virtio_mmio
                  virtio_blk virtio_console in both cases)
  qemu-uart       reference: QEMU's 16550, -serial stdio, console=ttyS0
  qemu-virtio     reference: QEMU's virtconsole, -serial null -device virtio-serial-device
                  -chardev stdio -device virtconsole, console=hvc0

Vessel runs as `vessel vm run` runs it in the machine (/opt/java/bin/java with its JVM options,
--accel kvm, 1 vCPU, 256 MiB), QEMU 7.2 is the host's, sent in with bench/lib/qemu-bundle.sh
(-M microvm,x-option-roms=off,rtc=on -accel kvm -cpu host -m 256 -smp 1 -nodefaults
-no-user-config -nographic). Rest of the command line for all: quiet panic=-1 pci=off. The VMM's
console output goes to /dev/null; the guest reports through a small virtio-blk disk (a 1 MiB
file in the machine) that it writes after the measurement.

Exits, per MiB written:
  KVM exits       the machine's KVM counters for that VM (debugfs /sys/kernel/debug/kvm/PID-FD/:
                  exits, io_exits, mmio_exits, halt_exits, irq_exits), sampled every --poll
                  seconds while the VMM runs; the last sample is taken after the guest's
                  measurement (it waits 1 s before it powers off). If debugfs is not mounted in
                  the machine, this script mounts it (and unmounts it at the end).
                  io_exits + mmio_exits are the exits KVM hands to the VMM (an ioeventfd kick
                  is handled in the kernel and is not one).
  vmm_exits       Vessel's own count of exits it handled (VESSEL_STATS=1 in its environment: it
                  prints `vessel-stats: vmm_exits=N ...` on stderr at exit)
Boot and shutdown exits are taken out: each round runs every kind twice, once writing nothing
(baseline) and once writing SIZE; exits per MiB = (payload run - baseline run) / SIZE.

Order: N rounds; in each, every kind (baseline, then payload), the kinds' order reversed every
other round.

Options:
  --size SIZE       how much the guest writes: KiB, or with K or M (default 1M)
  --no-qemu         skip the QEMU reference runs
  --keep-output     send the VMM's console output to a file in the machine instead of
                    /dev/null (for diagnosis: a failed run's log then has what the guest printed
                    besides the payload, and how many payload lines arrived)
  --poll S          debugfs sampling interval in seconds (default 0.2)
EOF
  bench_common_usage 3 jvm | sed 's/(default 300)/(default 600; a VM is ended after 30 s less)/'
  bench_usage_footer "its stderr and the guest's report" "unmounts debugfs if it mounted it"
}

top=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)
BENCH_NAME=console
. "$top/bench/lib/machine-bench.sh"
. "$top/bench/lib/qemu-bundle.sh"

size=1M
with_qemu=1
keep_output=0
run_timeout=600
poll=0.2
while [ $# -gt 0 ]; do
  case "$1" in
    --size) [ $# -ge 2 ] || die "--size needs a size"; size=$2; shift 2 ;;
    --size=*) size=${1#*=}; shift ;;
    --no-qemu) with_qemu=0; shift ;;
    --keep-output) keep_output=1; shift ;;
    --poll) [ $# -ge 2 ] || die "--poll needs seconds"; poll=$2; shift 2 ;;
    --poll=*) poll=${1#*=}; shift ;;
    -h|--help) usage; exit 0 ;;
    *) bench_option "$@" || { usage >&2; die "unknown argument: $1"; }; shift "$bench_shift" ;;
  esac
done
case "$size" in
  *[Mm]) kib=${size%?}; [[ "$kib" =~ ^[0-9]+$ ]] && kib=$((kib * 1024)) ;;
  *[Kk]) kib=${size%?} ;;
  *) kib=$size ;;
esac
[[ "$kib" =~ ^[0-9]+$ ]] && [ "$kib" -gt 0 ] || die "--size must be a positive size, e.g. 512K or 2M"
[[ "$poll" =~ ^[0-9]*\.?[0-9]+$ ]] || die "--poll must be a number of seconds"
[ "$run_timeout" -gt 60 ] || die "--run-timeout must be more than 60 s here (a VM gets 30 s less)"

qemu_bundle_find || exit 1
case "$QEMU_VERSION" in *"version 7.2"*) ;; *) say "warning: expected QEMU 7.2, found: $QEMU_VERSION" ;; esac
bench_start
bench_kernel

MODULES=(virtio_ring virtio virtio_mmio virtio_blk virtio_console)
CMDLINE_REST="quiet panic=-1 pci=off"
KINDS=(vessel-uart vessel-virtio)
[ "$with_qemu" = 0 ] || KINDS+=(qemu-uart qemu-virtio)

# --- the guest ------------------------------------------------------------------------------
cat > "$tmp/init" <<'INIT'
#!/bin/sh
# bench/console.sh's guest init: writes KIB KiB of text to the console (ttyS0, or hvc0 when the
# command line says console=hvc0), timed by the guest, then reports through /dev/vda.
/bin/busybox --install -s /bin
mount -t devtmpfs devtmpfs /dev
mount -t proc proc /proc
mount -t sysfs sysfs /sys
err=
for m in $(cat /lib/modules/load-order); do insmod "/lib/modules/$m.ko" 2>/dev/null || err="$err,insmod:$m"; done
dev=/dev/ttyS0
case " $(cat /proc/cmdline) " in *" console=hvc0 "*) dev=/dev/hvc0 ;; esac
i=0
while { [ ! -c "$dev" ] || [ ! -b /dev/vda ]; } && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
kib=@KIB@
t0=none
t1=none
if [ ! -c "$dev" ]; then
  err="$err,no:$dev"
elif [ "$kib" -gt 0 ]; then
  # Numbered lines of 64 bytes (63 characters and a newline), so lost or doubled lines show.
  seq 1 $((kib * 16)) | awk '{ printf "Vessel console benchmark, line %08d, 64 bytes of plain text\n", $1 }' > /tmp/text
  # Held open throughout: hvc resets its termios (raw, no \n -> \r\n) when the last user closes it.
  exec 3<>"$dev"
  stty raw -echo <&3 || err="$err,stty"
  t0=$EPOCHREALTIME
  cat /tmp/text >&3 || err="$err,write"
  # stty sets the mode with TCSADRAIN: it returns once the driver has sent everything.
  stty raw -echo <&3
  t1=$EPOCHREALTIME
  exec 3>&-
fi
printf 'BENCH dev=%s kib=%s t0=%s t1=%s bytes=%s err=%s\n' "$dev" "$kib" "$t0" "$t1" \
  "$(wc -c < /tmp/text 2>/dev/null || echo 0)" "${err:-none}" > /tmp/report
dd if=/tmp/report of=/dev/vda bs=512 count=1 conv=sync oflag=direct 2>/dev/null
# Time for the runner's last sample of KVM's counters, after the measurement.
sleep 1
poweroff -f
INIT
bundle="$tmp/bundle"
mkdir -p "$bundle"
say "building the guest initramfs (busybox-static, ${MODULES[*]} from $KERNEL_NAME)"
for k in 0 "$kib"; do
  sed "s/@KIB@/$k/" "$tmp/init" > "$tmp/init-$k"
  bench_initramfs "$bundle/initramfs-$k.cpio" "$tmp/init-$k" "${MODULES[@]}"
done
cp "$KERNEL" "$bundle/vmlinuz"
cp "$jar" "$bundle/vessel.jar"
[ "$with_qemu" = 0 ] || qemu_bundle_make "$bundle/qemu"

# --- what runs inside the machine: ash, busybox only ---------------------------------------
cat > "$bundle/runner.sh" <<'RUNNER'
# bench/console.sh's helper inside the helper machine (busybox ash). Usage: runner.sh MODE W ...
set -u
W=$2
. "$W/common.sh"
case "$1" in
setup)
  bench_check "$W/qemu"
  if [ -d /sys/kernel/debug/kvm ]; then
    echo "FACT debugfs already mounted in the machine"
  elif mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null && [ -d /sys/kernel/debug/kvm ]; then
    bench_undo "$W" "umount /sys/kernel/debug"
    echo "FACT debugfs mounted by this run (unmounted at the end)"
  else
    echo "FACT debugfs not available: no KVM counters"
  fi
  ;;
run)
  # runner.sh run W KIND PAYLOAD TAG POLL LIMIT OUT: runs KIND once with the initramfs that writes
  # PAYLOAD KiB (0 or the size), its console output going to OUT; ends it after LIMIT seconds.
  # Prints the guest's report, the last KVM sample, Vessel's stats line and "STATUS st t0 t1"
  # (the machine's clock around the VMM process; st is "timeout" if it was ended).
  kind=$3
  payload=$4
  tag=$5
  poll=$6
  limit=$7
  out=$8
  case "$kind" in
    vessel-*) export VESSEL_STATS=1 ;;
    qemu-*) export LD_LIBRARY_PATH=$W/qemu/lib ;;
    *) echo "unknown kind $kind" >&2; exit 2 ;;
  esac
  set --
  while IFS= read -r a; do
    case "$a" in *@INITRD@*) a="${a%%@INITRD@*}$W/initramfs-$payload.cpio${a#*@INITRD@}" ;; esac
    set -- "$@" "$a"
  done < "$W/$kind.argv"
  dd if=/dev/zero of="$W/report.img" bs=64k count=16 2>/dev/null
  t0=$EPOCHREALTIME
  "$@" </dev/null >"$out" 2>"$W/$tag.stderr" &
  pid=$!
  bench_track "$W" running $pid
  d=
  last=
  timed_out=0
  while :; do
    # Until the VMM exits (a zombie counts as exited: it is not waited for yet).
    s=
    { read -r s < "/proc/$pid/stat"; } 2>/dev/null || break
    s=${s##*) }
    [ "${s%% *}" = Z ] && break
    if [ "${EPOCHREALTIME%.*}" -ge $((${t0%.*} + limit)) ]; then
      kill -KILL $pid
      timed_out=1
      break
    fi
    if [ -z "$d" ]; then
      # KVM names a VM's folder after the thread that created it (KVM_CREATE_VM): for QEMU
      # its main thread, whose id is the pid; for Java a thread of its own.
      for t in /proc/$pid/task/*; do
        for x in /sys/kernel/debug/kvm/${t##*/}-*; do [ -d "$x" ] && d=$x; done
      done
    fi
    if [ -n "$d" ]; then
      line=
      for c in exits io_exits mmio_exits halt_exits irq_exits; do
        v=
        { read -r v < "$d/$c"; } 2>/dev/null
        line="$line $c=${v:-NA}"
      done
      case "$line" in *=NA*) ;; *) last=$line ;; esac
    fi
    sleep "$poll"
  done
  wait $pid
  st=$?
  t1=$EPOCHREALTIME
  [ $timed_out = 0 ] || st=timeout
  rm -f "$W/running.pid"
  head -c 512 "$W/report.img" | tr -d '\000' | grep -a '^BENCH '
  if [ "$out" != /dev/null ]; then
    # What arrived: bytes, payload lines, distinct payload lines (less: some came twice).
    echo "OUTPUT bytes=$(wc -c < "$out") lines=$(grep -ac 'Vessel console benchmark, line' "$out") distinct=$(grep -a 'Vessel console benchmark, line' "$out" | sort -u | wc -l)"
  fi
  echo "KVM${last:- none}"
  grep -a 'vessel-stats:' "$W/$tag.stderr" | tail -n 1
  echo "STATUS $st $t0 $t1"
  ;;
show)
  # runner.sh show W TAG: the stderr of a run, its last report, and (with --keep-output) the
  # console output other than the payload's lines, with how many of those there were.
  bench_show "$W" "$3" stderr
  echo "--- report"; head -c 512 "$W/report.img" | tr -d '\000'
  if [ -f "$W/$3.out" ]; then
    echo "--- console output: $(wc -c < "$W/$3.out") bytes, $(grep -ac 'Vessel console benchmark, line' "$W/$3.out") payload lines; the rest:"
    grep -av 'Vessel console benchmark, line' "$W/$3.out" | tail -n 100
  fi
  ;;
*) bench_bad_mode "$1" ;;
esac
RUNNER

# Argument lists, one a line; the runner puts the initramfs of the run in place of @INITRD@.
argv_of() { # KIND
  local console=ttyS0
  case "$1" in *-virtio) console=hvc0 ;; esac
  local cmdline="console=$console $CMDLINE_REST"
  case "$1" in
    vessel-*)
      printf '%s\n' $(bench_vessel_java) vm run --accel kvm \
        --kernel "$W/vmlinuz" --initrd @INITRD@ --cmdline "$cmdline" --cpus 1 --memory 256M \
        --disk "$W/report.img" --console "$([ "$console" = hvc0 ] && echo virtio || echo serial)" ;;
    qemu-*)
      printf '%s\n' "$W/qemu/bin/qemu-system-x86_64" -L "$W/qemu/share/qemu" \
        -M microvm,x-option-roms=off,rtc=on -accel kvm -cpu host -m 256 -smp 1 \
        -nodefaults -no-user-config -nographic
      if [ "$console" = hvc0 ]; then
        printf '%s\n' -serial null -device virtio-serial-device -chardev stdio,id=vc0 -device virtconsole,chardev=vc0
      else
        printf '%s\n' -serial stdio
      fi
      printf '%s\n' -kernel "$W/vmlinuz" -initrd @INITRD@ -append "$cmdline" \
        -drive "file=$W/report.img,format=raw,if=none,id=r0" -device virtio-blk-device,drive=r0 ;;
  esac
}
for k in "${KINDS[@]}"; do argv_of "$k" > "$bundle/$k.argv"; done

bench_send "$bundle"
facts=$(mexec sh "$W/runner.sh" setup "$W" </dev/null) || die "the machine cannot run the benchmark (see above)"
fact() { printf '%s\n' "$facts" | sed -n "s/^FACT $1 //p"; }
debugfs_fact=$(fact debugfs)
say "debugfs ${debugfs_fact:-?}"

# --- measured runs -------------------------------------------------------------------------
csv="$out/console-$stamp.csv"
md="$out/console-$stamp.md"
failures="$out/console-$stamp-failed"
echo "round,kind,payload_kib,guest_s,mib_s,vmm_exits,kvm_exits,kvm_io_mmio_exits,kvm_io_exits,kvm_mmio_exits,kvm_halt_exits,kvm_irq_exits,exit_status,vmm_wall_s,host_load1,out_bytes,out_lines,out_distinct_lines" > "$csv"
load1() { cut -d' ' -f1 /proc/loadavg; }
keep_failure() { mkdir -p "$failures"; cat > "$failures/$1.log"; say "  (its stderr and report: $failures/$1.log)"; }
field() { sed -n "s/.*[ ]$1=\([^ ]*\).*/\1/p" <<<" $2" | head -n 1; }

machine_run() { # KIND PAYLOAD_KIB ROUND
  local kind=$1 p=$2 round=$3 tag="$1-$2-$3" o rs st t0 t1 rep kvm stats g=none rate= ok=1 io mmio output
  local vm_out=/dev/null
  [ "$keep_output" = 0 ] || vm_out="$W/$tag.out"
  o=$(mexec sh "$W/runner.sh" run "$W" "$kind" "$p" "$tag" "$poll" $((run_timeout - 30)) "$vm_out" </dev/null; echo "RUNNER $?")
  rs=$(sed -n 's/^RUNNER //p' <<<"$o")
  hung "$rs" "$kind run $round"
  [ "$rs" != 130 ] && [ "$rs" != 143 ] || die "interrupted"
  read -r _ st t0 t1 <<<"$(grep '^STATUS ' <<<"$o" || echo "STATUS none none none")"
  [ "$st" != none ] || die "$kind run $round produced no result in the machine (status $rs)"
  rep=$(grep '^BENCH ' <<<"$o" || true)
  kvm=$(grep '^KVM' <<<"$o" || true)
  stats=$(grep 'vessel-stats:' <<<"$o" || true)
  output=$(grep '^OUTPUT ' <<<"$o" || true)
  [ "$(field err "$rep")" = none ] || ok=0
  [ "$(field kib "$rep")" = "$p" ] || ok=0
  if [ "$p" -gt 0 ]; then
    [ "$(field bytes "$rep")" = $((p * 1024)) ] || ok=0
    g=$(awk -v a="$(field t0 "$rep")" -v b="$(field t1 "$rep")" 'BEGIN { if (a + 0 > 0 && b + 0 > a + 0) printf "%.3f", b - a; else print "none" }')
    [ "$g" != none ] || ok=0
    rate=$(awk -v k="$p" -v s="$g" 'BEGIN { if (s != "none") printf "%.4f", k / 1024 / s }')
  fi
  [ "$st" = 0 ] || ok=0
  # A run that exited 0 but did not report what it should have is recorded as "bad-report".
  [ "$ok" = 1 ] || [ "$st" != 0 ] || st=bad-report
  io=$(field io_exits "$kvm"); mmio=$(field mmio_exits "$kvm")
  echo "$round,$kind,$p,${g/none/},$rate,$(field vmm_exits "$stats"),$(field exits "$kvm"),$([ -n "$io" ] && [ -n "$mmio" ] && echo $((io + mmio))),$io,$mmio,$(field halt_exits "$kvm"),$(field irq_exits "$kvm"),$st,$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }'),$(load1),$(field bytes "$output"),$(field lines "$output"),$(field distinct "$output")" >> "$csv"
  if [ "$ok" != 1 ]; then
    say "  $kind ($p KiB) #$round FAILED: exit status $st, guest report: ${rep:-none}; not counted"
    mexec sh "$W/runner.sh" show "$W" "$tag" </dev/null 2>&1 | keep_failure "$tag"
    return 0
  fi
  if [ "$p" -gt 0 ]; then
    say "  $kind #$round: $p KiB in $g s ($(awk -v r="$rate" 'BEGIN { printf "%.3f", r }') MiB/s); exits:$kvm${stats:+; $stats}${output:+; $output}"
  else
    say "  $kind #$round baseline: exits:$kvm${stats:+; $stats}"
  fi
}

for ((i = 1; i <= runs; i++)); do
  say "round $i of $runs"
  order=("${KINDS[@]}")
  if ! ((i % 2)); then
    order=()
    for ((j = ${#KINDS[@]} - 1; j >= 0; j--)); do order+=("${KINDS[j]}"); done
  fi
  for k in "${order[@]}"; do
    machine_run "$k" 0 "$i"
    machine_run "$k" "$kib" "$i"
  done
done

# --- report --------------------------------------------------------------------------------
# Per round and kind: the payload run's figures, and its exits less the baseline's, per MiB.
per_round() { # KIND COLUMN: payload-minus-baseline of COLUMN per MiB (or, for column 5, MiB/s), one a round
  awk -F, -v k="$1" -v c="$2" -v kib="$kib" 'NR > 1 && $2 == k && $13 == 0 {
      if ($3 == 0) b[$1] = $c; else { p[$1] = $c; seen[$1] = 1 } }
    END { for (r in seen) {
        if (c == 5) { if (p[r] != "") print p[r]; continue }
        if ((r in b) && p[r] != "" && b[r] != "") print (p[r] - b[r]) / (kib / 1024) } }' "$csv"
}
cell() { # KIND COLUMN DECIMALS
  per_round "$1" "$2" | bench_stats | awk -v d="$3" '{ if ($1 == "NA") print "—"
    else { f = "%." d "f"; printf f " (" f "–" f ")\n", $1, $2, $3 } }'
}
med() { per_round "$1" "$2" | bench_stats | cut -d' ' -f1; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "NA" || b == "NA" || a == "" || b == "" || b == 0) print "—"
  else printf (a / b >= 10 ? "%.0f×\n" : "%.2f×\n"), a / b }'; }
failed() { awk -F, -v k="$1" 'NR > 1 && $2 == k && $13 != 0 { n++ } END { print n + 0 }' "$csv"; }
shown() { argv_of "$1" | sed "s|@INITRD@|$W/initramfs.cpio|" | { mapfile -t a; bench_shown "${a[@]}"; } \
  | sed "s|$W/qemu|<qemu>|g; s|$W/|<work>/|g"; }
row() { # LABEL COLUMN DECIMALS UART_OVER_VIRTIO(1) or VIRTIO_OVER_UART(0)
  local line="| $1 | $(cell vessel-uart "$2" "$3") | $(cell vessel-virtio "$2" "$3") | "
  if [ "$4" = 1 ]; then line+="$(ratio "$(med vessel-uart "$2")" "$(med vessel-virtio "$2")") |"
  else line+="$(ratio "$(med vessel-virtio "$2")" "$(med vessel-uart "$2")") |"; fi
  if [ "$with_qemu" = 1 ]; then
    line+=" $(cell qemu-uart "$2" "$3") | $(cell qemu-virtio "$2" "$3") |"
  fi
  echo "$line"
}
{
  echo "Console throughput and VM exits, $(date -u '+%Y-%m-%d %H:%M UTC'), Vessel $version, guest writes $kib KiB, $runs rounds (median (min–max) over rounds)"
  echo
  if [ "$with_qemu" = 1 ]; then
    echo "| Measured in the helper machine | Vessel UART (ttyS0) | Vessel virtio-console (hvc0) | UART vs virtio | Reference: QEMU 16550 | Reference: QEMU virtconsole |"
    echo "|---|---|---|---|---|---|"
  else
    echo "| Measured in the helper machine | Vessel UART (ttyS0) | Vessel virtio-console (hvc0) | UART vs virtio |"
    echo "|---|---|---|---|"
  fi
  row "Throughput, guest clock (MiB/s)" 5 3 0
  row "KVM exits per MiB (all)" 7 0 1
  row "Exits to the VMM per MiB (KVM io+mmio)" 8 0 1
  echo "$(row "Exits per MiB counted by Vessel (vmm_exits)" 6 0 1 | sed 's/| — | — |$/| n\/a | n\/a |/')"
  row "Host-interrupt exits per MiB (KVM irq_exits)" 12 0 1
  echo
  echo "\"UART vs virtio\": virtio-console's throughput over the UART's; for exits, the UART's over virtio-console's. Exits per MiB: (payload run - baseline run of the same round) / $(awk -v k="$kib" 'BEGIN { printf "%g", k / 1024 }') MiB; the \"Exits to the VMM\" row is KVM's io_exits + mmio_exits."
  echo
  echo "- Machine: $(fact machine_cpus) vCPUs, $(( $(fact machine_mem_kb) / 1024 )) MiB, kernel $(fact machine_kernel), CPU \"$(fact machine_cpu_model)\" (QEMU TCG, nested KVM); $(fact machine_java); debugfs $debugfs_fact, sampled every $poll s."
  echo "- Host: $(bench_host_line)."
  echo "- Guest: $KERNEL_PACKAGE, initramfs: busybox-static + ${MODULES[*]}; VMM stdout to $([ "$keep_output" = 1 ] && echo "a file in the machine (--keep-output)" || echo /dev/null)."
  for k in "${KINDS[@]}"; do echo "- $k: \`$(shown "$k")\`"; done
  echo "- Runs that failed (not counted; logs in $(basename "$failures")/): $(for k in "${KINDS[@]}"; do printf '%s %s; ' "$(failed "$k")" "$k"; done)baselines included."
  echo "- Host load (1-min load average at the end of each run, in order): $(awk -F, 'NR > 1 { l = l sep $15; sep = ", " } END { print l }' "$csv")."
  if [ "$keep_output" = 1 ]; then
    echo "- What arrived (--keep-output), payload runs: $(awk -F, -v e=$((kib * 16)) 'NR > 1 && $3 > 0 {
      printf "%s%s #%s: %s lines (%s distinct) of %d", sep, $2, $1, $17, $18, e; sep = "; " }' "$csv")."
  fi
  echo "- Helper machine: $machine_origin."
  echo "- Raw numbers (baseline runs have payload_kib 0): $(basename "$csv")."
} | tee "$md"
say "results: $csv, $md"
