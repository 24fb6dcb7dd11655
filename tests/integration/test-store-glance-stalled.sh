#!/usr/bin/env bash
# glance-api stopped (SIGSTOP: it accepts connections and never answers) in
# the middle of a snapshot's upload to the glance store (issue 16, item 4):
# the upload stalls, each attempt fails after [store] stall_seconds of
# silence (its image's cleanup bounded too), the snapshot ends in error
# within a bound with its volume's lease freed, and the API answers
# throughout; with Glance back (SIGCONT) the next snapshot is available and
# carries the failed one's writes (R2.6).
source "$(dirname "$0")/lib.sh"
need qemu-img qemu-io curl python3 glance-api glance-manage
BOUND=120   # seconds the stalled snapshot may take to end in error

g_port=$(free_port)
g_pid=$("$STRATA_SRC/scripts/start-test-glance.sh" "$T/glance" "$g_port") ||
  fail "glance-api did not start"
trap 'rc=$?; stop_group "$g_pid"; cleanup "$rc"' EXIT
g_url="http://127.0.0.1:$g_port"

# Uploads paced (8 MiB/s) so that one is in flight when Glance stops.
printf '[store]\nstall_seconds = 2\nmax_bytes_per_second = 8388608\n[engine]\nupload_attempts = 2\n' \
  >"$T/stall.conf"
start_stratad --store "glance:$g_url" --config "$T/stall.conf"
disk="$T/var/disks/g.qcow2"
qemu-img create -q -f qcow2 "$disk" 256M
write_pattern "$disk" 0x11 0 1M
vol=$(manage_disk "$disk" g)
snapshot "$vol" first >/dev/null
pass "a first snapshot stored in Glance"

write_pattern "$disk" 0x22 8M 64M
api POST /v3/snapshots "{\"snapshot\":{\"volume_id\":\"$vol\",\"name\":\"stalled\"}}"
expect_code 202 "snapshot during which Glance stops"
stalled=$(jget 'j["snapshot"]["id"]')
saving=0
for _ in $(seq 600); do
  saving=$(curl -sf --max-time 10 "$g_url/v2/images?strata_snapshot_id=$stalled&status=saving" |
    python3 -c 'import json,sys; print(len(json.load(sys.stdin)["images"]))') || saving=0
  [[ $saving -ge 1 ]] && break
  sleep 0.1
done
[[ $saving -ge 1 ]] || fail "the upload never reached Glance"
kill -STOP -- "-$g_pid"
t0=$(date +%s%3N)
for _ in $(seq $((BOUND * 5))); do
  api GET /v3/volumes/detail "" --max-time 10
  expect_code 200 "the volume list while Glance is stopped"
  api GET "/v3/snapshots/$stalled" "" --max-time 10
  expect_code 200 "the snapshot while Glance is stopped"
  [[ $(jget 'j["snapshot"]["status"]') == error ]] && break
  (( $(date +%s%3N) - t0 < BOUND * 1000 )) ||
    fail "the snapshot is not in error $BOUND s after Glance stopped: $BODY"
  sleep 0.2
done
ms=$(($(date +%s%3N) - t0))
[[ $(jget 'j["snapshot"]["status"]') == error ]] || fail "the snapshot did not end in error: $BODY"
[[ $(log_count "attempt 2 failed") -ge 1 || $(log_count "attempt 1 failed") -ge 1 ]] ||
  fail "no failed upload attempt was logged"
grep -q "too slow\|Timeout\|timed out\|deadline" "$T/stratad.log" ||
  fail "the stall was not reported as one"
echo "the stalled snapshot ended in error $ms ms after Glance stopped"
pass "Glance stopped mid-upload: snapshot error after $ms ms (bound $BOUND s), the API answering"

kill -CONT -- "-$g_pid"
after=$(snapshot "$vol" after)
api GET "/v3/snapshots/$after"
[[ $(jget '"'"$stalled"'" in j["snapshot"]["os-strata:covers"]') == True ]] ||
  fail "the snapshot after the stall does not carry the stalled one: $BODY"
write_pattern "$disk" 0x33 100M 1M
revert "$vol" "$after"
reads_pattern "$disk" 0x22 8M 64M && reads_pattern "$disk" 0 100M 1M ||
  fail "revert to the snapshot after the stall is not exact"
pass "Glance continued: the lease was freed, the next snapshot carries the stalled one's writes and reverts exactly"
