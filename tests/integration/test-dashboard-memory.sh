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

source "$(dirname "$0")/memory_lib.sh"
memory_guest "strata-dashmem-$$" 256 96
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
# (no upper bound here: test-memory-server.sh checks the instant exactly)
restored_counter "$boot" "$lo" 999999999
restored_pattern "$boot"
pass "in the page: a snapshot with memory taken ($point, marked with memory), the server restored from it with its memory; the guest went on at tick $FIRST_TICK (the flow began at $lo), same boot, $VERDICT"
check_page_paths "the memory flow"
pass "every API path the page called is in docs/api.md or docs/dashboard.md"
