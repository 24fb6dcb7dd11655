#!/usr/bin/env bash
# Nova's os-assisted-volume-snapshots (issue 5) against a real Cinder API:
# the test plays Cinder's NFS driver step for step (remotefs.py: it makes
# the new qcow2 file on top of the active one, calls Nova — here Strata —
# through python3-novaclient, and waits for the snapshot's progress to read
# 90%), Debian's cinder-api keeps the snapshots (scripts/start-test-cinder.sh)
# and Debian's cinder CLI creates and deletes them. The volume is the disk of
# the booted test guest, marked as Nova marks attached volumes (<serial> =
# the volume id), and the guest writes checksummed records to it throughout.
#
# Checked: create switches the running guest onto the new file (libvirt's
# view and the files' headers agree, relative backing names kept) and Cinder
# reads "creating" 90%; the frozen file holds records 1..N, none torn;
# delete of a snapshot below the active file commits it into its base, and
# of the active file's snapshot pulls into the active file; Cinder reads
# "deleting" 90% each time; the guest never stops and its disk verifies at
# the end. Bad requests are 400 (Nova's codes), a member is 403, and a
# failed libvirt step reaches Cinder as "error".
# AVS_AUTH=keystone (test-assisted-keystone.sh) runs the same with a real
# Keystone in front of Cinder and Strata: tokens, and Cinder found in the
# token's catalog; by default all runs noauth, with [cinder]
# endpoint_template.
source "$(dirname "$0")/lib.sh"
need_guest
need curl cinder cinder-api

# stop_services: Cinder and Keystone (when started), for every exit path;
# waits (≤ 10 s) until they are gone, so none writes into $T as it is removed.
cinder_pid="" ks_pid=""
stop_services() {
  local p
  for p in $cinder_pid $ks_pid; do kill -- "-$p" 2>/dev/null; done
  for _ in $(seq 100); do
    p=""
    for q in $cinder_pid $ks_pid; do kill -0 "$q" 2>/dev/null && p=1; done
    [[ -z $p ]] && break
    sleep 0.1
  done
  return 0
}
trap 'rc=$?; stop_services; cleanup "$rc"' EXIT

CPORT=$(free_port)
if [[ ${AVS_AUTH:-noauth} == keystone ]]; then
  # Keystone for all three: Cinder (keystonemiddleware) and Strata validate
  # tokens there, Strata finds Cinder in the caller's token catalog, and
  # novaclient finds Strata as the catalog's compute service.
  need openstack
  ks_port=$(free_port)
  ks_pid=$("$STRATA_SRC/scripts/start-test-keystone.sh" "$T/ks" "$ks_port") ||
    fail "keystone did not start"
  KS=http://127.0.0.1:$ks_port/v3
  export OS_CLIENT_CONFIG_FILE=$T/ks/clouds.yaml
  read -r TOKEN P < <(openstack --os-cloud admin token issue -f value -c id -c project_id | paste -sd' ')
  cinder_pid=$(KEYSTONE_AUTH_URL=$KS "$STRATA_SRC/scripts/start-test-cinder.sh" "$T/cinder" "$CPORT") ||
    fail "cinder-api did not start"
  svc=$(openstack --os-cloud admin service create --name cinderv3 volumev3 -f value -c id)
  openstack --os-cloud admin endpoint create --region RegionOne "$svc" public \
    "http://127.0.0.1:$CPORT/v3/%(project_id)s" >/dev/null || fail "endpoint create"
  member_token=$(openstack --os-cloud alice token issue -f value -c id)
  # The cinder CLI (no clouds.yaml support) as admin, from here on.
  export OS_AUTH_URL=$KS OS_USERNAME=admin OS_PASSWORD=admin-secret \
    OS_PROJECT_NAME=admin OS_USER_DOMAIN_NAME=Default OS_PROJECT_DOMAIN_NAME=Default
  C=(cinder --os-volume-api-version 3.8)
  cat >"$T/strata.conf" <<CONF
[auth]
strategy = keystone
[keystone_authtoken]
auth_url = $KS
username = strata
password = strata-secret
project_name = service
CONF
else
  # noauth everywhere; Cinder's routes take hex project ids (its
  # project_id_regex), as Keystone's are.
  P=5e1ec7ab1e5e1ec7ab1e5e1ec7ab1e00
  TOKEN="admin:$P"
  member_token="alice:$P"
  cinder_pid=$("$STRATA_SRC/scripts/start-test-cinder.sh" "$T/cinder" "$CPORT") ||
    fail "cinder-api did not start"
  C=(cinder --os-auth-type noauth --os-user-id admin --os-project-id "$P"
     --os-endpoint "http://127.0.0.1:$CPORT/v3/$P" --os-volume-api-version 3.8)
  printf '[cinder]\nendpoint_template = http://127.0.0.1:%s/v3/%%(project_id)s\n' \
    "$CPORT" >"$T/strata.conf"
fi
CURL_CINDER=http://127.0.0.1:$CPORT/v3/$P

name=strata-avs-$$
console=$T/console.log
share=$T/var/disks   # the "NFS share" as Cinder's driver sees it mounted

# The volume: managed into Cinder on the registered volume service (the API
# then records its host), made available as a volume service would.
vol=$("${C[@]}" manage --name avs-vol strata-test@nfs#nfs "volume-avs" |
  awk '$2 == "id" {print $4}')
[[ -n "$vol" ]] || fail "cinder manage gave no volume id"
"${C[@]}" reset-state --state available "$vol" || fail "reset-state"
active=volume-$vol

DISK_SERIAL=$vol boot_guest "$name" "$share/$active" 256M
trap 'rc=$?; virsh -q destroy "$GUEST_DOMAIN" >/dev/null 2>&1 || true
      stop_services
      [[ $rc -ne 0 && -f "$T/cinder/cinder-api.log" ]] &&
        { echo "--- cinder-api.log ---"; grep -E "ERROR|update_snapshot" "$T/cinder/cinder-api.log" | tail -n 10; }
      [[ $rc -ne 0 && -f "$console" ]] && { echo "--- guest console ---"; tail -n 5 "$console"; }
      cleanup "$rc"' EXIT
start_stratad --config "$T/strata.conf"
if [[ -n "$ks_pid" ]]; then
  OS_CLOUD=admin "$STRATA_SRC/scripts/register-keystone.sh" "$URL" --type compute \
    >/dev/null || fail "register-keystone.sh failed"
fi
pass "guest $name writes to Cinder volume $vol ($share/$active)"

# nova OP ARGS…: python3-novaclient's assisted_volume_snapshots, as Cinder's
# driver calls it: with Keystone, admin's password and the catalog (as
# Cinder's [nova] privileged user); else keystoneauth's token plugin with
# the token and Strata's URL.
nova() {
  /usr/bin/python3 - "$URL/v2.1" "$TOKEN" "${KS:-}" "$@" <<'PY'
import json, sys
from keystoneauth1 import session
from keystoneauth1.identity import v3
from keystoneauth1.token_endpoint import Token
from novaclient import client
url, token, ks, op = sys.argv[1:5]
sys.argv = sys.argv[1:]
auth = (v3.Password(auth_url=ks, username="admin", password="admin-secret",
                    project_name="admin", user_domain_name="Default",
                    project_domain_name="Default")
        if ks else Token(url, token))
nova = client.Client("2.1", session=session.Session(auth=auth))
avs = nova.assisted_volume_snapshots
if op == "create":
    vol, snap, new_file = sys.argv[4:7]
    r = avs.create(vol, {"snapshot_id": snap, "type": "qcow2",
                         "new_file": new_file})
    print(json.dumps(r._info))
else:
    avs.delete(sys.argv[4], json.loads(sys.argv[5]))
PY
}

# cinder_snapshot ID: "status progress" as Cinder's API has them.
cinder_snapshot() {
  curl -s -H "X-Auth-Token: $TOKEN" "$CURL_CINDER/snapshots/$1" | python3 -c '
import json, sys
s = json.load(sys.stdin)["snapshot"]
print(s["status"], s["os-extended-snapshot-attributes:progress"])'
}

# wait_cinder ID STATUS PROGRESS: as remotefs.py waits (here ≤ 60 s).
wait_cinder() {
  local now=""
  for _ in $(seq 600); do
    now=$(cinder_snapshot "$1")
    [[ "$now" == "$2 $3" ]] && return 0
    sleep 0.1
  done
  fail "Cinder snapshot $1 is '$now', wanted '$2 $3'"
}

# take_snapshot NAME: cinder snapshot-create, then the driver's part: the new
# file on top of the active one (relative backing name, as remotefs makes
# it), the Nova call, the wait; prints the snapshot id (the caller then
# sets `active`: this runs in a subshell).
take_snapshot() {
  local snap new
  snap=$("${C[@]}" snapshot-create --name "$1" "$vol" | awk '$2 == "id" {print $4}')
  [[ -n "$snap" ]] || fail "cinder snapshot-create gave no id"
  new=volume-$vol.$snap
  (cd "$share" && qemu-img create -q -f qcow2 -F qcow2 -b "$active" "$new")
  local out
  out=$(nova create "$vol" "$snap" "$new") || fail "novaclient create of $snap"
  [[ $(python3 -c 'import json,sys; s=json.loads(sys.argv[1]); print(s["volumeId"], s["id"])' "$out") == "$vol None" ]] ||
    fail "create answered $out"
  wait_cinder "$snap" creating 90%
  # The volume service's part: the snapshot is available.
  curl -sf -o /dev/null -H "X-Auth-Token: $TOKEN" -H "Content-Type: application/json" \
    -d '{"os-update_snapshot_status": {"status": "available", "progress": "100%"}}' \
    "$CURL_CINDER/snapshots/$snap/action" || fail "marking $snap available"
  echo "$snap"
}

chain_is() {  # EXPECTED…: libvirt's chain and the files' chain, top first
  local want="$*" lv fc
  lv=$(libvirt_chain "$name")
  fc=$(file_chain "$share/$active")
  [[ "$lv" == "$want" ]] || fail "libvirt's chain is '$lv', wanted '$want'"
  [[ "$fc" == "$want" ]] || fail "the files' chain is '$fc', wanted '$want'"
}
backing_name() {  # FILE: the backing file name as its header records it
  qemu-img info -U --output=json "$1" |
    python3 -c 'import json,sys; print(json.load(sys.stdin).get("backing-filename", ""))'
}

# ---- create ------------------------------------------------------------
lo=$(last_rec)
s1=$(take_snapshot one)
active=volume-$vol.$s1
hi=$(last_rec)
chain_is "$share/volume-$vol.$s1" "$share/volume-$vol"
pass "snapshot $s1: the guest is on volume-$vol.$s1 (between records $lo and $hi); Cinder read creating 90%"
frozen=$(verify_disk "$share/volume-$vol" "$lo")
pass "the frozen file holds $frozen"
s2=$(take_snapshot two)
active=volume-$vol.$s2
chain_is "$share/volume-$vol.$s2" "$share/volume-$vol.$s1" "$share/volume-$vol"
[[ $(backing_name "$share/volume-$vol.$s2") == "volume-$vol.$s1" ]] || fail "backing name not relative"
pass "snapshot $s2 on top; chain of three, names relative"

# ---- bad requests -------------------------------------------------------
create_body() {  # VOLUME NEW_FILE
  printf '{"snapshot":{"volume_id":"%s","create_info":{"snapshot_id":"%s","type":"qcow2","new_file":"%s"}}}' \
    "$1" "$s2" "$2"
}
api POST /v2.1/os-assisted-volume-snapshots "$(create_body "$vol" missing-file)"
expect_code 400 "create onto a file that does not exist"
api POST /v2.1/os-assisted-volume-snapshots "$(create_body "$vol" "volume-$vol.$s1")"
expect_code 400 "create onto a file already in the chain"
(cd "$share" && qemu-img create -q -f qcow2 -F qcow2 -b "volume-$vol" stray.qcow2)
api POST /v2.1/os-assisted-volume-snapshots "$(create_body "$vol" stray.qcow2)"
expect_code 400 "create onto a file whose backing is not the active image"
grep -q "must have the volume's active image" <<<"$BODY" || fail "message: $BODY"
api POST /v2.1/os-assisted-volume-snapshots "$(create_body "$vol" ../escape)"
expect_code 400 "create with a path for new_file"
api POST /v2.1/os-assisted-volume-snapshots "$(create_body 00000000-0000-0000-0000-000000000000 x)"
expect_code 400 "create for a volume attached to no server here"
grep -q "No volume Block Device Mapping" <<<"$BODY" || fail "message: $BODY"
api POST /v2.1/os-assisted-volume-snapshots \
  "{\"snapshot\":{\"volume_id\":\"$vol\",\"create_info\":{\"snapshot_id\":\"x\",\"type\":\"raw\",\"new_file\":\"x\"}}}"
expect_code 400 "create of type raw"
api POST /v2.1/os-assisted-volume-snapshots \
  "{\"snapshot\":{\"volume_id\":\"$vol\",\"create_info\":{\"snapshot_id\":\"x\",\"type\":\"qcow2\"}}}"
expect_code 400 "create without new_file"
api DELETE "/v2.1/os-assisted-volume-snapshots/$s1"
expect_code 400 "delete without delete_info"
api DELETE "/v2.1/os-assisted-volume-snapshots/$s1?delete_info=%7B%22type%22%3A%22qcow2%22%7D"
expect_code 400 "delete_info without volume_id"
TOKEN=$member_token api POST /v2.1/os-assisted-volume-snapshots "$(create_body "$vol" x)"
expect_code 403 "create by a member"
api GET "/v2.1/servers/$(virsh domuuid "$name")"
[[ $(jget '[v["id"] for v in j["server"]["os-extended-volumes:volumes_attached"]]') == "['$vol']" ]] ||
  fail "server lists volumes $BODY"
api GET /v3/volumes
[[ $(jget 'len(j["volumes"])') == 0 ]] || fail "Strata registered Cinder's volume as its own: $BODY"
pass "the server shows Cinder volume $vol attached, and Strata keeps none of its own"

# A libvirt step that fails reaches Cinder as "error": a new file that
# another process holds open for writing (qemu-io here), so the running
# qemu cannot take its write lock (raw: qemu-io must not open the backing
# file, which the guest's qemu holds).
bad=$("${C[@]}" snapshot-create --name bad "$vol" | awk '$2 == "id" {print $4}')
(cd "$share" && qemu-img create -q -f qcow2 -F qcow2 -b "$active" "volume-$vol.$bad")
# qemu-io holds the file until its stdin (a FIFO this shell keeps open on
# fd 9) closes: as long as the case needs, however slow the host.
mkfifo "$T/holder.in"
qemu-io -f raw "$share/volume-$vol.$bad" <"$T/holder.in" >"$T/holder.out" 2>&1 &
holder=$!
exec 9>"$T/holder.in"
# Asked of the lock itself (F_OFD_GETLK on QEMU's write-permission byte,
# 101), which takes no lock: a probe that opened the image (qemu-img info)
# held a read lock for a moment, and a qemu-io starting in that moment
# failed to get its write lock.
write_locked() {
  python3 - "$1" <<'PY'
import fcntl, os, struct, sys
fd = os.open(sys.argv[1], os.O_RDONLY)
req = struct.pack("hh4xqqi4x", fcntl.F_WRLCK, os.SEEK_SET, 101, 1, 0)
got = fcntl.fcntl(fd, 36, req)  # F_OFD_GETLK
sys.exit(0 if struct.unpack("hh4xqqi4x", got)[0] != fcntl.F_UNLCK else 1)
PY
}
locked=""
for _ in $(seq 600); do   # qemu-io can take long to start on a loaded host
  write_locked "$share/volume-$vol.$bad" && { locked=1; break; }
  kill -0 "$holder" 2>/dev/null || break
  sleep 0.1
done
[[ $locked ]] || fail "qemu-io did not take the write lock of volume-$vol.$bad: $(cat "$T/holder.out")"
nova create "$vol" "$bad" "volume-$vol.$bad" >/dev/null || fail "novaclient create of $bad"
wait_cinder "$bad" error 90%
exec 9>&-   # qemu-io reads EOF and exits
wait "$holder" 2>/dev/null || true
chain_is "$share/volume-$vol.$s2" "$share/volume-$vol.$s1" "$share/volume-$vol"
pass "a failed switch: Cinder read error 90%, the guest stayed on its file"

# ---- delete -------------------------------------------------------------
# s1's file is below the active one: remotefs commits it into its base.
"${C[@]}" snapshot-delete "$s1" || fail "cinder snapshot-delete $s1"
nova delete "$s1" "{\"volume_id\": \"$vol\", \"type\": \"qcow2\", \"file_to_merge\": \"volume-$vol.$s1\", \"merge_target_file\": \"volume-$vol\"}" ||
  fail "novaclient delete of $s1"
wait_cinder "$s1" deleting 90%
chain_is "$share/volume-$vol.$s2" "$share/volume-$vol"
[[ $(backing_name "$share/volume-$vol.$s2") == "volume-$vol" ]] || fail "backing name not relative after the commit"
rm -f "$share/volume-$vol.$s1"   # the driver deletes the merged file
pass "delete of $s1: committed into volume-$vol, relative name kept; Cinder read deleting 90%"

# s2's file is the active one: remotefs pulls its base into it (base_id
# none: file_to_merge null, the active file then stands alone).
"${C[@]}" snapshot-delete "$s2" || fail "cinder snapshot-delete $s2"
nova delete "$s2" "{\"volume_id\": \"$vol\", \"type\": \"qcow2\", \"file_to_merge\": null, \"merge_target_file\": null}" ||
  fail "novaclient delete of $s2"
wait_cinder "$s2" deleting 90%
chain_is "$share/volume-$vol.$s2"
rm -f "$share/volume-$vol"
pass "delete of $s2: pulled into the active file, which stands alone; Cinder read deleting 90%"

before=$(last_rec)
for _ in $(seq 300); do (( $(last_rec) > before + 100 )) && break; sleep 0.1; done
(( $(last_rec) > before + 100 )) || fail "the guest stopped writing"
virsh -q destroy "$name" >/dev/null
final=$(last_rec)
result=$(verify_disk "$share/volume-$vol.$s2" "$final")
pass "the guest wrote on throughout; its disk holds $result"
