# Shared by the benchmarks that run VMMs inside Vessel's helper machine (bench/*.sh): options,
# the Vessel jar, the machine, the work folder there and its clean-up. Source it after setting
# `top` (the repository) and BENCH_NAME (e.g. "blk": names messages and result files). Bash 4.
#
#   bench_common_usage RUNS [jvm]
#                             prints the help text of the options every benchmark takes (RUNS:
#                             the default of --runs; jvm: --jvm-options too)
#   bench_usage_footer LOGS CLEANUP
#                             the end of the help text of a benchmark that builds its own guest
#   bench_option ARG...       takes one common option off the front of ARG...: sets bench_shift to
#                             how many words it used; returns 1 if ARG is not a common option
#   bench_vessel_java         the start of Vessel's command line in the machine: java, the JVM
#                             options (--jvm-options), -jar W/vessel.jar (unquoted words)
#   bench_start               after the options: checks them, builds or finds the jar (sets jar,
#                             version), defines vessel/mexec/hung, sets tmp (host work folder),
#                             stamp, out, W (work folder in the machine), installs the clean-up
#                             trap, starts or reuses the helper machine (sets machine_origin)
#   bench_send DIR            sends DIR into the machine, unpacked at $W, plus machine-runner.sh
#                             as $W/common.sh (sets machine_ready: the clean-up runs there)
#   bench_kernel              the cached default kernel: sets KERNEL (vmlinuz), KERNEL_NAME,
#                             KERNEL_PACKAGE, KERNEL_MODULES (its modules folder)
#   bench_initramfs OUT INIT MODULE...
#                             a newc cpio made with the host's cpio: busybox-static (/bin/busybox,
#                             /bin/sh), the file INIT as /init, MODULE.ko from KERNEL_MODULES in
#                             /lib/modules/ and their names in that order in /lib/modules/load-order
#                             (the init loads them itself)
#   bench_stats               numbers on stdin -> "median min max" ("NA NA NA" if none)
#   bench_shown ARG...        a command line as one line for the reports
#   bench_host_line           one line about the host (CPU, cores, RAM, QEMU version if known)
#
# The clean-up (EXIT trap) ends what the benchmark started in the machine and removes its work
# folder there (machine-runner.sh's bench_cleanup), then stops the machine if this run started it
# (unless --keep-machine), then removes tmp.

die() { echo "bench/$BENCH_NAME.sh: $*" >&2; exit 1; }
say() { echo "bench: $*" >&2; }

runs=3
out="$top/bench/results"
root=
jar=
commit_rev=
build_dir="${TMPDIR:-/tmp}/vessel-bench-build"
keep_machine=0
fresh_machine=0
run_timeout=300
# What `vessel vm run` gives the JVM in the machine (MachineCommandScript.JVM_OPTIONS).
jvm_options="--enable-native-access=ALL-UNNAMED -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Xss512k -Xmn4m -XX:-UsePerfData"
machine_ready=0
started_machine=0
tmp=

bench_common_usage() {
  if [ "${2:-}" = jvm ]; then
    cat <<'EOF'
  --jvm-options S   JVM options for Vessel in the machine, space separated (default: the ones
                    `vessel vm run` uses there: --enable-native-access=ALL-UNNAMED
                    -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Xss512k -Xmn4m -XX:-UsePerfData)
EOF
  fi
  echo "  --runs N          measured runs of each (default $1)"
  cat <<'EOF'
  --out DIR         results folder (default: bench/results/ in the repo)
  --root DIR        Vessel state root, passed as --root (default: Vessel's own default)
  --jar JAR         Vessel jar to use (default: build the working tree into --build-dir)
  --commit REV      build this commit instead (exported with `git archive`, so work in progress
                    in the working tree is left out and the repo is not touched)
  --build-dir DIR   where to build the jar (default: ${TMPDIR:-/tmp}/vessel-bench-build)
  --run-timeout S   give up (and say so) when one run or machine command takes longer than S
                    seconds (default 300): a hung or badly overloaded helper machine
  --fresh-machine   restart the helper machine first, with this jar, so the machine (its jlinked
                    Java runtime, its init) comes from the same build as the VMM; by default a
                    running machine is reused as it is
  --keep-machine    leave the helper machine running at the end even if this script started it
                    (by default the machine is left running or stopped, as found)
  -h, --help        this text
EOF
}

bench_usage_footer() {
  fold -s -w 98 <<EOF | sed "s/ *$//"

Needs on the host: a Java 25 JDK, qemu-system-x86 (7.2), busybox-static, cpio, tar.
Prints a markdown table on stdout; progress goes to stderr. Writes $BENCH_NAME-<UTC time>.csv (raw numbers) and .md (the table) into --out. A run that fails is recorded in the CSV with its exit status and left out of the table; $1 go to $BENCH_NAME-<UTC time>-failed/. On exit, also on Ctrl-C, it ends what it started in the machine (by pid), $2, and removes its work folder there (/tmp/vessel-bench.PID).
EOF
}

bench_vessel_java() {
  echo /opt/java/bin/java $jvm_options -jar "$W/vessel.jar"
}

bench_option() {
  bench_shift=2
  case "$1" in
    --runs|--out|--root|--jar|--commit|--build-dir|--run-timeout|--jvm-options)
      [ $# -ge 2 ] || die "$1 needs a value"
      bench_set "${1#--}" "$2" ;;
    --runs=*|--out=*|--root=*|--jar=*|--commit=*|--build-dir=*|--run-timeout=*|--jvm-options=*)
      bench_shift=1; local o=${1%%=*}; bench_set "${o#--}" "${1#*=}" ;;
    --keep-machine) bench_shift=1; keep_machine=1 ;;
    --fresh-machine) bench_shift=1; fresh_machine=1 ;;
    *) return 1 ;;
  esac
}

bench_set() {
  case "$1" in
    runs) runs=$2 ;;
    out) out=$2 ;;
    root) root=$2 ;;
    jar) jar=$2 ;;
    commit) commit_rev=$2 ;;
    build-dir) build_dir=$2 ;;
    run-timeout) run_timeout=$2 ;;
    jvm-options) [ "$BENCH_NAME" != boot ] || return 1; jvm_options=$2 ;;
  esac
}

bench_start() {
  case "$runs" in ''|*[!0-9]*|0) die "--runs must be a positive number" ;; esac
  case "$run_timeout" in ''|*[!0-9]*|0) die "--run-timeout must be a positive number of seconds" ;; esac
  [ -z "$jar" ] || [ -z "$commit_rev" ] || die "give --jar or --commit, not both"
  # Measured runs must not carry diagnostics the user's environment might set (`machine exec`
  # passes these on into the machine).
  unset VESSEL_TIMING VESSEL_DEBUG VESSEL_TRACE_IO VESSEL_STATS
  . "$top/scripts/find-java.sh"
  local java_home
  java_home=$(find_java25) || exit 1
  JAVA="$java_home/bin/java"
  local t
  for t in tar awk sort timeout; do command -v "$t" >/dev/null || die "$t not found"; done

  tmp=$(mktemp -d "${TMPDIR:-/tmp}/vessel-bench.XXXXXX")
  trap bench_cleanup EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  bench_jar

  # The host side of `vessel`, as users run it.
  V=("$JAVA" --enable-native-access=ALL-UNNAMED -jar "$jar")
  [ -z "$root" ] || V+=(--root "$root")
  stamp=$(date -u +%Y%m%dT%H%M%SZ)
  mkdir -p "$out"
  out=$(readlink -f "$out")
  W="/tmp/vessel-bench.$$"          # work folder inside the machine (its /tmp is a tmpfs)
  bench_machine
}

# Every command that needs the machine is bounded: a hung machine ends the benchmark with a message.
vessel() { timeout --foreground -k 15 "$run_timeout" "${V[@]}" "$@"; }
mexec() { vessel machine exec -- "$@"; }
hung() { # STATUS WHAT: dies with a clear message if STATUS is timeout's
  [ "$1" != 124 ] && [ "$1" != 137 ] && return 0
  die "$2 did not finish within $run_timeout s: the helper machine is hung or badly overloaded (its console log is in the machine folder that \`vessel machine status\` names; other QEMU processes on this host: $(pgrep -c qemu-system || echo 0))"; }

# Waits until the measured jar has its start-up cache in the machine (bench/lib/aot-cache.sh).
. "$top/bench/lib/aot-cache.sh"
bench_await_cache() {
  local sha st=0
  sha=$(jar_sha16 "$jar")
  mexec sh -c "$aot_cache_wait_script" sh "$sha" </dev/null || st=$?
  case $st in
    0) ;;
    2) die "the machine has no start-up cache for this jar and is not making one: its training run failed (try \`vessel machine exec -- /opt/java/bin/java -jar JAR vm warm-up\` to see why)" ;;
    *) hung "$st" "waiting for the start-up cache"; die "the start-up cache for this jar was not made within 400 s" ;;
  esac
}

bench_jar() {
  if [ -n "$jar" ]; then
    version="jar $(basename "$jar")"
  elif [ -n "$commit_rev" ]; then
    local sha
    sha=$(git -C "$top" rev-parse --verify "$commit_rev^{commit}") || die "$commit_rev: no such commit"
    say "building Vessel ${sha:0:7} (git archive) into $build_dir"
    mkdir -p "$tmp/src"
    git -C "$top" archive "$sha" | tar -x -C "$tmp/src"
    (cd "$tmp/src" && ./mvnw -q -B package -DskipTests -Dvessel.buildDir="$build_dir") >&2 || die "build failed"
    jar="$build_dir/vessel.jar"
    version="commit ${sha:0:7}"
  else
    say "building Vessel (working tree) into $build_dir"
    (cd "$top" && ./mvnw -q -B package -DskipTests -Dvessel.buildDir="$build_dir") >&2 || die "build failed"
    jar="$build_dir/vessel.jar"
    version="working tree at $(git -C "$top" rev-parse --short HEAD 2>/dev/null || echo unknown)"
    if git -C "$top" status --porcelain --untracked-files=no 2>/dev/null | grep -q .; then
      version="$version (with uncommitted changes)"
    fi
  fi
  [ -f "$jar" ] || die "$jar: no such jar"
  jar=$(readlink -f "$jar")
}

bench_machine() {
  machine_origin="reused a machine that was already running (started earlier, maybe by another Vessel build)"
  if vessel machine status </dev/null >/dev/null 2>&1; then
    if [ "$fresh_machine" = 1 ]; then
      say "restarting the helper machine with this jar (--fresh-machine)"
      vessel machine stop </dev/null >&2 || die "could not stop the running helper machine"
      vessel machine start </dev/null >&2 \
        || die "the helper machine cannot start (see above); this benchmark needs it"
      machine_origin="restarted by this run with the measured jar"
    else
      say "helper machine already running; reusing it"
    fi
  else
    say "starting the helper machine"
    vessel machine start </dev/null >&2 \
      || die "the helper machine cannot start (see above); this benchmark needs it"
    started_machine=1
    machine_origin="started by this run with the measured jar"
  fi
}

bench_cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  # Only in a machine that still runs: `machine exec` would start a new one.
  if [ "$machine_ready" = 1 ] && timeout -k 5 60 "${V[@]}" machine status </dev/null >/dev/null 2>&1; then
    timeout -k 5 60 "${V[@]}" machine exec -- \
      sh -c 'if [ -f "$1/common.sh" ]; then . "$1/common.sh"; bench_cleanup "$1"; fi; rm -rf "$1"' sh "$W" \
      </dev/null >/dev/null 2>&1 || say "warning: could not clean $W in the machine"
  fi
  if [ "$started_machine" = 1 ] && [ "$keep_machine" = 0 ]; then
    say "stopping the helper machine (this script started it)"
    timeout -k 5 120 "${V[@]}" machine stop </dev/null >/dev/null 2>&1 || say "warning: could not stop the helper machine"
  fi
  [ -z "$tmp" ] || rm -rf "$tmp"
  exit "$rc"
}

bench_send() {
  local dir=$1 remote
  cp "$top/bench/lib/machine-runner.sh" "$dir/common.sh"
  say "sending $(du -sh "$dir" | cut -f1) into the machine"
  tar -C "$dir" -cf "$tmp/bundle.tar" .
  remote=$(vessel machine cp "$tmp/bundle.tar" </dev/null) || die "could not send files into the machine"
  machine_ready=1
  # The tar is only a carrier: unpack it into the work folder and drop it from the machine's file store.
  mexec sh -c 'set -e; mkdir -p "$1"; tar -xf "$2" -C "$1"; rm -rf "${2%/*}"' sh "$W" "$remote" </dev/null \
    || die "could not unpack the files in the machine"
  rm -f "$tmp/bundle.tar"
}

bench_kernel() {
  local line
  line=$(vessel kernel </dev/null) || die "\`vessel kernel\` failed"
  case "$line" in
    "no default kernel"*)
      say "no kernel cached in the state root: \`vessel kernel fetch\`"
      vessel kernel fetch </dev/null >&2 || die "could not fetch the default kernel"
      line=$(vessel kernel </dev/null) || die "\`vessel kernel\` failed" ;;
  esac
  KERNEL=${line##* }
  KERNEL_NAME=${line%% *}
  KERNEL_PACKAGE=$(awk '{ print $2, $3 }' <<<"$line")
  KERNEL_MODULES=$(dirname "$KERNEL")/modules
  [ -f "$KERNEL" ] || die "the cached kernel $KERNEL is missing"
  [ -d "$KERNEL_MODULES" ] || die "the cached kernel has no modules folder ($KERNEL_MODULES)"
}

bench_initramfs() {
  local target=$1 init=$2 m f stage
  shift 2
  command -v cpio >/dev/null || die "cpio not found: apt-get install cpio"
  local busybox
  busybox=$(command -v busybox || true)
  case "$([ -n "$busybox" ] && ldd "$busybox" 2>&1)" in
    *"not a dynamic"*) ;;
    *) die "a static busybox is needed for the guest: apt-get install busybox-static" ;;
  esac
  stage=$(mktemp -d "$tmp/initramfs.XXXXXX")
  mkdir -p "$stage/bin" "$stage/dev" "$stage/proc" "$stage/sys" "$stage/tmp" "$stage/lib/modules"
  cp "$busybox" "$stage/bin/busybox"
  ln -s busybox "$stage/bin/sh"
  cp "$init" "$stage/init"
  chmod 755 "$stage/init"
  for m in "$@"; do
    f=$(find "$KERNEL_MODULES" \( -name "$m.ko" -o -name "${m//_/-}.ko" \) -print -quit)
    [ -n "$f" ] || die "module $m.ko not found under $KERNEL_MODULES (compressed modules are not supported)"
    cp "$f" "$stage/lib/modules/$m.ko"
    echo "$m" >> "$stage/lib/modules/load-order"
  done
  # No /dev/console node (making one needs root): the init mounts devtmpfs and opens it itself.
  (cd "$stage" && find . | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet) > "$target" || die "cpio failed"
  rm -rf "$stage"
}

bench_stats() {
  sort -g | awk '{ a[NR] = $1 } END { if (NR == 0) { print "NA NA NA"; exit }
    m = (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2; print m, a[1], a[NR] }'
}

bench_shown() { # ARG...: one line, arguments with spaces in single quotes (for the reports)
  local a line=
  for a in "$@"; do
    case "$a" in *[[:space:]]*) a="'$a'" ;; '') a="''" ;; esac
    line="$line${line:+ }$a"
  done
  printf '%s\n' "$line"
}

bench_host_line() {
  echo "$(sed -n 's/^model name[^:]*: //p' /proc/cpuinfo | head -n 1), $(nproc) cores, $(awk '/^MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)${QEMU_VERSION:+; $QEMU_VERSION}"
}
