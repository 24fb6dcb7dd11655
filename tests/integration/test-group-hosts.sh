#!/usr/bin/env bash
# A group snapshot of servers on two hosts (issue 22, R4.3–R4.6): two
# stratads, each in its own network namespace with its own address
# (ip netns, a veth pair each on a bridge), its own state directory and its
# own guest ([hypervisor] domain_name_glob: they share this machine's
# libvirtd). They talk only through their APIs. Each guest is the ring
# guest (records to vda and vdb in turn), so each host's part of a cut
# holds b <= a <= b + 1 records.
# - The unmodified openstack CLI against host A: a group type whose spec
#   os-strata:servers names both servers, a group of it, group snapshots:
#   A resolves which host runs each server, holds both, cuts both, releases
#   both; the group snapshot is available on A once both hosts stored
#   their parts, and each host's part is a consistent cut of its guest.
# - Bad requests: a server on no host fails the group snapshot (error),
#   and nothing stays held.
# - Host B's link down: the group snapshot ends in error, and host A's
#   guest is not left held.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/ring_lib.sh"
need_guest
need ip openstack qemu-img python3
need_netns

net=$((RANDOM % 200 + 20))
ADDR_A=10.$net.7.1 ADDR_B=10.$net.7.2 ADDR_HOST=10.$net.7.254
make_bridge "st$$" "$ADDR_HOST"
make_netns_host "sa$$" "st$$" "$ADDR_A"
make_netns_host "sb$$" "st$$" "$ADDR_B"
HOST_PORT=8786  # each host has its own address
URL_A=http://$ADDR_A:$HOST_PORT URL_B=http://$ADDR_B:$HOST_PORT

# host_start NAME NETNS ADDR: stratad NAME in NETNS, state $T/NAME, its
# domains those named NAME-*; the hosts of group snapshots: both.
host_start() {
  mkdir -p "$T/$1/disks"
  chmod 711 "$T" "$T/$1" "$T/$1/disks"
  cat >"$T/$1.conf" <<EOF
[hypervisor]
domain_name_glob = $1-*
[groups]
hosts = $URL_A, $URL_B
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
  virsh -q destroy ha-vm >/dev/null 2>&1 || true
  virsh -q destroy hb-vm >/dev/null 2>&1 || true
  for p in "${PID_ha:-}" "${PID_hb:-}"; do
    [[ -n $p ]] && kill "$p" 2>/dev/null && wait "$p" 2>/dev/null
  done
  if [[ ${rc:-0} -ne 0 ]]; then
    for h in ha hb; do echo "--- $h's log ---"; tail -n 15 "$T/$h.log" 2>/dev/null; done
  fi
  drop_netns "sa$$" "sb$$" "st$$"
}

host_start ha "sa$$" "$ADDR_A"
host_start hb "sb$$" "$ADDR_B"

# Each host's ring guest.
qemu-img create -q -f qcow2 "$T/hb/disks/hb-vm-b.qcow2" 64M
console=$T/hb-console.log SECOND_DISK=$T/hb/disks/hb-vm-b.qcow2 \
  boot_guest hb-vm "$T/hb/disks/hb-vm-a.qcow2" 64M "recwriter.ring=1"
qemu-img create -q -f qcow2 "$T/ha/disks/ha-vm-b.qcow2" 64M
console=$T/ha-console.log
SECOND_DISK=$T/ha/disks/ha-vm-b.qcow2 \
  boot_guest ha-vm "$T/ha/disks/ha-vm-a.qcow2" 64M "recwriter.ring=1"
uuid_a=$(virsh domuuid ha-vm) uuid_b=$(virsh domuuid hb-vm)

host_api "$URL_A" GET "/v2.1/servers/$uuid_b"
expect_code 404 "host A showing host B's server"
host_api "$URL_B" GET "/v2.1/servers/$uuid_b"
expect_code 200 "host B showing its server"
pass "two hosts in their own namespaces ($ADDR_A, $ADDR_B), each with its own guest"

O=(openstack --os-auth-type none --os-endpoint "$URL_A/v3/admin"
   --os-volume-api-version 3.65)
VOLUME_API_VERSION=3.65
"${O[@]}" volume group type create app-type >/dev/null
"${O[@]}" volume group type set app-type \
  --property "os-strata:servers=$uuid_a,$uuid_b" >/dev/null
g=$("${O[@]}" volume group create app-type __DEFAULT__ --name app -f value -c ID)

# The volume ids of each host's guest disks, by name.
vols_of() {
  host_api "$1" GET /v3/volumes/detail
  jget '" ".join(v["id"] for v in sorted(j["volumes"], key=lambda v: v["name"]) if v["name"].startswith("'"$2"'-vd"))'
}
# part_counts HOST_URL GROUP_SNAPSHOT GUEST: that host's member snapshots
# of its guest's vda and vdb as new volumes; prints "a b".
part_counts() {
  local u=$1 gs=$2 name=$3 ids sa sb x y
  ids=$(vols_of "$u" "$name"); read -r va vb <<<"$ids"
  host_api "$u" GET "/v3/snapshots/detail?all_tenants=1"
  sa=$(jget "[s['id'] for s in j['snapshots'] if s['group_snapshot_id'] == '$gs' and s['volume_id'] == '$va'][0]")
  sb=$(jget "[s['id'] for s in j['snapshots'] if s['group_snapshot_id'] == '$gs' and s['volume_id'] == '$vb'][0]")
  local state_dir=$T/${name%-vm}
  host_api "$u" POST /v3/volumes "{\"volume\": {\"size\": 1, \"snapshot_id\": \"$sa\", \"name\": \"x-$sa\"}}"
  x=$(jget 'j["volume"]["id"]')
  host_api "$u" POST /v3/volumes "{\"volume\": {\"size\": 1, \"snapshot_id\": \"$sb\", \"name\": \"x-$sb\"}}"
  y=$(jget 'j["volume"]["id"]')
  URL=$u wait_volume "$x" available
  URL=$u wait_volume "$y" available
  ring_counts "$state_dir/volumes/volume-$x.qcow2" "$state_dir/volumes/volume-$y.qcow2"
}

for i in 1 2 3; do
  gs=$("${O[@]}" volume group snapshot create "$g" --name "cut$i" -f value -c ID)
  URL=$URL_A wait_status group_snapshot "$gs" available 180
  host_api "$URL_B" GET "/v3/group_snapshots/$gs"
  [[ $(jget 'j["group_snapshot"]["status"]') == available ]] || fail "host B's part of $gs: $BODY"
  for h in "$URL_A ha" "$URL_B hb"; do
    read -r u n <<<"$h"
    host_api "$u" GET "/v3/os-strata-group-cuts/$gs"
    [[ $(jget 'j["group_cut"]["phase"]') == released && $(jget 'j["group_cut"]["held_through"]') == True ]] ||
      fail "$n's part of $gs: $BODY"
    read -r a b <<<"$(part_counts "$u" "$gs" "$n-vm")"
    ring_consistent "$a" "$b" || fail "cut $i on $n: vda $a, vdb $b"
    echo "  cut $i on $n: vda $a, vdb $b"
  done
done
line=$(grep -a "cut consistently" "$T/ha.log" | tail -1)
[[ -n $line ]] || fail "the coordinator logged no consistent cut"
pass "three group snapshots of servers on two hosts through the openstack CLI, each host's part a consistent cut (${line#*cut consistently; })"

# A server on no host: error, nothing held.
"${O[@]}" volume group type set app-type \
  --property "os-strata:servers=$uuid_a,00000000-0000-4000-8000-000000000000" >/dev/null
gs=$("${O[@]}" volume group snapshot create "$g" --name nohost -f value -c ID)
URL=$URL_A wait_status group_snapshot "$gs" error 60
[[ $(virsh domstate ha-vm) == running ]] || fail "a failed resolve left ha-vm $(virsh domstate ha-vm)"
grep -aq "runs on none of the registered hosts" "$T/ha.log" || fail "the coordinator did not say why"
pass "a server on no registered host: the group snapshot is error, nothing held"

# Host B unreachable.
"${O[@]}" volume group type set app-type \
  --property "os-strata:servers=$uuid_a,$uuid_b" >/dev/null
ip -n "sb$$" link set "vsb$$" down
gs=$("${O[@]}" volume group snapshot create "$g" --name down -f value -c ID)
URL=$URL_A wait_status group_snapshot "$gs" error 120
[[ $(virsh domstate ha-vm) == running ]] || fail "host B down left ha-vm $(virsh domstate ha-vm)"
[[ $(virsh domstate hb-vm) == running ]] || fail "host B down left hb-vm $(virsh domstate hb-vm)"
ip -n "sb$$" link set "vsb$$" up
pass "host B unreachable: the group snapshot is error, no guest left held"
