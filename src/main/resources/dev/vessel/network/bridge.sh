#!/bin/sh
# Vessel's bridge networks on the host where the VMs run (dev.vessel.network.BridgeScript runs it,
# as root, on this host or in the helper machine):
#
#   ensure ID BRIDGE SUBNET GATEWAY/PREFIX MODE   the bridge up with the gateway address, its rules in
#                                                 place, its resolver running with the names on stdin
#   remove ID BRIDGE SUBNET GATEWAY/PREFIX MODE   its rules and resolver gone, and the bridge if Vessel made it
#   names  ID BRIDGE SUBNET GATEWAY/PREFIX MODE   the running resolver's names replaced by stdin (after a
#                                                 container left); nothing when no resolver runs
#
# ID is the network's 12-digit short id; MODE is nat (the subnet's traffic leaves masqueraded),
# routed (it leaves as it is) or internal (nothing passes between the bridge and anything else).
# Both verbs are idempotent: the helper machine forgets everything when it restarts, so the
# caller ensures a network again before each use.
#
# The rules live in Vessel's table "ip vessel", in two base chains per network, so that removing a
# network deletes its own chains and touches nothing else:
#   nat_ID (nat, postrouting)  the subnet's traffic leaving through another interface is masqueraded
#   fwd_ID (filter, forward)   the bridge's traffic may leave (unless internal); traffic into the
#                              bridge from elsewhere passes only as replies (other networks' containers
#                              and other hosts cannot open connections to this network's containers)
# The table goes when its last chain does. A base chain's accept is its own only: a drop by another
# firewall on the same hook still wins.
#
# Each network has a resolver: dnsmasq on the gateway address (port 53 of the bridge only). It
# answers the names of the network's containers from /run/vessel/dns/ID.hosts (what ensure reads on
# stdin, in hosts-file form; dnsmasq re-reads it on SIGHUP) and forwards every other name to this
# host's resolvers (/etc/resolv.conf). Containers find it as their nameserver.
#
# A bridge Vessel makes carries the interface alias "vessel network ID"; only such a bridge is ever
# deleted. An existing bridge of the name (a user's, given with -o com.docker.network.bridge.name) is
# used as it is and only loses the gateway address on remove; an interface of the name that is no
# bridge is refused, and left alone.
#
# The arguments were checked by the caller; they are checked again before any reaches a command.
set -eu
die() { echo "vessel-network: $*" >&2; exit 1; }
[ $# -eq 6 ] || die "usage: ensure|remove|names ID BRIDGE SUBNET GATEWAY/PREFIX nat|routed|internal"
verb=$1 id=$2 br=$3 subnet=$4 gw=$5 mode=$6
case "$verb" in ensure|remove|names) ;; *) die "unknown verb: $verb" ;; esac
case "$id" in ''|*[!0-9a-f]*) die "bad network id: $id" ;; esac
[ ${#id} -eq 12 ] || die "bad network id: $id"
case "$br" in ''|[.-]*|*[!A-Za-z0-9_.-]*) die "bad bridge name: $br" ;; esac
[ ${#br} -le 15 ] || die "bad bridge name: $br"
for a in "$subnet" "$gw"; do
  case "$a" in
    *[!0-9./]*|*/*/*|*/|/*|*..*|.*) die "bad address: $a" ;;
    *.*.*.*/*) ;;
    *) die "bad address: $a" ;;
  esac
done
case "$mode" in nat|routed|internal) ;; *) die "bad mode: $mode" ;; esac

# busybox's sh runs its own ip applet for the bare name: iproute2's by path where it is.
IP=ip
for p in /usr/sbin/ip /sbin/ip; do if [ -x "$p" ]; then IP=$p; break; fi; done
NFT=nft
for p in /usr/sbin/nft /sbin/nft; do if [ -x "$p" ]; then NFT=$p; break; fi; done
DNSMASQ=dnsmasq
for p in /usr/sbin/dnsmasq /sbin/dnsmasq; do if [ -x "$p" ]; then DNSMASQ=$p; break; fi; done
dns=/run/vessel/dns
pidfile=$dns/$id.pid

# The pid of the network's resolver, if it runs (a pid file of a process that is not dnsmasq is stale).
resolver() {
  [ -f "$pidfile" ] || return 1
  p=$(cat "$pidfile")
  case "$p" in ''|*[!0-9]*) return 1 ;; esac
  [ "$(cat /proc/$p/comm 2>/dev/null)" = dnsmasq ] || return 1
  echo "$p"
}
owner="vessel network $id"
sys=/sys/class/net/$br

# The chains of Vessel's table, one name a line (none if there is no table).
chains() {
  $NFT list table ip vessel 2>/dev/null | sed -n 's/^[[:space:]]*chain \([A-Za-z0-9_]*\) {$/\1/p'
}

# The names a resolver answers, from stdin; dnsmasq re-reads them on SIGHUP.
write_names() {
  mkdir -p "$dns"
  cat > "$dns/$id.hosts.tmp"
  mv -f "$dns/$id.hosts.tmp" "$dns/$id.hosts"
}

if [ "$verb" = names ]; then
  if p=$(resolver); then
    write_names
    kill -HUP "$p"
  fi
  exit 0
fi

if [ "$verb" = ensure ]; then
  if [ ! -e "$sys" ]; then
    $IP link add name "$br" type bridge
    $IP link set dev "$br" alias "$owner"
  fi
  [ -d "$sys/bridge" ] || die "$br exists and is not a bridge"
  $IP addr replace "$gw" dev "$br"
  $IP link set dev "$br" up
  if [ "$mode" != internal ] && [ "$(cat /proc/sys/net/ipv4/ip_forward)" != 1 ]; then
    echo 1 > /proc/sys/net/ipv4/ip_forward
  fi
  # One batch: nft applies it whole or not at all; flush makes a re-run rewrite the chain's rules.
  {
    echo "add table ip vessel"
    echo "add chain ip vessel nat_$id { type nat hook postrouting priority 100; policy accept; }"
    echo "flush chain ip vessel nat_$id"
    if [ "$mode" = nat ]; then
      echo "add rule ip vessel nat_$id ip saddr $subnet oifname != \"$br\" masquerade"
    fi
    echo "add chain ip vessel fwd_$id { type filter hook forward priority 0; policy accept; }"
    echo "flush chain ip vessel fwd_$id"
    if [ "$mode" = internal ]; then
      echo "add rule ip vessel fwd_$id iifname \"$br\" oifname != \"$br\" drop"
    else
      echo "add rule ip vessel fwd_$id iifname \"$br\" oifname != \"$br\" accept"
      echo "add rule ip vessel fwd_$id oifname \"$br\" ct state established,related accept"
    fi
    echo "add rule ip vessel fwd_$id oifname \"$br\" iifname != \"$br\" drop"
  } | $NFT -f -
  write_names
  if p=$(resolver); then
    kill -HUP "$p"
  else
    upstream=--no-resolv
    grep -qs '^nameserver' /etc/resolv.conf && upstream=--resolv-file=/etc/resolv.conf
    # Bound to the gateway address alone (not the loopback): another resolver on this host, or
    # another network's, keeps its own port 53.
    $DNSMASQ --conf-file=/dev/null --pid-file="$pidfile" --bind-interfaces --listen-address="${gw%/*}" --no-hosts --addn-hosts="$dns/$id.hosts" "$upstream" \
      --user=nobody --cache-size=0 --no-negcache --domain-needed \
      || die "cannot start the resolver of network $id (dnsmasq)"
  fi
else
  if p=$(resolver); then
    kill "$p"
  fi
  rm -f "$pidfile" "$dns/$id.hosts" "$dns/$id.hosts.tmp"
  batch=
  for c in $(chains); do
    if [ "$c" = "nat_$id" ] || [ "$c" = "fwd_$id" ]; then
      batch="${batch}flush chain ip vessel $c
delete chain ip vessel $c
"
    fi
  done
  if [ -n "$batch" ]; then
    printf '%s' "$batch" | $NFT -f -
  fi
  if $NFT list table ip vessel >/dev/null 2>&1 && [ -z "$(chains)" ]; then
    $NFT delete table ip vessel
  fi
  if [ -e "$sys" ]; then
    if [ "$(cat "$sys/ifalias" 2>/dev/null)" = "$owner" ]; then
      $IP link del dev "$br"
    elif [ -d "$sys/bridge" ]; then
      # Only from a bridge: ensure refuses any other interface before adding the address, so an
      # address on one is not ours (it may be the host's own).
      $IP addr del "$gw" dev "$br" 2>/dev/null || true
    fi
  fi
fi
