#!/usr/bin/env bash
# shellcheck disable=SC2034  # the groups' arrays are read through namerefs
# The Debian packages Vessel needs, in groups, and ensure_packages, which installs the missing ones.
# Sourced by ./vessel (run), ./test and .ci/run (run, test) and ./mvnw when it bootstraps Maven
# (maven). Run, it prints the groups' packages: scripts/packages.sh run test

# run: what running Vessel needs (./vessel).
vessel_packages_run=(
  busybox-static   # /bin/busybox: the built-in busybox image, the guests' initramfs
  e2fsprogs        # mkfs.ext4, debugfs: image, container and helper-machine disks
  gcc              # compiles vessel-agent, the static in-guest init (src/main/c/agent)
  libc6-dev        # the static C library vessel-agent links
  make             # the build runs vessel-agent's Makefile
)
# machine: part of run where the CPU has no VMX/SVM or there is no /dev/kvm, as on these build
# machines: VMs then run inside the helper machine (docs/helper-machine.md).
vessel_packages_machine=(
  qemu-system-x86  # qemu-system-x86_64 emulates the helper machine
  iproute2         # ip: the machine's bridges and TAPs for container networks (its tools disk)
  nftables         # nft: the machine's NAT for container networks
  dnsmasq-base     # dnsmasq: the machine's DNS for container names (the program alone, no service)
)
# test: what ./test needs besides run.
vessel_packages_test=(
  acpica-tools     # iasl: IaslDisassemblyTest disassembles the ACPI tables
  qemu-utils       # qemu-io, qemu-nbd: NbdTest checks the NBD server and client against QEMU's
  docker-registry  # the real registry the pull tests start on 127.0.0.1
  skopeo           # pushes the pull tests' images to it
  umoci            # builds the pull tests' images
  procps           # kill(1), which StandbyClientTest signals a process with
  docker-compose   # ComposeIT brings a project up through the Engine API
)
# maven: what ./mvnw needs once, to fetch and unpack the Maven it pins.
vessel_packages_maven=(
  maven            # the system's mvn fetches the pinned Maven's distribution
  unzip            # unpacks it
)

# The checkout, for the stamp in target/; without a process, since ./vessel sources this file on
# every command.
if [[ ${BASH_SOURCE[0]} == */* ]]; then _vessel_packages_top=${BASH_SOURCE[0]%/*}/..; else _vessel_packages_top=..; fi

# Whether VMs run on the host's KVM directly; the same test as dev.vessel.host.HostCapabilities.
# Pure bash: ./vessel runs this on every command.
_vessel_packages_hardware_virt() {
  local line
  local -a head
  [[ -e /dev/kvm && -r /proc/cpuinfo ]] || return 1
  # The first CPU's block has its flags line (line 20 or so); mapfile reads it in a few calls.
  mapfile -t -n 40 head </proc/cpuinfo
  for line in "${head[@]}"; do
    case $line in
      flags*) line=" ${line#*:} "; [[ $line == *" vmx "* || $line == *" svm "* ]]; return ;;
    esac
  done
  return 1
}

# vessel_packages OUT OUT_GROUP GROUP...: the packages of the groups into array OUT, each once, in
# order, and into associative array OUT_GROUP (declared by the caller) the group of each.
vessel_packages() {
  local -n _out=$1 _group_of=$2
  shift 2
  _out=() _group_of=()
  local group part p
  local -a parts
  for group in "$@"; do
    case $group in
      run) if _vessel_packages_hardware_virt; then parts=(run); else parts=(run machine); fi ;;
      test | maven) parts=("$group") ;;
      *) echo "vessel: unknown package group '$group' (run, test, maven)" >&2; return 2 ;;
    esac
    for part in "${parts[@]}"; do
      local -n _list=vessel_packages_$part
      for p in "${_list[@]}"; do
        # shellcheck disable=SC2004  # an associative array, through a nameref
        [[ -n ${_group_of[$p]:-} ]] || { _out+=("$p"); _group_of[$p]=$part; }
      done
      unset -n _list
    done
  done
}

# ensure_packages GROUP...: installs the groups' Debian packages that are missing (as root), or
# says in one line which are missing and how to install them and returns 1. A stamp under target/
# keeps repeated calls cheap: it holds the list found installed and is valid while dpkg's status
# file is older than it, so the common case costs no process at all.
ensure_packages() {
  local -a want
  local -A want_group
  vessel_packages want want_group "$@" || return
  local key groups
  key="$HOSTNAME ${want[*]}"
  printf -v groups '%s-' "$@"
  local stamp="$_vessel_packages_top/target/packages-${groups%-}.ok" seen=
  if [[ -r $stamp ]]; then
    read -r seen <"$stamp" || true
    [[ $seen == "$key" && $stamp -nt /var/lib/dpkg/status ]] && return 0
  fi

  if ! command -v dpkg-query >/dev/null; then
    # Not Debian: nothing to check with; say once what to look for.
    echo "vessel: not a Debian system; Vessel needs the equivalents of these Debian packages: ${want[*]}" >&2
    _vessel_packages_stamp "$stamp" "$key"
    return 0
  fi
  local -a missing
  _vessel_packages_missing missing "${want[@]}"
  if ((${#missing[@]} == 0)); then
    _vessel_packages_stamp "$stamp" "$key"
    return 0
  fi

  local why='' p
  local -A needed_by=()
  for p in "${missing[@]}"; do needed_by[${want_group[$p]}]=1; done
  [[ -z ${needed_by[run]:-}${needed_by[machine]:-} ]] || why+=" and to run Vessel"
  [[ -z ${needed_by[test]:-} ]] || why+=" and for the tests"
  [[ -z ${needed_by[maven]:-} ]] || why+=" and for ./mvnw to fetch Maven"
  why=${why# and }
  if ! command -v apt-get >/dev/null; then
    echo "vessel: missing packages (${why}): ${missing[*]}; install them, or your system's equivalents" >&2
    return 1
  fi
  if ((EUID != 0)); then
    echo "vessel: missing Debian packages (${why}): ${missing[*]}; install them as root: apt-get install ${missing[*]}" >&2
    return 1
  fi

  echo "vessel: installing ${missing[*]} (first use: needed ${why})" >&2
  local log
  log=$(mktemp "${TMPDIR:-/tmp}/vessel-apt.XXXXXX") || return 1
  local -a apt=(apt-get -q -y -o DPkg::Lock::Timeout=600)
  local -a install=("${apt[@]}" --no-install-recommends install "${missing[@]}")
  # Package lists: fetched only when there are none, or when the install fails with the ones
  # there are (stale lists name versions the archive no longer has).
  if ! compgen -G '/var/lib/apt/lists/*_Packages*' >/dev/null; then
    "${apt[@]}" update >>"$log" 2>&1
  fi
  if ! DEBIAN_FRONTEND=noninteractive "${install[@]}" >>"$log" 2>&1 &&
    ! { "${apt[@]}" update && DEBIAN_FRONTEND=noninteractive "${install[@]}"; } >>"$log" 2>&1; then
    tail -n 15 "$log" >&2
    echo "vessel: could not install ${missing[*]} (apt-get's log: $log)" >&2
    return 1
  fi
  _vessel_packages_missing missing "${want[@]}"
  if ((${#missing[@]} > 0)); then
    echo "vessel: apt-get ran but ${missing[*]} still not installed (apt-get's log: $log)" >&2
    return 1
  fi
  rm -f "$log"
  _vessel_packages_stamp "$stamp" "$key"
}

# _vessel_packages_missing OUT PACKAGE...: those of the packages dpkg does not have installed, into
# array OUT, with one dpkg-query call.
_vessel_packages_missing() {
  local -n _missing=$1
  shift
  local -A installed=()
  local status name p
  while read -r status name; do
    [[ $status == ii ]] && installed[$name]=1
  done < <(dpkg-query -W -f='${db:Status-Abbrev} ${Package}\n' "$@" 2>/dev/null)
  _missing=()
  for p in "$@"; do
    [[ -n ${installed[$p]:-} ]] || _missing+=("$p")
  done
}

# _vessel_packages_stamp FILE KEY: records KEY as found installed. Quietly nothing where FILE's
# folder is absent (target/ before the first build: not made here, where root would own it) or
# cannot be written (another user's checkout).
_vessel_packages_stamp() {
  [[ -d ${1%/*} ]] || return 0
  { printf '%s\n' "$2" >"$1"; } 2>/dev/null || true
}

# Run rather than sourced: print the packages of the groups given.
if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
  set -eu
  declare -a list
  declare -A list_group
  vessel_packages list list_group "${@:-run}"
  printf '%s\n' "${list[*]}"
fi
