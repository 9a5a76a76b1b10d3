#!/usr/bin/env bash
# Sequential virtio-blk throughput: Vessel against QEMU 7.2 + KVM on the same raw image, side by
# side in the same helper machine, same kernel, initramfs and kernel command line, 1 vCPU, 256 MiB.
# Run with --help for what it measures and how.
set -euo pipefail

usage() {
  cat <<'EOF'
Usage: bench/blk.sh [--size MIB] [--cache hot|cold] [--image-dir DIR] [--jvm-options OPTS]
                    [--runs N] [--out DIR] [--root DIR] [--jar JAR | --commit REV] [--build-dir DIR]
                    [--fresh-machine] [--keep-machine] [--run-timeout S]

Sequential read and write throughput of a virtio-blk disk, measured by the guest, inside Vessel's
helper machine (QEMU/TCG with nested KVM). Both VMMs run in the machine on the same raw image
file, which lives in the machine (not behind Vessel's host->machine NBD forwarding):

  vessel   /opt/java/bin/java <the JVM options `vessel vm run` uses in the machine> -jar vessel.jar
           vm run --accel kvm --kernel K --initrd I --cmdline C --cpus 1 --memory 256M --disk IMG
  qemu     the host's qemu-system-x86_64 (7.2) with its libraries and bios-microvm.bin
           (bench/lib/qemu-bundle.sh), run in the machine: -M microvm,x-option-roms=off,rtc=on
           -accel kvm -cpu host -m 256 -smp 1 -nodefaults -no-user-config -nographic -serial stdio
           -kernel K -initrd I -append C
           -drive file=IMG,format=raw,if=none,id=d0,cache=writeback -device virtio-blk-device,drive=d0

Same cache mode for both: the machine's page cache (QEMU cache=writeback, its default; Vessel
reads and writes the image with pread/pwrite and calls fdatasync on a guest FLUSH, which is the
same thing). Same kernel (the cached Debian cloud kernel, `vessel kernel`), same command line
(console=ttyS0 quiet panic=-1 pci=off), same initramfs, built here with the host's cpio (newc):
busybox-static, virtio_ring, virtio, virtio_mmio and virtio_blk from the kernel's modules, and an
init that runs

  dd if=/dev/vda of=/dev/null bs=1M count=MIB iflag=direct     (read)
  dd if=/dev/zero of=/dev/vda bs=1M count=MIB oflag=direct     (write)

timed with the guest's own clock (busybox ash $EPOCHREALTIME around each dd: busybox's dd prints
no rate), checks that dd moved all MIB blocks, prints the figures and powers off.

The image: MIB MiB of zeros written with dd (allocated, not sparse) into --image-dir in the
machine, created once per invocation and deleted at the end.

Order: a discarded warm-up of each, then N rounds of vessel and qemu, alternating which goes
first. Before each run: with --cache hot (the default) the whole image is read once into the
machine's page cache, so neither VMM waits for the machine's own (emulated) disk; with --cache cold
the machine's caches are dropped instead. After each run: sync, so one run's dirty pages are not
written back during the next.

Options:
  --size MIB        image size and dd count in MiB (default 1024)
  --cache MODE      hot or cold, see above (default hot)
  --image-dir DIR   folder in the machine for the image (default /var/lib/vessel: the machine's
                    persistent disk; /tmp there is a tmpfs)
EOF
  bench_common_usage 3 jvm
  bench_usage_footer "its console and stderr" "removes the image"
}

top=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)
BENCH_NAME=blk
. "$top/bench/lib/machine-bench.sh"
. "$top/bench/lib/qemu-bundle.sh"

size_mib=1024
cache=hot
image_dir=/var/lib/vessel
while [ $# -gt 0 ]; do
  case "$1" in
    --size) [ $# -ge 2 ] || die "--size needs a number of MiB"; size_mib=$2; shift 2 ;;
    --size=*) size_mib=${1#*=}; shift ;;
    --cache) [ $# -ge 2 ] || die "--cache needs hot or cold"; cache=$2; shift 2 ;;
    --cache=*) cache=${1#*=}; shift ;;
    --image-dir) [ $# -ge 2 ] || die "--image-dir needs a folder"; image_dir=$2; shift 2 ;;
    --image-dir=*) image_dir=${1#*=}; shift ;;
    -h|--help) usage; exit 0 ;;
    *) bench_option "$@" || { usage >&2; die "unknown argument: $1"; }; shift "$bench_shift" ;;
  esac
done
case "$size_mib" in ''|*[!0-9]*|0) die "--size must be a positive number of MiB" ;; esac
case "$cache" in hot|cold) ;; *) die "--cache must be hot or cold" ;; esac
case "$image_dir" in /*) ;; *) die "--image-dir must be an absolute path in the machine" ;; esac

qemu_bundle_find || exit 1
case "$QEMU_VERSION" in *"version 7.2"*) ;; *) say "warning: expected QEMU 7.2, found: $QEMU_VERSION" ;; esac
bench_start
bench_kernel

CMDLINE="console=ttyS0 quiet panic=-1 pci=off"
MODULES=(virtio_ring virtio virtio_mmio virtio_blk)
IMG="$image_dir/vessel-bench-blk.$$.img"

# --- the guest ------------------------------------------------------------------------------
cat > "$tmp/init" <<'INIT'
#!/bin/sh
# bench/blk.sh's guest init: sequential direct-I/O read and write of /dev/vda, timed by the guest.
/bin/busybox --install -s /bin
mount -t devtmpfs devtmpfs /dev
if (: </dev/console) 2>/dev/null; then exec 0</dev/console 1>/dev/console 2>&1; fi
mount -t proc proc /proc
mount -t sysfs sysfs /sys
for m in $(cat /lib/modules/load-order); do insmod "/lib/modules/$m.ko" || echo "BENCH error insmod $m failed"; done
mib=@MIB@
if [ ! -b /dev/vda ]; then echo "BENCH error no /dev/vda"; poweroff -f; fi
q=/sys/block/vda/queue
echo "BENCH disk sectors=$(cat /sys/block/vda/size) max_sectors_kb=$(cat $q/max_sectors_kb) max_segments=$(cat $q/max_segments) max_segment_size=$(cat $q/max_segment_size) scheduler=$(cat $q/scheduler | tr ' ' ,) write_cache=$(cat $q/write_cache | tr ' ' _)"
records() { sed -n 's/^\([0-9]*\)+0 records out$/\1/p' "$1"; }
t0=$EPOCHREALTIME
dd if=/dev/vda of=/dev/null bs=1M count=$mib iflag=direct 2>/tmp/dd.read
t1=$EPOCHREALTIME
echo "BENCH read $t0 $t1 $(records /tmp/dd.read)"
t0=$EPOCHREALTIME
dd if=/dev/zero of=/dev/vda bs=1M count=$mib oflag=direct 2>/tmp/dd.write
t1=$EPOCHREALTIME
echo "BENCH write $t0 $t1 $(records /tmp/dd.write)"
grep -v 'records' /tmp/dd.read /tmp/dd.write | sed 's/^/BENCH error dd: /'
poweroff -f
INIT
bundle="$tmp/bundle"
mkdir -p "$bundle"
say "building the guest initramfs (busybox-static, ${MODULES[*]} from $KERNEL_NAME)"
sed -i "s/@MIB@/$size_mib/" "$tmp/init"
bench_initramfs "$bundle/initramfs.cpio" "$tmp/init" "${MODULES[@]}"
cp "$KERNEL" "$bundle/vmlinuz"
cp "$jar" "$bundle/vessel.jar"
qemu_bundle_make "$bundle/qemu"

# --- what runs inside the machine: ash, busybox only ---------------------------------------
cat > "$bundle/runner.sh" <<'RUNNER'
# bench/blk.sh's helper inside the helper machine (busybox ash). Usage: runner.sh MODE W ...
set -u
W=$2
. "$W/common.sh"
case "$1" in
setup)
  # runner.sh setup W IMG MIB: checks, facts, and the image (MIB MiB of zeros, allocated).
  img=$3
  mib=$4
  bench_check "$W/qemu"
  dir=${img%/*}
  mkdir -p "$dir" || exit 3
  free_kb=$(df -k "$dir" | awk 'NR == 2 { print $4 }')
  [ "$free_kb" -gt $((mib * 1024 + 65536)) ] \
    || { echo "not enough room for a $mib MiB image in $dir in the machine (${free_kb} KiB free)" >&2; exit 3; }
  mnt=$(df -P "$dir" | awk 'NR == 2 { print $6 }')
  echo "FACT image_fs $(awk -v d="$mnt" '$2 == d { fs = $3 " on " $1 " (" d ")" } END { print fs }' /proc/mounts)"
  bench_undo "$W" "rm -f '$img'"
  t0=$EPOCHREALTIME
  dd if=/dev/zero of="$img" bs=1M count="$mib" conv=fsync 2>/dev/null || { echo "could not write $img" >&2; exit 3; }
  t1=$EPOCHREALTIME
  used_kb=$(du -k "$img" | cut -f1)
  [ "$used_kb" -ge $((mib * 1024)) ] || { echo "$img is sparse ($used_kb KiB allocated)" >&2; exit 3; }
  echo "FACT image $mib MiB, $used_kb KiB allocated, written with dd conv=fsync at $(awk -v a="$t0" -v b="$t1" -v m="$mib" 'BEGIN { printf "%.0f", m / (b - a) }') MiB/s"
  ;;
run)
  # runner.sh run W KIND TAG IMG CACHE: runs the VMM of KIND once; prints the guest's BENCH lines
  # and "STATUS st t0 t1" (wall clock of the machine around the VMM process).
  kind=$3
  tag=$4
  img=$5
  cache=$6
  case "$kind" in
    vessel) ;;
    qemu) export LD_LIBRARY_PATH=$W/qemu/lib ;;
    *) echo "unknown kind $kind" >&2; exit 2 ;;
  esac
  set --
  while IFS= read -r a; do set -- "$@" "$a"; done < "$W/$kind.argv"
  if [ "$cache" = hot ]; then
    cat "$img" > /dev/null
  else
    sync
    echo 3 > /proc/sys/vm/drop_caches
  fi
  t0=$EPOCHREALTIME
  "$@" </dev/null >"$W/$tag.console" 2>"$W/$tag.stderr" &
  pid=$!
  bench_track "$W" running $pid
  wait $pid
  st=$?
  t1=$EPOCHREALTIME
  rm -f "$W/running.pid"
  sync
  grep -a '^BENCH ' "$W/$tag.console" | tr -d '\r'
  echo "STATUS $st $t0 $t1"
  ;;
show) bench_show "$W" "$3" console stderr ;;  # runner.sh show W TAG (for error reports)
*) bench_bad_mode "$1" ;;
esac
RUNNER

vessel_argv=($(bench_vessel_java) vm run --accel kvm
  --kernel "$W/vmlinuz" --initrd "$W/initramfs.cpio" --cmdline "$CMDLINE" --cpus 1 --memory 256M
  --disk "$IMG")
qemu_argv=("$W/qemu/bin/qemu-system-x86_64" -L "$W/qemu/share/qemu"
  -M microvm,x-option-roms=off,rtc=on -accel kvm -cpu host -m 256 -smp 1
  -nodefaults -no-user-config -nographic -serial stdio
  -kernel "$W/vmlinuz" -initrd "$W/initramfs.cpio" -append "$CMDLINE"
  -drive "file=$IMG,format=raw,if=none,id=d0,cache=writeback" -device virtio-blk-device,drive=d0)
printf '%s\n' "${vessel_argv[@]}" > "$bundle/vessel.argv"
printf '%s\n' "${qemu_argv[@]}" > "$bundle/qemu.argv"

bench_send "$bundle"
say "writing the ${size_mib} MiB image in the machine ($image_dir)"
facts=$(mexec sh "$W/runner.sh" setup "$W" "$IMG" "$size_mib" </dev/null) || die "the machine cannot run the benchmark (see above)"
fact() { printf '%s\n' "$facts" | sed -n "s/^FACT $1 //p"; }

# --- measured runs -------------------------------------------------------------------------
csv="$out/blk-$stamp.csv"
md="$out/blk-$stamp.md"
failures="$out/blk-$stamp-failed"
echo "round,kind,warmup,mib,read_s,write_s,read_mib_s,write_mib_s,exit_status,vmm_wall_s,host_load1" > "$csv"
load1() { cut -d' ' -f1 /proc/loadavg; }
keep_failure() { mkdir -p "$failures"; cat > "$failures/$1.log"; say "  (its console and stderr: $failures/$1.log)"; }

machine_run() { # KIND ROUND WARMUP
  local kind=$1 round=$2 warm=$3 tag="$1-$2" o rs st t0 t1 r w rr wr
  o=$(mexec sh "$W/runner.sh" run "$W" "$kind" "$tag" "$IMG" "$cache" </dev/null; echo "RUNNER $?")
  rs=$(sed -n 's/^RUNNER //p' <<<"$o")
  hung "$rs" "$kind run $round"
  [ "$rs" != 130 ] && [ "$rs" != 143 ] || die "interrupted"
  read -r _ st t0 t1 <<<"$(grep '^STATUS ' <<<"$o" || echo "STATUS none none none")"
  [ "$st" != none ] || die "$kind run $round produced no result in the machine (status $rs)"
  [ "$kind" != vessel ] || vessel_disk=$(sed -n 's/^BENCH disk //p' <<<"$o")
  [ "$kind" != qemu ] || qemu_disk=$(sed -n 's/^BENCH disk //p' <<<"$o")
  read -r _ _ r <<<"$(awk -v m="$size_mib" '$1 == "BENCH" && $2 == "read" && $5 == m { printf "x x %.3f", $4 - $3 }' <<<"$o")"
  read -r _ _ w <<<"$(awk -v m="$size_mib" '$1 == "BENCH" && $2 == "write" && $5 == m { printf "x x %.3f", $4 - $3 }' <<<"$o")"
  rr=$(awk -v m="$size_mib" -v s="${r:-}" 'BEGIN { if (s != "" && s > 0) printf "%.1f", m / s }')
  wr=$(awk -v m="$size_mib" -v s="${w:-}" 'BEGIN { if (s != "" && s > 0) printf "%.1f", m / s }')
  echo "$round,$kind,$warm,$size_mib,${r:-},${w:-},$rr,$wr,$st,$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }'),$(load1)" >> "$csv"
  if [ "$st" != 0 ] || [ -z "$rr" ] || [ -z "$wr" ] || grep -q '^BENCH error' <<<"$o"; then
    say "  $kind #$round FAILED: exit status $st$([ -n "$rr" ] && [ -n "$wr" ] || echo ", dd did not move all $size_mib MiB"); not counted"
    { grep '^BENCH error' <<<"$o"; mexec sh "$W/runner.sh" show "$W" "$tag" </dev/null 2>&1; } | keep_failure "$tag"
    return 0
  fi
  say "  $kind #$round: read $rr MiB/s (${r} s), write $wr MiB/s (${w} s)"
}

say "warm-up: one run of each (discarded)"
machine_run vessel 0 1
machine_run qemu 0 1
for ((i = 1; i <= runs; i++)); do
  say "round $i of $runs"
  if ((i % 2)); then machine_run vessel "$i" 0; machine_run qemu "$i" 0
  else machine_run qemu "$i" 0; machine_run vessel "$i" 0; fi
done

# --- report --------------------------------------------------------------------------------
ok_rows() { awk -F, -v k="$1" -v c="$2" 'NR > 1 && $2 == k && $3 == 0 && $9 == 0 && $7 != "" && $8 != "" { print $c }' "$csv"; }
fmt() { awk '{ if ($1 == "NA") print "—"; else printf "%.1f (%.1f–%.1f)\n", $1, $2, $3 }' <<<"$1"; }
ratio() { awk -v a="${1%% *}" -v b="${2%% *}" 'BEGIN { if (a == "NA" || b == "NA" || b == 0) print "—"; else printf "%.2f×\n", a / b }'; }
round_ratios() { # COLUMN: Vessel/QEMU within each round, "median (min–max)"
  awk -F, -v c="$1" 'NR > 1 && $3 == 0 && $9 == 0 && $7 != "" && $8 != "" {
      if ($2 == "vessel") vs[$1] = $c; if ($2 == "qemu") qs[$1] = $c }
    END { for (r in vs) if ((r in qs) && qs[r] > 0) print vs[r] / qs[r] }' "$csv" | bench_stats \
    | awk '{ if ($1 == "NA") print "—"; else printf "%.2f× (%.2f–%.2f)\n", $1, $2, $3 }'
}
row() { # LABEL COLUMN
  local v q
  v=$(ok_rows vessel "$2" | bench_stats); q=$(ok_rows qemu "$2" | bench_stats)
  echo "| $1 | $(fmt "$v") | $(fmt "$q") | $(ratio "$v" "$q") | $(round_ratios "$2") |"
}
failed() { awk -F, -v k="$1" 'NR > 1 && $2 == k && ($9 != 0 || $7 == "" || $8 == "") { n++ } END { print n + 0 }' "$csv"; }
qemu_shown=$(bench_shown "${qemu_argv[@]}" | sed "s|$W/qemu|<qemu>|g; s|$W/|<work>/|g; s|$IMG|<image>|g")
vessel_shown=$(bench_shown "${vessel_argv[@]}" | sed "s|$W/|<work>/|g; s|$IMG|<image>|g")
{
  echo "virtio-blk sequential throughput, $(date -u '+%Y-%m-%d %H:%M UTC'), Vessel $version, $runs measured runs each (median (min–max))"
  echo
  echo "| Guest dd, ${size_mib} MiB, bs=1M, direct I/O | Vessel | QEMU 7.2 | Vessel/QEMU (medians) | Vessel/QEMU per round |"
  echo "|---|---|---|---|---|"
  row "Sequential read (MiB/s)" 7
  row "Sequential write (MiB/s)" 8
  echo
  echo "- Image: $(fact image), a raw file in the machine on $(fact image_fs); cache: $cache (machine page cache, QEMU cache=writeback; Vessel buffered pread/pwrite + fdatasync on FLUSH)."
  echo "- Guest's view of the disk: Vessel: ${vessel_disk:-?}; QEMU: ${qemu_disk:-?}."
  echo "- Machine: $(fact machine_cpus) vCPUs, $(( $(fact machine_mem_kb) / 1024 )) MiB, kernel $(fact machine_kernel), CPU \"$(fact machine_cpu_model)\" (QEMU TCG, nested KVM); $(fact machine_java)."
  echo "- Host: $(bench_host_line)."
  echo "- Guest: $KERNEL_PACKAGE, command line \`$CMDLINE\`, initramfs: busybox-static + ${MODULES[*]}."
  echo "- Vessel in the machine: \`$vessel_shown\`"
  echo "- QEMU in the machine: \`LD_LIBRARY_PATH=<qemu>/lib $qemu_shown\`"
  echo "- Runs that failed (not counted; logs in $(basename "$failures")/): $(failed vessel) vessel, $(failed qemu) qemu, warm-ups included."
  echo "- Host load (1-min load average at the end of each run, in order): $(awk -F, 'NR > 1 { l = l sep $11; sep = ", " } END { print l }' "$csv")."
  echo "- Helper machine: $machine_origin."
  echo "- Raw numbers: $(basename "$csv")."
} | tee "$md"
say "results: $csv, $md"
