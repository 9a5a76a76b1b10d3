#!/usr/bin/env bash
# virtio-net: TCP throughput both ways and TCP request/response latency, Vessel against QEMU 7.2 +
# KVM (QEMU's user-space virtio-net, no vhost) on the same kind of TAP, on the same bridge, side
# by side in the same helper machine, same kernel and initramfs. Run with --help for more.
set -euo pipefail

usage() {
  cat <<'EOF'
Usage: bench/net.sh [--seconds S] [--round-trips N] [--docker] [--jvm-options OPTS]
                    [--runs N] [--out DIR] [--root DIR] [--jar JAR | --commit REV] [--build-dir DIR]
                    [--fresh-machine] [--keep-machine] [--run-timeout S]

Inside Vessel's helper machine (QEMU/TCG with nested KVM), a Linux bridge vbench0 (10.99.0.1/24)
with two persistent TAPs made with `ip tuntap add ... vnet_hdr`, one per VMM. Each VMM boots the
same guest on its TAP (one VM at a time; the guest is 10.99.0.2 with MAC 52:54:00:12:34:56 under
both, so nothing differs for the machine's network stack):

  vessel   /opt/java/bin/java <the JVM options `vessel vm run` uses in the machine> -jar vessel.jar
           vm run --accel kvm --kernel K --initrd I --cmdline C --cpus 1 --memory 256M
           --net tap=vbtap0,mac=52:54:00:12:34:56
  qemu     the host's qemu-system-x86_64 (7.2) with its libraries (bench/lib/qemu-bundle.sh):
           -M microvm,x-option-roms=off,rtc=on -accel kvm -cpu host -m 256 -smp 1 -nodefaults
           -no-user-config -nographic -serial stdio -kernel K -initrd I -append C
           -netdev tap,id=n0,ifname=vbtap1,script=no,downscript=no,vhost=off,vnet_hdr=on
           -device virtio-net-device,netdev=n0,mac=52:54:00:12:34:56

The guest (the cached Debian cloud kernel, an initramfs of busybox-static, virtio_net and its
modules, the host's iperf3 3.12 with its libraries, and bench/c/tcp-rr built static here) brings
up eth0 and measures the latency itself, against a `tcp-rr server` the machine runs on the
bridge's address (the guest's clock, kvm-clock, is fine-grained; the emulated machine's ticks in
4 ms steps):

  latency       tcp-rr client 10.99.0.1 5002 N  (1-byte request, 1-byte response, one
                connection, N round trips: median and 99th percentile, microseconds)

then starts `iperf3 -s` and says so on its console. The machine (the VMs' host) then measures,
with the same iperf3:

  host->guest   iperf3 -c 10.99.0.2 -t S        (the machine sends; receiver's Mbit/s)
  guest->host   iperf3 -c 10.99.0.2 -t S -R     (the guest sends)

then stops the VMM (SIGTERM). Order: a discarded warm-up of each, then N rounds, alternating
which VMM goes first.

With --docker, a reference measured on this host itself (not in the machine, so not comparable
in absolute terms): the same iperf3 and tcp-rr in a docker container on docker's default bridge
(veth), the client on the host; N runs, after the VMs' rounds. It needs a docker engine answering
(`apt-get install docker.io`, then start `dockerd` as root); the image is imported from a rootfs
tarball made here (busybox-static, iperf3 and its libraries, tcp-rr) and removed at the end.

Options:
  --seconds S       iperf3's -t (default 5)
  --round-trips N   tcp-rr's round trips (default 2000)
  --docker          also measure the docker reference (see above)
EOF
  bench_common_usage 3 jvm
  bench_usage_footer "its console and stderr" "removes the bridge and TAPs"
}

top=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)
BENCH_NAME=net
. "$top/bench/lib/machine-bench.sh"
. "$top/bench/lib/qemu-bundle.sh"

seconds=5
trips=2000
docker_ref=0
while [ $# -gt 0 ]; do
  case "$1" in
    --docker) docker_ref=1; shift ;;
    --seconds) [ $# -ge 2 ] || die "--seconds needs a number"; seconds=$2; shift 2 ;;
    --round-trips) [ $# -ge 2 ] || die "--round-trips needs a number"; trips=$2; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) bench_option "$@" || { usage >&2; die "unknown argument: $1"; }; shift "$bench_shift" ;;
  esac
done
case "$seconds" in ''|*[!0-9]*|0) die "--seconds must be a positive number" ;; esac
case "$trips" in ''|*[!0-9]*|0) die "--round-trips must be a positive number" ;; esac

IPERF=$(command -v iperf3 || true)
[ -n "$IPERF" ] || die "iperf3 not found: apt-get install iperf3"
command -v gcc >/dev/null || die "gcc not found (it builds bench/c/tcp-rr.c): apt-get install gcc libc6-dev"
qemu_bundle_find || exit 1
case "$QEMU_VERSION" in *"version 7.2"*) ;; *) say "warning: expected QEMU 7.2, found: $QEMU_VERSION" ;; esac
if [ "$docker_ref" = 1 ]; then
  docker info >/dev/null 2>&1 || die "--docker: no docker engine answers (apt-get install docker.io, then start dockerd as root)"
fi
bench_start
bench_kernel

GUEST_IP=10.99.0.2
MAC=52:54:00:12:34:56
CMDLINE="console=ttyS0 quiet panic=-1 pci=off vbench.ip=$GUEST_IP"
MODULES=(virtio_ring virtio virtio_mmio failover net_failover virtio_net)

# --- the guest ------------------------------------------------------------------------------
cat > "$tmp/init" <<'INIT'
#!/bin/sh
# bench/net.sh's guest init: eth0 up, iperf3 and tcp-rr servers, then idle until stopped.
/bin/busybox --install -s /bin
mount -t devtmpfs devtmpfs /dev
if (: </dev/console) 2>/dev/null; then exec 0</dev/console 1>/dev/console 2>&1; fi
mount -t proc proc /proc
mount -t sysfs sysfs /sys
for m in $(cat /lib/modules/load-order); do insmod "/lib/modules/$m.ko" || echo "BENCH error insmod $m failed"; done
ip=$(sed -n 's/.*vbench\.ip=\([0-9.]*\).*/\1/p' /proc/cmdline)
ip link set lo up
ip addr add "$ip/24" dev eth0 && ip link set eth0 up || echo "BENCH error eth0"
echo "BENCH features $(cat /sys/class/net/eth0/device/features 2>/dev/null || echo ?)"
# Round trips timed by the guest (kvm-clock): the machine's own clock ticks in 4 ms steps under
# emulation. The server runs in the machine, on the bridge's address.
n=0
until /opt/tcp-rr client 10.99.0.1 5002 @TRIPS@ > /tmp/rr 2>&1; do
  n=$((n + 1)); [ $n -lt 50 ] || break; sleep 0.1
done
sed 's/^/BENCH /' /tmp/rr
LD_LIBRARY_PATH=/opt/iperf/lib /opt/iperf/bin/iperf3 -s -D || echo "BENCH error iperf3"
echo "BENCH ready"
while :; do sleep 3600; done
INIT
bundle="$tmp/bundle"
mkdir -p "$bundle/iperf/bin" "$bundle/iperf/lib"
say "building the guest initramfs (busybox-static, ${MODULES[*]} from $KERNEL_NAME, iperf3, tcp-rr)"
sed -i "s/@TRIPS@/$trips/" "$tmp/init"
bench_initramfs "$bundle/initramfs.cpio" "$tmp/init" "${MODULES[@]}"
cp "$IPERF" "$bundle/iperf/bin/iperf3"
ldd "$IPERF" | awk '$2 == "=>" && $3 ~ /^\// {print $1, $3}' | while read -r name path; do
  cp -L "$path" "$bundle/iperf/lib/$name"
done
gcc -static -O2 -o "$bundle/tcp-rr" "$top/bench/c/tcp-rr.c" || die "could not build bench/c/tcp-rr.c"
# The iperf3 files and the loader, appended to the initramfs as a second archive (the kernel
# unpacks both).
extra=$(mktemp -d "$tmp/extra.XXXXXX")
mkdir -p "$extra/opt" "$extra/lib64"
cp -r "$bundle/iperf" "$extra/opt/iperf"
cp "$bundle/tcp-rr" "$extra/opt/tcp-rr"
cp -L /lib64/ld-linux-x86-64.so.2 "$extra/lib64/"
(cd "$extra" && find . | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet) >> "$bundle/initramfs.cpio" || die "cpio failed"
cp "$KERNEL" "$bundle/vmlinuz"
cp "$jar" "$bundle/vessel.jar"
qemu_bundle_make "$bundle/qemu"

# --- what runs inside the machine: ash, busybox and the network tools ------------------------
cat > "$bundle/runner.sh" <<'RUNNER'
# bench/net.sh's helper inside the helper machine (busybox ash). Usage: runner.sh MODE W ...
set -u
W=$2
. "$W/common.sh"
IP=/usr/sbin/ip
iperf() { LD_LIBRARY_PATH=$W/iperf/lib "$W/iperf/bin/iperf3" "$@"; }
case "$1" in
setup)
  # runner.sh setup W: checks, facts, the bridge and the two TAPs.
  bench_check "$W/qemu"
  v=$(iperf --version 2>&1 | head -n 1) || { echo "iperf3 does not run in the machine: $v" >&2; exit 3; }
  echo "FACT iperf $v"
  bench_undo "$W" "$IP link del vbtap0 2>/dev/null; $IP link del vbtap1 2>/dev/null; $IP link del vbench0 2>/dev/null"
  $IP link add vbench0 type bridge && $IP addr add 10.99.0.1/24 dev vbench0 && $IP link set vbench0 up || exit 3
  for t in vbtap0 vbtap1; do
    $IP tuntap add dev "$t" mode tap vnet_hdr && $IP link set "$t" master vbench0 && $IP link set "$t" up || exit 3
  done
  ;;
run)
  # runner.sh run W KIND TAG SECONDS TRIPS GUEST: one boot of KIND's VM and the three measures;
  # prints "BENCH h2g MBITS", "BENCH g2h MBITS", the tcp-rr line, and "STATUS st".
  kind=$3 tag=$4 secs=$5 trips=$6 guest=$7
  case "$kind" in
    vessel) ;;
    qemu) export LD_LIBRARY_PATH=$W/qemu/lib ;;
    *) echo "unknown kind $kind" >&2; exit 2 ;;
  esac
  set --
  while IFS= read -r a; do set -- "$@" "$a"; done < "$W/$kind.argv"
  "$W/tcp-rr" server 5002 >/dev/null 2>&1 &
  bench_track "$W" rr $!
  "$@" </dev/null >"$W/$tag.console" 2>"$W/$tag.stderr" &
  pid=$!
  unset LD_LIBRARY_PATH
  bench_track "$W" running $pid
  i=0
  until grep -aq '^BENCH ready' "$W/$tag.console" 2>/dev/null; do
    i=$((i + 1))
    if [ $i -gt 1500 ] || ! kill -0 $pid 2>/dev/null; then
      echo "BENCH error the guest did not get ready"
      kill $pid 2>/dev/null
      wait $pid
      echo "STATUS $?"
      exit 0
    fi
    sleep 0.2
  done
  grep -a '^BENCH ' "$W/$tag.console" | tr -d '\r'
  mbits() { awk '/receiver/ { for (i = 1; i <= NF; i++) if ($i == "Mbits/sec") print $(i - 1) }' "$1"; }
  iperf -c "$guest" -t "$secs" -f m >"$W/$tag.h2g" 2>&1 && echo "BENCH h2g $(mbits "$W/$tag.h2g")"
  iperf -c "$guest" -t "$secs" -f m -R >"$W/$tag.g2h" 2>&1 && echo "BENCH g2h $(mbits "$W/$tag.g2h")"
  if [ "$kind" = vessel ]; then
    # The device's own counters, from the VM's control socket: how large the frames it moved were.
    d=$(echo '{"describe": true}' | /sbin/vessel-agent --connect-unix "$W/vessel.api" 2>/dev/null)
    c=
    for k in rx_frames rx_bytes tx_frames tx_bytes rx_dropped; do
      c="$c $k=$(printf '%s' "$d" | sed -n "s/.*\"$k\" *: *\([0-9]*\).*/\1/p")"
    done
    echo "BENCH counters$c"
  fi
  kill -TERM $pid
  wait $pid
  st=$?
  kill "$(cat "$W/rr.pid")" 2>/dev/null
  rm -f "$W/running.pid" "$W/rr.pid"
  echo "STATUS $st"
  ;;
show) bench_show "$W" "$3" console stderr h2g g2h ;;
*) bench_bad_mode "$1" ;;
esac
RUNNER

vessel_argv=($(bench_vessel_java) vm run --accel kvm
  --kernel "$W/vmlinuz" --initrd "$W/initramfs.cpio" --cmdline "$CMDLINE" --cpus 1 --memory 256M
  --net "tap=vbtap0,mac=$MAC" --api-socket "$W/vessel.api")
qemu_argv=("$W/qemu/bin/qemu-system-x86_64" -L "$W/qemu/share/qemu"
  -M microvm,x-option-roms=off,rtc=on -accel kvm -cpu host -m 256 -smp 1
  -nodefaults -no-user-config -nographic -serial stdio
  -kernel "$W/vmlinuz" -initrd "$W/initramfs.cpio" -append "$CMDLINE"
  -netdev tap,id=n0,ifname=vbtap1,script=no,downscript=no,vhost=off,vnet_hdr=on
  -device "virtio-net-device,netdev=n0,mac=$MAC")
printf '%s\n' "${vessel_argv[@]}" > "$bundle/vessel.argv"
printf '%s\n' "${qemu_argv[@]}" > "$bundle/qemu.argv"

bench_send "$bundle"
say "making the bridge and TAPs in the machine"
facts=$(mexec sh "$W/runner.sh" setup "$W" </dev/null) || die "the machine cannot run the benchmark (see above)"
fact() { printf '%s\n' "$facts" | sed -n "s/^FACT $1 //p"; }

# --- measured runs -------------------------------------------------------------------------
csv="$out/net-$stamp.csv"
md="$out/net-$stamp.md"
failures="$out/net-$stamp-failed"
echo "round,kind,warmup,h2g_mbit_s,g2h_mbit_s,rr_median_us,rr_p99_us,exit_status,host_load1" > "$csv"
load1() { cut -d' ' -f1 /proc/loadavg; }
keep_failure() { mkdir -p "$failures"; cat > "$failures/$1.log"; say "  (its console and logs: $failures/$1.log)"; }

machine_run() { # KIND ROUND WARMUP
  local kind=$1 round=$2 warm=$3 tag="$1-$2" o rs st h g m p
  o=$(mexec sh "$W/runner.sh" run "$W" "$kind" "$tag" "$seconds" "$trips" "$GUEST_IP" </dev/null; echo "RUNNER $?")
  rs=$(sed -n 's/^RUNNER //p' <<<"$o")
  hung "$rs" "$kind run $round"
  [ "$rs" != 130 ] && [ "$rs" != 143 ] || die "interrupted"
  st=$(sed -n 's/^STATUS //p' <<<"$o")
  [ -n "$st" ] || die "$kind run $round produced no result in the machine (status $rs)"
  [ "$kind" != vessel ] || vessel_features=$(sed -n 's/^BENCH features //p' <<<"$o")
  [ "$kind" != qemu ] || qemu_features=$(sed -n 's/^BENCH features //p' <<<"$o")
  [ "$kind" != vessel ] || vessel_counters=$(sed -n 's/^BENCH counters //p' <<<"$o")
  h=$(sed -n 's/^BENCH h2g //p' <<<"$o"); g=$(sed -n 's/^BENCH g2h //p' <<<"$o")
  m=$(sed -n 's/^BENCH RR .*median_us=\([0-9.]*\).*/\1/p' <<<"$o"); p=$(sed -n 's/^BENCH RR .*p99_us=\([0-9.]*\).*/\1/p' <<<"$o")
  # QEMU ends with 0 on SIGTERM; `vessel vm run` with 143, as docker's exit statuses.
  local want=0; [ "$kind" != vessel ] || want=143
  [ "$st" = "$want" ] || st="bad:$st"
  echo "$round,$kind,$warm,$h,$g,$m,$p,$st,$(load1)" >> "$csv"
  if [ "$st" != "$want" ] || [ -z "$h" ] || [ -z "$g" ] || [ -z "$m" ] || grep -q '^BENCH error' <<<"$o"; then
    say "  $kind #$round FAILED (exit status ${st#bad:}); not counted"
    { grep '^BENCH error' <<<"$o"; mexec sh "$W/runner.sh" show "$W" "$tag" </dev/null 2>&1; } | keep_failure "$tag"
    return 0
  fi
  say "  $kind #$round: host->guest $h Mbit/s, guest->host $g Mbit/s, round trip median $m us (p99 $p us)"
}

say "warm-up: one run of each (discarded)"
machine_run vessel 0 1
machine_run qemu 0 1
for ((i = 1; i <= runs; i++)); do
  say "round $i of $runs"
  if ((i % 2)); then machine_run vessel "$i" 0; machine_run qemu "$i" 0
  else machine_run qemu "$i" 0; machine_run vessel "$i" 0; fi
done

# --- the docker reference, on this host -----------------------------------------------------
docker_rows=
if [ "$docker_ref" = 1 ]; then
  image="vessel-bench-net:$stamp"
  rootfs=$(mktemp -d "$tmp/docker-rootfs.XXXXXX")
  mkdir -p "$rootfs/bin" "$rootfs/opt" "$rootfs/lib64" "$rootfs/tmp"
  cp "$(command -v busybox)" "$rootfs/bin/busybox"
  ln -s busybox "$rootfs/bin/sh"
  cp -r "$bundle/iperf" "$rootfs/opt/iperf"
  cp "$bundle/tcp-rr" "$rootfs/opt/tcp-rr"
  cp -L /lib64/ld-linux-x86-64.so.2 "$rootfs/lib64/"
  printf '%s\n' 'LD_LIBRARY_PATH=/opt/iperf/lib /opt/iperf/bin/iperf3 -s -D' '/opt/tcp-rr server 5001 &' \
    'echo "BENCH ready"' 'wait' > "$rootfs/run.sh"
  tar -C "$rootfs" -cf "$tmp/docker-rootfs.tar" . || die "tar failed"
  docker import "$tmp/docker-rootfs.tar" "$image" >/dev/null || die "docker import failed"
  docker_version=$(docker version --format '{{.Server.Version}}' 2>/dev/null || echo "?")
  name="vessel-bench-net-$$"
  for ((i = 1; i <= runs; i++)); do
    docker rm -f "$name" >/dev/null 2>&1 || true
    docker run -d --name "$name" "$image" /bin/sh /run.sh >/dev/null || die "docker run failed"
    n=0
    until docker logs "$name" 2>&1 | grep -q '^BENCH ready'; do
      n=$((n + 1)); [ $n -le 300 ] || die "the docker container did not get ready"; sleep 0.1
    done
    dip=$(docker inspect -f '{{.NetworkSettings.IPAddress}}' "$name")
    h=$("$IPERF" -c "$dip" -t "$seconds" -f m | awk '/receiver/ { for (i = 1; i <= NF; i++) if ($i == "Mbits/sec") print $(i - 1) }')
    g=$("$IPERF" -c "$dip" -t "$seconds" -f m -R | awk '/receiver/ { for (i = 1; i <= NF; i++) if ($i == "Mbits/sec") print $(i - 1) }')
    rr=$("$bundle/tcp-rr" client "$dip" 5001 "$trips")
    m=$(sed -n 's/.*median_us=\([0-9.]*\).*/\1/p' <<<"$rr"); p=$(sed -n 's/.*p99_us=\([0-9.]*\).*/\1/p' <<<"$rr")
    echo "$i,docker,0,$h,$g,$m,$p,0,$(load1)" >> "$csv"
    say "  docker #$i: host->container $h Mbit/s, container->host $g Mbit/s, round trip median $m us (p99 $p us)"
    docker rm -f "$name" >/dev/null
  done
  docker rmi "$image" >/dev/null || true
fi

# --- report --------------------------------------------------------------------------------
good() { awk -F, -v k="$1" -v c="$2" 'NR > 1 && $2 == k && $3 == 0 && $8 !~ /^bad/ && $4 != "" && $5 != "" && $6 != "" { print $c }' "$csv"; }
fmt() { awk -v d="$2" '{ if ($1 == "NA") print "—"; else { f = "%." d "f"; printf f " (" f "–" f ")\n", $1, $2, $3 } }' <<<"$1"; }
ratio() { # V Q INVERT: Vessel/QEMU of the medians (INVERT 1: QEMU/Vessel, for times: higher is better for Vessel)
  awk -v a="${1%% *}" -v b="${2%% *}" -v inv="$3" 'BEGIN { if (a == "NA" || b == "NA" || a == 0 || b == 0) print "—";
    else printf "%.2f×\n", inv ? b / a : a / b }'
}
row() { # LABEL COLUMN DECIMALS INVERT
  local v q
  v=$(good vessel "$2" | bench_stats); q=$(good qemu "$2" | bench_stats)
  echo "| $1 | $(fmt "$v" "$3") | $(fmt "$q" "$3") | $(ratio "$v" "$q" "$4") |"
}
failed() { awk -F, -v k="$1" 'NR > 1 && $2 == k && ($8 ~ /^bad/ || $4 == "" || $5 == "" || $6 == "") { n++ } END { print n + 0 }' "$csv"; }
qemu_shown=$(bench_shown "${qemu_argv[@]}" | sed "s|$W/qemu|<qemu>|g; s|$W/|<work>/|g")
vessel_shown=$(bench_shown "${vessel_argv[@]}" | sed "s|$W/|<work>/|g")
{
  echo "virtio-net TCP, $(date -u '+%Y-%m-%d %H:%M UTC'), Vessel $version, $runs measured runs each (median (min–max))"
  echo
  echo "| iperf3 -t $seconds / tcp-rr $trips round trips | Vessel | QEMU 7.2 (no vhost) | Vessel vs QEMU (higher: Vessel better) |"
  echo "|---|---|---|---|"
  row "host → guest (Mbit/s)" 4 0 0
  row "guest → host (Mbit/s)" 5 0 0
  row "TCP round trip, median (µs)" 6 0 1
  row "TCP round trip, p99 (µs)" 7 0 1
  if [ "$docker_ref" = 1 ]; then
    echo
    echo "Reference, not in the machine: docker $docker_version on this host, veth on docker's default bridge, same iperf3 and tcp-rr"
    echo
    echo "| | docker (host → container) | docker (container → host) | round trip median (µs) | p99 (µs) |"
    echo "|---|---|---|---|---|"
    echo "| median (min–max) | $(fmt "$(good docker 4 | bench_stats)" 0) | $(fmt "$(good docker 5 | bench_stats)" 0) | $(fmt "$(good docker 6 | bench_stats)" 0) | $(fmt "$(good docker 7 | bench_stats)" 0) |"
  fi
  echo
  echo "- The host is the helper machine (the VMs' host): a bridge with a persistent vnet_hdr TAP per VMM; the guest is 10.99.0.2 under both."
  echo "- Vessel's device counters in the last run (both iperf3 directions): ${vessel_counters:-?}."
  echo "- Feature bits the guest's driver took (bit 0 first): Vessel ${vessel_features:-?}; QEMU ${qemu_features:-?}."
  echo "- $(fact iperf) in the machine and the guest (the host's, with its libraries)."
  echo "- Machine: $(fact machine_cpus) vCPUs, $(( $(fact machine_mem_kb) / 1024 )) MiB, kernel $(fact machine_kernel), CPU \"$(fact machine_cpu_model)\" (QEMU TCG, nested KVM); $(fact machine_java)."
  echo "- Host: $(bench_host_line)."
  echo "- Guest: $KERNEL_PACKAGE, command line \`$CMDLINE\`, initramfs: busybox-static + ${MODULES[*]} + iperf3 + tcp-rr."
  echo "- Vessel in the machine: \`$vessel_shown\`"
  echo "- QEMU in the machine: \`LD_LIBRARY_PATH=<qemu>/lib $qemu_shown\`"
  echo "- Runs that failed (not counted; logs in $(basename "$failures")/): $(failed vessel) vessel, $(failed qemu) qemu, warm-ups included."
  echo "- Host load (1-min load average at the end of each run, in order): $(awk -F, 'NR > 1 { l = l sep $9; sep = ", " } END { print l }' "$csv")."
  echo "- Helper machine: $machine_origin."
  echo "- Raw numbers: $(basename "$csv")."
} | tee "$md"
say "results: $csv, $md"
