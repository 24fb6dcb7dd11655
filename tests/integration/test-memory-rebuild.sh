#!/usr/bin/env bash
# A snapshot's memory survives the loss of the catalog (issue 21 with issue
# 23's rebuild; R3.9, R1.4). On Debian's Swift (one replica, tempauth,
# through the zstd relay stage), the test guest (256 MiB, memwriter's
# counter and checksummed pattern over 96 MiB) is snapshotted with its
# memory through Nova's createImage. Then the catalog is deleted and
# `stratad --rebuild-catalog` makes it again from what Swift keeps:
#  - the summary says the snapshot came back with its memory, and the
#    snapshot shows its memory "complete", of the same server, with the
#    stored copy's size;
#  - with the region removed too (the memory directory lost as well), the
#    server restored from the rebuilt catalog fetches the store's copy: the
#    counter goes on from the snapshot's instant with the same boot id (no
#    reboot) and the pattern verifies.
# Against the rebuild before this change (which skipped memory objects),
# it fails at the summary: "1 snapshot(s) added (0 with their memory), …
# 1 object(s) skipped".
source "$(dirname "$0")/lib.sh"
need_guest
need curl python3 virsh swift swift-proxy-server memcached

start_swift 8

source "$(dirname "$0")/memory_lib.sh"
memory_guest "strata-memrb-$$" 256 96
cat >"$T/strata.conf" <<CONF
[store]
compression = zstd
CONF
start_stratad --store "$spec" --config "$T/strata.conf"
mem_dir=$T/var/memory
action() { api POST "/v2.1/servers/$uuid/action" "$1" -H "X-OpenStack-Nova-API-Version: 2.45"; }

tick_lo=$(last_tick)
action '{"createImage":{"name":"with memory","os-strata:memory":true}}'
expect_code 202 "createImage with os-strata:memory"
img=$(jget 'j["image_id"]')
wait_snapshot "$img" available 180
tick_hi=$(last_tick)
api GET "/v3/snapshots/$img"
stored=$(jget 'j["snapshot"]["os-strata:memory"]["stored_bytes"]')
[[ $(jget 'j["snapshot"]["os-strata:memory"]["state"]') == complete && $stored -gt 0 ]] ||
  fail "the snapshot's memory before the loss: $BODY"
[[ -f $mem_dir/$img.region ]] || fail "no region for $img in $mem_dir"

# The catalog lost, and the memory directory with it.
stop_stratad
mv "$T/var/catalog.db" "$T/catalog.lost"
rm -f "$T/var/catalog.db-wal" "$T/var/catalog.db-shm" "$mem_dir/$img.region"
"$STRATAD" --state-dir "$T/var" --store "$spec" --config "$T/strata.conf" \
  --rebuild-catalog >"$T/rebuild.out" 2>>"$T/stratad.log" ||
  fail "the rebuild failed: $(tail -3 "$T/stratad.log")"
grep -q "1 snapshot(s) added (1 with their memory)" "$T/rebuild.out" ||
  fail "the rebuild says: $(cat "$T/rebuild.out")"
start_stratad --store "$spec" --config "$T/strata.conf"
api GET "/v3/snapshots/$img"
expect_code 200 "the rebuilt snapshot"
python3 -c '
import json, sys
m = json.load(sys.stdin)["snapshot"]["os-strata:memory"]
assert m and m["state"] == "complete", m
assert m["server_id"] == sys.argv[1], m
assert m["stored_bytes"] == int(sys.argv[2]), m
' "$uuid" "$stored" <<<"$BODY" || fail "the rebuilt snapshot's memory: $BODY"
pass "catalog and region lost, the rebuild from Swift ($(cat "$T/rebuild.out")) gives snapshot $img its memory back: complete, server $uuid, $stored bytes stored"

boot=$(mem_ticks | tail -1 | cut -d' ' -f1)
restore_server_memory "$img"
restored_counter "$boot" "$tick_lo" "$tick_hi"
restored_pattern "$boot"
grep -q "is a region again" "$T/stratad.log" || fail "the restore did not fetch the store's copy"
[[ -f $mem_dir/$img.region ]] || fail "the fetched region is not in $mem_dir"
pass "restored from the rebuilt catalog: the store's copy fetched, the counter went on at tick $FIRST_TICK (snapshot during $tick_lo..$tick_hi, boot $boot), $VERDICT"
