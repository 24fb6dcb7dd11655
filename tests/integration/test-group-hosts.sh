#!/usr/bin/env bash
# Group snapshots of servers on three hosts (issue 22, R4.3–R4.6): three
# stratads, each in its own network namespace with its own address
# (ip netns, a veth pair each on a bridge), its own state directory and its
# own guest ([hypervisor] domain_name_glob: they share this machine's
# libvirtd). They talk only through their APIs.
# Consistency by construction of the workload: the ring across the hosts.
# Each guest writes a record only on request (recwriter.serve=1), and
# tests/tools/ring_driver.py sends request i to guest (i - 1) mod 3, i + 1
# only after i is durable on its guest's disk; so the three disks of any
# consistent cut hold n_a >= n_b >= n_c >= n_a - 1 records.
# - The unmodified openstack CLI against host A: a group type whose spec
#   os-strata:servers names the three servers, a group of it, group
#   snapshots: A resolves which host runs each server, holds all, cuts all,
#   releases all; the group snapshot is available on A once every host
#   stored its part.
# - 50 group snapshots while the ring runs (3 through the CLI, the rest
#   through the REST API), each turned back into disks on each host: every
#   one a consistent cut across the hosts, and the ring ran on after each.
# - The anchor, the three servers' snapshots taken one by one (each after 3
#   more requests): the same check finds the hole, so the check can fail.
# - Bad requests: a server on no host fails the group snapshot (error),
#   and nothing stays held.
# - Host B's link down: the group snapshot ends in error, no guest is left
#   held, and the ring runs on.
# It prints the ring's longest request (a guest held by a cut stalls one)
# and the coordinator's measured hold and skew.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/ring_lib.sh"
need_guest
need ip openstack qemu-img python3
need_netns

net=$((RANDOM % 200 + 20))
ADDR_A=10.$net.7.1 ADDR_B=10.$net.7.2 ADDR_C=10.$net.7.3 ADDR_HOST=10.$net.7.254
make_bridge "st$$" "$ADDR_HOST"
make_netns_host "sa$$" "st$$" "$ADDR_A"
make_netns_host "sb$$" "st$$" "$ADDR_B"
make_netns_host "sc$$" "st$$" "$ADDR_C"
HOST_PORT=8786  # each host has its own address
URL_A=http://$ADDR_A:$HOST_PORT URL_B=http://$ADDR_B:$HOST_PORT
URL_C=http://$ADDR_C:$HOST_PORT
HOSTS=("ha $URL_A" "hb $URL_B" "hc $URL_C")  # the ring's order

# host_start NAME NETNS ADDR: stratad NAME in NETNS, state $T/NAME, its
# domains those named NAME-*; the hosts of group snapshots: all three.
host_start() {
  mkdir -p "$T/$1/disks"
  chmod 711 "$T" "$T/$1" "$T/$1/disks"
  cat >"$T/$1.conf" <<EOF
[hypervisor]
domain_name_glob = $1-*
[groups]
hosts = $URL_A, $URL_B, $URL_C
hold_max_ms = 5000
EOF
  ip netns exec "$2" "$STRATAD" --listen "$3:$HOST_PORT" --state-dir "$T/$1" \
    --config "$T/$1.conf" >"$T/$1.out" 2>>"$T/$1.log" &
  eval "PID_$1=$!"
  for _ in $(seq 1 600); do
    grep -q ready "$T/$1.out" 2>/dev/null && return 0
    sleep 0.1
  done
  fail "stratad $1 did not become ready: $(tail -3 "$T/$1.log")"
}
# host_api HOST_URL METHOD PATH [JSON]: api against another host.
host_api() {
  local u=$1; shift
  URL=$u api "$@"
}
test_cleanup() {
  ring_stop
  for h in ha hb hc; do virsh -q destroy "$h-vm" >/dev/null 2>&1 || true; done
  for p in "${PID_ha:-}" "${PID_hb:-}" "${PID_hc:-}"; do
    [[ -n $p ]] && kill "$p" 2>/dev/null && wait "$p" 2>/dev/null
  done
  if [[ ${rc:-0} -ne 0 ]]; then
    for h in ha hb hc; do echo "--- $h's log ---"; tail -n 15 "$T/$h.log" 2>/dev/null; done
    echo "--- the ring driver ---"; cat "$T/ring.progress" "$T/ring.err" 2>/dev/null
  fi
  drop_netns "sa$$" "sb$$" "sc$$" "st$$"
}

host_start ha "sa$$" "$ADDR_A"
host_start hb "sb$$" "$ADDR_B"
host_start hc "sc$$" "$ADDR_C"

# Each host's guest, serving the ring's requests on its port (QEMU, as
# libvirt-qemu, makes the socket).
mkdir -p "$T/ring"
chmod 777 "$T/ring"
for h in hc hb ha; do
  console=$T/$h-console.log RING_SOCKET=$T/ring/$h.sock \
    boot_guest "$h-vm" "$T/$h/disks/$h-vm.qcow2" 64M "recwriter.serve=1 recwriter.print_every=1000"
done
console=$T/ha-console.log
uuid_a=$(virsh domuuid ha-vm) uuid_b=$(virsh domuuid hb-vm) uuid_c=$(virsh domuuid hc-vm)

host_api "$URL_A" GET "/v2.1/servers/$uuid_b"
expect_code 404 "host A showing host B's server"
host_api "$URL_B" GET "/v2.1/servers/$uuid_b"
expect_code 200 "host B showing its server"
ring_start "$T/ring/ha.sock" "$T/ring/hb.sock" "$T/ring/hc.sock"
pass "three hosts in their own namespaces ($ADDR_A, $ADDR_B, $ADDR_C), each with its own guest; the ring across them runs ($(ring_field acked) requests)"

O=(openstack --os-auth-type none --os-endpoint "$URL_A/v3/admin"
   --os-volume-api-version 3.65)
VOLUME_API_VERSION=3.65
"${O[@]}" volume group type create app-type >/dev/null
"${O[@]}" volume group type set app-type \
  --property "os-strata:servers=$uuid_a,$uuid_b,$uuid_c" >/dev/null
g=$("${O[@]}" volume group create app-type __DEFAULT__ --name app -f value -c ID)

# vda_of HOST_URL NAME: the volume id of that host's guest's disk.
vda_of() {
  host_api "$1" GET /v3/volumes/detail
  jget '[v["id"] for v in j["volumes"] if v["name"] == "'"$2"'-vm-vda"][0]'
}
# snapshot_records HOST_URL HOST SNAPSHOT: the records of that host's
# snapshot, turned back into a volume (deleted after).
snapshot_records() {
  local u=$1 h=$2 x n
  host_api "$u" POST /v3/volumes "{\"volume\": {\"size\": 1, \"snapshot_id\": \"$3\", \"name\": \"x-$3\"}}"
  expect_code 202 "a volume from snapshot $3 on $h"
  x=$(jget 'j["volume"]["id"]')
  URL=$u wait_volume "$x" available
  n=$(disk_records "$T/$h/volumes/volume-$x.qcow2")
  host_api "$u" DELETE "/v3/volumes/$x"
  expect_code 202 "deleting volume $x on $h"
  echo "$n"
}
# part_records HOST_URL HOST GROUP_SNAPSHOT: the records of that host's
# part of the group snapshot; its group cut must have held and released.
part_records() {
  local u=$1 h=$2 gs=$3 v s
  host_api "$u" GET "/v3/os-strata-group-cuts/$gs"
  [[ $(jget 'j["group_cut"]["phase"]') == released && $(jget 'j["group_cut"]["held_through"]') == True ]] ||
    fail "$h's part of $gs: $BODY"
  v=$(vda_of "$u" "$h")
  host_api "$u" GET "/v3/snapshots/detail?all_tenants=1"
  s=$(jget "[s['id'] for s in j['snapshots'] if s['group_snapshot_id'] == '$gs' and s['volume_id'] == '$v'][0]")
  snapshot_records "$u" "$h" "$s"
}
# check_cut I GROUP_SNAPSHOT: every host's part holds its records of one
# consistent cut across the ring.
check_cut() {
  local counts=() h u n
  for hu in "${HOSTS[@]}"; do
    read -r h u <<<"$hu"
    n=$(part_records "$u" "$h" "$2") || fail "group snapshot $1 on $h"
    counts+=("$n")
  done
  ring_consistent_n "${counts[@]}" ||
    fail "group snapshot $1: ha ${counts[0]}, hb ${counts[1]}, hc ${counts[2]} records: not a cut the ring could leave"
  echo "  group snapshot $1: ha ${counts[0]}, hb ${counts[1]}, hc ${counts[2]} (requests 1..$((counts[0] + counts[1] + counts[2])))"
  for hu in "${HOSTS[@]}"; do  # within the snapshot quota
    read -r h u <<<"$hu"
    host_api "$u" DELETE "/v3/group_snapshots/$2"
    expect_code 202 "deleting group snapshot $1 on $h"
  done
}

for i in $(seq 1 "${GROUP_CUTS:-50}"); do
  if ((i <= 3)); then
    gs=$("${O[@]}" volume group snapshot create "$g" --name "cut$i" -f value -c ID)
  else
    host_api "$URL_A" POST /v3/group_snapshots \
      "{\"group_snapshot\": {\"group_id\": \"$g\", \"name\": \"cut$i\"}}"
    expect_code 202 "group snapshot $i"
    gs=$(jget 'j["group_snapshot"]["id"]')
  fi
  URL=$URL_A wait_status group_snapshot "$gs" available 180
  for u in "$URL_B" "$URL_C"; do
    host_api "$u" GET "/v3/group_snapshots/$gs"
    [[ $(jget 'j["group_snapshot"]["status"]') == available ]] || fail "the part of $gs on $u: $BODY"
  done
  ring_advances 3
  check_cut "$i" "$gs"
done
line=$(grep -a "cut consistently" "$T/ha.log" | tail -1)
[[ -n $line ]] || fail "the coordinator logged no consistent cut"
pass "50 group snapshots of servers on three hosts while the ring ran (3 through the openstack CLI), each a consistent cut across the hosts (the last: ${line#*cut consistently; })"

# The anchor: the three servers' snapshots one by one, each after 3 more
# requests of the ring.
counts=()
for hu in "${HOSTS[@]}"; do
  read -r h u <<<"$hu"
  v=$(vda_of "$u" "$h")
  s=$(URL=$u snapshot "$v" "one-$h") || fail "a snapshot on $h"
  n=$(snapshot_records "$u" "$h" "$s") || fail "snapshot $s on $h"
  counts+=("$n")
  ring_advances 3
done
ring_consistent_n "${counts[@]}" &&
  fail "snapshots taken one by one passed the check (ha ${counts[0]}, hb ${counts[1]}, hc ${counts[2]})"
pass "the anchor, one server's snapshot after the other: ha ${counts[0]}, hb ${counts[1]}, hc ${counts[2]} records: the check finds the hole"

# A server on no host: error, nothing held.
"${O[@]}" volume group type set app-type \
  --property "os-strata:servers=$uuid_a,00000000-0000-4000-8000-000000000000" >/dev/null
gs=$("${O[@]}" volume group snapshot create "$g" --name nohost -f value -c ID)
URL=$URL_A wait_status group_snapshot "$gs" error 60
[[ $(virsh domstate ha-vm) == running ]] || fail "a failed resolve left ha-vm $(virsh domstate ha-vm)"
grep -aq "runs on none of the registered hosts" "$T/ha.log" || fail "the coordinator did not say why"
ring_advances 3
pass "a server on no registered host: the group snapshot is error, nothing held"

# Host B unreachable.
"${O[@]}" volume group type set app-type \
  --property "os-strata:servers=$uuid_a,$uuid_b,$uuid_c" >/dev/null
ip -n "sb$$" link set "vsb$$" down
gs=$("${O[@]}" volume group snapshot create "$g" --name down -f value -c ID)
URL=$URL_A wait_status group_snapshot "$gs" error 120
for h in ha hb hc; do
  [[ $(virsh domstate "$h-vm") == running ]] || fail "host B down left $h-vm $(virsh domstate "$h-vm")"
done
ip -n "sb$$" link set "vsb$$" up
ring_advances 3
pass "host B unreachable: the group snapshot is error, no guest left held, the ring runs on"

ring_stop
stats=$(ring_line)
[[ $stats == *state=stopped* ]] || fail "the ring driver: $stats"
pass "the ring: $stats (a request stalls while its guest is held)"
