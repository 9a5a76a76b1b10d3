#!/usr/bin/env bash
# `vessel pull` against `skopeo copy` of the same image from the same local docker-registry:
# time and peak memory. Run with --help for what it measures and how.
set -euo pipefail

usage() {
  cat <<'EOF'
Usage: bench/pull.sh [--runs N] [--layers N] [--layer-mib N] [--jar JAR] [--out DIR] [--work DIR]

Builds an image of N layers (default 5) of N MiB each (default 40: 200 MiB in all) of random,
incompressible data with umoci (gzip layers, as umoci writes them), pushes it with skopeo to a
Debian docker-registry started on 127.0.0.1 with a free port, then runs interleaved rounds of:

  vessel   `vessel pull -q 127.0.0.1:PORT/bench/img:t` into an empty state root, with the JVM
           options ./vessel gives pull: fetch, verify
           every digest, decompress and check every layer against rootfs.diff_ids with the
           hostile-entry checks, commit to the store
  skopeo   `skopeo copy docker://127.0.0.1:PORT/bench/img:t oci:DIR:t` into an empty OCI layout
           (the anchor: fetches and checks the compressed digests; does not decompress layers)

Each run is timed with GNU time: wall seconds (%e) and peak RSS (%M, ru_maxrss from wait4,
exact). Reports medians, (min-max) and the ratios vessel/skopeo. Both start with nothing
on disk; the registry's blobs are in the page cache after the warm-up of each.

Options:
  --runs N        rounds (default 5)
  --layers N      layers (default 5)
  --layer-mib N   MiB of random data per layer (default 40)
  --jar JAR       Vessel jar (default: build the working tree into ${TMPDIR:-/tmp}/vessel-bench-pull)
  --out DIR       results folder (default bench/results): pull-<UTC>.csv and .md
  --work DIR      scratch folder (default: a new one under ${TMPDIR:-/tmp}; removed at the end)
  -h, --help      this text

Needs: a Java 25 JDK, docker-registry, skopeo, umoci, GNU time (apt-get install docker-registry
skopeo umoci time), curl. Progress goes to stderr; the markdown table to stdout.
EOF
}

die() { echo "bench/pull.sh: $*" >&2; exit 1; }
say() { echo "bench: $*" >&2; }

top=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)
runs=5 layers=5 layer_mib=40 jar= out="$top/bench/results" work=
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) runs=${2:?}; shift 2 ;;
    --layers) layers=${2:?}; shift 2 ;;
    --layer-mib) layer_mib=${2:?}; shift 2 ;;
    --jar) jar=${2:?}; shift 2 ;;
    --out) out=${2:?}; shift 2 ;;
    --work) work=${2:?}; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) usage >&2; die "unknown argument: $1" ;;
  esac
done
for n in "$runs" "$layers" "$layer_mib"; do
  case "$n" in ''|*[!0-9]*|0) die "--runs, --layers and --layer-mib must be positive numbers" ;; esac
done
for t in /usr/bin/docker-registry /usr/bin/skopeo /usr/bin/umoci /usr/bin/time; do
  [ -x "$t" ] || die "$t is missing (apt-get install docker-registry skopeo umoci time)"
done
command -v curl >/dev/null || die "curl is missing"
unset VESSEL_DEBUG VESSEL_TIMING

. "$top/bench/lib/jar.sh"
bench_jar pull
# The JVM options ./vessel uses for pull (full JIT, small young generation; see ./vessel).
V=("$java_home/bin/java" --enable-native-access=ALL-UNNAMED -XX:+UseSerialGC -Xmn8m -Xss512k
   -XX:-UsePerfData -jar "$jar")

own_work=0
if [ -z "$work" ]; then work=$(mktemp -d "${TMPDIR:-/tmp}/vessel-bench-pull.XXXXXX"); own_work=1; fi
mkdir -p "$work"
registry_pid=
cleanup() {
  [ -z "$registry_pid" ] || { kill "$registry_pid" 2>/dev/null || true; wait "$registry_pid" 2>/dev/null || true; }
  [ "$own_work" = 0 ] || rm -rf "$work"
}
trap cleanup EXIT

say "building a $layers-layer image of $((layers * layer_mib)) MiB of random data"
layout="$work/layout"
umoci init --layout "$layout"
umoci new --image "$layout:t"
for i in $(seq 1 "$layers"); do
  rm -rf "$work/bundle"
  umoci unpack --image "$layout:t" "$work/bundle" >/dev/null
  head -c "$((layer_mib << 20))" /dev/urandom > "$work/bundle/rootfs/layer-$i.bin"
  umoci repack --image "$layout:t" "$work/bundle" >/dev/null
done
rm -rf "$work/bundle"

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
host="127.0.0.1:$port"
cat > "$work/registry.yml" <<EOF
version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $work/registry
http:
  addr: $host
EOF
docker-registry serve "$work/registry.yml" >"$work/registry.log" 2>&1 &
registry_pid=$!
deadline=$((SECONDS + 30))
until curl -fs "http://$host/v2/" >/dev/null; do
  kill -0 "$registry_pid" 2>/dev/null || die "docker-registry died: $(cat "$work/registry.log")"
  [ "$SECONDS" -lt "$deadline" ] || die "docker-registry did not answer on $host within 30 s"
  sleep 0.1
done
skopeo copy -q --dest-tls-verify=false "oci:$layout:t" "docker://$host/bench/img:t"
ref="$host/bench/img:t"

stamp=$(date -u +%Y%m%dT%H%M%SZ)
mkdir -p "$out"
csv="$out/pull-$stamp.csv"
md="$out/pull-$stamp.md"
echo "kind,round,seconds,max_rss_kb,status" > "$csv"

one() { # kind round
  local kind=$1 round=$2 tf="$work/time.txt" st=0
  rm -rf "$work/root" "$work/oci"
  if [ "$kind" = vessel ]; then
    /usr/bin/time -o "$tf" -f "%e %M" "${V[@]}" --root "$work/root" pull -q "$ref" >/dev/null 2>"$work/err.txt" || st=$?
  else
    /usr/bin/time -o "$tf" -f "%e %M" skopeo copy -q --src-tls-verify=false "docker://$ref" "oci:$work/oci:t" \
      >/dev/null 2>"$work/err.txt" || st=$?
  fi
  [ "$st" = 0 ] || say "$kind failed ($st): $(tail -1 "$work/err.txt")"
  read -r secs rss < <(tail -1 "$tf")
  [ "$round" = 0 ] || echo "$kind,$round,$secs,$rss,$st" >> "$csv"
  say "round $round $kind: ${secs} s, max RSS ${rss} KiB (status $st)"
}

say "warm-up (not counted)"
one vessel 0
one skopeo 0
for i in $(seq 1 "$runs"); do
  one vessel "$i"
  one skopeo "$i"
done

stat() { # kind column -> "median (min-max)"
  awk -F, -v k="$1" -v c="$2" '$1==k && $5==0 {print $c}' "$csv" | sort -g |
    awk '{a[NR]=$1} END {if (NR==0) {print "n/a"; exit} m=int((NR+1)/2); med=(NR%2)?a[m]:(a[m]+a[m+1])/2; printf "%g (%g-%g)\n", med, a[1], a[NR]}'
}
median_of() { stat "$1" "$2" | awk '{print $1}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }
vt=$(median_of vessel 3); st=$(median_of skopeo 3)
vm=$(median_of vessel 4); sm=$(median_of skopeo 4)
{
  echo "| $layers layers, $((layers * layer_mib)) MiB random data, $runs runs | vessel pull | skopeo copy (anchor) | vessel/skopeo (medians) |"
  echo "|---|---|---|---|"
  echo "| wall time, s | $(stat vessel 3) | $(stat skopeo 3) | $(ratio "$vt" "$st") |"
  echo "| peak RSS, MiB | $(awk -v k="$vm" 'BEGIN{printf "%.0f", k/1024}') | $(awk -v k="$sm" 'BEGIN{printf "%.0f", k/1024}') | $(ratio "$vm" "$sm") |"
} | tee "$md"
say "results: $csv, $md"
