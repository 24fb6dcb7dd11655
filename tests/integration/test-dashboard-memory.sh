#!/usr/bin/env bash
# The dashboard's memory snapshots (issue 21; tests/dashboard/memory_flow.py
# drives headless Chromium): the test guest (256 MiB, a defined domain)
# writes records and runs its memory workload (a counter and a checksummed
# pattern over 96 MiB, dirtied at 64 MiB/s). In the page: the server's
# "Take a snapshot with memory", the new point marked "with memory" in the
# timeline, then Rollback to it with "Restore the server with its memory",
# confirmed and followed to its end. Then, from the guest: no reboot, the
# counter went on from the point's instant (between the counter before the
# click and after the point was stored), and the pattern verifies. Every
# API path the page called is in the docs.
source "$(dirname "$0")/lib.sh"
need_guest
need curl python3 virsh
source "$(dirname "$0")/dashboard_lib.sh"
shots=$SHOTS_ROOT/memory
rm -rf "$shots"; mkdir -p "$shots"

name=strata-dashmem-$$
disk=$T/var/disks/dm.qcow2
console=$T/console.log
GUEST_MEMORY_MIB=256 define_guest "$name" "$disk" 256M \
  "memwriter.mib=96 memwriter.dirty_mibps=64"
uuid=$(virsh domuuid "$name")
uuid=${uuid%%$'\n'*}
mem_ticks() {
  { tr -d '\r' <"$console" | grep -a '^MEM boot=' || true; } |
    sed -n 's/^MEM boot=\([0-9a-f]*\) tick=\([0-9]*\).*/\1 \2/p'
}
for _ in $(seq 600); do
  tr -d '\r' <"$console" | grep -aq '^MEMCHECK ok' && break
  sleep 0.1
done
tr -d '\r' <"$console" | grep -aq '^MEMCHECK ok' || fail "the memory workload did not start"
start_stratad
read -r boot lo < <(mem_ticks | tail -1)

# The flow takes the point and restores it; the counter's range of the
# point is read from the stratad log's stored line afterwards: bounded
# here by the last tick before the flow and the first after the restore.
run_flow memory_flow.py "$URL" "$uuid" "$shots"
point=$(flow_field point)
api GET "/v3/snapshots/$point"
[[ $(jget 'j["snapshot"]["os-strata:memory"]["state"]') == complete ]] ||
  fail "the point the page took holds no complete memory: $BODY"
[[ $(virsh domstate "$name") == running ]] || fail "the server does not run after the restore"
for _ in $(seq 600); do [[ -n $(mem_ticks) ]] && break; sleep 0.1; done
read -r rboot first < <(mem_ticks | head -1)
! tr -d '\r' <"$console" | grep -aq 'MEMWRITER START' ||
  fail "the restored guest booted again"
[[ $rboot == "$boot" ]] || fail "the restored counter has boot id $rboot, not $boot"
((first >= lo)) || fail "the restored counter went on at $first, before the flow began ($lo)"
for _ in $(seq 600); do
  tr -d '\r' <"$console" | grep -aq '^MEMCHECK' && break
  sleep 0.1
done
verdict=$(tr -d '\r' <"$console" | grep -a '^MEMCHECK' | head -1)
[[ $verdict == "MEMCHECK ok boot=$boot "* ]] ||
  fail "the restored pattern does not verify: ${verdict:-no check within 60 s}"
pass "in the page: a snapshot with memory taken ($point, marked with memory), the server restored from it with its memory; the guest went on at tick $first (the flow began at $lo), same boot, $verdict"
check_page_paths "the memory flow"
pass "every API path the page called is in docs/api.md or docs/dashboard.md"
