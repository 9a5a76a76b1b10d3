# Sourced by ./vessel, ./mvnw and the CI script: locates a Java 25 JDK.
# find_java25 prints its home or explains on stderr what is missing.
find_java25() {
  for cand in "${VESSEL_JAVA_HOME:-}" "${JAVA_HOME:-}" /usr/lib/jvm/temurin-25-jdk-amd64 /usr/lib/jvm/java-25-openjdk-amd64 /usr/lib/jvm/jdk-25*; do
    [ -n "$cand" ] && [ -x "$cand/bin/java" ] && [ -x "$cand/bin/jlink" ] || continue
    ver=$("$cand/bin/java" -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java.specification.version = //p')
    case "$ver" in
      25|2[6-9]|[3-9][0-9]) echo "$cand"; return 0 ;;
    esac
  done
  echo "vessel: a Java 25 JDK is required (set JAVA_HOME to it; none found in /usr/lib/jvm)" >&2
  return 1
}
