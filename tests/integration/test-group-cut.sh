#!/usr/bin/env bash
# One host's part of a group snapshot driven from elsewhere (issue 22,
# R4.4): the hold/cut/release protocol of api/group_cuts.cc on the booted
# test guest, which writes its records to two disks in turn (recwriter's
# ring: vda's 1, vdb's 1, vda's 2, …, each durable before the next), so a
# consistent cut has vda's count a and vdb's count b with b <= a <= b + 1.
# - hold → the guest is paused and writes nothing; cut; release → it runs,
#   "held_through", and the group snapshot (listed on this host under the
#   driver's id) holds a consistent pair, read back through volumes made
#   from its member snapshots;
# - bad requests: 400/404/409 faults that hold nothing;
# - no cut before the deadline: the guest runs again at the deadline by
#   itself, the cut is refused (409), the group snapshot ends in error,
#   and the cut prepared before the hold is undone (no file left);
# - cut but no release before the deadline: the guest runs at the
#   deadline, the release reports not held through, the group snapshot is
#   error (its members kept);
# - abort while held: the guest runs, the phase is "aborted", nothing left;
# - stratad killed (-9) while holding: the hold guard resumes the guest at
#   the deadline though stratad stays down; the restart then ends the
#   group snapshot in error and the next cut is consistent.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/ring_lib.sh"
need_guest
need cinder qemu-img python3
console="$T/console.log"
start_stratad

C=(cinder --os-auth-type noauth --os-user-id admin --os-project-id admin
   --os-endpoint "$URL/v3" --os-volume-api-version 3.65)
VOLUME_API_VERSION=3.65

boot_ring_guest cutvm

state() { virsh domstate cutvm; }
# await_running WHEN [TENTHS]: the guest runs within TENTHS/10 s (10 s).
await_running() {
  for _ in $(seq 1 "${2:-100}"); do [[ $(state) == running ]] && return 0; sleep 0.1; done
  fail "the guest is $(state) $1"
}
# hold ID HOLD_MS: this host's hold of the server's disks.
hold() {
  api POST /v3/os-strata-group-cuts \
    "{\"group_cut\": {\"id\": \"$1\", \"group_id\": \"app\", \"name\": \"cut-$1\", \"servers\": [\"$uuid\"], \"hold_ms\": $2}}"
}
act() { api POST "/v3/os-strata-group-cuts/$1/action" "{\"$2\": {}}"; }
phase() { jget 'j["group_cut"]["phase"]'; }
# The group snapshot $1's members as new volumes (one created from each
# member snapshot): "vda-file vdb-file".
member_disks() {
  api GET "/v3/snapshots/detail"
  local sa sb xa xb
  sa=$(jget "[s['id'] for s in j['snapshots'] if s['group_snapshot_id'] == '$1' and s['volume_id'] == '$va'][0]")
  sb=$(jget "[s['id'] for s in j['snapshots'] if s['group_snapshot_id'] == '$1' and s['volume_id'] == '$vb'][0]")
  xa=$("${C[@]}" create --snapshot-id "$sa" --name "xa-$1" 1 | awk '$2=="id"{print $4}')
  xb=$("${C[@]}" create --snapshot-id "$sb" --name "xb-$1" 1 | awk '$2=="id"{print $4}')
  wait_volume "$xa" available
  wait_volume "$xb" available
  echo "$T/var/volumes/volume-$xa.qcow2 $T/var/volumes/volume-$xb.qcow2 $xa $xb"
}
new_id() { python3 -c 'import uuid; print(uuid.uuid4())'; }
# no_cut_left ID WHAT: a cut of group snapshot ID that was prepared but not
# made left nothing by the disks: no member's layer name (a second name of
# the running top), no temporary overlay of a cut, each disk one name.
no_cut_left() {
  api GET /v3/snapshots/detail
  local s f files
  files=$(ls -a "$T/var/disks")
  for s in $(jget "' '.join(s['id'] for s in j['snapshots'] if s['group_snapshot_id'] == '$1')"); do
    grep -q "snap-$s" <<<"$files" && fail "$2: member $s's layer name stayed: $files"
  done
  grep -q "strata-cut-" <<<"$files" && fail "$2: a cut's temporary overlay stayed: $files"
  for f in cutvm-a cutvm-b; do
    [[ $(stat -c %h "$T/var/disks/$f.qcow2") == 1 ]] ||
      fail "$2: $f.qcow2 has $(stat -c %h "$T/var/disks/$f.qcow2") names"
  done
  return 0
}

advances 20 cutvm

# 1. hold, cut, release: a consistent cut, the guest still while held.
for i in 1 2 3; do
  id=$(new_id)
  hold "$id" 10000
  expect_code 200 "hold $i"
  [[ $(phase) == held ]] || fail "hold $i: $BODY"
  [[ $(state) == paused ]] || fail "hold $i: the guest is $(state), not held"
  [[ $(jget 'j["group_cut"]["held_servers"]') == "['$uuid']" ]] || fail "hold $i: held servers: $BODY"
  n0=$(last_rec); sleep 0.5; n1=$(last_rec)
  ((n0 == n1)) || fail "hold $i: the guest wrote records $n0..$n1 while held"
  act "$id" cut
  expect_code 200 "cut $i"
  [[ $(phase) == cut ]] || fail "cut $i: $BODY"
  [[ $(state) == paused ]] || fail "cut $i: the guest ran before the release"
  act "$id" release
  expect_code 200 "release $i"
  [[ $(phase) == released && $(jget 'j["group_cut"]["held_through"]') == True ]] ||
    fail "release $i: $BODY"
  hold_ms=$(jget 'j["group_cut"]["hold_ms"]')
  [[ $(state) == running ]] || fail "release $i: the guest is $(state)"
  wait_status group_snapshot "$id" available 120
  api GET "/v3/snapshots/detail"
  [[ $(jget "len([s for s in j['snapshots'] if s['group_snapshot_id'] == '$id'])") == 2 ]] ||
    fail "group snapshot $id has not two members: $BODY"
  advances 10 cutvm
  read -r da db xa xb <<<"$(member_disks "$id")"
  read -r a b <<<"$(ring_counts "$da" "$db")"
  ring_consistent "$a" "$b" || fail "cut $i: vda holds $a records, vdb $b: not a cut the guest could leave"
  ((a + b >= 20)) || fail "cut $i holds only $((a + b)) records"
  echo "  cut $i: vda $a, vdb $b, held ${hold_ms} ms"
  api DELETE "/v3/volumes/$xa"; expect_code 202 "deleting volume $xa"
  api DELETE "/v3/volumes/$xb"; expect_code 202 "deleting volume $xb"
done
pass "hold, cut, release three times: the guest stood still while held, each cut consistent"

# 2. Bad requests: faults, nothing held.
api POST /v3/os-strata-group-cuts '{"group_cut": {"servers": ["'"$uuid"'"]}}'
expect_code 400 "a hold without id"
api POST /v3/os-strata-group-cuts '{"group_cut": {"id": "'"$(new_id)"'"}}'
expect_code 400 "a hold of nothing"
api POST /v3/os-strata-group-cuts '{"group_cut": {"id": "'"$(new_id)"'", "servers": ["'"$uuid"'"], "hold_ms": -1}}'
expect_code 400 "a negative hold_ms"
api POST /v3/os-strata-group-cuts '{"group_cut": {"id": "'"$(new_id)"'", "servers": ["'"$uuid"'"], "bogus": 1}}'
expect_code 400 "an unknown field"
api POST /v3/os-strata-group-cuts '{"group_cut": {"id": "'"$(new_id)"'", "servers": ["no-such-server"]}}'
expect_code 404 "a hold of an unknown server"
hold "$id" 1000
expect_code 409 "a hold under a group snapshot id that exists"
api POST "/v3/os-strata-group-cuts/$(new_id)/action" '{"cut": {}}'
expect_code 404 "a cut of an unknown hold"
api POST "/v3/os-strata-group-cuts/$id/action" '{"bogus": {}}'
expect_code 400 "an unknown action"
[[ $(state) == running ]] || fail "a refused request left the guest $(state)"
pass "bad requests are faults (400, 404, 409) and hold nothing"

# 3. No cut before the deadline: the guest runs again by itself.
id=$(new_id)
hold "$id" 1500
expect_code 200 "hold with a 1.5 s deadline"
await_running "10 s after its 1.5 s hold"
act "$id" cut
expect_code 409 "a cut after the deadline"
api GET "/v3/os-strata-group-cuts/$id"
[[ $(phase) == expired ]] || fail "the hold past its deadline: $BODY"
wait_status group_snapshot "$id" error 60
no_cut_left "$id" "no cut before the deadline"
advances 10 cutvm
pass "no cut before the deadline: the guest ran again by itself, the cut was refused (409), the group snapshot is error, the prepared cut undone"

# 4. Cut, but no release before the deadline.
id=$(new_id)
hold "$id" 3000
expect_code 200 "hold with a 3 s deadline"
act "$id" cut
expect_code 200 "cut within the deadline"
await_running "10 s after its 3 s hold"
act "$id" release
expect_code 200 "a release after the deadline"
[[ $(phase) == expired && $(jget 'j["group_cut"]["held_through"]') == False ]] ||
  fail "a release after the deadline: $BODY"
for _ in $(seq 1 600); do
  api GET "/v3/snapshots/detail"
  [[ $(jget "sorted(set(s['status'] for s in j['snapshots'] if s['group_snapshot_id'] == '$id'))") == "['available']" ]] && break
  sleep 0.1
done
api GET "/v3/group_snapshots/$id"
[[ $(jget 'j["group_snapshot"]["status"]') == error ]] || fail "a cut not held through: $BODY"
advances 10 cutvm
pass "released past the deadline: not held through, the group snapshot is error, its members kept"

# 5. Abort while held.
id=$(new_id)
hold "$id" 10000
expect_code 200 "hold before an abort"
act "$id" abort
expect_code 200 "abort"
[[ $(phase) == aborted ]] || fail "abort: $BODY"
[[ $(state) == running ]] || fail "after the abort the guest is $(state)"
wait_status group_snapshot "$id" error 60
no_cut_left "$id" "abort while held"
advances 10 cutvm
pass "abort while held: the guest runs, the group snapshot is error, the prepared cut undone"

# 6. kill -9 while holding: the guard keeps the deadline.
id=$(new_id)
hold "$id" 4000
expect_code 200 "hold before the kill"
held_at=$(date +%s.%N)
kill -9 "$PID"; wait "$PID" 2>/dev/null || true; PID=""
[[ $(state) == paused ]] || fail "after the kill the guest is $(state), not held"
await_running "15 s after a 4 s hold whose stratad was killed" 150
ran=$(python3 -c "import time; print(round(time.time() - $held_at, 1))")
advances 10 cutvm
start_stratad
C[8]="$URL/v3"
wait_status group_snapshot "$id" error 120
id=$(new_id)
hold "$id" 10000
expect_code 200 "hold after the restart"
act "$id" cut
expect_code 200 "cut after the restart"
act "$id" release
expect_code 200 "release after the restart"
wait_status group_snapshot "$id" available 120
read -r da db xa xb <<<"$(member_disks "$id")"
read -r a b <<<"$(ring_counts "$da" "$db")"
ring_consistent "$a" "$b" || fail "after the restart: vda $a, vdb $b"
pass "kill -9 while holding: the guard resumed the guest ${ran} s after the 4 s hold began, stratad down; after the restart the group snapshot is error, the next cut consistent (vda $a, vdb $b)"
