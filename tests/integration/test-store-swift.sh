#!/usr/bin/env bash
# The swift store driver against Debian's Swift (issue 23, R1.4, R2.5,
# R1.9; scripts/start-test-swift.sh: one replica, tempauth): stratad with
# --store swift:…&segment_mib=1, a snapshot series of a real disk whose
# layers are large objects of several segments. What python3-swiftclient's
# `swift list` / `swift stat` show: each layer under its key, the size and
# SHA-256 the catalog recorded (the bytes `swift download` gives hash to
# it), Strata's metadata naming volume, snapshot and parent, and segments
# in strata_segments. Reverts read the layers back from Swift exactly;
# deleting snapshots deletes their objects and segments.
source "$(dirname "$0")/lib.sh"
need qemu-img qemu-io curl python3 swift swift-proxy-server memcached

s_port=$(free_port)
s_pid=$("$STRATA_SRC/scripts/start-test-swift.sh" "$T/swift" "$s_port") ||
  fail "swift did not start"
trap 'rc=$?; kill -- "-$s_pid" 2>/dev/null || true; cleanup "$rc"' EXIT
echo testing >"$T/swift.key"
auth="http://127.0.0.1:$s_port/auth/v1.0"
sw() { swift -A "$auth" -U test:tester -K testing "$@"; }

start_stratad --store "swift:$auth?user=test:tester&key_file=$T/swift.key&segment_mib=1"
disk="$T/var/disks/d.qcow2"
qemu-img create -q -f qcow2 "$disk" 64M
vol=$(manage_disk "$disk" d)

# check_stored SNAPSHOT: Swift holds the layer as the catalog says.
check_stored() {
  api GET "/v3/snapshots/$1"
  local sha bytes parent key
  sha=$(jget 'j["snapshot"]["os-strata:sha256"]')
  bytes=$(jget 'j["snapshot"]["os-strata:stored_bytes"]')
  parent=$(jget 'j["snapshot"]["os-strata:parent_id"] or ""')
  key="volumes/$vol/$1.qcow2"
  sw list strata | grep -qx "$key" || fail "swift list strata lacks $key: $(sw list strata)"
  sw stat strata "$key" >"$T/stat" || fail "swift stat $key failed"
  grep -q "Content Length: $bytes\$" "$T/stat" || fail "size of $key is not $bytes: $(cat "$T/stat")"
  grep -q "Meta Strata-Sha256: $sha\$" "$T/stat" || fail "sha256 metadata of $key: $(cat "$T/stat")"
  grep -q "Meta Strata-Volume-Id: $vol\$" "$T/stat" || fail "volume metadata of $key: $(cat "$T/stat")"
  grep -q "Meta Strata-Snapshot-Id: $1\$" "$T/stat" || fail "snapshot metadata of $key: $(cat "$T/stat")"
  if [[ -n $parent ]]; then
    grep -q "Meta Strata-Parent-Id: $parent\$" "$T/stat" || fail "parent metadata of $key: $(cat "$T/stat")"
  fi
  rm -f "$T/dl"
  sw download strata "$key" -o "$T/dl" >/dev/null || fail "swift download $key failed"
  [[ $(sha256sum <"$T/dl" | cut -d' ' -f1) == "$sha" ]] || fail "the bytes Swift serves for $key are not the catalog's"
}

write_pattern "$disk" 0x11 0 3M
s1=$(snapshot "$vol" s1)
write_pattern "$disk" 0x22 3M 2M
s2=$(snapshot "$vol" s2)
write_pattern "$disk" 0x33 0 1M
s3=$(snapshot "$vol" s3)
for s in "$s1" "$s2" "$s3"; do check_stored "$s"; done
segs=$(sw list strata_segments | grep -c "^volumes/$vol/" || true)
((segs >= 4)) || fail "the layers are not large objects: $segs segments"
pass "3 snapshots: swift list/stat show each layer with the catalog's size and SHA-256 and Strata's metadata; $segs segments"

revert "$vol" "$s2"
reads_pattern "$disk" 0x11 0 3M || fail "revert to s2: s1's data"
reads_pattern "$disk" 0x22 3M 2M || fail "revert to s2: s2's data"
revert "$vol" "$s1"
reads_pattern "$disk" 0x11 0 3M || fail "revert to s1"
reads_pattern "$disk" 0x00 3M 2M || fail "revert to s1: s2's data still there"
pass "reverts read the layers back from Swift exactly"

for s in "$s3" "$s2" "$s1"; do
  api DELETE "/v3/snapshots/$s"
  expect_code 202 "deleting $s"
  for _ in $(seq 100); do api GET "/v3/snapshots/$s"; [[ $CODE == 404 ]] && break; sleep 0.1; done
done
api POST "/v3/volumes/$vol/action" '{"os-unmanage": {}}'
expect_code 202 "unmanaging the volume"
for _ in $(seq 100); do
  [[ -z $(sw list strata) && -z $(sw list strata_segments) ]] && break
  sleep 0.1
done
[[ -z $(sw list strata) ]] || fail "objects left after the deletes: $(sw list strata)"
[[ -z $(sw list strata_segments) ]] || fail "segments left after the deletes: $(sw list strata_segments)"
pass "deleting every snapshot (and unmanaging the volume) deletes their objects and segments"
