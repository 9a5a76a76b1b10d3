#!/usr/bin/env bash
# `docker run --rm` through Vessel's Engine API against `vessel run --rm`, on the same state root
# and the same VMs: the API's own cost per container, and concurrent runs. Run with --help.
set -euo pipefail

usage() {
  cat <<'EOF2'
Usage: bench/api-run.sh [--runs N] [--concurrent N] [--root DIR] [--jar JAR] [--dockerd-host URL]

Starts `vessel system service` on a private socket over the state root DIR (default
/var/tmp/vessel-it, where the integration tests keep their helper machine; the machine is started
when the host has no hardware virtualization and none runs), then, after one untimed run of each:

  vessel run --rm busybox true     the vessel CLI: a fresh JVM, its supervisor, the container's VM
  docker run --rm busybox true     the docker 28 CLI through the API (create, attach, wait, start)

alternately, N times each (default 10), so that both see the same machine; then N concurrent
(default 8) `docker run --rm busybox true` through the API, and as many concurrent `vessel run`:
the wall time of each batch and how many succeeded.

With --dockerd-host URL (a running dockerd, e.g. unix:///var/run/docker.sock; Debian's docker.io,
started by hand), the same docker commands against dockerd as a reference, with a busybox image
imported from busybox-static (no registry needed). dockerd runs containers as processes on this
host, not as VMs in a machine: a reference, not a like-for-like comparison.

Reports medians and (min-max) in milliseconds as a markdown table on stdout; progress on stderr.

Options:
  --runs N            timed runs per command (default 10)
  --concurrent N      containers per concurrent batch (default 8)
  --root DIR          the state root (default /var/tmp/vessel-it)
  --jar JAR           Vessel's CLI jar (default: target/vessel.jar)
  --dockerd-host URL  also measure a dockerd at URL
  -h, --help          this text

Needs: a Java 25 JDK, the docker CLI (28), busybox-static; QEMU for the helper machine.
EOF2
}

die() { echo "bench/api-run.sh: $*" >&2; exit 1; }
say() { echo "bench: $*" >&2; }

top=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)
runs=10 concurrent=8 root=/var/tmp/vessel-it jar="$top/target/vessel.jar" dockerd=
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) runs=${2:?}; shift 2 ;;
    --concurrent) concurrent=${2:?}; shift 2 ;;
    --root) root=${2:?}; shift 2 ;;
    --jar) jar=${2:?}; shift 2 ;;
    --dockerd-host) dockerd=${2:?}; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) usage >&2; die "unknown argument: $1" ;;
  esac
done
for n in "$runs" "$concurrent"; do
  case "$n" in ''|*[!0-9]*|0) die "--runs and --concurrent must be positive numbers" ;; esac
done
[ -f "$jar" ] || die "$jar is missing: build it with ./mvnw -B -q package -DskipTests, or give --jar"
command -v docker >/dev/null || die "the docker CLI is not installed"
java=${JAVA_HOME:+$JAVA_HOME/bin/java}
[ -n "$java" ] || java=$(ls -d /usr/lib/jvm/*25*/bin/java 2>/dev/null | head -1)
[ -x "$java" ] || die "no Java 25 (set JAVA_HOME)"

vessel() { "$java" --enable-native-access=ALL-UNNAMED -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -jar "$jar" --root "$root" "$@"; }

work=$(mktemp -d "${TMPDIR:-/tmp}/vessel-bench-api-run.XXXXXX")
chmod 700 "$work"
service=
cleanup() {
  if [ -n "$service" ]; then kill "$service" 2>/dev/null || true; wait "$service" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 143' TERM INT # so that the EXIT trap stops the service

if ! grep -qwE 'vmx|svm' /proc/cpuinfo && ! vessel machine status >/dev/null 2>&1; then
  say "starting the helper machine in $root"
  vessel machine start >&2 || die "the helper machine did not start"
fi

api="unix://$work/api.sock"
export DOCKER_CONFIG="$work/docker-config"
mkdir -p "$DOCKER_CONFIG"
# Not through the vessel function: in the background a function runs in a subshell, and $!
# would be that subshell's, which the cleanup would stop while the service's JVM ran on.
"$java" --enable-native-access=ALL-UNNAMED -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -jar "$jar" --root "$root" \
  system service --socket "$work/api.sock" > "$work/service.log" 2>&1 &
service=$!
for _ in $(seq 300); do
  DOCKER_HOST=$api docker version > /dev/null 2>&1 && break
  kill -0 "$service" 2>/dev/null || die "the service ended: $(cat "$work/service.log")"
  sleep 0.1
done
say "service up"

ms() { echo $(( $(date +%s%N) / 1000000 )); }
stats() { sort -n | awk '{a[NR]=$1} END {printf "%d (%d-%d)", a[int((NR+1)/2)], a[1], a[NR]}'; }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
# One command's wall time in ms, appended to file $1; a failure ends the benchmark.
once() {
  local file=$1; shift
  local s e
  s=$(ms); "$@" > /dev/null 2>"$work/last.err" || die "'$*' failed: $(cat "$work/last.err")"; e=$(ms)
  echo $((e - s)) >> "$file"
}
# N copies of a command at once: "wall-ms ok-count".
batch() {
  local n=$1; shift
  local s e ok=0 pids=()
  s=$(ms)
  for i in $(seq "$n"); do "$@" > /dev/null 2>"$work/batch.$i.err" & pids+=($!); done
  local i=0
  for p in "${pids[@]}"; do
    i=$((i + 1))
    if wait "$p"; then ok=$((ok + 1)); else say "batch run $i failed: $(cat "$work/batch.$i.err")"; fi
  done
  e=$(ms)
  echo "$((e - s)) $ok"
}

say "warming up"
vessel run --rm busybox true > /dev/null
DOCKER_HOST=$api docker run --rm busybox true > /dev/null

say "timing $runs alternating runs of each"
: > "$work/vessel.ms"; : > "$work/api.ms"
for i in $(seq "$runs"); do
  once "$work/vessel.ms" vessel run --rm busybox true
  DOCKER_HOST=$api once "$work/api.ms" docker run --rm busybox true
  say "  run $i: vessel $(tail -1 "$work/vessel.ms") ms, docker via the API $(tail -1 "$work/api.ms") ms"
done
say "$concurrent concurrent runs of each"
read -r api_wall api_ok < <(DOCKER_HOST=$api batch "$concurrent" docker run --rm busybox true)
read -r vessel_wall vessel_ok < <(batch "$concurrent" vessel run --rm busybox true)

dockerd_rows=
if [ -n "$dockerd" ]; then
  DOCKER_HOST=$dockerd docker info >/dev/null 2>&1 || die "no dockerd answers at $dockerd"
  busybox=$(command -v busybox || echo /bin/busybox)
  rootfs="$work/rootfs"; mkdir -p "$rootfs/bin"
  cp "$busybox" "$rootfs/bin/busybox"
  for t in sh true; do ln -s busybox "$rootfs/bin/$t"; done
  image=vessel-bench/busybox:api-run
  tar -C "$rootfs" -cf "$work/rootfs.tar" .
  DOCKER_HOST=$dockerd docker import "$work/rootfs.tar" "$image" > /dev/null
  DOCKER_HOST=$dockerd docker run --rm "$image" true > /dev/null
  : > "$work/dockerd.ms"
  for _ in $(seq "$runs"); do DOCKER_HOST=$dockerd once "$work/dockerd.ms" docker run --rm "$image" true; done
  read -r dd_wall dd_ok < <(DOCKER_HOST=$dockerd batch "$concurrent" docker run --rm "$image" true)
  DOCKER_HOST=$dockerd docker rmi "$image" > /dev/null || true
  version=$(DOCKER_HOST=$dockerd docker version --format '{{.Server.Version}}' 2>/dev/null || echo "?")
  dockerd_rows="| \`docker run --rm busybox true\`, dockerd $version on this host (reference) | $(stats < "$work/dockerd.ms") | $dd_wall ($dd_ok of $concurrent ok) |"
fi

v=$(median < "$work/vessel.ms"); a=$(median < "$work/api.ms")
cat <<EOF2
| command | median ms (min-max), $runs runs | $concurrent at once: wall ms |
|---|---|---|
| \`vessel run --rm busybox true\` | $(stats < "$work/vessel.ms") | $vessel_wall ($vessel_ok of $concurrent ok) |
| \`docker run --rm busybox true\` through the API | $(stats < "$work/api.ms") | $api_wall ($api_ok of $concurrent ok) |
${dockerd_rows}

API / vessel (medians): $(awk -v a="$a" -v v="$v" 'BEGIN {printf "%.2fx", a / v}')
EOF2
