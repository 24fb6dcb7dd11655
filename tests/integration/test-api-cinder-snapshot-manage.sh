#!/usr/bin/env bash
# Cinder's snapshot unmanage and manage-existing (issue 18) with the
# unmodified cinder CLI, the data checked with qemu-io:
# - `cinder snapshot-unmanage`: the snapshot leaves every view (404, not
#   listed), but its stored layer stays, even with nothing building on it
#   (a revert to the snapshot before it), through a later snapshot and a
#   restart;
# - `cinder snapshot-manage --id-type source-id VOLUME ID` brings it back
#   under its id, with the new name, description and metadata; a volume
#   created from it holds exactly its data;
# - refused with a message, nothing changed: another project's unmanage
#   (404), a member's manage (403), a
#   reference of another kind or to a managed snapshot (400), a snapshot
#   of another volume (400), an unknown volume (404).
source "$(dirname "$0")/lib.sh"
need cinder qemu-img qemu-io python3
start_stratad

C=(cinder --os-auth-type noauth --os-user-id admin --os-project-id admin
   --os-endpoint "$URL/v3" --os-volume-api-version 3.65)
file_of() { echo "$T/var/volumes/volume-$1.qcow2"; }
objects() { find "$T/var/store" -type f | sort; }

v=$("${C[@]}" create --name v 1 | awk '$2=="id"{print $4}')
w=$("${C[@]}" create --name w 1 | awk '$2=="id"{print $4}')
wait_volume "$v" available
wait_volume "$w" available
write_pattern "$(file_of "$v")" 0x5a 0 1M
s0=$(snapshot "$v" s0)
write_pattern "$(file_of "$v")" 0x6b 0 1M
s1=$(snapshot "$v" s1)

TOKEN=alice:alpha api POST "/v3/alpha/snapshots/$s1/action" '{"os-unmanage": {}}'
expect_code 404 "another project unmanaging the snapshot"
"${C[@]}" snapshot-unmanage "$s1"
api GET "/v3/snapshots/$s1"
expect_code 404 "the unmanaged snapshot"
api GET "/v3/snapshots/detail"
[[ $(jget "[s['id'] for s in j['snapshots'] if s['id'] == '$s1']") == "[]" ]] || fail "s1 still listed: $BODY"
# A revert to s0 leaves nothing building on s1's layer (no later
# snapshot, not the head): only its being unmanaged keeps it, through the
# revert's housekeeping, a later snapshot and a restart.
revert "$v" "$s0"
write_pattern "$(file_of "$v")" 0x7c 0 1M
snapshot "$v" s2 >/dev/null
stop_stratad
start_stratad
C[8]="$URL/v3"
grep -q "$s1" <<<"$(objects)" || fail "s1's stored layer is gone: $(objects)"
pass "snapshot-unmanage: s1 leaves every view, its layer stays though nothing builds on it, through a revert, a snapshot and a restart"

# Refusals first.
api POST /v3/os-snapshot-manage "{\"snapshot\": {\"volume_id\": \"$v\", \"ref\": {\"source-name\": \"x\"}}}"
expect_code 400 "a source-name reference"
grep -q "source-id" <<<"$BODY" || fail "the refusal names no reference kind: $BODY"
api POST /v3/os-snapshot-manage "{\"snapshot\": {\"volume_id\": \"$w\", \"ref\": {\"source-id\": \"$s1\"}}}"
expect_code 400 "another volume's unmanaged snapshot"
api POST /v3/os-snapshot-manage "{\"snapshot\": {\"volume_id\": \"$(cat /proc/sys/kernel/random/uuid)\", \"ref\": {\"source-id\": \"$s1\"}}}"
expect_code 404 "an unknown volume"
TOKEN=alice:alpha api POST /v3/alpha/os-snapshot-manage "{\"snapshot\": {\"volume_id\": \"$v\", \"ref\": {\"source-id\": \"$s1\"}}}"
expect_code 403 "a member managing a snapshot"
api GET "/v3/snapshots/$s1"
expect_code 404 "s1 after refused manages"
pass "refused manages (400 wrong reference or volume, 404 unknown volume, 403 member) leave s1 unmanaged"

"${C[@]}" snapshot-manage --id-type source-id --name back --description again \
  --metadata k=v "$v" "$s1" >/dev/null
wait_snapshot "$s1" available
api GET "/v3/snapshots/$s1"
[[ $(jget 'j["snapshot"]["name"]') == back && $(jget 'j["snapshot"]["metadata"]') == "{'k': 'v'}" ]] ||
  fail "the managed snapshot: $BODY"
x=$("${C[@]}" create --snapshot-id "$s1" --name x 1 | awk '$2=="id"{print $4}')
wait_volume "$x" available
reads_pattern "$(file_of "$x")" 0x6b 0 1M || fail "a volume from the managed s1 does not hold s1's data"
api POST /v3/os-snapshot-manage "{\"snapshot\": {\"volume_id\": \"$v\", \"ref\": {\"source-id\": \"$s1\"}}}"
expect_code 400 "managing a managed snapshot"
pass "snapshot-manage --id-type source-id: s1 is back with its new name and metadata; a volume from it holds its data"
