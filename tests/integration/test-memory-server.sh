#!/usr/bin/env bash
# A server's snapshot with its memory, through the API (issue 21, R3.5-R3.9):
# Nova's createImage with Strata's "os-strata:memory": true, and the
# extension action os-strata:restoreMemory. The test guest (256 MiB, a
# defined domain as Nova makes them) writes checksummed records to its disk
# and runs tests/guest/memwriter: a counter and a checksummed pattern over
# 96 MiB of its RAM, dirtied at 64 MiB/s.
#  - refusals: a non-boolean os-strata:memory, a restore without imageRef,
#    a restore from a snapshot that holds no memory (409), all before
#    anything changes;
#  - the snapshot: "available", its memory "complete" in a region of
#    exactly the formula's size (docs/memory-snapshot.md), the VM paused
#    only for the end of the stream and the disk's cut;
#  - disk and memory at one instant: the disk of that snapshot (a new
#    volume made from it) ends at record K, and the restored guest's next
#    record is K or K + 1 (the write in flight at the pause completes on
#    the disk before the cut and in memory before the stream's end);
#  - the restore: the server ACTIVE again, the counter goes on from the
#    snapshot's instant with the same boot id (no reboot), the pattern
#    verifies, and the disk holds one contiguous log after the guest wrote
#    on;
#  - the store's copy (through the zstd relay stage): a zstd frame of the
#    snapshot's restore image (libvirt's save header, then the stream with
#    each page once), no bigger than the region's allocated data (+1 %) and
#    far below its apparent size; with the region gone here, a restore
#    fetches it, and the guest goes on at the same instant again; a damaged
#    copy is refused before the server is touched;
#  - the snapshot deleted: its region and its stored copy are gone;
#  - crash safety: stratad killed with the VM paused at the end of the
#    stream (at the disk's cut, create.link_top): after the restart the VM
#    runs, the snapshot is in error, its memory part too, and no region is
#    left behind.
source "$(dirname "$0")/lib.sh"
need_guest
need curl python3 virsh zstd

source "$(dirname "$0")/memory_lib.sh"
memory_guest "strata-memsrv-$$" 256 96
cat >"$T/strata.conf" <<CONF
[store]
compression = zstd
CONF
start_stratad --config "$T/strata.conf"
mem_dir=$T/var/memory
action() { api POST "/v2.1/servers/$uuid/action" "$1" -H "X-OpenStack-Nova-API-Version: 2.45"; }

# Refusals.
action '{"createImage":{"name":"m","os-strata:memory":"yes"}}'
expect_code 400 "os-strata:memory that is not a boolean"
action '{"os-strata:restoreMemory":{}}'
expect_code 400 "a restore without imageRef"
action '{"createImage":{"name":"disk only"}}'
expect_code 202 "createImage without memory"
plain=$(jget 'j["image_id"]')
wait_snapshot "$plain" available 120
action "{\"os-strata:restoreMemory\":{\"imageRef\":\"$plain\"}}"
expect_code 409 "a restore from a snapshot without memory"
[[ $(virsh domstate "$name") == running ]] || fail "a refused restore stopped the server"
pass "refused: a non-boolean os-strata:memory (400), a restore without imageRef (400), a restore from a disk-only snapshot (409: $(jget 'j["conflictingRequest"]["message"]'))"

# The snapshot with memory.
tick_lo=$(last_tick) rec_lo=$(last_rec)
action '{"createImage":{"name":"with memory","os-strata:memory":true}}'
expect_code 202 "createImage with os-strata:memory"
img=$(jget 'j["image_id"]')
wait_snapshot "$img" available 180
tick_hi=$(last_tick) rec_hi=$(last_rec)
api GET "/v3/snapshots/$img"
python3 -c '
import json, sys
m = json.load(sys.stdin)["snapshot"]["os-strata:memory"]
assert m["state"] == "complete", m
assert m["region_bytes"] == 4096 + 4096 + (16 << 20) + m["slots"] * 4104, m
assert m["slots"] * 4096 > 256 << 20, m
assert m["vm_paused_ms"] > 0 and m["cut_ms"] > 0, m
' <<<"$BODY" || fail "the snapshot's memory part: $BODY"
region=$mem_dir/$img.region
[[ -f $region ]] || fail "no region for $img in $mem_dir"
[[ $(stat -c %s "$region") == $(jget 'j["snapshot"]["os-strata:memory"]["region_bytes"]') ]] ||
  fail "the region file's size is not the recorded one"
pass "snapshot $img with memory: $(jget 'json.dumps({k: j["snapshot"]["os-strata:memory"][k] for k in ("region_bytes", "passes", "forced_pause", "vm_paused_ms", "cut_ms", "total_ms")})'), taken during ticks $tick_lo..$tick_hi, records $rec_lo..$rec_hi"

# The disk of that instant: a volume made from the snapshot.
api POST /v3/volumes "{\"volume\":{\"size\":1,\"snapshot_id\":\"$img\",\"name\":\"instant\"}}"
expect_code 202 "a volume from the snapshot"
vol=$(jget 'j["volume"]["id"]')
wait_volume "$vol" available 120
k=$(verify_disk "$T/var/volumes/volume-$vol.qcow2" 1 | python3 -c 'import json,sys; print(json.load(sys.stdin)["last"])')
((rec_lo <= k && k <= rec_hi + 1)) || fail "the snapshot's disk ends at record $k, not within $rec_lo..$rec_hi"

# restore_memory: the guest runs on, then os-strata:restoreMemory of $img:
# ACTIVE again, the counter and pattern at the snapshot's instant, the
# disk's records at the same instant, the guest writing on; sets
# first_rec, FIRST_TICK, VERDICT, boot.
restore_memory() {
  for _ in $(seq 300); do (($(last_rec) > rec_hi + 100)) && break; sleep 0.1; done
  boot=$(mem_ticks | tail -1 | cut -d' ' -f1)
  restore_server_memory "$img"
  restored_counter "$boot" "$tick_lo" "$tick_hi"
  for _ in $(seq 600); do grep -aq '^REC ' "$console" && break; sleep 0.1; done
  first_rec=$({ grep -ao '^REC [0-9]*' "$console" || true; } | head -1 | tr -dc '0-9')
  [[ -n $first_rec ]] || fail "the restored guest writes no records"
  ((first_rec == k || first_rec == k + 1)) ||
    fail "disk and memory are not one instant: the disk ends at record $k, the restored guest went on at $first_rec"
  restored_pattern "$boot"
  for _ in $(seq 600); do (($(last_rec) > first_rec + 100)) && break; sleep 0.1; done
  (($(last_rec) > first_rec + 100)) || fail "the restored guest does not write on"
  qemu-img convert -U -O raw "$disk" "$T/now.raw"
  "$T/guest/verify-records" --min-last "$((first_rec + 100))" "$T/now.raw" >"$T/now.json" ||
    fail "after the restore the disk's log is not whole: $(cat "$T/now.json")"
  rm -f "$T/now.raw"
}
restore_memory
pass "restored with its memory: ACTIVE, the counter went on at tick $FIRST_TICK (snapshot during $tick_lo..$tick_hi, boot $boot), the disk at the snapshot ends at record $k and the guest went on at $first_rec, $VERDICT, the disk's log whole: $(cat "$T/now.json")"

# The store's copy: the restore image through the zstd stage.
api GET "/v3/snapshots/$img"
stored=$(jget 'j["snapshot"]["os-strata:memory"]["stored_bytes"]')
object=$(find "$T/var/store/volumes" -name "$img.memory")
[[ -n $object && $(stat -c %s "$object") == "$stored" ]] ||
  fail "the store holds no copy of $img's memory of $stored bytes: '$object'"
zstd -q -t "$object" || fail "$object is not a zstd frame"
zstd -q -f -d "$object" -o "$T/image"
image=$(stat -c %s "$T/image")
[[ $(head -c 16 "$T/image") == LibvirtQemudSave ]] ||
  fail "the stored copy is not a restore image: $(head -c 16 "$T/image" | od -c | head -1)"
alloc=$(($(stat -c %b "$region") * $(stat -c %B "$region")))
apparent=$(stat -c %s "$region")
((image <= alloc + alloc / 100 && image < apparent * 3 / 4 && stored < image)) ||
  fail "the stored copy: $stored bytes stored, $image as an image, against the region's $alloc allocated and $apparent apparent"
rm -f "$T/image"
pass "the store keeps $img's memory as a zstd frame ($stored bytes) of its restore image ($image bytes: at most the region's allocated $alloc + 1 %, its apparent size $apparent)"

# The region gone here: a restore fetches the store's copy.
rm -f "$region"
restore_memory
[[ -f $region ]] || fail "the fetched region is not where the snapshot's region was"
grep -q "is a region again" "$T/stratad.log" || fail "the restore did not fetch the store's copy"
[[ -z $(find "$mem_dir" -name "$img.region.*") ]] || fail "the fetch left files behind: $(ls "$mem_dir")"
pass "with the region gone, the restore fetched the store's copy: the counter went on at tick $FIRST_TICK (snapshot during $tick_lo..$tick_hi), the guest at record $first_rec (disk at $k), $VERDICT"

# A damaged copy, the region gone: refused before the server is touched.
rm -f "$region"
python3 - "$object" <<'PY'
import os, sys
with open(sys.argv[1], "r+b") as f:
    f.seek(os.path.getsize(sys.argv[1]) // 2)
    b = f.read(1)
    f.seek(-1, 1)
    f.write(bytes([b[0] ^ 0xFF]))
PY
tick_before=$(last_tick)
action "{\"os-strata:restoreMemory\":{\"imageRef\":\"$img\"}}"
expect_code 202 "os-strata:restoreMemory from a damaged copy"
for _ in $(seq 600); do grep -q "failed: .*fetching the memory stored as" "$T/stratad.log" && break; sleep 0.1; done
grep -q "failed: .*fetching the memory stored as" "$T/stratad.log" ||
  fail "the damaged copy was not refused: $(grep -i "memory" "$T/stratad.log" | tail -3)"
for _ in $(seq 300); do (($(last_tick) > tick_before + 2)) && break; sleep 0.1; done
[[ $(virsh domstate "$name") == running ]] && (($(last_tick) > tick_before + 2)) ||
  fail "a refused fetch touched the server: $(virsh domstate "$name"), tick $(last_tick) after $tick_before"
[[ ! -e $region && -z $(find "$mem_dir" -name "$img.region.*") ]] ||
  fail "a refused fetch left files: $(ls "$mem_dir")"
pass "a damaged stored copy is refused ($(grep -o "fetching the memory stored as.*" "$T/stratad.log" | head -1 | cut -c1-160)) before the server is touched: it ran on (tick $(last_tick)), no region left"

# Deleting the snapshot removes its region and its stored copy.
api DELETE "/v3/volumes/$vol"
api DELETE "/v3/snapshots/$img"
expect_code 202 "deleting the snapshot with memory"
for _ in $(seq 300); do [[ ! -e $region && ! -e $object ]] && break; sleep 0.1; done
[[ ! -e $region ]] || fail "the deleted snapshot's region is still there"
[[ ! -e $object ]] || fail "the deleted snapshot's stored memory is still there"
pass "the deleted snapshot's region and stored memory are gone"

# The same through the CLI: strata server snapshot --memory, the snapshot
# list's Memory column, strata server restore-memory.
CLI=$(dirname "$STRATAD")/strata
[[ -x $CLI ]] || fail "no strata CLI next to $STRATAD"
cli() { "$CLI" --os-endpoint "$URL/v3" --os-token "$TOKEN" --no-progress "$@"; }
out=$(cli -f json server snapshot "$uuid" --memory --name cli --wait) ||
  fail "strata server snapshot --memory: $out"
cli_snap=$(python3 -c 'import json,sys; j=json.load(sys.stdin); assert j["os-strata:memory"]["state"] == "complete", j; print(j["id"])' <<<"$out") ||
  fail "strata server snapshot --memory printed $out"
cli -f value -c ID -c Memory snapshot list | grep -q "^$cli_snap complete$" ||
  fail "strata snapshot list lacks $cli_snap with its memory: $(cli snapshot list)"
out=$(cli -f json server restore-memory "$uuid" "$cli_snap" --wait) ||
  fail "strata server restore-memory: $out"
[[ $(python3 -c 'import json,sys; print(json.load(sys.stdin)["status"])' <<<"$out") == ACTIVE ]] ||
  fail "after strata server restore-memory: $out"
pass "CLI: strata server snapshot --memory --wait ($cli_snap, memory complete, listed), strata server restore-memory --wait (ACTIVE)"

# Crash with the VM paused at the end of the stream (the disk's cut).
crash_at_memory_cut
start_stratad --config "$T/strata.conf"
[[ $(virsh domstate "$name") == running ]] || fail "after the restart the VM is $(virsh domstate "$name")"
wait_snapshot "$crashed" error 60
api GET "/v3/snapshots/$crashed"
[[ $(jget 'j["snapshot"]["os-strata:memory"]["state"]') == error ]] ||
  fail "the interrupted memory part is not in error: $BODY"
[[ ! -e $mem_dir/$crashed.region ]] || fail "the interrupted snapshot's region was left behind"
before=$(last_rec)
for _ in $(seq 300); do (($(last_rec) > before + 50)) && break; sleep 0.1; done
(($(last_rec) > before + 50)) || fail "the guest does not write after the recovery"
pass "killed at the cut with the VM paused: after the restart it runs and writes on, the snapshot and its memory are in error, no region is left"
