#!/usr/bin/env bash
# The docker CLI through Vessel's Engine API against the vessel CLI itself, on the same state
# root: wall time per command. Run with --help for what it measures and how.
set -euo pipefail

usage() {
  cat <<'EOF2'
Usage: bench/api.sh [--runs N] [--containers N] [--jar JAR]

Starts `vessel system service` on a private socket over a new, private state root, creates N
containers (default 5) from the built-in busybox image through the API (`docker create`, which
also times the API's create: a 2 GiB sparse ext4 disk is made for each), then times, N runs each
(default 10), on the same root:

  docker ps -a    the docker CLI through the API (one JVM that stays up)
  vessel ps -a    the vessel CLI: a fresh JVM per command, as ./vessel runs it
  docker images / vessel images
  docker rm       all containers at once (the docker CLI sends its removals in parallel)

Nothing starts a VM, a network bridge or the helper machine. Reports medians and (min-max) in
milliseconds as a markdown table on stdout; progress on stderr.

Options:
  --runs N        timed runs per command (default 10)
  --containers N  containers to create and list (default 5)
  --jar JAR       Vessel's CLI jar (default: target/vessel.jar; ./mvnw -B -q package -DskipTests builds it)
  -h, --help      this text

Needs: a Java 25 JDK, the docker CLI (28), busybox-static (the built-in image).
EOF2
}

die() { echo "bench/api.sh: $*" >&2; exit 1; }
say() { echo "bench: $*" >&2; }

top=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)
runs=10 containers=5 jar="$top/target/vessel.jar"
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) runs=${2:?}; shift 2 ;;
    --containers) containers=${2:?}; shift 2 ;;
    --jar) jar=${2:?}; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) usage >&2; die "unknown argument: $1" ;;
  esac
done
for n in "$runs" "$containers"; do
  case "$n" in ''|*[!0-9]*|0) die "--runs and --containers must be positive numbers" ;; esac
done
[ -f "$jar" ] || die "$jar is missing: build it with ./mvnw -B -q package -DskipTests, or give --jar"
command -v docker >/dev/null || die "the docker CLI is not installed"
java=${JAVA_HOME:+$JAVA_HOME/bin/java}
[ -n "$java" ] || java=$(ls -d /usr/lib/jvm/*25*/bin/java 2>/dev/null | head -1)
[ -x "$java" ] || die "no Java 25 (set JAVA_HOME)"

work=$(mktemp -d "${TMPDIR:-/tmp}/vessel-bench-api.XXXXXX")
chmod 700 "$work"
service=
cleanup() {
  [ -n "$service" ] && kill "$service" 2>/dev/null && wait "$service" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

export DOCKER_HOST="unix://$work/api.sock" DOCKER_CONFIG="$work/docker-config"
mkdir -p "$DOCKER_CONFIG" "$work/root"
"$java" -jar "$jar" --root "$work/root" system service --socket "$work/api.sock" > "$work/service.log" 2>&1 &
service=$!
for _ in $(seq 100); do
  docker version > /dev/null 2>&1 && break
  kill -0 "$service" 2>/dev/null || die "the service ended: $(cat "$work/service.log")"
  sleep 0.1
done
say "service up; creating $containers containers"

ms() { echo $(( $(date +%s%N) / 1000000 )); }
# Runs "$@" $runs times (after one untimed run); prints the median and (min-max) in ms.
timed() {
  "$@" > /dev/null
  local t=()
  for _ in $(seq "$runs"); do
    local s e
    s=$(ms); "$@" > /dev/null; e=$(ms)
    t+=($((e - s)))
  done
  printf '%s\n' "${t[@]}" | sort -n | awk '{a[NR]=$1} END {printf "%d (%d-%d)", a[int((NR+1)/2)], a[1], a[NR]}'
}

creates=()
for i in $(seq "$containers"); do
  s=$(ms); docker create --name "bench$i" busybox true > /dev/null; e=$(ms)
  creates+=($((e - s)))
done
create=$(printf '%s\n' "${creates[@]}" | sort -n | awk '{a[NR]=$1} END {printf "%d (%d-%d)", a[int((NR+1)/2)], a[1], a[NR]}')
say "timing ps and images, $runs runs each"
docker_ps=$(timed docker ps -a)
vessel_ps=$(timed "$java" -jar "$jar" --root "$work/root" ps -a)
docker_images=$(timed docker images)
vessel_images=$(timed "$java" -jar "$jar" --root "$work/root" images)
s=$(ms); docker rm $(docker ps -aq) > /dev/null; e=$(ms)

cat <<EOF2
| command ($containers containers) | median ms (min-max) |
|---|---|
| \`docker create busybox true\` (API, first is the image's disk) | $create |
| \`docker ps -a\` (API) | $docker_ps |
| \`vessel ps -a\` (fresh JVM) | $vessel_ps |
| \`docker images\` (API) | $docker_images |
| \`vessel images\` (fresh JVM) | $vessel_images |
| \`docker rm\` of all $containers at once (API) | $((e - s)) |
EOF2
