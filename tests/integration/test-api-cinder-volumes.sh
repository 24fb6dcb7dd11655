#!/usr/bin/env bash
# Cinder's volume API (issue 18, item 1) through the unmodified openstack and
# cinder CLIs (noauth), the data checked with qemu-io:
# - `openstack volume create --size 1` makes an empty disk in the volume
#   directory, `available`;
# - `volume create --snapshot` from the OLDER of two snapshots reads exactly
#   that snapshot's data (not the latest's, not the source's now), and the
#   source keeps its own; `volume create --source` copies the volume's data
#   now, at a larger size;
# - `volume set` (name, description, property, bootable, read-only), volume
#   metadata through cinder; `volume set --size` (extend) grows the disk,
#   and data written past the old end is snapshotted, merged and read back
#   after a revert;
# - `volume delete` of a volume with snapshots is a 400 and changes nothing;
#   `--purge` (cascade) removes the snapshots, their stored layers and the
#   disk's files; a clone outlives its deleted source;
# - crash points of each step (create.build, create.install, delete.begin,
#   extend.resize): after kill -9 at the step and a restart, each volume is
#   available (or, for a create killed before its install, in error with no
#   file left), its data intact.
source "$(dirname "$0")/lib.sh"
need openstack cinder qemu-img qemu-io curl python3
start_stratad

O=(openstack --os-auth-type none --os-endpoint "$URL/v3/admin"
   --os-volume-api-version 3.65)
C=(cinder --os-auth-type noauth --os-user-id admin --os-project-id admin
   --os-endpoint "$URL/v3" --os-volume-api-version 3.65)
voldir="$T/var/volumes"
file_of() { echo "$voldir/volume-$1.qcow2"; }
vsize() { qemu-img info --output=json "$1" | python3 -c 'import json,sys; print(json.load(sys.stdin)["virtual-size"])'; }

# Empty volume.
"${O[@]}" volume create --size 1 v1 -f value -c id >"$T/v1" ||
  fail "openstack volume create: $(cat "$T/v1")"
v1=$(cat "$T/v1")
wait_volume "$v1" available
f1=$(file_of "$v1")
[[ -f $f1 ]] || fail "no disk at $f1"
[[ $(vsize "$f1") == 1073741824 ]] ||
  fail "the new disk is not 1 GiB"
reads_pattern "$f1" 0 0 4M || fail "a new volume does not read as zeros"
pass "openstack volume create --size 1: an empty 1 GiB disk, available"

# Two snapshots; the volume moves on after them.
write_pattern "$f1" 0xa1 0 1M
s1=$("${O[@]}" volume snapshot create --volume v1 s1 -f value -c id)
wait_snapshot "$s1" available
write_pattern "$f1" 0xb2 1M 1M
s2=$("${O[@]}" volume snapshot create --volume v1 s2 -f value -c id)
wait_snapshot "$s2" available
write_pattern "$f1" 0xc3 0 2M

"${O[@]}" volume create --snapshot s1 v2 -f value -c id >"$T/v2" ||
  fail "volume create --snapshot: $(cat "$T/v2")"
v2=$(cat "$T/v2")
wait_volume "$v2" available
f2=$(file_of "$v2")
reads_pattern "$f2" 0xa1 0 1M || fail "v2 (from s1) lacks s1's data"
reads_pattern "$f2" 0 1M 1M || fail "v2 (from s1) holds s2's data"
reads_pattern "$f1" 0xc3 0 2M || fail "the source lost its own data"
api GET "/v3/volumes/$v2"
[[ $(jget 'j["volume"]["snapshot_id"]') == "$s1" ]] || fail "v2's snapshot_id: $BODY"
pass "volume create --snapshot of the older snapshot reads exactly it; the source keeps its own"

"${O[@]}" volume create --source v1 --size 2 v3 -f value -c id >"$T/v3" ||
  fail "volume create --source: $(cat "$T/v3")"
v3=$(cat "$T/v3")
wait_volume "$v3" available
f3=$(file_of "$v3")
reads_pattern "$f3" 0xc3 0 2M || fail "the clone lacks the source's data"
[[ $(vsize "$f3") == 2147483648 ]] ||
  fail "the clone is not 2 GiB"
write_pattern "$f3" 0xd4 0 1M
reads_pattern "$f1" 0xc3 0 2M || fail "a write to the clone reached the source"
pass "volume create --source --size 2: a 2 GiB copy, independent of its source"

# Names, metadata, flags.
"${O[@]}" volume set --name v2b --description "from s1" --property tier=gold v2
api GET "/v3/volumes/$v2"
[[ $(jget 'j["volume"]["name"]') == v2b && $(jget 'j["volume"]["description"]') == "from s1" &&
   $(jget 'j["volume"]["metadata"]["tier"]') == gold ]] || fail "volume set: $BODY"
"${C[@]}" metadata "$v2" set zone=b >/dev/null
"${C[@]}" metadata "$v2" unset tier >/dev/null
api GET "/v3/volumes/$v2/metadata"
[[ $(jget 'sorted(j["metadata"].items())') == "[('zone', 'b')]" ]] || fail "cinder metadata: $BODY"
"${O[@]}" volume set --bootable --read-only v2b
api GET "/v3/volumes/$v2"
[[ $(jget 'j["volume"]["bootable"]') == true && $(jget 'j["volume"]["metadata"]["readonly"]') == True ]] ||
  fail "bootable/readonly: $BODY"
pass "volume set name/description/property/bootable/read-only; cinder metadata set/unset"

# Extend, then data past the old end survives a snapshot, a merge and a revert.
small=$("${O[@]}" volume snapshot create --volume v2b small -f value -c id)
wait_snapshot "$small" available
"${O[@]}" volume set --size 2 v2b
wait_volume "$v2" available
# As Cinder: no revert to a snapshot from before the extend (400).
api POST "/v3/volumes/$v2/action" "{\"revert\":{\"snapshot_id\":\"$small\"}}" \
  -H "OpenStack-API-Version: volume 3.40"
expect_code 400 "revert to a snapshot smaller than the volume"
jget 'j["badRequest"]["message"]' | grep -q "size must be equal" || fail "revert to a smaller snapshot: $BODY"
api GET "/v3/volumes/$v2"
[[ $(jget 'j["volume"]["status"]') == available ]] || fail "after a refused revert: $BODY"
[[ $(vsize "$f2") == 2147483648 ]] ||
  fail "extend did not grow the disk"
write_pattern "$f2" 0xe5 1536M 1M
s3=$("${O[@]}" volume snapshot create --volume v2b s3 -f value -c id)
wait_snapshot "$s3" available
write_pattern "$f2" 0xf6 1536M 1M
s4=$("${O[@]}" volume snapshot create --volume v2b s4 -f value -c id)
wait_snapshot "$s4" available
"${C[@]}" revert-to-snapshot "$s3" >/dev/null
wait_volume "$v2" available
reads_pattern "$f2" 0xe5 1536M 1M || fail "after revert to s3: data past the old end lost"
reads_pattern "$f2" 0xa1 0 1M || fail "after revert to s3: s1's data lost"
api POST "/v3/volumes/$v2/action" '{"os-extend": {"new_size": 1}}'
expect_code 400 "extend to a smaller size"
pass "volume set --size 2 (extend): past the old end written, snapshotted, merged, reverted, read back; no revert to a snapshot from before it (400)"

# Delete: refused with snapshots; cascade removes everything.
code_before=$(sha256sum "$f1")
"${O[@]}" volume delete v1 >"$T/del.out" 2>&1 && fail "delete of a volume with snapshots succeeded"
grep -q "HTTP 400" "$T/del.out" || fail "delete with snapshots: $(cat "$T/del.out")"
[[ $(sha256sum "$f1") == "$code_before" ]] || fail "a refused delete changed the disk"
api GET "/v3/volumes/$v1"
[[ $(jget 'j["volume"]["status"]') == available ]] || fail "a refused delete changed the status: $BODY"
stored_of_v1() { find "$T/var/store" -path "*$v1*" -type f | wc -l; }
[[ $(stored_of_v1) -gt 0 ]] || fail "no stored layers of v1 in the local store: $(find "$T/var/store")"
"${O[@]}" volume delete --purge v1
for _ in $(seq 100); do api GET "/v3/volumes/$v1"; [[ $CODE == 404 ]] && break; sleep 0.1; done
expect_code 404 "volume deleted with --purge"
api GET "/v3/snapshots/$s1"
expect_code 404 "the deleted volume's snapshot"
[[ ! -e $f1 ]] || fail "the deleted volume's disk is still there"
left=$(find "$voldir" -name "*volume-$v1*" | wc -l)
[[ $left == 0 ]] || fail "files of the deleted volume left: $(ls -a "$voldir")"
[[ $(stored_of_v1) == 0 ]] || fail "stored layers of the deleted volume left: $(find "$T/var/store" -path "*$v1*")"
reads_pattern "$f3" 0xd4 0 1M && reads_pattern "$f3" 0xc3 1M 1M ||
  fail "the clone lost data when its source went"
"${C[@]}" delete --cascade "$v3" >/dev/null
for _ in $(seq 100); do api GET "/v3/volumes/$v3"; [[ $CODE == 404 ]] && break; sleep 0.1; done
expect_code 404 "cinder delete --cascade"
pass "delete with snapshots → 400, nothing changed; --purge / --cascade remove snapshots, layers and files"

# An admin's force delete takes a volume in any status (here "creating",
# as os-reset_status left it), where a plain delete is refused; a retype
# moves a volume to another type (nothing to migrate).
fx=$("${O[@]}" volume create --size 1 fx -f value -c id)
wait_volume "$fx" available
"${C[@]}" retype "$fx" gold >"$T/retype.out" 2>&1 && fail "retype to a missing type: $(cat "$T/retype.out")"
api POST /v3/types '{"volume_type": {"name": "gold"}}'
expect_code 200 "type gold"
"${C[@]}" retype "$fx" gold >/dev/null
api GET "/v3/volumes/$fx"
[[ $(jget 'j["volume"]["volume_type"]') == gold ]] || fail "retype: $BODY"
api POST "/v3/volumes/$fx/action" '{"os-reset_status": {"status": "creating"}}'
expect_code 202 "reset to creating"
api DELETE "/v3/volumes/$fx"
expect_code 400 "plain delete of a creating volume"
[[ -e $(file_of "$fx") ]] || fail "a refused delete removed the disk"
"${C[@]}" force-delete "$fx" >/dev/null
for _ in $(seq 100); do api GET "/v3/volumes/$fx"; [[ $CODE == 404 ]] && break; sleep 0.1; done
expect_code 404 "cinder force-delete of a creating volume"
[[ ! -e $(file_of "$fx") ]] || fail "force delete left the disk"
pass "cinder retype; force-delete of a volume in creating (a plain delete is 400)"

# Transfer: the owner offers a volume, another project accepts it with the
# key and gets it with its snapshots; a wrong key changes nothing; a
# withdrawn offer gives the volume back.
tx=$("${O[@]}" volume create --size 1 tx -f value -c id)
wait_volume "$tx" available
write_pattern "$(file_of "$tx")" 0x71 0 1M
stx=$("${O[@]}" volume snapshot create --volume tx stx -f value -c id)
wait_snapshot "$stx" available
"${C[@]}" transfer-create --name t1 "$tx" >"$T/tx.out" || fail "transfer-create: $(cat "$T/tx.out")"
tid=$(awk '$2=="id"{print $4}' "$T/tx.out")
key=$(awk '$2=="auth_key"{print $4}' "$T/tx.out")
[[ -n $tid && -n $key ]] || fail "transfer-create printed no id or key: $(cat "$T/tx.out")"
api GET "/v3/volumes/$tx"
[[ $(jget 'j["volume"]["status"]') == awaiting-transfer ]] || fail "offered volume: $BODY"
api DELETE "/v3/volumes/$tx"
expect_code 400 "delete of a volume awaiting transfer"
B=(cinder --os-auth-type noauth --os-user-id bob --os-project-id beta
   --os-endpoint "$URL/v3" --os-volume-api-version 3.65)
"${B[@]}" transfer-accept "$tid" wrongkey0000000 >"$T/acc.out" 2>&1 && fail "accepted with a wrong key"
grep -q "HTTP 400" "$T/acc.out" || fail "wrong key: $(cat "$T/acc.out")"
TOKEN=bob:beta api GET "/v3/volumes/$tx"
expect_code 404 "beta sees the volume before accepting"
"${B[@]}" transfer-accept "$tid" "$key" >/dev/null || fail "transfer-accept"
TOKEN=bob:beta api GET "/v3/volumes/$tx"
expect_code 200 "beta's volume after the accept"
[[ $(jget 'j["volume"]["status"]') == available ]] || fail "accepted volume: $BODY"
TOKEN=bob:beta api GET "/v3/snapshots/$stx"
expect_code 200 "the snapshot went with the volume"
TOKEN=alice:admin api GET "/v3/volumes/$tx"
expect_code 404 "the old project no longer sees the volume"
api GET "/v3/os-volume-transfer/$tid"
expect_code 404 "an accepted offer is gone"
reads_pattern "$(file_of "$tx")" 0x71 0 1M || fail "the transferred volume's data"
TOKEN=bob:beta api POST /v3/os-volume-transfer "{\"transfer\": {\"volume_id\": \"$tx\"}}"
expect_code 202 "beta offers it on"
t2=$(jget 'j["transfer"]["id"]')
TOKEN=bob:beta api DELETE "/v3/os-volume-transfer/$t2"
expect_code 202 "offer withdrawn"
TOKEN=bob:beta api GET "/v3/volumes/$tx"
[[ $(jget 'j["volume"]["status"]') == available ]] || fail "withdrawn offer: $BODY"
pass "cinder transfer-create / transfer-accept (wrong key 400) / withdraw; snapshots go with the volume"

# Bad input: 4xx with a message, nothing made.
n_before=$(ls "$voldir" | wc -l)
for body in '{"volume": {"size": 0}}' '{"volume": {"size": "x"}}' '{"volume": {}}' \
            '{"volume": {"size": 1, "snapshot_id": "nope"}}' '{"volume": {"size": 1, "imageRef": "x"}}'; do
  api POST /v3/volumes "$body"
  [[ $CODE == 400 || $CODE == 404 ]] || fail "$body → HTTP $CODE"
  jget 'list(j.values())[0]["message"]' >/dev/null || fail "$body: no fault message: $BODY"
done
api POST /v3/volumes "{\"volume\": {\"size\": 1, \"snapshot_id\": \"$s3\"}}"
expect_code 400 "a volume smaller than its snapshot"
[[ $(ls "$voldir" | wc -l) == "$n_before" ]] || fail "bad creates left files"
pass "bad creates → 400/404 with a message, no file made"

# Crash at each step, restart, reconcile.
crash_step() { # STEP MAKES-A-REQUEST...
  local step=$1; shift
  stop_stratad
  STRATA_CRASH_AT=$step start_stratad
  "$@"
  wait_crash "$step"
  start_stratad
}
# The task may crash before the 202 is sent: the volume is found by name.
crash_step create.build api POST /v3/volumes '{"volume": {"size": 1, "name": "cb"}}'
api GET "/v3/volumes?name=cb"
cb=$(jget 'j["volumes"][0]["id"]')
wait_volume "$cb" error
[[ ! -e $(file_of "$cb") ]] || fail "create.build crash: a disk was left"
[[ -z $(find "$voldir" -name ".volume-$cb*") ]] || fail "create.build crash: temporaries left"
crash_step create.install api POST /v3/volumes "{\"volume\": {\"size\": 2, \"snapshot_id\": \"$s3\", \"name\": \"ci\"}}"
api GET "/v3/volumes?name=ci"
ci=$(jget 'j["volumes"][0]["id"]')
api GET "/v3/volumes/$ci"
st=$(jget 'j["volume"]["status"]')
[[ $st == error || $st == available ]] || fail "create.install crash: status $st"
[[ $st == error ]] && [[ -e $(file_of "$ci") ]] && fail "create.install crash: error with a disk"
pass "kill at create.build → error, nothing left; at create.install → $st"
crash_step extend.resize api POST "/v3/volumes/$v2/action" '{"os-extend": {"new_size": 3}}'
wait_volume "$v2" available
[[ $(vsize "$f2") == 3221225472 ]] ||
  fail "extend.resize crash: the disk was not extended at restart"
reads_pattern "$f2" 0xe5 1536M 1M || fail "extend.resize crash: data lost"
pass "kill at extend.resize → the restart finishes the extend, data intact"
crash_step delete.begin api DELETE "/v3/volumes/$v2?cascade=true"
for _ in $(seq 100); do api GET "/v3/volumes/$v2"; [[ $CODE == 404 ]] && break; sleep 0.1; done
expect_code 404 "delete.begin crash: the restart finishes the delete"
[[ ! -e $f2 ]] || fail "delete.begin crash: the disk is left"
pass "kill at delete.begin → the restart finishes the delete"
