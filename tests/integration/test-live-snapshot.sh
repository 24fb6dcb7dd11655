#!/usr/bin/env bash
# Live snapshots of a running libvirt domain (R2.2, R2.3, R2.8): the disk
# adopted while the domain runs is bound to it (in-use, attached); each
# snapshot cuts the running VM over to a new overlay at the same path; the
# uploaded layer is merged into history and the VM repointed live; after
# every snapshot libvirt's view of the chain equals the files' headers, the
# chain has at most 4 files, and the domain never stopped. A revert while it
# runs is refused; after it stops, revert works.
source "$(dirname "$0")/lib.sh"
USES_LIBVIRT=1   # its stratad works on libvirt domains
need qemu-img qemu-io curl python3 virsh qemu-system-x86_64
bash "$STRATA_SRC/scripts/start-libvirt.sh" || fail "libvirtd did not start"

dom="strata-live-$$"
disk="$T/var/disks/live.qcow2"
mkdir -p "$T/var/disks"
# qemu runs as libvirt-qemu: it must traverse to the disk, as with Nova's
# instances directory.
chmod 755 "$T" "$T/var" "$T/var/disks"
qemu-img create -q -f qcow2 "$disk" 64M
write_pattern "$disk" 0x3c 0 1M
bare_domain_xml "$dom" "$disk" >"$T/dom.xml"
virsh -q create "$T/dom.xml" >/dev/null
trap 'rc=$?; virsh -q destroy "$dom" >/dev/null 2>&1 || true; cleanup "$rc"' EXIT
uuid=$(virsh domuuid "$dom")
start_stratad

# The running server's disk is a volume already, without an adopt step.
api GET "/v3/volumes/detail"
vol=$(jget '[v["id"] for v in j["volumes"] if v["attachments"] and v["attachments"][0]["server_id"] == "'"$uuid"'"][0]')
[[ -n "$vol" ]] || fail "the server's disk is not listed as a volume: $BODY"
api POST /v3/os-volume-manage "{\"volume\":{\"host\":\"h\",\"ref\":{\"source-name\":\"$disk\"}}}"
expect_code 409 "adopting an already registered server disk"
api GET "/v3/volumes/$vol"
[[ $(jget 'j["volume"]["status"]') == in-use ]] || fail "running domain's disk not in-use: $BODY"
[[ $(jget 'j["volume"]["attachments"][0]["server_id"] if j["volume"]["attachments"] else ""') == "$uuid" ]] || fail "not attached to $uuid: $BODY"
pass "the running server's disk is listed as a volume, in-use, attached to it"

for i in 1 2 3; do
  sid=$(snapshot "$vol" "live$i")
  [[ $(virsh domstate "$dom") == running ]] || fail "domain stopped at snapshot $i"
  lv=$(libvirt_chain "$dom"); fc=$(file_chain "$disk")
  [[ "$lv" == "$fc" ]] || fail "snapshot $i: libvirt sees '$lv', files say '$fc'"
  n=$(wc -w <<<"$fc")
  [[ $n -le 4 ]] || fail "chain of $n files"
  [[ $(virsh domblklist "$dom" | awk '/vda/{print $2}') == "$disk" ]] || fail "disk path changed"
  pass "live snapshot $i: running, same path, libvirt view = files ($n files)"
done

# Nova's surface: the domain is a server; createImage is an incremental
# snapshot of its system disk (Location header below 2.45, body from 2.45).
need openstack
O=(openstack --os-auth-type none --os-endpoint "$URL/v2.1")
listed=$("${O[@]}" server list -f value -c ID -c Status)
grep -q "$uuid ACTIVE" <<<"$listed" || fail "openstack server list: $listed"
img=$("${O[@]}" server image create --name osc-img "$dom" -f value -c id)
wait_snapshot "$img" available
pass "openstack server list / server image create (image $img)"
api POST "/v2.1/servers/$uuid/action" '{"createImage":{"name":"old"}}'
expect_code 202 "createImage 2.1"
for _ in $(seq 100); do api GET "/v3/snapshots?name=old"; [[ $(jget 'j["snapshots"][0]["status"]') == available ]] && break; sleep 0.1; done
hdrs=$(curl -s -D - -o /dev/null -X POST -H "X-Auth-Token: $TOKEN" \
  -H "Content-Type: application/json" -d '{"createImage":{"name":"loc"}}' \
  "$URL/v2.1/servers/$uuid/action")
grep -qi "^location: .*/v2/images/" <<<"$hdrs" || fail "no Location below 2.45: $hdrs"
for _ in $(seq 100); do api GET "/v3/snapshots?name=loc"; [[ $(jget 'j["snapshots"][0]["status"]') == available ]] && break; sleep 0.1; done
api POST "/v2.1/servers/$uuid/action" '{"createImage":{"name":"new"}}' -H "OpenStack-API-Version: compute 2.45"
expect_code 202 "createImage 2.45"
[[ -n $(jget 'j["image_id"]') ]] || fail "no image_id at 2.45: $BODY"
wait_snapshot "$(jget 'j["image_id"]')" available
api POST "/v2.1/servers/$uuid/action" '{"createImage":{}}'; expect_code 400 "createImage without name"
api GET /v2.1/servers/00000000-0000-4000-8000-000000000000; expect_code 404 "unknown server"
TOKEN="bob:other"; api GET "/v2.1/servers/$uuid"; expect_code 404 "other project's server"; TOKEN="admin:admin"
pass "createImage microversions (Location < 2.45, image_id ≥ 2.45), 400/404 cases"

# createBackup with rotation (R1.6): three daily backups with rotation 2
# leave the two newest; weekly ones are not counted with them.
backups() {  # backups TYPE: names of the server's available backups of TYPE
  api GET "/v3/snapshots/detail"
  jget '" ".join(sorted(s["name"] for s in j["snapshots"] if s["metadata"].get("image_type") == "backup" and s["metadata"].get("backup_type") == "'"$1"'" and s["status"] == "available"))'
}
"${O[@]}" server backup create --name w1 --type weekly --rotate 1 "$dom" >/dev/null ||
  fail "openstack server backup create failed"
# As with Nova (409 while the server has a task), the next one waits.
for _ in $(seq 200); do [[ $(backups weekly) == w1 ]] && break; sleep 0.1; done
for b in d1 d2 d3; do
  "${O[@]}" server backup create --name "$b" --type daily --rotate 2 "$dom" >/dev/null ||
    fail "openstack server backup create $b failed"
  for _ in $(seq 200); do [[ $(backups daily) == *$b* ]] && break; sleep 0.1; done
done
for _ in $(seq 100); do [[ $(backups daily) == "d2 d3" ]] && break; sleep 0.1; done
[[ $(backups daily) == "d2 d3" ]] || fail "rotation 2 left daily backups: $(backups daily)"
[[ $(backups weekly) == "w1" ]] || fail "weekly backups: $(backups weekly)"
# stratad dies at the next one's upload: the restart carries it on, and
# its rotation with it (the journal keeps it).
stop_stratad
STRATA_CRASH_AT=create.upload start_stratad
api POST "/v2.1/servers/$uuid/action" '{"createBackup":{"name":"d5","backup_type":"daily","rotation":2}}'
[[ $CODE == 202 || $CODE == 000 ]] || fail "createBackup d5: HTTP $CODE $BODY"
wait_crash create.upload
start_stratad
for _ in $(seq 300); do [[ $(backups daily) == "d3 d5" ]] && break; sleep 0.1; done
[[ $(backups daily) == "d3 d5" ]] || fail "after the resumed upload, rotation 2 left daily backups: $(backups daily)"
pass "a createBackup stratad died uploading: resumed after the restart, its rotation applied (d3 d5)"
api POST "/v2.1/servers/$uuid/action" '{"createBackup":{"name":"x","backup_type":"daily"}}'
expect_code 400 "createBackup without rotation"
api POST "/v2.1/servers/$uuid/action" '{"createBackup":{"name":"x","backup_type":"daily","rotation":-1}}'
expect_code 400 "createBackup with rotation -1"
api POST "/v2.1/servers/$uuid/action" '{"createBackup":{"name":"d4","backup_type":"daily","rotation":0}}' \
  -H "OpenStack-API-Version: compute 2.45"
expect_code 202 "createBackup rotation 0"
for _ in $(seq 100); do [[ -z $(backups daily) ]] && break; sleep 0.1; done
[[ -z $(backups daily) ]] || fail "rotation 0 left daily backups: $(backups daily)"
pass "openstack server backup create --rotate: the server's backups of a type beyond rotation deleted, oldest first"
[[ $(virsh domstate "$dom") == running ]] || fail "domain stopped"
lv=$(libvirt_chain "$dom"); fc=$(file_chain "$disk")
[[ "$lv" == "$fc" ]] || fail "after createImage: libvirt sees '$lv', files say '$fc'"

api POST "/v3/volumes/$vol/action" "{\"revert\":{\"snapshot_id\":\"$sid\"}}" \
  -H "OpenStack-API-Version: volume 3.40"
expect_code 409 "revert while running"
pass "revert of a running server's disk refused (409)"

virsh -q destroy "$dom"
revert "$vol" "$sid"
reads_pattern "$disk" 0x3c 0 1M || fail "data lost"
pass "after the domain stopped, revert works and the data reads back"

# R2.7: a defined but shut-off server is snapshotted through the same API
# (a quiet disk: nothing runs on it) and its disk is listed without adopting.
off="strata-off-$$"
offdisk="$T/var/disks/off.qcow2"
qemu-img create -q -f qcow2 "$offdisk" 32M
write_pattern "$offdisk" 0x5e 0 1M
bare_domain_xml "$off" "$offdisk" >"$T/off.xml"
virsh -q define "$T/off.xml" >/dev/null
trap 'rc=$?; virsh -q destroy "$dom" >/dev/null 2>&1 || true; virsh -q undefine "$off" >/dev/null 2>&1 || true; cleanup "$rc"' EXIT
offuuid=$(virsh domuuid "$off")
api GET /v3/volumes/detail
offvol=$(jget '[v["id"] for v in j["volumes"] if v["attachments"] and v["attachments"][0]["server_id"] == "'"$offuuid"'"][0]')
[[ $(jget '[v["status"] for v in j["volumes"] if v["id"] == "'"$offvol"'"][0]') == available ]] ||
  fail "a shut-off server's disk should be available"
api GET "/v2.1/servers/$offuuid"
[[ $(jget 'j["server"]["status"]') == SHUTOFF ]] || fail "server not SHUTOFF: $BODY"
api POST "/v2.1/servers/$offuuid/action" '{"createImage":{"name":"off-img"}}' -H "OpenStack-API-Version: compute 2.45"
expect_code 202 "createImage of a shut-off server"
offimg=$(jget 'j["image_id"]')
wait_snapshot "$offimg" available
write_pattern "$offdisk" 0x6f 0 1M
revert "$offvol" "$offimg"
reads_pattern "$offdisk" 0x5e 0 1M || fail "shut-off server's revert"
[[ $(virsh domstate "$off") == "shut off" ]] || fail "the shut-off server was started"
pass "R2.7: shut-off server listed SHUTOFF, createImage snapshot, revert reads back"

