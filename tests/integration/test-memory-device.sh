#!/usr/bin/env bash
# Memory snapshots on raw block devices through the API (issue 21, R3.7):
# `[memory] devices` lists one loop device (a raw LUN's stand-in: no file
# system on it), and the test guest (128 MiB, running
# tests/guest/memwriter over 32 MiB of its RAM at 64 MiB/s) is snapshotted
# with its memory through createImage.
#  - the snapshot's region is the device, complete, of the formula's size;
#  - while it holds the device, another snapshot with memory is refused
#    (409) before anything changes;
#  - restored from the device: the counter goes on from the snapshot's
#    instant (no reboot), the pattern verifies;
#  - the snapshot deleted: the device is given back (its superblock
#    zeroed), and the next snapshot reuses it over the older bytes; that
#    one restores as itself;
#  - the device's region damaged: the restore fetches the store's copy
#    into the device, and the guest goes on at the snapshot's instant;
#  - stratad killed at the disk's cut (VM paused at the stream's end): after
#    the restart the VM runs, the device is given back (no region on it)
#    and a new snapshot with memory takes it.
source "$(dirname "$0")/lib.sh"
need_guest
need curl python3 virsh losetup truncate

lo=
test_cleanup() { [[ -n $lo ]] && losetup -d "$lo" 2>/dev/null; true; }
source "$(dirname "$0")/memory_lib.sh"
memory_guest "strata-memdev-$$" 128 32
truncate -s 192M "$T/lun.img"
lo=$(losetup -f --show "$T/lun.img") || fail "no loop device"
# The device starts as a used LUN does: not zeros.
python3 -c 'import sys; open(sys.argv[1], "r+b").write(b"\xa5" * (1 << 20))' "$lo"
cat >"$T/strata.conf" <<CONF
[memory]
devices = $lo
CONF
start_stratad --config "$T/strata.conf"
action() { api POST "/v2.1/servers/$uuid/action" "$1" -H "X-OpenStack-Nova-API-Version: 2.45"; }
superblock() { head -c 16 "$lo" | tr -d '\0'; }

# snapshot_with_memory NAME: createImage with memory, available; prints
# the snapshot's id; sets tick_lo, tick_hi.
snapshot_with_memory() {
  tick_lo=$(last_tick)
  action "{\"createImage\":{\"name\":\"$1\",\"os-strata:memory\":true}}"
  expect_code 202 "createImage $1 with memory"
  local id
  id=$(jget 'j["image_id"]')
  wait_snapshot "$id" available 180
  tick_hi=$(last_tick)
  SNAP=$id
}

# restore_from SNAPSHOT: os-strata:restoreMemory; ACTIVE, the counter goes
# on within tick_lo..tick_hi of that snapshot, the pattern verifies.
restore_from() {
  local boot lo_t=$2 hi_t=$3
  boot=$(mem_ticks | tail -1 | cut -d' ' -f1)
  restore_server_memory "$1"
  restored_counter "$boot" "$lo_t" "$hi_t"
  restored_pattern "$boot"
}

# The snapshot on the device.
snapshot_with_memory first
a=$SNAP a_lo=$tick_lo a_hi=$tick_hi
api GET "/v3/snapshots/$a"
python3 -c '
import json, sys
m = json.load(sys.stdin)["snapshot"]["os-strata:memory"]
assert m["state"] == "complete", m
assert m["region_bytes"] == 4096 + 4096 + (16 << 20) + m["slots"] * 4104, m
' <<<"$BODY" || fail "the memory part: $BODY"
[[ $(superblock) == STRATA-MEMSNAP ]] || fail "the device holds no region: '$(superblock)'"
[[ -z $(ls "$T/var/memory") ]] || fail "a region file was written beside the device: $(ls "$T/var/memory")"
pass "snapshot $a's memory is on $lo: complete, $(jget 'j["snapshot"]["os-strata:memory"]["region_bytes"]') bytes (the formula), no file in the memory directory"

# The device is taken: another snapshot with memory is refused at once.
rec=$(last_rec)
action '{"createImage":{"name":"no room","os-strata:memory":true}}'
expect_code 409 "a snapshot with memory while every device is taken"
[[ $(virsh domstate "$name") == running ]] || fail "the refusal stopped the server"
pass "with every device taken, createImage with memory is refused: 409 ($(jget 'j["conflictingRequest"]["message"]'))"

restore_from "$a" "$a_lo" "$a_hi"
pass "restored from $lo: the counter went on at tick $FIRST_TICK (snapshot during $a_lo..$a_hi), $VERDICT"

# Deleted: the device is given back, and the next snapshot reuses it.
api DELETE "/v3/snapshots/$a"
expect_code 202 "deleting $a"
for _ in $(seq 300); do [[ -z $(superblock) ]] && break; sleep 0.1; done
[[ -z $(superblock) ]] || fail "the deleted snapshot's region still reads on $lo: '$(superblock)'"
for _ in $(seq 100); do (($(last_tick) > a_hi + 40)) && break; sleep 0.1; done
snapshot_with_memory second
b=$SNAP b_lo=$tick_lo b_hi=$tick_hi
[[ $(superblock) == STRATA-MEMSNAP ]] || fail "the second snapshot is not on $lo"
restore_from "$b" "$b_lo" "$b_hi"
((FIRST_TICK > a_hi)) || fail "the second snapshot restored at tick $FIRST_TICK, the first one's time ($a_lo..$a_hi)"
pass "deleted, $lo was given back (superblock zeroed); snapshot $b reused it and restored as itself: tick $FIRST_TICK (snapshot during $b_lo..$b_hi), $VERDICT"

# The device's region damaged: the restore fetches the store's copy into it.
python3 -c 'import sys; f = open(sys.argv[1], "r+b"); f.seek(100); f.write(b"X"); f.close()' "$lo"
restore_from "$b" "$b_lo" "$b_hi"
grep -q "is a region again in $lo" "$T/stratad.log" || fail "the restore did not fetch the store's copy into $lo"
[[ $(superblock) == STRATA-MEMSNAP && -z $(ls "$T/var/memory") ]] ||
  fail "after the fetch: '$(superblock)' on $lo, $(ls "$T/var/memory") in the memory directory"
pass "with the device's region damaged, the restore fetched the store's copy into $lo: tick $FIRST_TICK, $VERDICT"

# Killed at the disk's cut: the device comes back.
api DELETE "/v3/snapshots/$b"
for _ in $(seq 300); do [[ -z $(superblock) ]] && break; sleep 0.1; done
crash_at_memory_cut
[[ $(superblock) == STRATA-MEMSNAP ]] || fail "the crash came before the region was on $lo: the test proves nothing"
start_stratad --config "$T/strata.conf"
[[ $(virsh domstate "$name") == running ]] || fail "after the restart the VM is $(virsh domstate "$name")"
wait_snapshot "$crashed" error 60
[[ -z $(superblock) ]] || fail "the interrupted snapshot's region still reads on $lo: '$(superblock)'"
snapshot_with_memory after
pass "killed at the cut: after the restart the VM runs, $crashed is in error, $lo was given back, and snapshot $SNAP took it"
