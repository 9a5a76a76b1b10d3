# Sourced by the benchmarks that run Vessel in the helper machine. A new build's first command
# there runs without the JVM's start-up cache and starts making it in the background
# (machine-command.sh, see MachineCommandScript); measured runs are taken once it is there, as a
# user's later runs are.
#
# aot_cache_wait_script: an `sh -c` script for `vessel machine exec -- sh -c SCRIPT sh SHA16`. It
# exits 0 once the cache of the jar whose SHA-256 starts with SHA16 exists, 2 when there is none
# and none is being made (the training failed), 1 after 400 s.
aot_cache_wait_script='i=0; while [ $i -lt 400 ]; do [ -f "/var/lib/vessel/aot/$1.aot" ] && exit 0
  [ -d "/run/vessel/aot-$1.training" ] || exit 2; sleep 1; i=$((i + 1)); done; exit 1'

# The first 16 hex digits of the jar's SHA-256: how the machine names its cache and standbys.
jar_sha16() { sha256sum "$1" | cut -c1-16; }
