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
#   through the REST API; GROUP_CUTS=N for fewer by hand), each turned back
#   into disks on each host: every one a consistent cut across the hosts,
#   and the ring ran on after each. Each is deleted through host A, which
#   deletes every host's part.
# - The anchor, the three servers' snapshots taken one by one (each after 3
#   more requests): the same check finds the hole, so the check can fail.
# - Bad requests: a server on no host fails the group snapshot (error),
#   and nothing stays held.
# - Host B's link down: the group snapshot ends in error, the parts A and
#   C had stored are deleted, no guest is left held, and the ring runs on.
# It prints the ring's longest request (a guest held by a cut stalls one)
# and the coordinator's measured hold and skew.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/ring_lib.sh"
source "$(dirname "$0")/hosts_lib.sh"
need_guest
need ip openstack qemu-img python3
hosts_net ha hb hc
URL_A=$HOST_URL_ha
test_cleanup() { hosts_cleanup; }

host_start ha
host_start hb
host_start hc
for h in hc hb ha; do host_boot "$h"; done
console=$T/ha-console.log
uuid_a=$(virsh domuuid ha-vm) uuid_b=$(virsh domuuid hb-vm) uuid_c=$(virsh domuuid hc-vm)

host_api ha GET "/v2.1/servers/$uuid_b"
expect_code 404 "host A showing host B's server"
host_api hb GET "/v2.1/servers/$uuid_b"
expect_code 200 "host B showing its server"
ring_start "$T/ring/ha.sock" "$T/ring/hb.sock" "$T/ring/hc.sock"
pass "three hosts in their own namespaces ($HOST_ADDR_ha, $HOST_ADDR_hb, $HOST_ADDR_hc), each with its own guest; the ring across them runs ($(ring_field acked) requests)"

O=(openstack --os-auth-type none --os-endpoint "$URL_A/v3/admin"
   --os-volume-api-version 3.65)
VOLUME_API_VERSION=3.65
"${O[@]}" volume group type create app-type >/dev/null
"${O[@]}" volume group type set app-type \
  --property "os-strata:servers=$uuid_a,$uuid_b,$uuid_c" >/dev/null
g=$("${O[@]}" volume group create app-type __DEFAULT__ --name app -f value -c ID)

# check_cut I GROUP_SNAPSHOT: every host's part holds its records of one
# consistent cut across the ring; then the group snapshot is deleted (on
# host A, which deletes every host's part).
check_cut() {
  local counts=() h n
  for h in ha hb hc; do
    host_api "$h" GET "/v3/os-strata-group-cuts/$2"
    [[ $(jget 'j["group_cut"]["phase"]') == released && $(jget 'j["group_cut"]["held_through"]') == True ]] ||
      fail "$h's part of $2: $BODY"
    n=$(part_records "$h" "$2") || fail "group snapshot $1 on $h"
    counts+=("$n")
  done
  ring_consistent_n "${counts[@]}" ||
    fail "group snapshot $1: ha ${counts[0]}, hb ${counts[1]}, hc ${counts[2]} records: not a cut the ring could leave"
  echo "  group snapshot $1: ha ${counts[0]}, hb ${counts[1]}, hc ${counts[2]} (requests 1..$((counts[0] + counts[1] + counts[2])))"
  host_api ha DELETE "/v3/group_snapshots/$2"
  expect_code 202 "deleting group snapshot $1"
  for h in ha hb hc; do
    for _ in $(seq 1 300); do
      host_api "$h" GET "/v3/group_snapshots/$2"
      [[ $CODE == 404 ]] && break
      sleep 0.1
    done
    expect_code 404 "group snapshot $1 on $h after its delete"
    [[ -z $(part_snapshots "$h" "$2") ]] || fail "group snapshot $1 left snapshots on $h"
  done
}

for i in $(seq 1 "${GROUP_CUTS:-50}"); do
  if ((i <= 3)); then
    gs=$("${O[@]}" volume group snapshot create "$g" --name "cut$i" -f value -c ID)
  else
    host_api ha POST /v3/group_snapshots \
      "{\"group_snapshot\": {\"group_id\": \"$g\", \"name\": \"cut$i\"}}"
    expect_code 202 "group snapshot $i"
    gs=$(jget 'j["group_snapshot"]["id"]')
  fi
  URL=$URL_A wait_status group_snapshot "$gs" available 180
  for h in hb hc; do
    host_api "$h" GET "/v3/group_snapshots/$gs"
    [[ $(jget 'j["group_snapshot"]["status"]') == available ]] || fail "the part of $gs on $h: $BODY"
  done
  ring_advances 3
  check_cut "$i" "$gs"
done
line=$(grep -a "cut consistently" "$T/ha.log" | tail -1)
[[ -n $line ]] || fail "the coordinator logged no consistent cut"
pass "${GROUP_CUTS:-50} group snapshots of servers on three hosts while the ring ran (3 through the openstack CLI), each a consistent cut across the hosts, each deleted from every host through host A (the last: ${line#*cut consistently; })"

# The anchor: the three servers' snapshots one by one, each after 3 more
# requests of the ring.
counts=()
for h in ha hb hc; do
  v=$(vda_of "$h")
  s=$(URL=$(host_url "$h") snapshot "$v" "one-$h") || fail "a snapshot on $h"
  n=$(snapshot_records "$h" "$s") || fail "snapshot $s on $h"
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

# Host B unreachable: A and C hold, B's hold fails; the cut ends in error
# and A's and C's parts are deleted (A keeps its row: "error").
"${O[@]}" volume group type set app-type \
  --property "os-strata:servers=$uuid_a,$uuid_b,$uuid_c" >/dev/null
ip -n "shb$$" link set "vshb$$" down
gs=$("${O[@]}" volume group snapshot create "$g" --name down -f value -c ID)
URL=$URL_A wait_status group_snapshot "$gs" error 180
for h in ha hb hc; do
  [[ $(virsh domstate "$h-vm") == running ]] || fail "host B down left $h-vm $(virsh domstate "$h-vm")"
done
[[ -z $(part_snapshots ha "$gs") ]] || fail "the failed cut left snapshots on ha"
host_api hc GET "/v3/group_snapshots/$gs"
expect_code 404 "host C's part of the failed cut"
ip -n "shb$$" link set "vshb$$" up
ring_advances 3
"${O[@]}" volume group snapshot delete "$gs"
host_api ha GET "/v3/group_snapshots/$gs"
expect_code 404 "the failed group snapshot after its delete"
pass "host B unreachable: the group snapshot is error, its parts on A and C deleted, no guest left held, the ring runs on"

ring_stop
stats=$(ring_line)
[[ $stats == *state=stopped* ]] || fail "the ring driver: $stats"
pass "the ring: $stats (a request stalls while its guest is held)"
