#!/usr/bin/env bash
# The operator's probes (issue 20, item 3):
#   - /healthcheck answers, byte for byte, as oslo.middleware's healthcheck
#     app does (the real one, run in-process through webob as the oracle)
#     with its disable_by_file backend: GET with each Accept type, HEAD,
#     with the file absent and present; no token needed;
#   - /metrics is accepted by Prometheus' own text-format parser
#     (python3-prometheus-client), and its counters move as the test acts:
#     API requests by route and code, snapshot and revert tasks, store bytes
#     put and got, a store error, the catalog's snapshots and stored bytes.
source "$(dirname "$0")/lib.sh"
need curl qemu-img
PY=/usr/bin/python3   # Debian's, with its python3-* modules
"$PY" -c 'import oslo_middleware.healthcheck, webob, prometheus_client' 2>/dev/null ||
  skip "needs python3-oslo.middleware, python3-webob, python3-prometheus-client"

off=$T/healthcheck-off
printf '[healthcheck]\ndisable_by_file_path = %s\n' "$off" >"$T/strata.conf"
start_stratad --config "$T/strata.conf"

# ---- /healthcheck against oslo.middleware ----
accepts=("" "text/plain" "application/json" "text/html"
         "text/plain;q=0.5, application/json" "application/json;q=0, text/html;q=0.4, */*;q=0.3"
         "application/xml" "text/*" "*/*;q=0.1, text/html;q=0.1")
# oracle METHOD ACCEPT: "status|content-type|body" from oslo.middleware.
oracle() {
  "$PY" - "$off" "$1" "$2" <<'PY'
import sys, webob
from oslo_middleware import healthcheck
app = healthcheck.Healthcheck.app_factory({}, backends="disable_by_file",
                                          disable_by_file_path=sys.argv[1])
req = webob.Request.blank("/healthcheck", method=sys.argv[2])
if sys.argv[3]:
    req.headers["Accept"] = sys.argv[3]
resp = req.get_response(app)
ct = resp.headers.get("Content-Type", "") if resp.body else ""
sys.stdout.write("%d|%s|%s" % (resp.status_int, ct, resp.text))
PY
}
# strata METHOD ACCEPT: the same from stratad, without a token.
strata() {
  local args=(-s -o "$T/hc.body" -D "$T/hc.head" -X "$1")
  [[ $1 == HEAD ]] && args=(-s -o "$T/hc.body" -D "$T/hc.head" -I)
  [[ -n $2 ]] && args+=(-H "Accept: $2")
  curl "${args[@]}" "$URL/healthcheck" >/dev/null
  local status ct=""
  status=$(sed -n '1s/^HTTP\/[0-9.]* \([0-9]*\).*/\1/p' "$T/hc.head")
  [[ -s $T/hc.body && $1 != HEAD ]] && ct=$(sed -n 's/^[Cc]ontent-[Tt]ype: \(.*\)\r$/\1/p' "$T/hc.head")
  [[ $1 == HEAD ]] && : >"$T/hc.body"
  printf '%s|%s|%s' "$status" "$ct" "$(cat "$T/hc.body")"
}
compared=0
for state in enabled disabled; do
  [[ $state == disabled ]] && touch "$off"
  for a in "${accepts[@]}"; do
    for m in GET HEAD; do
      [[ $m == HEAD && -n $a ]] && continue
      want=$(oracle "$m" "$a") || fail "the oslo.middleware oracle failed"
      have=$(strata "$m" "$a")
      [[ "$have" == "$want" ]] ||
        fail "/healthcheck $m Accept '$a' ($state): stratad [$have], oslo.middleware [$want]"
      compared=$((compared + 1))
    done
  done
done
rm -f "$off"
[[ $(strata GET "") == "200|text/plain; charset=UTF-8|OK" ]] || fail "not back to OK"
pass "/healthcheck equals oslo.middleware's in $compared answers (GET with ${#accepts[@]} Accept values and HEAD, file absent and present)"

# ---- /metrics ----
scrape
api_before=$(metric 'strata_api_requests_total{code="202",method="POST",route="/v3/snapshots"}')
snaps_before=$(metric 'strata_tasks_total{kind="snapshot_create",status="succeeded"}')

qemu-img create -q -f qcow2 "$T/var/disks/d.qcow2" 64M
vol=$(manage_disk "$T/var/disks/d.qcow2" d)
qemu-io -c "write -P 0x5a 0 4M" "$T/var/disks/d.qcow2" >/dev/null
s1=$(snapshot "$vol" s1)
qemu-io -c "write -P 0x33 0 1M" "$T/var/disks/d.qcow2" >/dev/null
s2=$(snapshot "$vol" s2)
revert "$vol" "$s1"
scrape
[[ $(metric 'strata_api_requests_total{code="202",method="POST",route="/v3/snapshots"}') == \
   $((api_before + 2)) ]] || fail "API requests did not count the 2 snapshot POSTs: $(grep route=\"/v3/snapshots\" "$T/metrics")"
[[ $(metric 'strata_tasks_total{kind="snapshot_create",status="succeeded"}') == \
   $((snaps_before + 2)) ]] || fail "snapshot tasks: $(grep strata_tasks_total "$T/metrics")"
[[ $(metric 'strata_task_duration_seconds_count{kind="snapshot_create",status="succeeded"}') == \
   $(metric 'strata_tasks_total{kind="snapshot_create",status="succeeded"}') ]] ||
  fail "snapshot durations not observed: $(grep strata_task_duration_seconds_count "$T/metrics")"
[[ $(metric 'strata_tasks_total{kind="revert",status="succeeded"}') == 1 ]] ||
  fail "the revert was not counted: $(grep strata_tasks_total "$T/metrics")"
api GET "/v3/snapshots/detail?volume_id=$vol"
layers=$(jget 'sum(s["os-strata:stored_bytes"] for s in j["snapshots"])' 2>/dev/null ||
         echo "?")
put=$(metric 'strata_store_bytes_total{direction="put",store="local"}')
[[ $layers != "?" && ${put%.*} -eq $layers ]] ||
  fail "bytes put ($put) are not the two layers' ($layers)"
[[ $(metric 'strata_snapshots{status="available"}') == 2 ]] || fail "snapshots gauge: $(grep strata_snapshots "$T/metrics")"
[[ $(metric 'strata_stored_bytes{}') == $layers ]] || fail "stored bytes gauge $(metric 'strata_stored_bytes{}'), layers $layers"
pass "/metrics parses; 2 snapshot POSTs, 2 snapshot tasks and their durations, 1 revert, $put bytes put (= the layers) and the catalog gauges counted"

# A store failure: the volume's directory in the local store replaced by a
# file, so the next layer cannot be written there.
rm -rf "$T/var/store/volumes/$vol.moved"
mv "$T/var/store/volumes/$vol" "$T/var/store/volumes/$vol.moved"
: >"$T/var/store/volumes/$vol"
api POST /v3/snapshots "{\"snapshot\":{\"volume_id\":\"$vol\",\"name\":\"s3\"}}"
expect_code 202 "snapshot with a broken store"
s3=$(jget 'j["snapshot"]["id"]')
wait_snapshot "$s3" error 120
scrape
grep -q '^strata_store_errors_total{.*operation="put"' "$T/metrics" ||
  fail "no store error counted: $(grep strata_store "$T/metrics")"
[[ $(metric 'strata_tasks_total{kind="snapshot_create",status="failed"}') -ge 1 ]] ||
  fail "the failed snapshot task was not counted: $(grep strata_tasks_total "$T/metrics")"
pass "a store that cannot take a layer: $(grep '^strata_store_errors_total' "$T/metrics" | tr '\n' ' ')and a failed snapshot task counted"
rm -f "$T/var/store/volumes/$vol"
mv "$T/var/store/volumes/$vol.moved" "$T/var/store/volumes/$vol"
