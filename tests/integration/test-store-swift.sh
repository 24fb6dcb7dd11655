#!/usr/bin/env bash
# The swift store driver against Debian's Swift (issue 23, R1.4, R2.5,
# R1.9; scripts/start-test-swift.sh: one replica, tempauth): stratad with
# --store swift:…&segment_mib=1, a snapshot series of a real disk whose
# layers are large objects of several segments. What python3-swiftclient's
# `swift list` / `swift stat` show: each layer under its key, the size and
# SHA-256 the catalog recorded (the bytes `swift download` gives hash to
# it), Strata's metadata naming volume, snapshot and parent, and segments
# in strata_segments. Reverts read the layers back from Swift exactly.
# The catalog deleted and rebuilt from Swift's metadata (`stratad
# --rebuild-catalog`): the same volume and snapshots, reverts to every
# point, a new snapshot on top. Deleting snapshots deletes their objects
# and segments. Relay stages (zstd + AES-256-GCM) on Swift: ciphertext
# stored, reverts exact, a rebuilt catalog reverts through them too. The
# host lost with catalog and disk: rebuilt elsewhere, a new volume from the
# newest snapshot holds its data.
source "$(dirname "$0")/lib.sh"
need qemu-img qemu-io curl python3 swift swift-proxy-server memcached

start_swift 1
sw() { swift -A "$auth" -U test:tester -K testing "$@"; }

start_stratad --store "$spec"
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

# revert_to POINT CONTEXT: reverts the disk to s1, s2 or s3 and checks
# that it holds exactly that point's data.
declare -A point=([s1]=$s1 [s2]=$s2 [s3]=$s3)
revert_to() {
  revert "$vol" "${point[$1]}"
  local expect
  case $1 in
    s1) expect="0x11 0 3M;0x00 3M 2M" ;;
    s2) expect="0x11 0 3M;0x22 3M 2M" ;;
    s3) expect="0x33 0 1M;0x11 1M 2M;0x22 3M 2M" ;;
  esac
  local IFS=';' range
  for range in $expect; do
    IFS=' ' read -r pattern offset length <<<"$range"
    reads_pattern "$disk" "$pattern" "$offset" "$length" ||
      fail "$2, revert to $1: not $pattern at $offset+$length"
  done
}
revert_to s2 "from Swift"
revert_to s1 "from Swift"
pass "reverts read the layers back from Swift exactly"

# The catalog lost: `stratad --rebuild-catalog` makes it again from what
# Swift keeps with each layer, and every point can be reverted to.
# snapshot_facts: id, name, parent, SHA-256, size and status of each
# snapshot of the volume, sorted.
snapshot_facts() {
  api GET "/v3/snapshots/detail?all_tenants=1"
  jget '"\n".join(sorted(" ".join(str(x) for x in (s["id"], s["name"], s["volume_id"], s["os-strata:parent_id"], s["os-strata:sha256"], s["os-strata:stored_bytes"], s["status"], s["size"])) for s in j["snapshots"]))'
}
snapshot_facts >"$T/facts.before"
api GET "/v3/volumes/$vol"
vol_before=$(jget '" ".join(str(x) for x in (j["volume"]["id"], j["volume"]["name"], j["volume"]["size"], j["volume"]["status"]))')
# rebuild_catalog WHAT ADDED STRATAD-ARGS…: `stratad --rebuild-catalog`
# on $T/var; its summary must say ADDED ("1 volume(s) and 3 snapshot(s)").
rebuild_catalog() {
  local what=$1 added=$2
  shift 2
  "$STRATAD" --state-dir "$T/var" --libvirt-uri none "$@" --rebuild-catalog \
    >"$T/rebuild.out" 2>>"$T/stratad.log" ||
    fail "$what: the rebuild failed: $(tail -3 "$T/stratad.log")"
  grep -q "$added added" "$T/rebuild.out" ||
    fail "$what: the rebuild says: $(cat "$T/rebuild.out")"
}
stop_stratad
mv "$T/var/catalog.db" "$T/catalog.lost"
rm -f "$T/var/catalog.db-wal" "$T/var/catalog.db-shm"
rebuild_catalog "the catalog lost" "1 volume(s) and 3 snapshot(s)" --store "$spec"
start_stratad --store "$spec"
snapshot_facts >"$T/facts.after"
diff "$T/facts.before" "$T/facts.after" >"$T/facts.diff" ||
  fail "the rebuilt snapshots differ: $(cat "$T/facts.diff")"
api GET "/v3/volumes/$vol"
expect_code 200 "the rebuilt volume"
[[ $(jget '" ".join(str(x) for x in (j["volume"]["id"], j["volume"]["name"], j["volume"]["size"], j["volume"]["status"]))') == "$vol_before" ]] ||
  fail "the rebuilt volume differs: $BODY (was $vol_before)"
for p in s3 s2 s1; do revert_to "$p" "rebuilt catalog"; done
write_pattern "$disk" 0x44 4M 1M
s4=$(snapshot "$vol" s4)
api GET "/v3/snapshots/$s4"
[[ $(jget 'j["snapshot"]["os-strata:parent_id"]') == "$s1" ]] || fail "the snapshot after the rebuild is not on s1: $BODY"
revert "$vol" "$s4"
reads_pattern "$disk" 0x44 4M 1M || fail "rebuilt catalog, revert to s4"
pass "catalog deleted and rebuilt from Swift ($(cat "$T/rebuild.out")): the same volume and snapshots; reverts to every point, and a new snapshot on top"

for s in "$s4" "$s3" "$s2" "$s1"; do
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

# Relay stages on Swift (R1.3): zstd, then AES-256-GCM, in a container of
# their own; Swift holds ciphertext, reverts read the layers back exactly,
# and a catalog rebuilt from Swift still reverts through the stages.
stop_stratad
head -c 32 /dev/urandom >"$T/aes.key"
chmod 600 "$T/aes.key"
printf '[store]\ncompression = zstd\nencryption = aes-256-gcm\nencryption_key_file = %s\n' \
  "$T/aes.key" >"$T/relay.conf"
relay_spec="swift:$auth?user=test:tester&key_file=$T/swift.key&segment_mib=1&container=relay"
rm -rf "$T/var"
start_stratad --store "$relay_spec" --config "$T/relay.conf"
disk="$T/var/disks/r.qcow2"
qemu-img create -q -f qcow2 "$disk" 64M
vol=$(manage_disk "$disk" r)
write_pattern "$disk" 0x5a 0 3M
r1=$(snapshot "$vol" r1)
write_pattern "$disk" 0x6b 3M 2M
r2=$(snapshot "$vol" r2)
rm -f "$T/dl"
sw download relay "volumes/$vol/$r1.qcow2" -o "$T/dl" >/dev/null || fail "swift download of r1"
python3 - "$T/dl" <<'PY' || fail "Swift holds r1's bytes in the clear"
import sys
data = open(sys.argv[1], "rb").read()
# Neither the layer (qcow2), nor its pattern, nor a zstd frame: ciphertext.
sys.exit(1 if b"\x5a" * 4096 in data or data[:4] in (b"QFI\xfb", b"\x28\xb5\x2f\xfd") else 0)
PY
revert "$vol" "$r1"
reads_pattern "$disk" 0x5a 0 3M || fail "relay stages, revert to r1"
reads_pattern "$disk" 0x00 3M 2M || fail "relay stages, revert to r1: r2's data still there"
stop_stratad
rm -f "$T/var/catalog.db" "$T/var/catalog.db-wal" "$T/var/catalog.db-shm"
rebuild_catalog "relay stages" "1 volume(s) and 2 snapshot(s)" \
  --store "$relay_spec" --config "$T/relay.conf"
start_stratad --store "$relay_spec" --config "$T/relay.conf"
revert "$vol" "$r2"
reads_pattern "$disk" 0x5a 0 3M || fail "relay stages, rebuilt catalog, revert to r2: r1's data"
reads_pattern "$disk" 0x6b 3M 2M || fail "relay stages, rebuilt catalog, revert to r2"
revert "$vol" "$r1"
reads_pattern "$disk" 0x00 3M 2M || fail "relay stages, rebuilt catalog, revert to r1"
pass "zstd + AES-256-GCM on Swift: ciphertext stored, reverts exact, also after a catalog rebuild"

# The host lost with its catalog and the disk: a rebuild on a new state
# directory finds the volume's disk gone (the volume in error, saying so)
# and its snapshots available; a new volume made from the newest snapshot
# holds its data, read back from Swift through the stages.
stop_stratad
rm -rf "$T/var"
rebuild_catalog "the host lost" "1 volume(s) and 2 snapshot(s)" \
  --store "$relay_spec" --config "$T/relay.conf"
start_stratad --store "$relay_spec" --config "$T/relay.conf"
api GET "/v3/volumes/$vol"
[[ $(jget 'j["volume"]["status"]') == error && $(jget 'j["volume"]["description"]') == *missing* ]] ||
  fail "the lost disk's volume: $BODY"
api GET "/v3/snapshots/$r2"
[[ $(jget 'j["snapshot"]["status"]') == available ]] || fail "r2 after the rebuild: $BODY"
api POST /v3/volumes "{\"volume\": {\"size\": 1, \"snapshot_id\": \"$r2\", \"name\": \"restored\"}}"
expect_code 202 "a volume from r2 after the host was lost"
restored=$(jget 'j["volume"]["id"]')
wait_volume "$restored" available 120
file="$T/var/volumes/volume-$restored.qcow2"
reads_pattern "$file" 0x5a 0 3M || fail "the volume from r2 lacks r1's data"
reads_pattern "$file" 0x6b 3M 2M || fail "the volume from r2 lacks r2's data"
pass "host lost (catalog and disk): rebuilt on a new state directory, the volume in error (disk missing), a new volume from r2 holds its data"
