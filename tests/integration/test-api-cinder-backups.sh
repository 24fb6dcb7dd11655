#!/usr/bin/env bash
# Cinder's backups (issue 18, item 2) through the unmodified openstack and
# cinder CLIs (noauth), the data checked with qemu-io:
# - `volume backup create` (full, then `--incremental`) is available once
#   its stored point is; the point is no snapshot the user sees; b1 then
#   has_dependent_backups and cannot be deleted (400) while b2 follows it;
# - `cinder backup-restore` makes a new volume holding exactly the backed-up
#   state (b1: the first write only; b2: both), with the source volume's
#   metadata, while the source keeps its own data; `--volume` restores
#   over an existing volume, whose snapshots from before and after the
#   restore still revert right; `cinder create --backup-id` (3.47) makes a
#   volume holding a backup's state;
# - a backup of a snapshot (`--snapshot`) outlives the snapshot's delete:
#   its layer stays (hidden), the restore still reads it (never a gap);
#   a backup's point outlives a revert of its volume that leaves no
#   snapshot building on it;
# - a volume with backups is deleted (202: its disk goes, its backups stay
#   and restore alone) but not unmanaged (409); the last backup's delete
#   takes the deleted volume's remaining layers; kill -9 in such a delete
#   is finished by the restart;
# - export_record / import_record (a new id), os-reset_status, update,
#   quotas (413), bad input (400/404 with a message, nothing made);
# - crash points: kill -9 at the point's upload (the backup ends in error,
#   the volume's data intact, the backup deletable), at a restore's build
#   (the new volume in error, or the existing one error_restoring and
#   untouched; the backup available again) and at its install (finished).
source "$(dirname "$0")/lib.sh"
need openstack cinder qemu-img qemu-io curl python3
start_stratad

O=(openstack --os-auth-type none --os-endpoint "$URL/v3/admin"
   --os-volume-api-version 3.65)
C=(cinder --os-auth-type noauth --os-user-id admin --os-project-id admin
   --os-endpoint "$URL/v3" --os-volume-api-version 3.65)
voldir="$T/var/volumes"
file_of() { echo "$voldir/volume-$1.qcow2"; }
wait_backup() { wait_status backup "$@"; }
bget() { api GET "/v3/backups/$1" "" -H "OpenStack-API-Version: volume 3.65"; }
# restore BACKUP NAME: restores into a new volume, waits for it; prints its id.
restore() {
  api POST "/v3/backups/$1/restore" "{\"restore\": {\"name\": \"$2\"}}"
  expect_code 202 "restore of $1"
  local v; v=$(jget 'j["restore"]["volume_id"]')
  wait_volume "$v" available >&2
  wait_backup "$1" available >&2
  echo "$v"
}

v1=$("${O[@]}" volume create --size 1 --property tier=gold v1 -f value -c id)
wait_volume "$v1" available
f1=$(file_of "$v1")
write_pattern "$f1" 0xa1 0 1M
b1=$("${O[@]}" volume backup create --name b1 v1 -f value -c id)
wait_backup "$b1" available
bget "$b1"
[[ $(jget 'j["backup"]["is_incremental"]') == False ]] || fail "b1 is incremental: $BODY"
[[ $(jget 'j["backup"]["volume_id"]') == "$v1" ]] || fail "b1's volume: $BODY"
[[ $(jget 'j["backup"]["snapshot_id"]') == None ]] || fail "b1's snapshot_id: $BODY"
[[ $(jget 'j["backup"]["object_count"]') -ge 1 ]] || fail "b1's object_count: $BODY"
api GET "/v3/snapshots?volume_id=$v1"
[[ $(jget 'len(j["snapshots"])') == 0 ]] || fail "a backup's point is listed as a snapshot: $BODY"
pass "volume backup create: available, its point no snapshot the user sees"

write_pattern "$f1" 0xb2 1M 1M
b2=$("${O[@]}" volume backup create --incremental --name b2 v1 -f value -c id)
wait_backup "$b2" available
bget "$b2"
[[ $(jget 'j["backup"]["is_incremental"]') == True ]] || fail "b2 is not incremental: $BODY"
bget "$b1"
[[ $(jget 'j["backup"]["has_dependent_backups"]') == True ]] || fail "b1 has no dependents: $BODY"
api DELETE "/v3/backups/$b1"
expect_code 400 "deleting b1 while b2 follows it"
bget "$b1"
[[ $(jget 'j["backup"]["status"]') == available ]] || fail "b1 after a refused delete: $BODY"
pass "--incremental: b2 follows b1, which has_dependent_backups and is not deleted (400)"

write_pattern "$f1" 0xc3 0 2M
r1=$("${C[@]}" backup-restore --name r1 "$b1" | awk '$2=="volume_id"{print $4}')
[[ -n $r1 ]] || fail "cinder backup-restore printed no volume_id"
wait_volume "$r1" available
wait_backup "$b1" available
reads_pattern "$(file_of "$r1")" 0xa1 0 1M || fail "r1 lacks b1's data"
reads_pattern "$(file_of "$r1")" 0 1M 1M || fail "r1 holds data written after b1"
api GET "/v3/volumes/$r1"
[[ $(jget 'j["volume"]["metadata"].get("tier")') == gold ]] || fail "r1 lacks v1's metadata: $BODY"
r2=$(restore "$b2" r2)
reads_pattern "$(file_of "$r2")" 0xa1 0 1M || fail "r2 lacks b1's data"
reads_pattern "$(file_of "$r2")" 0xb2 1M 1M || fail "r2 lacks b2's data"
reads_pattern "$f1" 0xc3 0 2M || fail "the source lost its own data"
pass "cinder backup-restore: new volumes hold exactly b1's and b2's states, with v1's metadata; v1 keeps its own"

# A volume created from a backup (cinder create --backup-id, 3.47).
vb2=$("${C[@]}" create --backup-id "$b2" --name vb2 2 | awk '$2=="id"{print $4}')
[[ -n $vb2 ]] || fail "cinder create --backup-id printed no id"
wait_volume "$vb2" available
wait_backup "$b2" available
reads_pattern "$(file_of "$vb2")" 0xa1 0 1M || fail "vb2 lacks b2's data"
reads_pattern "$(file_of "$vb2")" 0xb2 1M 1M || fail "vb2 lacks b2's data"
api GET "/v3/volumes/$vb2"
[[ $(jget 'j["volume"]["size"]') == 2 ]] || fail "vb2's size: $BODY"
api POST /v3/volumes "{\"volume\": {\"size\": 1, \"backup_id\": \"$b2\"}}"
expect_code 400 "backup_id below 3.47"
pass "cinder create --backup-id: a 2 GiB volume holding b2's state"

# Restore over an existing volume: r2 (b2's state, plus a write) becomes
# b1's state; it goes on being snapshotted and reverted as before.
f2=$(file_of "$r2")
write_pattern "$f2" 0xee 3M 1M
sr2=$("${O[@]}" volume snapshot create --volume r2 sr2 -f value -c id)
wait_snapshot "$sr2" available
"${C[@]}" backup-restore --volume r2 "$b1" >/dev/null
wait_backup "$b1" available
wait_volume "$r2" available
reads_pattern "$f2" 0xa1 0 1M || fail "r2 lacks b1's data after the restore over it"
reads_pattern "$f2" 0 1M 3M || fail "r2 keeps its own data after the restore over it"
write_pattern "$f2" 0x5a 2M 1M
sr3=$("${O[@]}" volume snapshot create --volume r2 sr3 -f value -c id)
wait_snapshot "$sr3" available
revert "$r2" "$sr2"
reads_pattern "$f2" 0xb2 1M 1M || fail "r2's revert to its snapshot from before the restore"
reads_pattern "$f2" 0xee 3M 1M || fail "r2's revert to its snapshot from before the restore"
revert "$r2" "$sr3"
reads_pattern "$f2" 0xa1 0 1M || fail "r2's revert to its snapshot after the restore"
reads_pattern "$f2" 0x5a 2M 1M || fail "r2's revert to its snapshot after the restore"
reads_pattern "$f2" 0 1M 1M || fail "r2's revert to its snapshot after the restore"
pass "cinder backup-restore --volume: an existing volume holds b1's state; its snapshots from before and after revert right"

# A backup of a snapshot outlives the snapshot.
s1=$("${O[@]}" volume snapshot create --volume v1 s1 -f value -c id)
wait_snapshot "$s1" available
write_pattern "$f1" 0xd4 0 1M
b3=$("${O[@]}" volume backup create --snapshot s1 --name b3 v1 -f value -c id)
wait_backup "$b3" available
bget "$b3"
[[ $(jget 'j["backup"]["snapshot_id"]') == "$s1" ]] || fail "b3's snapshot_id: $BODY"
"${O[@]}" volume snapshot delete s1
for _ in $(seq 100); do api GET "/v3/snapshots/$s1"; [[ $CODE == 404 ]] && break; sleep 0.1; done
expect_code 404 "the deleted snapshot"
r3=$(restore "$b3" r3)
reads_pattern "$(file_of "$r3")" 0xc3 0 2M || fail "r3 does not hold s1's state"
pass "a backup of a snapshot keeps its layer after the snapshot's delete; the restore reads it"

# A revert leaves a backup's point a leaf no snapshot builds on: the
# backup alone keeps its layer.
v4=$("${O[@]}" volume create --size 1 v4 -f value -c id)
wait_volume "$v4" available
f4=$(file_of "$v4")
write_pattern "$f4" 0xe5 0 1M
s4=$("${O[@]}" volume snapshot create --volume v4 s4 -f value -c id)
wait_snapshot "$s4" available
write_pattern "$f4" 0xf6 0 1M
b4=$("${O[@]}" volume backup create --name b4 v4 -f value -c id)
wait_backup "$b4" available
revert "$v4" "$s4"
reads_pattern "$f4" 0xe5 0 1M || fail "v4 was not reverted to s4"
r6=$(restore "$b4" r6)
reads_pattern "$(file_of "$r6")" 0xf6 0 1M || fail "r6 does not hold b4's state after v4's revert"
pass "a backup's point outlives a revert of its volume to an earlier snapshot"

# A volume with backups is not unmanaged (Strata would lose their layers'
# index).
n_files=$(find "$T/var" -type f | wc -l)
api POST "/v3/volumes/$v1/action" '{"os-unmanage": {}}'
expect_code 409 "unmanaging a volume with backups"
jget 'j["conflictingRequest"]["message"]' | grep -q backups || fail "no word of the backups: $BODY"
[[ $(find "$T/var" -type f | wc -l) == "$n_files" ]] || fail "a refused unmanage changed files"
pass "volume unmanage with backups: 409, nothing changed"

# Update, reset-state, export/import.
api PUT "/v3/backups/$b3" '{"backup": {"name": "b3b", "description": "of s1"}}' \
  -H "OpenStack-API-Version: volume 3.9"
expect_code 200 "backup update"
bget "$b3"
[[ $(jget 'j["backup"]["name"]') == b3b && $(jget 'j["backup"]["description"]') == "of s1" ]] ||
  fail "update: $BODY"
"${C[@]}" backup-reset-state --state error "$b3" >/dev/null
wait_backup "$b3" error
"${C[@]}" backup-reset-state --state available "$b3" >/dev/null
wait_backup "$b3" available
api GET "/v3/backups/$b2/export_record"
expect_code 200 "export_record"
svc=$(jget 'j["backup-record"]["backup_service"]')
url=$(jget 'j["backup-record"]["backup_url"]')
new=$(python3 -c 'import uuid; print(uuid.uuid4())')
url2=$(python3 -c 'import base64,json,sys; r=json.loads(base64.b64decode(sys.argv[1])); r["id"]=sys.argv[2]; print(base64.b64encode(json.dumps(r).encode()).decode())' "$url" "$new")
api POST /v3/backups/import_record "{\"backup-record\": {\"backup_service\": \"$svc\", \"backup_url\": \"$url\"}}"
expect_code 400 "importing a backup that exists"
api POST /v3/backups/import_record "{\"backup-record\": {\"backup_service\": \"$svc\", \"backup_url\": \"$url2\"}}"
expect_code 201 "import_record: $BODY"
[[ $(jget 'j["backup"]["id"]') == "$new" ]] || fail "import kept no id: $BODY"
r4=$(restore "$new" r4)
reads_pattern "$(file_of "$r4")" 0xb2 1M 1M || fail "the imported backup restores other data"
api DELETE "/v3/backups/$new"
expect_code 202 "deleting the imported backup"
r5=$(restore "$b2" r5)
reads_pattern "$(file_of "$r5")" 0xb2 1M 1M || fail "b2 lost data with its imported twin"
pass "update, reset-state, export/import (new id; the twin's delete leaves b2 whole)"

# Bad input: a fault with a message, nothing made.
n_backups() { api GET /v3/backups; jget 'len(j["backups"])'; }
before=$(n_backups)
for body in '{}' '{"backup": {}}' '{"backup": {"volume_id": 5}}' \
    '{"backup": {"volume_id": "nope"}}' \
    "{\"backup\": {\"volume_id\": \"$r1\", \"incremental\": true}}" \
    "{\"backup\": {\"volume_id\": \"$v1\", \"incremental\": \"maybe\"}}" \
    "{\"backup\": {\"volume_id\": \"$v1\", \"snapshot_id\": \"$s1\"}}"; do
  api POST /v3/backups "$body"
  [[ $CODE == 400 || $CODE == 404 ]] || fail "$body → HTTP $CODE"
  jget 'list(j.values())[0]["message"]' >/dev/null || fail "$body: no fault message: $BODY"
done
api POST "/v3/backups/$b2/restore" "{\"restore\": {\"volume_id\": \"nope\"}}"
expect_code 404 "restore into a volume that does not exist"
api POST /v3/backups/import_record '{"backup-record": {"backup_service": "cinder.backup.drivers.strata", "backup_url": "!!"}}'
expect_code 400 "import of garbage"
api POST "/v3/backups/$b2/action" '{"os-reset_status": {"status": "restoring"}}'
expect_code 400 "reset to a status Cinder does not reset to"
[[ $(n_backups) == "$before" ]] || fail "bad requests made backups"
api PUT /v3/os-quota-sets/admin "{\"quota_set\": {\"backups\": $before}}"
expect_code 200 "setting the backups quota"
api POST /v3/backups "{\"backup\": {\"volume_id\": \"$v1\"}}"
expect_code 413 "a backup over quota"
jget 'j["overLimit"]["message"]' | grep -q BackupLimitExceeded || fail "413 without Cinder's words: $BODY"
api PUT /v3/os-quota-sets/admin '{"quota_set": {"backups": -1}}'
pass "bad input: 400/404 with a message, nothing made; over quota: 413"

# Crash points.
crash_step() { # STEP MAKES-A-REQUEST...
  local step=$1; shift
  stop_stratad
  STRATA_CRASH_AT=$step start_stratad
  "$@"
  wait_crash "$step"
  start_stratad
}
# A crash mid-upload: the restart carries the backup's upload on.
crash_step create.upload api POST /v3/backups "{\"backup\": {\"volume_id\": \"$v1\", \"name\": \"bc\"}}"
api GET "/v3/backups?name=bc"
bc=$(jget 'j["backups"][0]["id"]')
wait_backup "$bc" available
reads_pattern "$f1" 0xd4 0 1M || fail "create.upload crash: the volume's data changed"
rbc=$(restore "$bc" rbc)
reads_pattern "$(file_of "$rbc")" 0xd4 0 1M || fail "the resumed backup does not restore the volume's data"
api DELETE "/v3/backups/$bc"
expect_code 202 "deleting the resumed backup"
crash_step create.build api POST "/v3/backups/$b2/restore" '{"restore": {"name": "rc"}}'
api GET "/v3/volumes?name=rc"
rc=$(jget 'j["volumes"][0]["id"]')
wait_volume "$rc" error
wait_backup "$b2" available
rc2=$(restore "$b2" rc2)
reads_pattern "$(file_of "$rc2")" 0xb2 1M 1M || fail "a restore after the crash reads other data"
crash_step restore.build api POST "/v3/backups/$b1/restore" "{\"restore\": {\"volume_id\": \"$rc2\"}}"
wait_volume "$rc2" error_restoring
wait_backup "$b1" available
reads_pattern "$(file_of "$rc2")" 0xb2 1M 1M || fail "restore.build crash: the volume's disk changed"
[[ -z $(find "$voldir" -name ".volume-$rc2*") ]] || fail "restore.build crash: temporaries left"
api POST "/v3/volumes/$rc2/action" '{"os-reset_status": {"status": "available"}}'
crash_step restore.install api POST "/v3/backups/$b1/restore" "{\"restore\": {\"volume_id\": \"$rc2\"}}"
wait_volume "$rc2" available
wait_backup "$b1" available
reads_pattern "$(file_of "$rc2")" 0xa1 0 1M || fail "restore.install crash: not finished"
reads_pattern "$(file_of "$rc2")" 0 1M 1M || fail "restore.install crash: old data left"
[[ -z $(find "$voldir" -name ".volume-$rc2*") ]] || fail "restore.install crash: temporaries left"
pass "crash at a backup's upload (resumed, restores), a restore's build (new or existing volume) and install: reconciled, data intact"

# The volume goes, its backups stay (as in Cinder); they restore alone.
api DELETE "/v3/volumes/$v1?cascade=true"
expect_code 202 "deleting v1 while it has backups"
for _ in $(seq 300); do api GET "/v3/volumes/$v1"; [[ $CODE == 404 ]] && break; sleep 0.1; done
expect_code 404 "v1 after its delete"
[[ ! -e $f1 ]] || fail "v1's disk is left"
api GET /v3/volumes
[[ $(jget "'$v1' in [v['id'] for v in j['volumes']]") == False ]] || fail "v1 still listed"
api GET "/v3/snapshots?volume_id=$v1"
[[ $(jget 'len(j["snapshots"])') == 0 ]] || fail "v1's snapshots still listed: $BODY"
[[ $(find "$T/var/store" -path "*$v1*" -type f | wc -l) -gt 0 ]] || fail "the backups' layers went with v1"
bget "$b2"
[[ $(jget 'j["backup"]["status"]') == available ]] || fail "b2 after v1's delete: $BODY"
r7=$(restore "$b2" r7)
reads_pattern "$(file_of "$r7")" 0xa1 0 1M || fail "r7 (b2 after v1's delete) lacks b1's data"
reads_pattern "$(file_of "$r7")" 0xb2 1M 1M || fail "r7 (b2 after v1's delete) lacks b2's data"
r8=$(restore "$b3" r8)
reads_pattern "$(file_of "$r8")" 0xc3 0 2M || fail "r8 (b3 after v1's delete) does not hold s1's state"
pass "volume delete with backups: the volume and its files go, the backups stay and restore"

# The backups go in turn; with the last one, every layer of v1.
for b in "$b2" "$b1" "$b3"; do
  api DELETE "/v3/backups/$b"
  expect_code 202 "deleting backup $b"
  api GET "/v3/backups/$b"
  expect_code 404 "backup $b after its delete"
done
left=$(find "$T/var/store" -path "*$v1*" -type f | wc -l)
[[ $left == 0 ]] || fail "stored layers of v1 left: $(find "$T/var/store" -path "*$v1*")"
rows=$(python3 -c 'import sqlite3,sys; c=sqlite3.connect("file:"+sys.argv[1]+"?mode=ro", uri=True); print(c.execute("SELECT (SELECT COUNT(*) FROM volumes WHERE id=?) + (SELECT COUNT(*) FROM snapshots WHERE volume_id=?)", (sys.argv[2], sys.argv[2])).fetchone()[0])' "$T/var/catalog.db" "$v1")
[[ $rows == 0 ]] || fail "the deleted v1 left $rows catalog rows"
# At once, as a client's cleanup does: a backup's delete has let go of its
# volume when it answers.
api DELETE "/v3/backups/$b4"
expect_code 202 "deleting b4"
api DELETE "/v3/volumes/$v4?cascade=true"
expect_code 202 "deleting v4 right after its last backup"
pass "the last backup's delete takes the deleted volume's layers; a volume's delete right after its backup's is not refused"

# kill -9 in a delete of a volume with a backup: the restart finishes it,
# and the backup still restores.
O=(openstack --os-auth-type none --os-endpoint "$URL/v3/admin"
   --os-volume-api-version 3.65)  # the restarts moved the port
v5=$("${O[@]}" volume create --size 1 v5 -f value -c id)
wait_volume "$v5" available
write_pattern "$(file_of "$v5")" 0x77 0 1M
b5=$("${O[@]}" volume backup create --name b5 v5 -f value -c id)
wait_backup "$b5" available
crash_step delete.begin api DELETE "/v3/volumes/$v5"
for _ in $(seq 300); do api GET "/v3/volumes/$v5"; [[ $CODE == 404 ]] && break; sleep 0.1; done
expect_code 404 "v5 after a delete the restart finished"
[[ ! -e $(file_of "$v5") ]] || fail "v5's disk is left after the restart"
r9=$(restore "$b5" r9)
reads_pattern "$(file_of "$r9")" 0x77 0 1M || fail "b5 after the crashed delete of v5"
pass "kill at delete.begin of a volume with a backup: the restart finishes the delete, the backup restores"
