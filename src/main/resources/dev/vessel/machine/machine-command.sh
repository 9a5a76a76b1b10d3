# Runs Vessel in the helper machine (busybox sh). MachineCommandScript builds the command line:
#
#   sh -c SCRIPT vessel-machine MODE SCRIPT NOW JAVA JAR SHA SOCKETS AGENT RUN AOT CLAIM_STALE TRAINING_TIMEOUT -- ARGS...
#
#   MODE              run: run Vessel with ARGS; train: make the start-up cache (started by run, detached)
#   SCRIPT            this script, so that run can start train in a shell of its own
#   NOW               the host's time, seconds since the epoch
#   JAVA              the java command: the binary and the JVM options, split at spaces
#   JAR, SHA          Vessel's jar in the machine, and a short hash of it (names its cache and standbys)
#   SOCKETS           the standby sockets of this jar, one per slot, split at spaces
#   AGENT             vessel-agent, whose --vmm-client hands a command to a standby
#   RUN               the folder of the standby sockets, pid files, slot claims and training locks
#   AOT               the folder of the start-up caches
#   CLAIM_STALE       minutes after which a slot claim is stale (its starter died)
#   TRAINING_TIMEOUT  seconds a cache training may take
#
# Fast path: a standby VMM of this jar (`vm standby`), started earlier and warmed up, takes the
# command with this session's stdio through `vessel-agent --vmm-client`, which passes INT, TERM
# and HUP on to it and exits with the VM's status (the shell ignores those signals meanwhile and
# waits for it). The client exits 200 at once when no standby takes the command (none there, or one
# that cannot run it as a fresh process would).
#
# Cold path: a fresh JVM, with an ahead-of-time cache of the VMM's loaded and linked classes when
# this jar has one (under emulation it halves the JVM's start-up). For each standby slot with no
# live standby, it also starts one for the next command.
#
# A jar's first command in the machine finds no cache: it runs without one, and starts the cache's
# training (`vm warm-up`, which boots a minimal guest) in the background, at low priority and
# bounded in time, one per jar at a time; the standbys start when it ends. The training never
# delays the command that found it missing, and one that gets stuck under the emulation
# (docs/helper-machine.md) only leaves that jar without a cache until the next try.
#
# Background work is detached (its own session, stdio on /dev/null, so this session's output does
# not wait for it) and runs without the diagnostic VESSEL_* variables. `setsid setsid` puts it in
# the background without `&`, which would start it with SIGINT ignored (and a JVM keeps it so): the
# first setsid leads a new session, so the second forks, returns at once, and its child starts
# another session.

if [ $# -lt 13 ] || [ "${13}" != -- ]; then
  echo "vessel: $0: expected MODE and 11 parameters, then --" >&2
  exit 125
fi
mode=$1 self=$2 now=$3 java=$4 jar=$5 sha=$6 sockets=$7 agent=$8 run=$9 aot_dir=${10}
claim_stale=${11} training_timeout=${12}
shift 13
aot=$aot_dir/$sha.aot
training=$run/aot-$sha.training
cached_java="$java -XX:AOTCache=$aot -Xlog:aot=off"

# A standby for each slot that has none: not while one is alive (busybox's kill takes an empty pid
# for 0: its own group) or one is starting (its claim, StandbySlot.claimOf: made here with mkdir,
# which one starter wins; the standby removes it when ready or gone), nor when an old machine's
# agent has no client mode.
start_standbys() {
  for sock in $sockets; do
    p=$(cat ${sock%.sock}.pid 2>/dev/null); case "$p" in ''|*[!0-9]*) p=none ;; esac
    c=${sock%.sock}.starting
    find $run -maxdepth 1 -name ${c##*/} -mmin +$claim_stale -exec rmdir {} \; 2>/dev/null
    if [ -f $aot ] && ! kill -0 "$p" 2>/dev/null && grep -q vmm-client $agent && mkdir $c 2>/dev/null; then
      setsid setsid sh -c 'renice 19 -p $$ >/dev/null 2>&1; exec env -u VESSEL_TIMING -u VESSEL_DEBUG -u VESSEL_TRACE_IO "$@"' \
        sh $cached_java -jar $jar vm standby --socket $sock </dev/null >/dev/null 2>&1
    fi
  done
}

# The training: the cache lands under its name only when complete (rename). Other builds' caches
# (~14 MiB each) would pile up on the machine's disk: a new build drops those untouched for two
# weeks (one in use again is simply rebuilt).
if [ "$mode" = train ]; then
  renice 19 -p $$ >/dev/null 2>&1
  mkdir -p $aot_dir
  timeout $training_timeout env -u VESSEL_TIMING -u VESSEL_DEBUG -u VESSEL_TRACE_IO \
    $java -XX:AOTCacheOutput=$aot.$$ -Xlog:aot=off -jar $jar vm warm-up >/dev/null 2>&1 && mv $aot.$$ $aot
  rm -f $aot.$$ $aot.$$.config
  find $aot_dir -type f ! -name $sha.aot -mtime +14 -exec rm -f {} \; 2>/dev/null
  rmdir $training
  start_standbys
  exit 0
fi

# The machine's clock drifts under software emulation, and VMs take their date from it.
date -u -s "@$now" >/dev/null
for sock in $sockets; do
  [ -S $sock ] || continue
  trap '' INT TERM HUP
  $agent --vmm-client $sock -- "$@"
  st=$?
  [ $st -eq 200 ] || exit $st
  trap - INT TERM HUP
done
mkdir -p $run
if [ -f $aot ]; then
  start_standbys
  exec $cached_java -jar $jar "$@"
fi
# A training whose shell was killed leaves its lock: older than the timeout, it is stale.
find $run -maxdepth 1 -name ${training##*/} -mmin +$((training_timeout / 60 + 1)) -exec rmdir {} \; 2>/dev/null
if mkdir $training 2>/dev/null; then
  echo 'vessel: first run of this build in the helper machine: its start-up cache is made in the background' >&2
  setsid setsid sh -c "$self" vessel-machine train "$self" "$now" "$java" "$jar" "$sha" "$sockets" "$agent" "$run" \
    "$aot_dir" "$claim_stale" "$training_timeout" -- </dev/null >/dev/null 2>&1
fi
exec $java -jar $jar "$@"
