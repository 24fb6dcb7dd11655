#!/usr/bin/env bash
# The dashboard's server flow on the booted test guest (issue 20, item 1;
# tests/dashboard/server_flow.py drives headless Chromium): the guest, a
# defined domain as Nova makes them, writes checksummed records; a first
# point is taken through Nova's createImage. In the page: find the server,
# see its disk and chain, take a snapshot (progress followed), choose
# Rollback and then the first point; the confirm page chooses an instant
# rollback (the server runs: a normal one is refused) and says what
# happens; confirm, and follow the phases to the end. Then the guest's data
# is verified: it booted again, resumed its log right after a record of
# the first point (within the records written before and after it was
# taken), runs on its disk's own chain and writes on; at the end the disk
# holds records 1..N, none torn. /metrics timed the live snapshots' and
# pivots' stalls of the guest (strata_guest_stall_seconds). Screenshots stay in
# build/test-artifacts/dashboard/server/.
source "$(dirname "$0")/lib.sh"
need_guest
need curl
source "$(dirname "$0")/dashboard_lib.sh"
shots=$SHOTS_ROOT/server
rm -rf "$shots"; mkdir -p "$shots"

name=strata-dash-$$
disk=$T/var/disks/dash.qcow2
console=$T/console.log
define_guest "$name" "$disk" 1G
uuid=$(virsh domuuid "$name")
uuid=${uuid%%$'\n'*}
start_stratad
source "$(dirname "$0")/instant_rollback_lib.sh"

lo1=$(last_rec); s1=$(snapshot_now first); hi1=$(last_rec)
for _ in $(seq 300); do (( $(last_rec) > hi1 + 100 )) && break; sleep 0.1; done
(( $(last_rec) > hi1 + 100 )) || fail "the guest stopped writing"
boot0=$(boot_id)

run_flow server_flow.py "$URL" "$uuid" "$s1" "$shots"
phases=$(flow_field phases)
pass "in the page: server found, snapshot taken with progress, instant rollback to the first point chosen, confirmed and followed (phases seen: $phases)"

# The guest's data: a new boot, its log resumed after a record of the point.
await_boot "$boot0" 20
k=$(( $(resumed_at) - 1 ))
(( lo1 <= k && k <= hi1 )) ||
  fail "after the rollback the log resumed after record $k, not within $lo1..$hi1"
api GET /v3/os-instant-rollbacks
[[ $(jget 'j["rollbacks"][0]["phase"]') == done ]] || fail "the rollback: $BODY"
check_normal "after the rollback"
writes_on 50 "after the rollback"
pass "the guest runs the first point's data: it resumed after record $k ($lo1 <= $k <= $hi1), on its disk's own chain, and writes on"

check_page_paths server

# The guest-stall metric (issue 20, item 3): each live snapshot's libvirt
# snapshot call (quiesced or not: the test guest has no agent) and the
# cut-over's pivot back onto the disk's path, timed.
scrape
stalls=$(( $(metric 'strata_guest_stall_seconds_count{operation="snapshot",quiesced="false"}') +
           $(metric 'strata_guest_stall_seconds_count{operation="snapshot",quiesced="true"}') ))
(( stalls >= 2 )) ||
  fail "the two live snapshots' stalls were not measured: $(grep strata_guest_stall "$T/metrics")"
pivots=$(metric 'strata_guest_stall_seconds_count{operation="pivot",quiesced="false"}')
(( pivots >= 2 )) || fail "the pivots' stalls were not measured: $(grep strata_guest_stall "$T/metrics")"
pass "/metrics: $stalls live snapshot stalls and $pivots pivot stalls observed (strata_guest_stall_seconds, sum $(metric 'strata_guest_stall_seconds_sum{operation="snapshot",quiesced="false"}') s for snapshots)"

stop_stratad
virsh -q destroy "$name"
result=$(verify_disk "$disk" "$k")
pass "the disk holds records 1..$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["last"])' "$result") exactly, none torn; $(ls "$shots" | wc -l) screenshots in $shots"
