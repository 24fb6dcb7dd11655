#!/usr/bin/env bash
# No error path ends stratad (issue 16, item 3): an exception injected at a
# thread entry (STRATA_THROW_AT, honoured by the stratad_crash_points build,
# util/guarded.h) fails that one operation on its usual failure path, and
# stratad keeps serving: snapshot create, delete and revert tasks, a
# revert's fetch, merge and fast-check threads, an NBD client's thread, its
# request reader and one request, the NBD accept loop, the redirect cache's
# drain, a layer's hashing thread. No disk's data changes through a failed
# operation. (The child spawner's thread: child_death_test.)
source "$(dirname "$0")/lib.sh"
need qemu-img qemu-io curl python3

d="$T/var/disks"
mkdir -p "$d"
disk="$d/vm.qcow2"
qemu-img create -q -f qcow2 "$disk" 64M
start_stratad
vol=$(manage_disk "$disk" vm)
write_pattern "$disk" 0x11 0 1M
s1=$(snapshot "$vol" s1)
write_pattern "$disk" 0x22 1M 1M
s2=$(snapshot "$vol" s2)
write_pattern "$disk" 0x33 2M 1M
s3=$(snapshot "$vol" s3)
write_pattern "$disk" 0x44 3M 1M
s4=$(snapshot "$vol" s4)
write_pattern "$disk" 0x55 4M 1M
stop_stratad

alive() {
  kill -0 "$PID" 2>/dev/null || fail "$1: stratad died"
  api GET /v3/volumes; expect_code 200 "$1: the API after the exception"
}
injected() {  # the exception was caught at that entry and reported
  grep -q "$1: exception: injected exception at $1" "$T/stratad.log" ||
    fail "no caught exception at $1 in the log"
}
data_intact() {
  reads_pattern "$disk" 0x11 0 1M && reads_pattern "$disk" 0x22 1M 1M &&
    reads_pattern "$disk" 0x33 2M 1M && reads_pattern "$disk" 0x44 3M 1M &&
    reads_pattern "$disk" 0x55 4M 1M || fail "$1: the disk's data changed"
}

STRATA_THROW_AT=engine.snapshot_create start_stratad
api POST /v3/snapshots "{\"snapshot\":{\"volume_id\":\"$vol\",\"name\":\"x\"}}"
expect_code 202 "snapshot create"
wait_snapshot "$(jget 'j["snapshot"]["id"]')" error
wait_volume "$vol" available
injected engine.snapshot_create; alive engine.snapshot_create; data_intact create
stop_stratad
pass "engine.snapshot_create: the snapshot is in error, the volume available"

STRATA_THROW_AT=engine.snapshot_delete start_stratad
api DELETE "/v3/snapshots/$s4"; expect_code 202 "delete"
wait_snapshot "$s4" error_deleting
injected engine.snapshot_delete; alive engine.snapshot_delete; data_intact delete
stop_stratad
start_stratad
api POST "/v3/snapshots/$s4/action" '{"os-reset_status":{"status":"available"}}'
expect_code 202 "reset s4"
stop_stratad
pass "engine.snapshot_delete: the snapshot is in error_deleting"

for entry in engine.revert engine.revert_fetch engine.revert_merge util.file_check; do
  STRATA_THROW_AT=$entry start_stratad
  # s3: three layers, linked from the local store, the upper two merged
  # beside their checks.
  api POST "/v3/volumes/$vol/action" "{\"revert\":{\"snapshot_id\":\"$s3\"}}" \
    -H "OpenStack-API-Version: volume 3.40"
  expect_code 202 "revert"
  for _ in $(seq 600); do
    api GET "/v3/volumes/$vol"; [[ $(jget 'j["volume"]["status"]') == available ]] && break
    sleep 0.1
  done
  wait_volume "$vol" available 1
  injected "$entry"; alive "$entry"; data_intact "$entry"
  stop_stratad
  pass "$entry: the revert failed, the disk as it was"
done

# NBD: a raw export with the redirect cache.
raw=$T/exp.raw
truncate -s 16M "$raw"
qemu-io -f raw -c "write -P 0x5a 0 1M" "$raw" >/dev/null
for entry in nbd.client nbd.connection nbd.request; do
  STRATA_THROW_AT=$entry start_stratad --nbd-export "e=file:$raw"
  qemu-io -f raw -c "write -P 0x66 0 4k" "nbd+unix:///e?socket=$T/var/nbd/e.sock" \
    >/dev/null 2>&1 && fail "$entry: the write went through"
  injected "$entry"; alive "$entry"
  qemu-io -f raw -c "read -P 0x5a 0 1M" "$raw" | grep -q "Pattern verification failed" &&
    fail "$entry: the export's data changed"
  stop_stratad
  pass "$entry: that client failed, stratad serving, the export's data intact"
done
STRATA_THROW_AT=nbd.accept start_stratad --nbd-export "e=file:$raw"
injected nbd.accept; alive nbd.accept
stop_stratad
pass "nbd.accept: the listener's thread ended with a logged error, stratad serving"

STRATA_THROW_AT=cache.drain start_stratad --nbd-export "e=file:$raw" --nbd-cache on
api POST /strata/v1/nbd-exports/e/action '{"os-redirect": {"expected_seconds": 5}}'
expect_code 202 "redirect"
qemu-io -f raw -c "write -P 0x77 0 64k" "nbd+unix:///e?socket=$T/var/nbd/e.sock" >/dev/null ||
  fail "a write while redirected"
api POST /strata/v1/nbd-exports/e/action '{"os-drain": {}}'
expect_code 202 "drain"
for _ in $(seq 300); do
  api GET /strata/v1/nbd-exports
  [[ -n $(jget "j['nbd_exports'][0]['cache'].get('error') or ''") ]] && break
  sleep 0.1
done
[[ $(jget "j['nbd_exports'][0]['cache']['state']") == redirect ]] ||
  fail "after a failed drain the cache is not redirecting: $BODY"
injected cache.drain; alive cache.drain
qemu-io -f raw -c "read -P 0x77 0 64k" "nbd+unix:///e?socket=$T/var/nbd/e.sock" |
  grep -q "Pattern verification failed" && fail "the redirected write is not read back"
stop_stratad
pass "cache.drain: the drain stopped with the error, writes still redirected and read back"

# A layer's hashing thread (its digest on the upload) that throws: the
# digest is void, the upload is refused before anything is recorded, the
# snapshot ends in error, and the disk keeps its data.
write_pattern "$disk" 0x66 8M 4M
STRATA_THROW_AT=digest.worker start_stratad
api POST /v3/snapshots "{\"snapshot\":{\"volume_id\":\"$vol\",\"name\":\"d\"}}"
expect_code 202 "snapshot with a failing digest"
wait_snapshot "$(jget 'j["snapshot"]["id"]')" error
grep -q "has no valid SHA-256" "$T/stratad.log" || fail "the void digest was not refused"
injected digest.worker; alive digest.worker; data_intact digest.worker
reads_pattern "$disk" 0x66 8M 4M || fail "digest.worker: the new data changed"
stop_stratad
pass "digest.worker: the upload refused, the snapshot in error, the disk as it was"
