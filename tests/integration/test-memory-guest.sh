#!/usr/bin/env bash
# Memory snapshots of a guest whose memory matters (issue 21, R3.1-R3.3,
# R3.8, R3.9). The test guest runs tests/guest/memwriter beside its
# records: a counter ("tick") and a checksummed pattern over half its RAM,
# the pattern's pages rewritten at a chosen rate, the whole pattern checked
# against a generation table every 2 s. (The issue asks for 64 MiB as the
# smallest guest: Debian 12's kernel does not boot in it, as its image
# alone spans guest-physical 16-74 MiB, so 128 MiB is the smallest here.)
#  - 128, 256 and 512 MiB guests, idle and dirtying as fast as the guest
#    can (GiB/s under TCG here, far above what the stream drains): the
#    region's size is exactly the formula, Σ blocks / 4096 × (4096 + 8)
#    after the superblock, block table and metadata bound, whatever the
#    rate, while the stream QEMU sent (what a growing file would hold)
#    grows with it; zero pages take no space (allocated <= the non-zero
#    pages in the region + 1 %, plus 1 MiB of table and address words);
#  - a guest dirtying flat out does not converge: Strata pauses it after
#    its passes (R3.8) and it runs on; an idle one converges by itself.
#    (Flat out with a 10 ms downtime limit: what is left after a pass is
#    then always far above what QEMU would send in the limit, where at the
#    default 300 ms a small pattern may or may not fit, by the stream's
#    speed on a loaded machine. Idle with the default. A guest whose
#    vCPU the machine's load slowed so much that QEMU converged anyway is
#    taken again, up to 3 times: seen once under ctest -j2, 2 passes.)
#  - the 256 MiB flat-out snapshot restored from its region alone: the
#    counter goes on from the snapshot's instant with the same boot id
#    (no reboot), and the next full check of the pattern passes.
source "$(dirname "$0")/lib.sh"
need_guest
need virsh python3
source "$(dirname "$0")/memory_lib.sh"
[[ -x ${MEMSNAP_TAKE:-} && -x ${MEMSTREAM_REBUILD:-} ]] ||
  skip "needs the memsnap_take and memstream_rebuild helpers (ctest sets them)"


# take SIZE_MIB RATE: boots a guest of SIZE_MIB with the pattern over what
# its kernel leaves (SIZE_MIB / 2 - 32) dirtied at RATE MiB/s (-1: flat out), waits for the pattern's first
# check, takes a memory snapshot into $T/r-SIZE-RATE.img and writes the
# taker's JSON, with the non-zero pages of the region and the ticks around,
# to $T/j-SIZE-RATE.json. (Not in a subshell: boot_guest's trap would end
# the guest with it.)
take() {
  local size=$1 rate=$2 tag=$1-$2
  console=$T/console-$tag.log
  GUEST_MEMORY_MIB=$size boot_guest "mem-$tag-$$" "$T/var/disks/$tag.qcow2" 64M \
    "memwriter.mib=$((size / 2 - 32)) memwriter.dirty_mibps=$rate"
  await_memwriter "the $size MiB guest"
  local before after
  before=$(last_tick)
  local downtime=300
  ((rate < 0)) && downtime=10
  timeout 300 "$MEMSNAP_TAKE" qemu:///system "$GUEST_DOMAIN" "$T/r-$tag.img" "$downtime" >"$T/take-$tag.json" \
    2>"$T/take-$tag.err" || fail "TakeMemorySnapshot of the $size MiB guest: $(cat "$T/take-$tag.err")"
  after=$(last_tick)
  [[ $(virsh domstate "$GUEST_DOMAIN") == running ]] ||
    fail "the $size MiB guest is not running after the snapshot"
  # It runs on: the counter moves.
  for _ in $(seq 300); do (($(last_tick) > after)) && break; sleep 0.1; done
  (($(last_tick) > after)) || fail "the $size MiB guest's counter stopped after the snapshot"
  "$MEMSTREAM_REBUILD" --from-region "$T/r-$tag.img" "$T/s.bin" ||
    fail "the $size MiB region does not read back"
  "$MEMSTREAM_REBUILD" "$T/s.bin" >"$T/s-$tag.json" || fail "the stream out of the region"
  rm -f "$T/s.bin"
  python3 - "$T/take-$tag.json" "$T/s-$tag.json" "$before" "$after" "$size" \
    >"$T/j-$tag.json" <<'PY' || fail "reading the $size MiB snapshot's figures"
import json, sys
t, s = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
t["nonzero_pages"] = s["pages"]
t["ram_bytes"] = sum(b["length"] for b in s["blocks"])
t["tick_before"], t["tick_after"] = int(sys.argv[3]), int(sys.argv[4])
t["size_mib"] = int(sys.argv[5])
print(json.dumps(t))
PY
}

# check JSON RATE: the formula and the space of one snapshot; exits 3 when
# a flat-out guest did not out-dirty the stream this time (QEMU converged
# by itself: the machine's load slowed the guest's vCPU), so that the
# snapshot is taken again rather than the bound judged on a slowed guest.
check() {
  python3 - "$1" "$2" <<'PY'
import json, sys
t, rate = json.loads(sys.argv[1]), int(sys.argv[2])
assert t["qemu_status"] == "completed", t
# R3.1/R3.2: the blocks hold the guest's RAM and the devices' memory.
assert t["ram_bytes"] > t["size_mib"] << 20, t
# R3.3/R3.4: exactly the formula.
fixed = 4096 + 4096 + (16 << 20)
assert t["slots"] * 4096 == t["ram_bytes"], t
assert t["region_bytes"] == fixed + t["ram_bytes"] // 4096 * 4104, t
# Zero pages take no space.
assert t["allocated_bytes"] <= t["nonzero_pages"] * 4104 * 1.01 + (1 << 20), t
# R3.8: flat out, the guest out-dirties the stream and Strata pauses it;
# idle, QEMU converges by itself.
if rate < 0:
    if not t["forced_pause"]:
        sys.exit(3)
    assert t["dirty_syncs"] > 3, t
else:
    assert not t["forced_pause"], t
PY
}

declare -A json
for size in 128 256 512; do
  for rate in 0 -1; do
    for attempt in 1 2 3; do
      take "$size" "$rate"
      json[$size,$rate]=$(cat "$T/j-$size-$rate.json")
      rc=0
      check "${json[$size,$rate]}" "$rate" || rc=$?
      ((rc == 3 && attempt < 3)) || break
      echo "the $size MiB guest did not out-dirty the stream (attempt $attempt, QEMU converged): taken again"
      virsh -q destroy "$GUEST_DOMAIN" >/dev/null 2>&1 || true
    done
    ((rc == 0)) || fail "the $size MiB snapshot at rate $rate: ${json[$size,$rate]}"
    if [[ $size != 256 || $rate != -1 ]]; then
      virsh -q destroy "$GUEST_DOMAIN" >/dev/null 2>&1 || true
      rm -f "$T/r-$size-$rate.img"
    fi
  done
  python3 - "${json[$size,0]}" "${json[$size,-1]}" <<'PY' || fail "the $size MiB regions at both rates: ${json[$size,0]} ${json[$size,-1]}"
import json, sys
idle, flat = json.loads(sys.argv[1]), json.loads(sys.argv[2])
# The same size whatever the rate, while the stream grew with it.
assert idle["region_bytes"] == flat["region_bytes"], (idle, flat)
assert flat["stream_bytes"] > idle["stream_bytes"] + (flat["size_mib"] << 18), (idle, flat)
PY
  pass "$(python3 -c '
import json, sys
i, f = json.loads(sys.argv[1]), json.loads(sys.argv[2])
print("%d MiB guest: region %d bytes (the formula) idle and flat out; QEMU sent %d MB idle, %d MB flat out (%d passes, paused by Strata with %d MB left, the VM stood %.0f ms); allocated %d MB for %d non-zero pages"
      % (i["size_mib"], i["region_bytes"], i["stream_bytes"] / 1e6, f["stream_bytes"] / 1e6,
         f["dirty_syncs"], f["remaining_at_pause"] / 1e6, f["vm_paused_ms"],
         f["allocated_bytes"] / 1e6, f["nonzero_pages"]))' "${json[$size,0]}" "${json[$size,-1]}")"
  if [[ $size == 256 ]]; then
    keep_domain=$GUEST_DOMAIN keep_console=$console
  else
    virsh -q destroy "$GUEST_DOMAIN" >/dev/null 2>&1 || true
  fi
done

# Restore the 256 MiB flat-out snapshot from its region alone.
GUEST_DOMAIN=$keep_domain console=$keep_console
# The upper bound of the restored counter is the last tick the guest
# printed before it was destroyed, not the last printed when the taker
# returned: the guest prints every 100 ms of its time, flat out that is
# ~190 ticks, so its first line after the restore may lie one interval
# past the snapshot's instant (seen: 5354 against 5250), and the console
# file lags behind. The pattern's check below is what proves the memory
# is one instant's.
tick_end=$(last_tick)
virsh -q destroy "$GUEST_DOMAIN" >/dev/null 2>&1 || true
read -r tick_before tick_after < <(python3 -c '
import json, sys
t = json.loads(sys.argv[1]); print(t["tick_before"], t["tick_after"])' "${json[256,-1]}")
boot=$(mem_ticks | tail -1 | cut -d' ' -f1)
restore_region "$T/r-256--1.img"
restored_counter "$boot" "$tick_before" "$tick_end"
restored_pattern "$boot"
pass "the 256 MiB flat-out snapshot restored from its region: the counter went on at tick $FIRST_TICK (the snapshot was taken during ticks $tick_before..$tick_after), same boot $boot, and the pattern verifies: $VERDICT"
