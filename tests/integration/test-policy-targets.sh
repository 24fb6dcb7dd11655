#!/usr/bin/env bash
# Policy targets by a server's host name and LAN address (issue 19, R1.1),
# as libvirt and the guest agent report them. The test guest boots with a
# virtio NIC, its host name and address set from the kernel command line,
# and QEMU's guest agent (render-test-domain.sh GUEST_AGENT=1). Checked:
#   - Nova's server show gives the agent's addresses and host name;
#   - a policy naming the guest by its short host name, and one naming it
#     by its address, each snapshot the guest's disk when run (quiesced
#     through the same agent), and a show of the policy gives the server's
#     uuid, VM type, host name and addresses beside its target;
#   - a host name or address no server reports is a run in error saying
#     so, never a silent success; bad ones are 400s;
#   - the snapshot a host-name run made reverts to exactly its records.
source "$(dirname "$0")/lib.sh"
need_guest
need curl

name=strata-targets-$$
disk=$T/var/disks/guest.qcow2
console=$T/console.log
host=strata-db1.example.test
addr=192.168.77.15
GUEST_AGENT=1 boot_guest "$name" "$disk" 256M "guest.hostname=$host guest.ip=$addr/24"
uuid=$(virsh domuuid "$name")   # (no pipe: head's early exit would fail it)
uuid=${uuid//[$'\n ']/}
start_stratad
vol=$(manage_disk "$disk" guest)
# The agent answers once the guest has started it: waited for, however
# slow the guest is.
for _ in $(seq 1200); do
  [[ $(virsh domhostname "$name" --source agent 2>/dev/null) == "$host" ]] && break
  sleep 0.1
done
[[ $(virsh domhostname "$name" --source agent 2>/dev/null) == "$host" ]] ||
  fail "the guest agent never reported host name $host"
pass "guest $uuid booted with agent, host name $host, address $addr; disk adopted ($vol)"

api GET "/v2.1/servers/$uuid" "" -H "OpenStack-API-Version: compute 2.3"
expect_code 200 "server show"
# (The IPv6 address the guest takes from QEMU's router advertisement comes
# some seconds after boot: only the IPv4 ones are compared.)
[[ $(jget '[(k, a["addr"]) for k, n in j["server"]["addresses"].items() for a in n if a["version"] == 4]') == "[('eth0', '$addr')]" ]] ||
  fail "server show: addresses $(jget 'j["server"]["addresses"]')"
[[ $(jget 'j["server"]["OS-EXT-SRV-ATTR:hostname"]') == "$host" ]] ||
  fail "server show: hostname $(jget 'j["server"].get("OS-EXT-SRV-ATTR:hostname")')"
pass "server show: addresses {eth0: [$addr]}, hostname $host (from the agent)"

api POST /v3/os-snapshot-policies '{"policy":{"schedule":"daily","targets":{"servers":[{"host_name":"db_1"}]}}}'
expect_code 400 "a host name with an underscore"
grep -q "targets.servers.host_name" <<<"$BODY" || fail "the fault does not name the field: $BODY"
api POST /v3/os-snapshot-policies '{"policy":{"schedule":"daily","targets":{"servers":[{"address":"192.168.77.300"}]}}}'
expect_code 400 "a bad address"
api POST /v3/os-snapshot-policies '{"policy":{"schedule":"daily","targets":{"servers":[{"server":"'"$name"'","address":"'"$addr"'"}]}}}'
expect_code 400 "a server named twice over"
pass "bad host names and addresses are 400s naming the field"

# run_policy TARGET_JSON: creates a policy (daily: it runs only when asked)
# with that server target, runs it and waits for the run to end; sets POLICY_ID
# and RUN (the run's JSON).
run_policy() {
  api POST /v3/os-snapshot-policies '{"policy":{"name":"targets","schedule":"daily","targets":{"servers":['"$1"']}}}'
  expect_code 200 "policy create ($1)"
  POLICY_ID=$(jget 'j["policy"]["id"]')
  api POST "/v3/os-snapshot-policies/$POLICY_ID/action" '{"os-run":{}}'
  expect_code 202 "os-run ($1)"
  for _ in $(seq 1200); do
    api GET "/v3/os-snapshot-policies/$POLICY_ID/runs"
    [[ $(jget 'j["runs"][0]["status"]') != running ]] && break
    sleep 0.1
  done
  RUN=$(jget 'json.dumps(j["runs"][0])')
}
rget() { python3 -c 'import json,sys; r=json.loads(sys.argv[2]); print(eval(sys.argv[1]))' "$1" "$RUN"; }

run_policy '{"host_name":"strata-db1","disks":"system"}'
[[ $(rget 'r["status"]') == success ]] || fail "run by host name: $RUN"
[[ $(rget '[s["volume_id"] for s in r["snapshots"]]') == "['$vol']" ]] ||
  fail "run by host name snapshotted other volumes: $RUN"
snap_host=$(rget 'r["snapshots"][0]["snapshot_id"]')
wait_snapshot "$snap_host" available 120
recs_after=$(last_rec)
api GET "/v3/os-snapshot-policies/$POLICY_ID"
expect_code 200 "policy show"
s='j["policy"]["servers"][0]'
[[ $(jget "$s[\"id\"]") == "$uuid" ]] || fail "policy show: resolved server: $BODY"
[[ $(jget "$s[\"target\"]") == "{'disks': 'system', 'host_name': 'strata-db1'}" ]] ||
  fail "policy show: target $(jget "$s[\"target\"]")"
[[ $(jget "($s[\"vm_type\"], $s[\"host_name\"], $s[\"host_name_source\"], $s[\"status\"])") == \
   "('qemu', '$host', 'agent', 'ACTIVE')" ]] || fail "policy show: $(jget "$s")"
[[ $(jget "[(a['interface'], a['addr'], a['prefix']) for a in $s['addresses'] if a['version'] == 4]") == \
   "[('eth0', '$addr', 24)]" ]] || fail "policy show: addresses $(jget "$s['addresses']")"
pass "a policy naming host name strata-db1 snapshotted $vol ($snap_host); its show gives server $uuid, qemu, $host, $addr (agent)"

run_policy '{"address":"'"$addr"'"}'
[[ $(rget 'r["status"]') == success ]] || fail "run by address: $RUN"
[[ $(rget '[s["volume_id"] for s in r["snapshots"]]') == "['$vol']" ]] ||
  fail "run by address snapshotted other volumes: $RUN"
wait_snapshot "$(rget 'r["snapshots"][0]["snapshot_id"]')" available 120
pass "a policy naming address $addr snapshotted $vol"

run_policy '{"host_name":"strata-db2"}'
[[ $(rget 'r["status"]') == error ]] || fail "a run for a host name nobody has: $RUN"
grep -q "no running server of the project reports host name strata-db2" <<<"$(rget 'r["error"]')" ||
  fail "the run's error does not say why: $RUN"
api GET "/v3/os-snapshot-policies/$POLICY_ID"
grep -q "no running server" <<<"$(jget 'j["policy"]["servers"][0]["error"]')" ||
  fail "policy show of an unresolved target: $BODY"
run_policy '{"address":"192.168.77.16"}'
[[ $(rget 'r["status"]') == error ]] || fail "a run for an address nobody has: $RUN"
pass "a host name or address no server reports: the run is in error, saying so"

# The quiesced snapshot by host name holds exactly the records before it.
virsh -q destroy "$name"
revert "$vol" "$snap_host"
result=$(verify_disk "$disk" 20)
last=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["last"])' "$result")
((last <= recs_after)) || fail "snapshot $snap_host holds record $last, after $recs_after"
pass "revert to $snap_host: records 1..$last exactly, none torn"
