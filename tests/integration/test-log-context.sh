#!/usr/bin/env bash
# Structured logs with request ids (issue 20, item 3): with [DEFAULT]
# use_json every line stratad writes is a JSON object with oslo.log's field
# names, and the lines of an API request, including those of the snapshot
# job it started on a worker thread, carry that request's id
# (x-openstack-request-id) in context.request_id; in the text format the
# worker's lines end with "[req-…]".
source "$(dirname "$0")/lib.sh"
need curl qemu-img qemu-io python3

printf '[DEFAULT]\nuse_json = true\n' >"$T/json.conf"
start_stratad --config "$T/json.conf"
qemu-img create -q -f qcow2 "$T/var/disks/d.qcow2" 64M
vol=$(manage_disk "$T/var/disks/d.qcow2" d)
qemu-io -c "write -P 7 0 1M" "$T/var/disks/d.qcow2" >/dev/null

# snapshot_request: POSTs a snapshot, waits for it; prints the request id.
snapshot_request() {
  api POST /v3/snapshots "{\"snapshot\":{\"volume_id\":\"$vol\",\"name\":\"s\"}}" -D "$T/headers"
  expect_code 202 "snapshot create"
  wait_snapshot "$(jget 'j["snapshot"]["id"]')" available >&2
  tr -d '\r' <"$T/headers" | sed -n 's/^x-openstack-request-id: //Ip'
}
rid=$(snapshot_request)
[[ $rid == req-* ]] || fail "no request id header: $(cat "$T/headers")"
python3 - "$T/stratad.log" "$rid" <<'PY' || fail "the JSON log"
import json, sys
lines = [l for l in open(sys.argv[1]) if l.strip()]
mine = []
for n, l in enumerate(lines, 1):
    j = json.loads(l)  # every line is one JSON object
    for k in ("asctime", "levelname", "name", "message", "context"):
        assert k in j, "line %d lacks %s: %s" % (n, k, l)
    if j["context"].get("request_id") == sys.argv[2]:
        mine.append(j["message"])
assert any("POST /v3/snapshots 202" in m for m in mine), mine
# The worker's own line about the snapshot it stored.
assert any(" stored: " in m for m in mine), mine
print("%d lines, %d of request %s" % (len(lines), len(mine), sys.argv[2]))
PY
pass "JSON log: every line parses; the request's id is on its access line and on the worker's 'stored' line"

stop_stratad
start_stratad
qemu-io -c "write -P 8 0 1M" "$T/var/disks/d.qcow2" >/dev/null
rid=$(snapshot_request)
grep -q "stored: .*\[$rid\]$" "$T/stratad.log" ||
  fail "the text log's worker line lacks [$rid]: $(grep 'stored: ' "$T/stratad.log" | tail -1)"
pass "text log: the worker's line ends with [$rid]"
