#!/usr/bin/env bash
# The glance store driver against Debian's glance-api (issue 4, R2.5, R2.11,
# R1.9): stratad with --store glance:http://…, a snapshot series of a real
# disk; every layer is an image that python3-glanceclient shows active, with
# the size Strata's catalog recorded, Strata's properties (volume, snapshot,
# parent), and Glance's own MD5/SHA-512 matching the bytes it serves, whose
# SHA-256 is the catalog's; reverts read the layers back from Glance exactly;
# an image corrupted in Glance's file backend aborts the revert and leaves
# the disk as it was; Glance killed during an upload and started again: the
# snapshot ends available (retried), no half-written image ever counts;
# deleting snapshots deletes their images.
source "$(dirname "$0")/lib.sh"
need qemu-img qemu-io curl python3 glance-api glance-manage openstack

g_port=$(free_port)
g_pid=""
start_glance() {
  g_pid=$("$STRATA_SRC/scripts/start-test-glance.sh" "$T/glance" "$g_port") ||
    fail "glance-api did not start"
}
kill_glance() {  # kill_glance SIGNAL
  [[ -n $g_pid ]] || return 0
  kill "-$1" -- "-$g_pid" 2>/dev/null || true
  while kill -0 "$g_pid" 2>/dev/null; do sleep 0.05; done
  g_pid=""
}
trap 'rc=$?; kill_glance TERM; cleanup "$rc"' EXIT
start_glance
g_url="http://127.0.0.1:$g_port"
# The openstack client, without Keystone (Glance runs without it here).
# (Debian's `glance` 4.1.0 shell fails on Python 3.11 at argument parsing.)
osc() { openstack --os-auth-type none --os-endpoint "$g_url" "$@"; }

# image_of SNAPSHOT: the id of the complete image of the snapshot's layer.
image_of() {
  curl -sf "$g_url/v2/images?strata_snapshot_id=$1" | python3 -c '
import json, sys
ims = [i for i in json.load(sys.stdin)["images"] if i.get("strata_sha256")]
assert len(ims) == 1, ims
print(ims[0]["id"])'
}

# check_stored SNAPSHOT VOLUME [DISK_FORMAT]: Glance holds the layer as the
# catalog says (disk_format qcow2 unless given: a sparse layer is raw).
check_stored() {
  api GET "/v3/snapshots/$1"
  local sha bytes parent id
  sha=$(jget 'j["snapshot"]["os-strata:sha256"]')
  bytes=$(jget 'j["snapshot"]["os-strata:stored_bytes"]')
  parent=$(jget 'j["snapshot"]["os-strata:parent_id"] or ""')
  id=$(image_of "$1") || fail "no complete image for snapshot $1"
  osc image show -f json "$id" >"$T/show" || fail "openstack image show $id failed"
  rm -f "$T/dl"
  osc image save --file "$T/dl" "$id" || fail "openstack image save $id failed"
  python3 - "$T/show" "$T/dl" "$sha" "$bytes" "$2" "$1" "$parent" "${3:-qcow2}" <<'EOF' ||
import hashlib, json, sys
show, dl, sha, size, vol, snap, parent, fmt = sys.argv[1:]
im = json.load(open(show))
p = im["properties"]
data = open(dl, "rb").read()
assert im["status"] == "active", im["status"]
assert im["container_format"] == "bare" and im["disk_format"] == fmt, im["disk_format"]
assert str(im["size"]) == size == str(len(data)), (im["size"], size, len(data))
assert p["strata_sha256"] == sha == hashlib.sha256(data).hexdigest()
assert im["checksum"] == hashlib.md5(data).hexdigest(), "Glance's checksum"
assert p["os_hash_algo"] == "sha512"
assert p["os_hash_value"] == hashlib.sha512(data).hexdigest()
assert p["strata_volume_id"] == vol and p["strata_snapshot_id"] == snap
assert p.get("strata_parent_id", "") == parent, p.get("strata_parent_id")
EOF
    fail "$1: image $id differs from the catalog: $(cat "$T/show")"
  echo "$id"
}

start_stratad --store "glance:$g_url"
disk="$T/var/disks/g.qcow2"
qemu-img create -q -f qcow2 "$disk" 256M
write_pattern "$disk" 0x11 0 4M
vol=$(manage_disk "$disk" g)
s1=$(snapshot "$vol" s1); check_stored "$s1" "$vol" >/dev/null
write_pattern "$disk" 0x22 2M 4M
s2=$(snapshot "$vol" s2); check_stored "$s2" "$vol" >/dev/null
write_pattern "$disk" 0x33 8M 1M
s3=$(snapshot "$vol" s3); i3=$(check_stored "$s3" "$vol")
write_pattern "$disk" 0x44 12M 1M
revert "$vol" "$s1"
reads_pattern "$disk" 0x11 0 4M && reads_pattern "$disk" 0 4M 10M ||
  fail "revert to s1 does not read back s1"
revert "$vol" "$s3"
reads_pattern "$disk" 0x11 0 2M && reads_pattern "$disk" 0x22 2M 4M &&
  reads_pattern "$disk" 0x33 8M 1M && reads_pattern "$disk" 0 12M 1M ||
  fail "revert to s3 does not read back s3"
pass "layers are active Glance images with the catalog's size and sha256, Glance's checksums agree; reverts from Glance exact"

# Corrupt s1's image in Glance's file backend: revert refused, disk untouched.
i1=$(image_of "$s1")
f1="$T/glance/images/$i1"
[[ -f $f1 ]] || fail "no file for image $i1 in Glance's file store"
cp "$f1" "$T/s1.good"
printf 'XXXXXXXX' | dd of="$f1" bs=1 seek=$(( $(stat -c %s "$f1") / 2 )) conv=notrunc status=none
write_pattern "$disk" 0x55 20M 1M
api POST "/v3/volumes/$vol/action" "{\"revert\":{\"snapshot_id\":\"$s1\"}}" \
  -H "OpenStack-API-Version: volume 3.40"
expect_code 202 "revert to corrupted s1"
wait_volume "$vol" available 60
reads_pattern "$disk" 0x55 20M 1M && reads_pattern "$disk" 0x33 8M 1M ||
  fail "a failed revert changed the disk"
grep -q "corruption" "$T/stratad.log" || fail "corruption not reported"
pass "an image corrupted in Glance aborts the revert; the disk is untouched"
cp "$T/s1.good" "$f1"  # later reverts build on s1 again
stop_stratad

# Glance killed during an upload (paced to ~16 MiB/s so that it is in
# flight), started again: the upload is retried and the snapshot ends
# available; the killed attempt's image never counts and is cleaned up.
printf '[store]\nmax_bytes_per_second = 16777216\n[engine]\nupload_attempts = 6\n' >"$T/slow.conf"
start_stratad --store "glance:$g_url" --config "$T/slow.conf"
write_pattern "$disk" 0x66 32M 128M
api POST /v3/snapshots "{\"snapshot\":{\"volume_id\":\"$vol\",\"name\":\"during\"}}"
expect_code 202 "snapshot during which Glance dies"
during=$(jget 'j["snapshot"]["id"]')
for _ in $(seq 300); do
  n=$(curl -sf "$g_url/v2/images?strata_snapshot_id=$during&status=saving" |
      python3 -c 'import json,sys; print(len(json.load(sys.stdin)["images"]))')
  [[ $n -ge 1 ]] && break
  sleep 0.1
done
[[ $n -ge 1 ]] || fail "the upload never reached Glance"
sleep 1
kill_glance KILL
sleep 2
start_glance
wait_snapshot "$during" available 300
grep -q "attempt 1 failed" "$T/stratad.log" || fail "no failed attempt was logged"
check_stored "$during" "$vol" >/dev/null
python3 - "$g_url" "$during" <<'EOF' || fail "a stale image of the killed upload remains"
import json, sys, urllib.request
url, snap = sys.argv[1], sys.argv[2]
ims = json.load(urllib.request.urlopen(f"{url}/v2/images?strata_snapshot_id={snap}"))["images"]
assert len(ims) == 1 and ims[0]["status"] == "active", [(i["id"], i["status"]) for i in ims]
EOF
write_pattern "$disk" 0x77 200M 1M
revert "$vol" "$during"
reads_pattern "$disk" 0x66 32M 128M && reads_pattern "$disk" 0x33 8M 1M &&
  reads_pattern "$disk" 0 200M 1M || fail "revert to the retried snapshot is not exact"
pass "Glance killed mid-upload and restarted: the snapshot ended available, no half-written image counts"

# Deleting snapshots and unmanaging the volume deletes its images (R1.9).
count_images() {  # count_images VOLUME
  curl -sf "$g_url/v2/images?strata_volume_id=$1" |
    python3 -c 'import json,sys; print(len(json.load(sys.stdin)["images"]))'
}
[[ $(count_images "$vol") -ge 4 ]] || fail "expected the volume's 4 layers in Glance"
for s in "$during" "$s3" "$s2" "$s1"; do
  api DELETE "/v3/snapshots/$s"; expect_code 202 "delete $s"
  for _ in $(seq 100); do api GET "/v3/snapshots/$s"; [[ $CODE == 404 ]] && break; sleep 0.1; done
  [[ $CODE == 404 ]] || fail "snapshot $s not deleted: $BODY"
done
api POST "/v3/volumes/$vol/action" '{"os-unmanage": {}}'
expect_code 202 "unmanage"
for _ in $(seq 100); do
  api GET "/v3/volumes/$vol"; [[ $CODE == 404 ]] && break; sleep 0.1
done
[[ $CODE == 404 ]] || fail "volume not unmanaged: $BODY"
[[ $(count_images "$vol") == 0 ]] || fail "images of the unmanaged volume remain in Glance"
pass "deleting the snapshots and unmanaging the volume deleted its images in Glance"

# Issue 17: overlays with subclusters; a layer of 4 KiB writes is stored in
# Glance as its data extents (engine/layer_form.h, disk_format raw), about
# the size of what was written, and a revert from it is exact.
stop_stratad
printf '[engine]\noverlay_subclusters = true\n' >"$T/sub.conf"
start_stratad --store "glance:$g_url" --config "$T/sub.conf"
sdisk="$T/var/disks/sub.qcow2"
qemu-img create -q -f qcow2 "$sdisk" 64M
write_pattern "$sdisk" 0x11 0 32M
svol=$(manage_disk "$sdisk" sub)
t1=$(snapshot "$svol" t1); check_stored "$t1" "$svol" >/dev/null
cmds=()
for i in $(seq 0 255); do cmds+=(-c "write -P 0x22 $((i * 65536 + 8192)) 4k"); done
qemu-io -f qcow2 "${cmds[@]}" "$sdisk" >/dev/null
t2=$(snapshot "$svol" t2); check_stored "$t2" "$svol" raw >/dev/null
api GET "/v3/snapshots/$t2"
t2_bytes=$(jget 'j["snapshot"]["os-strata:stored_bytes"]')
(( t2_bytes < (1 << 20) + (768 << 10) )) ||
  fail "1 MiB of 4 KiB writes stored as $t2_bytes bytes"
write_pattern "$sdisk" 0x33 0 64M
revert "$svol" "$t2"
reads_pattern "$sdisk" 0x11 0 8k && reads_pattern "$sdisk" 0x22 8k 4k &&
  reads_pattern "$sdisk" 0x11 12k 52k &&
  reads_pattern "$sdisk" 0x22 $((255 * 65536 + 8192)) 4k &&
  reads_pattern "$sdisk" 0 32M 32M || fail "revert to the sparse layer is not exact"
pass "a layer of 4 KiB writes stored sparse in Glance: $t2_bytes bytes for 1 MiB written; revert exact"
