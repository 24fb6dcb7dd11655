#!/usr/bin/env bash
# The dav store driver against a real nginx (issue 4, R2.5, R2.11): stratad
# with --store dav:http://…, a snapshot series of a real disk, every layer
# on nginx with the size and SHA-256 the catalog recorded, reverts that read
# the layers back from nginx exactly; then the same with the zstd relay
# stage on; a stored object corrupted on the server aborts the revert and
# leaves the disk as it was; nginx down during a snapshot → error, and the
# next snapshot with nginx back carries its writes (R2.6); zstd + AES-256-GCM
# together, and a wrong key refused; nginx stopped (SIGSTOP) mid-snapshot
# fails the upload after the stall timeout, the API answering throughout.
source "$(dirname "$0")/lib.sh"
need qemu-img qemu-io curl python3 zstd /usr/sbin/nginx

ngx_port=$(free_port)
ngx_pid=""
start_nginx() {
  ngx_pid=$("$STRATA_SRC/scripts/start-test-nginx.sh" "$T/ngx" "$ngx_port") ||
    fail "nginx did not start"
}
stop_nginx() {
  [[ -n $ngx_pid ]] || return 0
  kill -CONT "$ngx_pid" 2>/dev/null || true   # in case a check stopped it
  kill "$ngx_pid"
  while kill -0 "$ngx_pid" 2>/dev/null; do sleep 0.05; done
  ngx_pid=""
}
trap 'rc=$?; stop_nginx; cleanup "$rc"' EXIT
start_nginx
store="dav:http://127.0.0.1:$ngx_port/strata"

# check_stored SNAPSHOT: nginx holds its layer with the catalog's sha256.
check_stored() {
  api GET "/v3/snapshots/$1"
  local sha bytes file
  sha=$(jget 'j["snapshot"]["os-strata:sha256"]')
  bytes=$(jget 'j["snapshot"]["os-strata:stored_bytes"]')
  file=$(find "$T/ngx/root/strata" -name "$1.qcow2")
  [[ -f $file ]] || fail "no object for snapshot $1 on nginx"
  [[ $(sha256sum "$file" | cut -d' ' -f1) == "$sha" ]] || fail "$1: sha256 on nginx differs from the catalog's"
  [[ $(stat -c %s "$file") == "$bytes" ]] || fail "$1: size on nginx differs from the catalog's"
  echo "$file"
}

series() {  # series NAME DISK: three snapshots and two reverts, checked
  local disk=$2 vol s1 s2 s3
  qemu-img create -q -f qcow2 "$disk" 64M
  write_pattern "$disk" 0x11 0 4M
  vol=$(manage_disk "$disk" "$1")
  s1=$(snapshot "$vol" s1); check_stored "$s1" >/dev/null
  write_pattern "$disk" 0x22 2M 4M
  s2=$(snapshot "$vol" s2); check_stored "$s2" >/dev/null
  write_pattern "$disk" 0x33 8M 1M
  s3=$(snapshot "$vol" s3); check_stored "$s3" >/dev/null
  write_pattern "$disk" 0x44 12M 1M
  revert "$vol" "$s1"
  reads_pattern "$disk" 0x11 0 4M && reads_pattern "$disk" 0 4M 10M ||
    fail "$1: revert to s1 does not read back s1"
  revert "$vol" "$s3"
  reads_pattern "$disk" 0x11 0 2M && reads_pattern "$disk" 0x22 2M 4M &&
    reads_pattern "$disk" 0x33 8M 1M && reads_pattern "$disk" 0 12M 1M ||
    fail "$1: revert to s3 does not read back s3"
  VOL=$vol S1=$s1
}

start_stratad --store "$store"
series plain "$T/var/disks/plain.qcow2"
pass "snapshots stored on nginx with the catalog's size and sha256; reverts from nginx exact"

# Corrupt s1's object on the server: the revert must stop, disk untouched.
obj=$(check_stored "$S1")
printf 'XXXXXXXX' | dd of="$obj" bs=1 seek=$(( $(stat -c %s "$obj") / 2 )) conv=notrunc status=none
write_pattern "$T/var/disks/plain.qcow2" 0x55 20M 1M
api POST "/v3/volumes/$VOL/action" "{\"revert\":{\"snapshot_id\":\"$S1\"}}" \
  -H "OpenStack-API-Version: volume 3.40"
expect_code 202 "revert to corrupted s1"
wait_volume "$VOL" available 60
reads_pattern "$T/var/disks/plain.qcow2" 0x55 20M 1M || fail "a failed revert changed the disk"
grep -q "corruption" "$T/stratad.log" || fail "corruption not reported"
pass "an object corrupted on nginx aborts the revert; the disk is untouched"

# nginx down during a snapshot: error; back up: the next one carries it.
stop_nginx
write_pattern "$T/var/disks/plain.qcow2" 0x66 24M 1M
api POST /v3/snapshots "{\"snapshot\":{\"volume_id\":\"$VOL\",\"name\":\"down\"}}"
expect_code 202 "snapshot with nginx down"
down=$(jget 'j["snapshot"]["id"]')
wait_snapshot "$down" error 120
start_nginx
after=$(snapshot "$VOL" after)
check_stored "$after" >/dev/null
api GET "/v3/snapshots/$after"
[[ $(jget '"'"$down"'" in j["snapshot"]["os-strata:covers"]') == True ]] ||
  fail "the snapshot after the outage does not carry the failed one: $BODY"
pass "nginx down → snapshot error; back up → the next snapshot carries its writes (R2.6)"

# nginx stopped (SIGSTOP: it accepts connections and never answers) during a
# snapshot (issue 16, item 4): each upload attempt fails as retryable after
# [store] stall_seconds of silence, the snapshot ends in error with the lease
# freed, and the API answers throughout; nginx back, the next snapshot
# carries the writes.
stop_stratad
printf '[store]\nstall_seconds = 2\n[engine]\nupload_attempts = 2\n' >"$T/stall.conf"
start_stratad --store "$store" --config "$T/stall.conf"
write_pattern "$T/var/disks/plain.qcow2" 0x6a 32M 8M
kill -STOP "$ngx_pid"   # one process: master_process off
api POST /v3/snapshots "{\"snapshot\":{\"volume_id\":\"$VOL\",\"name\":\"stalled\"}}"
expect_code 202 "snapshot with nginx stopped"
stalled=$(jget 'j["snapshot"]["id"]')
for _ in $(seq 1200); do
  api GET /v3/volumes/detail "" --max-time 10
  expect_code 200 "the API while the store stalls"
  api GET "/v3/snapshots/$stalled"
  [[ $(jget 'j["snapshot"]["status"]') == error ]] && break
  sleep 0.1
done
wait_snapshot "$stalled" error 1
[[ $(log_count "attempt 2 failed") -ge 1 ]] || fail "the stalled upload was not retried"
grep -q "too slow\|Timeout\|timed out" "$T/stratad.log" || fail "the stall was not reported as one"
kill -CONT "$ngx_pid"
after=$(snapshot "$VOL" after-stall)
check_stored "$after" >/dev/null
api GET "/v3/snapshots/$after"
[[ $(jget '"'"$stalled"'" in j["snapshot"]["os-strata:covers"]') == True ]] ||
  fail "the snapshot after the stall does not carry the stalled one: $BODY"
stop_stratad
start_stratad --store "$store"
pass "nginx stopped → upload attempts fail after 2 s of silence, snapshot error, API answering; the lease freed, the next snapshot carries it"

# R1.9: objects deleted while nginx is down are queued, not forgotten.
gdisk="$T/var/disks/gone.qcow2"
qemu-img create -q -f qcow2 "$gdisk" 16M
write_pattern "$gdisk" 0x77 0 1M
gvol=$(manage_disk "$gdisk" gone)
g1=$(snapshot "$gvol" g1)
write_pattern "$gdisk" 0x78 1M 1M
g2=$(snapshot "$gvol" g2)
o_g1=$(check_stored "$g1"); o_g2=$(check_stored "$g2")
stop_nginx
for s in "$g2" "$g1"; do
  api DELETE "/v3/snapshots/$s"; expect_code 202 "delete $s with nginx down"
  for _ in $(seq 100); do api GET "/v3/snapshots/$s"; [[ $CODE == 404 ]] && break; sleep 0.1; done
  [[ $CODE == 404 ]] || fail "snapshot $s not deleted: $BODY"
done
api POST "/v3/volumes/$gvol/action" '{"os-unmanage": {}}'
expect_code 202 "unmanage with nginx down"
api GET "/v3/volumes/$gvol"; expect_code 404 "the unmanaged volume"
[[ -f $o_g1 && -f $o_g2 ]] || fail "objects vanished while nginx was down?"
grep -q "queued, retried" "$T/stratad.log" || fail "no delete was queued"
start_nginx
write_pattern "$T/var/disks/plain.qcow2" 0x79 28M 1M
snapshot "$VOL" trigger >/dev/null   # an upload that works retries the queue
[[ ! -e $o_g1 && ! -e $o_g2 ]] || fail "queued deletes not done after nginx came back"
pass "deletes while nginx was down were queued and done once it answered (R1.9)"
stop_stratad

printf '[store]\ncompression = zstd\n' >"$T/zstd.conf"
start_stratad --store "$store" --config "$T/zstd.conf"
series zstd "$T/var/disks/zstd.qcow2"
mapfile -t frames < <(find "$T/ngx/root/strata" -name '*.qcow2' -newer "$T/zstd.conf")
[[ ${#frames[@]} -ge 3 ]] || fail "expected 3 zstd layers on nginx, found ${#frames[@]}"
for f in "${frames[@]}"; do
  zstd -q -t "$f" || fail "$f on nginx is not a zstd frame"
done
pass "the same through the zstd relay stage: nginx holds zstd frames, reverts exact"
stop_stratad

# Compression and encryption together (R1.3): nginx holds AES-256-GCM
# objects (magic STRATAGC) whose plaintext is a zstd frame; reverts exact.
head -c 32 /dev/urandom >"$T/aes.key"; chmod 600 "$T/aes.key"
printf '[store]\ncompression = zstd\nencryption = aes-256-gcm\nencryption_key_file = %s\n' \
  "$T/aes.key" >"$T/aes.conf"
start_stratad --store "$store" --config "$T/aes.conf"
series aes "$T/var/disks/aes.qcow2"
mapfile -t sealed < <(find "$T/ngx/root/strata" -name '*.qcow2' -newer "$T/aes.conf")
[[ ${#sealed[@]} -ge 3 ]] || fail "expected 3 encrypted layers on nginx, found ${#sealed[@]}"
for f in "${sealed[@]}"; do
  [[ $(head -c 8 "$f") == STRATAGC ]] || fail "$f on nginx is not an AES-256-GCM object"
  zstd -q -t "$f" 2>/dev/null && fail "$f on nginx is readable as plain zstd"
done
api GET "/v3/snapshots/$S1"
[[ $(jget 'j["snapshot"]["os-strata:layer_sha256"] != j["snapshot"]["os-strata:sha256"]') == True ]] ||
  fail "the catalog does not keep the layer's own sha256 apart: $BODY"
stop_stratad

# The same objects with another key: stratad refuses the revert, disk kept.
head -c 32 /dev/urandom >"$T/other.key"; chmod 600 "$T/other.key"
sed "s|$T/aes.key|$T/other.key|" "$T/aes.conf" >"$T/other.conf"
start_stratad --store "$store" --config "$T/other.conf"
write_pattern "$T/var/disks/aes.qcow2" 0x5a 30M 1M
api POST "/v3/volumes/$VOL/action" "{\"revert\":{\"snapshot_id\":\"$S1\"}}" \
  -H "OpenStack-API-Version: volume 3.40"
expect_code 202 "revert with the wrong key"
wait_volume "$VOL" available 60
reads_pattern "$T/var/disks/aes.qcow2" 0x5a 30M 1M || fail "a refused revert changed the disk"
grep -q "different key" "$T/stratad.log" || fail "the wrong key was not reported"
pass "the same with zstd + AES-256-GCM: nginx holds sealed objects, reverts exact; a wrong key is refused, disk kept"
