# Shared by the benchmarks (bench/*.sh): the host's QEMU, made runnable inside Vessel's helper
# machine. Source this file, then call the functions. Needs: ldd, awk, readlink.
#
#   qemu_bundle_find            sets QEMU (resolved path), QEMU_VERSION, QEMU_BIOS (bios-microvm.bin);
#                               returns 1 with a message on stderr if something is missing
#   qemu_bundle_make DIR        copies into DIR: bin/qemu-system-x86_64, lib/<every library ldd lists,
#                               under the name QEMU asks for>, share/qemu/bios-microvm.bin
#   qemu_bundle_run_prefix W    prints how to run it once DIR is unpacked at W in the machine:
#                               "LD_LIBRARY_PATH=W/lib W/bin/qemu-system-x86_64 -L W/share/qemu"
#
# In the machine, the dynamic loader is the host's own (copied in by Vessel's machine image), so
# the host's libraries load through LD_LIBRARY_PATH. -M microvm loads only bios-microvm.bin.

qemu_bundle_find() {
  QEMU=$(command -v qemu-system-x86_64 || true)
  if [ -z "$QEMU" ]; then
    echo "qemu-system-x86_64 not found: apt-get install qemu-system-x86" >&2
    return 1
  fi
  QEMU=$(readlink -f "$QEMU")
  QEMU_VERSION=$("$QEMU" --version | head -n 1)
  QEMU_BIOS=
  local d
  while IFS= read -r d; do
    [ -f "$d/bios-microvm.bin" ] && { QEMU_BIOS=$(readlink -f "$d/bios-microvm.bin"); break; }
  done < <("$QEMU" -L help 2>/dev/null; echo /usr/share/qemu)
  if [ -z "$QEMU_BIOS" ]; then
    echo "bios-microvm.bin (the firmware -M microvm loads) not found in QEMU's data folders" >&2
    return 1
  fi
  local missing
  missing=$(ldd "$QEMU" | awk '/not found/ {print $1}')
  if [ -n "$missing" ]; then
    echo "QEMU's shared libraries are missing on this host: $missing" >&2
    return 1
  fi
}

qemu_bundle_make() {
  local dir=$1
  mkdir -p "$dir/bin" "$dir/lib" "$dir/share/qemu"
  cp "$QEMU" "$dir/bin/qemu-system-x86_64"
  cp "$QEMU_BIOS" "$dir/share/qemu/bios-microvm.bin"
  ldd "$QEMU" | awk '$2 == "=>" && $3 ~ /^\// {print $1, $3}' | while read -r name path; do
    cp -L "$path" "$dir/lib/$name"
  done
}

qemu_bundle_run_prefix() {
  printf 'LD_LIBRARY_PATH=%s/lib %s/bin/qemu-system-x86_64 -L %s/share/qemu' "$1" "$1" "$1"
}
