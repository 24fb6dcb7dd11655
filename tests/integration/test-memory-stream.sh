#!/usr/bin/env bash
# QEMU 7.2's migration stream read and written by memsnap (issue 21's
# first piece, R3.2/R3.9), on the booted test guest (256 MiB, TCG), which
# writes numbered records to its console:
#  - a live stream, taken as Strata takes it: QMP getfd hands QEMU a file
#    of ours through libvirt (virsh qemu-monitor-command --pass-fds), then
#    migrate fd:. memsnap parses it: QEMU's RAM block list (its total is
#    the RAM setup's size), every page of every block at least once, the
#    devices' state to the end. The guest is resumed and writes on;
#  - the stream written into a fixed-size region (memsnap/region.h): its
#    size is exactly the formula (a slot of 4096 + 8 bytes per page after
#    the superblock, table and metadata bound), zero pages take no space
#    (allocated <= pages sent with data + 1 %), and the stream read back
#    out of it equals the one rebuilt in memory;
#  - Strata's own taker (engine TakeMemorySnapshot: QMP getfd of a socket
#    pair through libvirt's API, migrate fd:, the stream parsed into a
#    region as it arrives, the VM resumed at once): the VM runs and writes
#    on; the region has the same layout, zero pages take no space;
#  - that region alone restores with plain virsh restore: it keeps
#    libvirt's save header for the domain's XML, and header and stream
#    (each page once) are written into a FIFO as libvirt reads it; the
#    guest carries on from the snapshot's instant (its next record is one
#    it wrote while the snapshot was taken), with no reboot;
#  - a stream broken off mid-way is refused, and a region it was written
#    into reads as cut short and is not restorable;
#  - the region on a raw block device (a loop device, R3.7) over an older
#    snapshot: cut short it is refused, complete it reads back as itself;
#    a device too small is refused.
source "$(dirname "$0")/lib.sh"
need_guest
need virsh python3 losetup truncate
source "$(dirname "$0")/memory_lib.sh"
[[ -x ${MEMSTREAM_REBUILD:-} ]] || skip "needs the memstream_rebuild helper (ctest sets it)"

name=strata-mem-$$
disk=$T/var/disks/mem.qcow2
console=$T/console.log
boot_guest "$name" "$disk" 256M
qmp() { virsh qemu-monitor-command "$name" "$@"; }

# 1. The live stream.
qmp --pass-fds 3 '{"execute":"getfd","arguments":{"fdname":"strata"}}' \
  3>"$T/live.bin" >/dev/null || fail "getfd"
qmp '{"execute":"migrate","arguments":{"uri":"fd:strata"}}' >/dev/null || fail "migrate fd:"
for _ in $(seq 1200); do
  st=$(qmp '{"execute":"query-migrate"}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["return"].get("status",""))')
  [[ $st == completed || $st == failed ]] && break
  sleep 0.1
done
[[ $st == completed ]] || fail "the migration to our file ended $st"
# QEMU leaves the vCPUs paused at the end: the instant of the stream.
at=$(last_rec)
"$MEMSTREAM_REBUILD" "$T/live.bin" "$T/live-rebuilt.bin" >"$T/live.json" ||
  fail "memsnap refused QEMU's live stream: $(cat "$T/live.json")"
# The same stream into a fixed-size region, and back out of it.
"$MEMSTREAM_REBUILD" --region "$T/region.img" "$T/live.bin" "$T/from-region.bin" \
  >"$T/region.json" || fail "the region refused QEMU's live stream"
cmp -s "$T/live-rebuilt.bin" "$T/from-region.bin" ||
  fail "the stream out of the region differs from the stream rebuilt in memory"
python3 - "$T/live.json" <<'PY' || fail "the live stream's parse: $(cat "$T/live.json")"
import json, sys
j = json.load(open(sys.argv[1]))
ram = {b["id"]: b["length"] for b in j["blocks"]}
assert ram.get("pc.ram") == 256 << 20, ram
total = sum(ram.values())
# The first pass sends every page of every block.
assert j["distinct_pages"] == total // 4096, (j["distinct_pages"], total)
assert j["device_bytes"] > 0 and j["machine"].startswith("pc-"), j
PY
python3 - "$T/live.json" "$T/region.json" <<'PY' || fail "the region: $(cat "$T/region.json")"
import json, sys
j, r = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
total = sum(b["length"] for b in j["blocks"])
# R3.3/R3.4: one slot of 4096 + 8 bytes per page of every block, after a
# superblock, the block table and the metadata bound: exactly.
fixed = 4096 + 4096 + (16 << 20)
assert r["slots"] == total // 4096, r
assert r["slots_offset"] == fixed, r
assert r["region_bytes"] == fixed + total // 4096 * 4104, (r, total)
# Zero pages take no space: at most the pages QEMU sent with data (some
# twice) plus 1 %, and the metadata in use.
assert r["allocated_bytes"] <= r["pages"] * 4096 * 1.01 + (1 << 20), r
PY
pass "the region is exactly $(python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); print(r["region_bytes"], "bytes (", r["slots"], "slots of 4104 bytes after", r["slots_offset"], "bytes of superblock, table and metadata bound ), allocated", r["allocated_bytes"], "for", r["pages"], "pages sent with data")' "$T/region.json"); the stream out of it equals the one rebuilt in memory"
pass "a live stream through QMP getfd + migrate fd: parsed: $(python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); print(len(j["blocks"]), "RAM blocks,", j["pages"], "pages and", j["zero_pages"], "zero pages in", j["iterations"], "iterations,", j["device_bytes"], "bytes of device state")' "$T/live.json"); the guest paused after record $at"
virsh -q resume "$name" || fail "resume after the stream"
for _ in $(seq 600); do (( $(last_rec) > at + 50 )) && break; sleep 0.1; done
(( $(last_rec) > at + 50 )) || fail "the guest does not write on after the stream"

# 1b. Strata's own taker (engine/memory_snapshot.h) into a region while the
#     guest runs: it resumes the VM itself.
before=$(last_rec)
"$MEMSNAP_TAKE" qemu:///system "$name" "$T/taken.img" >"$T/taken.json" 2>"$T/taken.err" ||
  fail "TakeMemorySnapshot: $(cat "$T/taken.err")"
after=$(last_rec)
[[ $(virsh domstate "$name") == running ]] || fail "the VM is not running after the snapshot"
python3 - "$T/taken.json" "$T/region.json" <<'PY' || fail "the taken region: $(cat "$T/taken.json")"
import json, sys
t, r = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
assert t["qemu_status"] == "completed", t
assert t["region_bytes"] == r["region_bytes"], (t, r)  # the same layout
assert t["allocated_bytes"] <= t["pages"] * 4096 * 1.01 + (1 << 20), t
PY
for _ in $(seq 600); do (( $(last_rec) > after + 50 )) && break; sleep 0.1; done
(( $(last_rec) > after + 50 )) || fail "the guest does not write on after Strata's snapshot"
"$MEMSTREAM_REBUILD" --from-region "$T/taken.img" "$T/from-taken.bin" ||
  fail "the taken region does not read back"
pass "TakeMemorySnapshot: $(python3 -c 'import json,sys; t=json.load(open(sys.argv[1])); print(t["pages"], "pages,", t["dirty_syncs"], "passes,", round(t["total_ms"]), "ms in all; the VM resumed", round(t["resume_ms"], 1), "ms after QEMU completed")' "$T/taken.json"), during records $before..$after; the guest writes on"

# 2. Restore from the region alone: it keeps libvirt's save header for
#    the domain's XML; Strata writes header and stream into a FIFO as
#    virsh restore reads it (no file of the stream's size in between).
virsh -q destroy "$name" || fail "destroy before the restore"
restore_region "$T/taken.img"
for _ in $(seq 600); do grep -aq '^REC ' "$console" 2>/dev/null && break; sleep 0.1; done
first=$({ grep -ao '^REC [0-9]*' "$console" || true; } | head -1 | tr -dc '0-9')
! grep -aq '^RECWRITER START' "$console" || fail "the restored guest booted again: $(head -3 "$console")"
[[ -n $first ]] || fail "the restored guest writes no records"
(( before <= first && first <= after + 2 )) ||
  fail "the restored guest went on at record $first, not within the snapshot's $before..$after"
for _ in $(seq 600); do (( $(last_rec) > first + 50 )) && break; sleep 0.1; done
(( $(last_rec) > first + 50 )) || fail "the restored guest does not write on"
pass "Strata's snapshot restores from its region alone (libvirt's header kept in it, the stream written into a FIFO as virsh restore reads it): the guest went on at record $first (the snapshot was taken during $before..$after), without a reboot, and writes on"

# 3. A stream broken off.
head -c 1000000 "$T/live.bin" >"$T/cut.bin"
if "$MEMSTREAM_REBUILD" "$T/cut.bin" >/dev/null 2>"$T/cut.err"; then
  fail "a stream cut at 1 MB was accepted"
fi
grep -q "ends inside" "$T/cut.err" || fail "the cut stream's error: $(cat "$T/cut.err")"
pass "a stream cut short is refused: $(cat "$T/cut.err")"
# Into a region: the region says it was cut short, and is not restorable.
if "$MEMSTREAM_REBUILD" --region "$T/cut-region.img" "$T/cut.bin" >/dev/null 2>&1; then
  fail "a region took a stream cut short"
fi
if "$MEMSTREAM_REBUILD" --from-region "$T/cut-region.img" "$T/x.bin" 2>"$T/cut.err"; then
  fail "a region cut short was read back"
fi
grep -q "cut short" "$T/cut.err" || fail "the cut region's error: $(cat "$T/cut.err")"
pass "a region whose stream was cut short is refused on restore: $(cat "$T/cut.err")"

# 4. A raw block device as the region (R3.7): a loop device holding an
#    older snapshot (Strata's, of a later instant), then a snapshot cut
#    short (refused), Strata's taker killed at each of the writer's
#    phases (refused, the VM runs on), then the live one: read back, it is the live one's
#    pages only, whatever the device held. A device too small is refused.
lo=
test_cleanup() { [[ -n $lo ]] && losetup -d "$lo" 2>/dev/null; true; }
size=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["region_bytes"])' "$T/region.json")
truncate -s $((size + (1 << 20))) "$T/lun.img"
lo=$(losetup -f --show "$T/lun.img") || fail "no loop device"
"$MEMSTREAM_REBUILD" --region "$lo" "$T/from-taken.bin" >/dev/null ||
  fail "Strata's snapshot's stream into $lo"
if "$MEMSTREAM_REBUILD" --region "$lo" "$T/cut.bin" >/dev/null 2>&1; then
  fail "$lo took a stream cut short"
fi
if "$MEMSTREAM_REBUILD" --from-region "$lo" "$T/x.bin" 2>"$T/lun.err"; then
  fail "$lo read back a snapshot cut short"
fi
grep -q "cut short" "$T/lun.err" || fail "the cut device region: $(cat "$T/lun.err")"
# Strata's taker killed (an injected _exit, as kill -9) at each of the
# writer's phases, over a complete snapshot on the device: after the table,
# after the first pages, after the slots' sync before "complete". Each
# time the device reads as cut short, and the VM runs on.
for phase in memsnap.table memsnap.pages memsnap.finish; do
  "$MEMSTREAM_REBUILD" --region "$lo" "$T/from-taken.bin" >/dev/null ||
    fail "$phase: a complete snapshot into $lo"
  rc=0
  STRATA_CRASH_AT=$phase "$MEMSNAP_TAKE" qemu:///system "$name" "$lo" >/dev/null \
    2>"$T/kill.err" || rc=$?
  [[ $rc == 86 ]] || fail "$phase: the taker exited $rc, not at the injected crash: $(cat "$T/kill.err")"
  for _ in $(seq 300); do [[ $(virsh domstate "$name") == running ]] && break; sleep 0.1; done
  [[ $(virsh domstate "$name") == running ]] ||
    fail "$phase: the VM is $(virsh domstate "$name") after the taker died"
  if "$MEMSTREAM_REBUILD" --from-region "$lo" "$T/x.bin" 2>"$T/lun.err"; then
    fail "$phase: $lo read back a snapshot whose taker died"
  fi
  grep -q "cut short" "$T/lun.err" || fail "$phase: $(cat "$T/lun.err")"
done
"$MEMSTREAM_REBUILD" --region "$lo" "$T/live.bin" "$T/from-lun.bin" >/dev/null ||
  fail "the live stream into $lo"
cmp -s "$T/from-lun.bin" "$T/from-region.bin" ||
  fail "the live snapshot read back from $lo is not the one from the file region"
losetup -d "$lo"; lo=
truncate -s $((size - 4096)) "$T/small.img"
lo=$(losetup -f --show "$T/small.img") || fail "no loop device"
if "$MEMSTREAM_REBUILD" --region "$lo" "$T/live.bin" >/dev/null 2>"$T/small.err"; then
  fail "a device 4 KiB too small took the snapshot"
fi
grep -q "needs $size" "$T/small.err" || fail "the small device's error: $(cat "$T/small.err")"
losetup -d "$lo"; lo=
pass "on a loop device: a snapshot cut short over an older one is refused, and so is one whose taker died after the table, after the first pages or before 'complete' (the VM ran on each time); the next complete one reads back as itself (= the file region's), and a device 4 KiB too small is refused ($(cat "$T/small.err"))"
