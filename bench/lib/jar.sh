# The Java 25 JDK and the Vessel jar a host-side benchmark runs: sets java_home, and jar unless
# --jar gave one (then the working tree is built into ${TMPDIR:-/tmp}/vessel-bench-NAME).
# Needs $top, die and say; usage: bench_jar NAME.
bench_jar() {
  . "$top/scripts/find-java.sh"
  java_home=$(find_java25) || exit 1
  if [ -z "$jar" ]; then
    jar="${TMPDIR:-/tmp}/vessel-bench-$1/vessel.jar"
    say "building the working tree"
    (cd "$top" && ./mvnw -q -B package -DskipTests -Dvessel.buildDir="$(dirname "$jar")") >&2 || die "build failed"
  fi
  [ -f "$jar" ] || die "$jar: no such jar"
}
