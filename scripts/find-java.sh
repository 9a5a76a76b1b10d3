# Sourced by ./vessel, ./mvnw (POSIX sh) and the CI script: locates a Java 25 JDK.
# find_java25 prints its home or explains on stderr what is missing. It reads the JDK's `release`
# file instead of starting a JVM to ask its version: ./vessel runs this on every command, and a JVM
# start costs a second under emulation.
find_java25() {
  local cand ver line
  for cand in "${VESSEL_JAVA_HOME:-}" "${JAVA_HOME:-}" /usr/lib/jvm/temurin-25-jdk-amd64 /usr/lib/jvm/java-25-openjdk-amd64 /usr/lib/jvm/jdk-25*; do
    [ -n "$cand" ] && [ -x "$cand/bin/java" ] && [ -x "$cand/bin/jlink" ] || continue
    ver=
    if [ -r "$cand/release" ]; then
      while IFS= read -r line; do
        case "$line" in JAVA_VERSION=*) ver=${line#JAVA_VERSION=\"}; ver=${ver%%[.\"]*} ;; esac
      done < "$cand/release"
    else
      ver=$("$cand/bin/java" -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java.specification.version = //p')
    fi
    case "$ver" in
      25|2[6-9]|[3-9][0-9]) echo "$cand"; return 0 ;;
    esac
  done
  echo "vessel: a Java 25 JDK is required (set JAVA_HOME to it; none found in /usr/lib/jvm)" >&2
  return 1
}
