#!/usr/bin/env bash
# Snapshots of a disk served through Strata's NBD export with the redirect
# cache on (issue 6, point 4; R0 with R2): the export's backend is
# "qcow2:DISK", a qemu-storage-daemon Strata owns. A snapshot redirects the
# VM's writes into the cache, releases the chain (reads continue from a
# read-only daemon), runs the quiet-disk flow of the spine (rename top, new
# overlay, upload — slowed here by the store's bandwidth cap so the window
# lasts seconds — merge), takes the new chain back and drains the cache.
# Every write through the export also goes, in the same order, into a raw
# reference file: what a direct run would leave.
#
# Checked: writes and reads during the window (acknowledged while the
# snapshot is still "creating"; reads give the newest data; the disk's
# files unchanged); the volume's detail shows the export and its cache
# (state, records, bytes); after the drain the disk reads exactly as the
# reference and the stored layer holds exactly the pre-snapshot data; a
# second snapshot with a writer running throughout; revert refused (409)
# while the export serves the disk; kill -9 in the released window: no
# qemu-storage-daemon left behind, the restart reconciles the chain (R2.6),
# replays the cache once, and the disk equals the reference.
source "$(dirname "$0")/lib.sh"
need qemu-io qemu-img qemu-storage-daemon python3 cmp

disk=$T/var/disks/d.qcow2 ref=$T/reference.raw
mkdir -p "$T/var/disks"
qemu-img create -q -f qcow2 "$disk" 64M
qemu-io -f qcow2 -c "write -P 0x01 0 24M" "$disk" >/dev/null
qemu-img convert -f qcow2 -O raw "$disk" "$ref"
sock=$T/var/nbd/d.sock
u="nbd+unix:///d?socket=$sock"
# 3 MB/s: the first layer (24 MiB) takes ~8 s to store, later ones ~1-3 s.
printf '[store]\nmax_bytes_per_second = 3000000\n' >"$T/slow.ini"
start_export() {
  start_stratad --config "$T/slow.ini" --nbd-export "d=qcow2:$disk" --nbd-cache on
}
start_export

both() {  # QEMU-IO-COMMAND…: through the export, and on the reference
  local args=()
  for c in "$@"; do args+=(-c "$c"); done
  qemu-io -f raw "${args[@]}" "$u" >/dev/null || fail "qemu-io through the export: $*"
  qemu-io -f raw "${args[@]}" "$ref" >/dev/null || fail "qemu-io on the reference"
}
reads() {  # "P OFF LEN"…: each range of the export holds pattern P
  local args=() out n=0
  for r in "$@"; do args+=(-c "read -P $r"); n=$((n + 1)); done
  out=$(qemu-io -f raw "${args[@]}" "$u" 2>&1) || fail "qemu-io read: $out"
  grep -q "Pattern verification failed" <<<"$out" && fail "export: $out"
  [[ $(grep -c "^read " <<<"$out") == "$n" ]] || fail "not every read ran: $out"
}
volume() {  # EXPR over the volume's detail (as j)
  api GET "/v3/volumes/$vid"
  expect_code 200 "volume show"
  jget "j['volume']$1"
}
snap_status() { api GET "/v3/snapshots/$1"; jget "j['snapshot']['status']"; }
wait_released() {  # until the chain is released and writes are redirected
  for _ in $(seq 200); do
    [[ $(volume "['os-strata:nbd_export']['chain_released']") == True ]] && return 0
    sleep 0.05
  done
  fail "the chain was not released: $(volume "['os-strata:nbd_export']")"
}
wait_bypass() {
  for _ in $(seq 600); do
    [[ $(volume "['os-strata:nbd_export']['redirect_cache']['state']") == bypass &&
       $(volume "['os-strata:nbd_export']['chain_released']") == False ]] && return 0
    sleep 0.1
  done
  fail "the cache did not drain: $(volume "['os-strata:nbd_export']")"
}
same_as_reference() {  # the disk's chain, read by qemu-img, equals $ref
  qemu-img convert -U -f qcow2 -O raw "$disk" "$T/disk.raw"
  cmp "$T/disk.raw" "$ref" || fail "$1: the disk differs from the direct run"
}

api GET /v3/volumes/detail
expect_code 200 "volume list"
vid=$(jget "[v['id'] for v in j['volumes'] if v.get('os-strata:path') == '$disk'][0]")
[[ $(volume "['os-strata:nbd_export']['name']") == d ]] || fail "no export on the volume"
[[ $(volume "['os-strata:nbd_export']['redirect_cache']['state']") == bypass ]] ||
  fail "cache not in bypass at start"
pass "the exported disk is volume $vid; its detail shows export d, cache in bypass"

# ---- snapshot 1: writes and reads in the window --------------------------
both "write -P 0x02 24M 4M"                  # bypass: straight to the chain
api POST /v3/snapshots "{\"snapshot\":{\"volume_id\":\"$vid\",\"name\":\"s1\"}}"
expect_code 202 "snapshot 1"
s1=$(jget 'j["snapshot"]["id"]')
wait_released
top_before=$(md5sum <"$disk")
t0=$(date +%s%N)
both "write -P 0x11 0 2M" "write -f -P 0x12 4M 64k" "write -z 8M 1M" \
  "write -P 0x13 30M 3M" "write -P 0x14 31M 4k" "discard 20M 1M" "flush"
acked=$(( ($(date +%s%N) - t0) / 1000000 ))
[[ $(snap_status "$s1") == creating ]] ||
  fail "the writes waited for the snapshot (it is $(snap_status "$s1"))"
reads "0x11 0 2M" "0x12 4M 64k" "0 8M 1M" "0x13 30M 1M" "0x14 31M 4k" "0x01 12M 1M" "0x02 24M 1M"
qemu-img convert -f raw -O raw "$u" "$T/seen.raw"
cmp "$T/seen.raw" "$ref" || fail "reading the export during the window gives other data"
records=$(volume "['os-strata:nbd_export']['redirect_cache']['records']")
state=$(volume "['os-strata:nbd_export']['redirect_cache']['state']")
[[ $state == redirect && $records -ge 6 ]] || fail "volume shows cache $state with $records records"
[[ $(md5sum <"$disk") == "$top_before" ]] || fail "the released top changed"
[[ $(snap_status "$s1") == creating ]] || fail "the snapshot ended before the checks"
pass "window of snapshot 1: 7 writes acknowledged in ${acked} ms while it was still creating; reads newest (whole export = reference); the volume shows cache $state, $records records"

wait_snapshot "$s1" available 120
wait_bypass
same_as_reference "after snapshot 1's drain"
# The stored layer is the disk as it was at the redirect (pattern 1 + 2).
api GET "/v3/snapshots/$s1"
layer_key=$(jget "j['snapshot'].get('os-strata:store_key') or ''")
object=$(find "$T/var/store" -name "$s1.qcow2" | head -1)
[[ -f $object ]] || fail "snapshot 1's layer is not in the store"
layer_file "$object" "$T/layer1.qcow2" || fail "snapshot 1's stored layer does not decode"
qemu-img convert -U -f qcow2 -O raw "$T/layer1.qcow2" "$T/layer.raw"
qemu-img create -q -f raw "$T/expect1.raw" 64M
qemu-io -f raw -c "write -P 0x01 0 24M" -c "write -P 0x02 24M 4M" "$T/expect1.raw" >/dev/null
cmp "$T/layer.raw" "$T/expect1.raw" || fail "snapshot 1's layer is not the disk at the redirect"
pause=$(volume "['os-strata:nbd_export']['redirect_cache']['last_pause_ms']")
pass "snapshot 1 available; drained (final pause ${pause} ms), disk = reference; its stored layer = the disk at the redirect"

# ---- snapshot 2 with a writer running throughout -------------------------
( for i in $(seq 0 39); do
    off=$(( (i % 16) * 2 ))M
    both "write -P $((0x40 + i)) $off 512k"
  done ) &
writer=$!
s2=$(snapshot "$vid" s2)
wait "$writer" || fail "the writer failed during snapshot 2"
wait_bypass
same_as_reference "after snapshot 2"
chain_len=$(qemu-img info -U --backing-chain --output=json "$disk" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')
(( chain_len <= 4 )) || fail "chain of $chain_len files"
api POST "/v3/volumes/$vid/action" "{\"revert\":{\"snapshot_id\":\"$s2\"}}" \
  -H "OpenStack-API-Version: volume 3.40"
expect_code 409 "revert while exported"
grep -q "NBD export d" <<<"$BODY" || fail "the 409 does not say why: $BODY"
pass "snapshot 2 with 40 writes running throughout: available, disk = reference, chain $chain_len files; revert → 409"

# ---- kill -9 in the released window -------------------------------------
api POST /v3/snapshots "{\"snapshot\":{\"volume_id\":\"$vid\",\"name\":\"s3\"}}"
expect_code 202 "snapshot 3"
s3=$(jget 'j["snapshot"]["id"]')
wait_released
both "write -P 0x51 0 1M" "write -P 0x52 40M 2M" "write -z 41M 64k"
kill -9 "$PID"; wait "$PID" 2>/dev/null || true; PID=""
for _ in $(seq 50); do pgrep -f "qemu-storage-daemon.*$disk" >/dev/null || break; sleep 0.1; done
pgrep -af "qemu-storage-daemon.*$disk" && fail "a qemu-storage-daemon outlived stratad"
start_export
# Killed at its upload, the restart carries it on (available); before,
# it ends in error and the next snapshot carries its writes (R2.6).
for _ in $(seq 600); do [[ $(snap_status "$s3") == creating ]] || break; sleep 0.1; done
s3_end=$(snap_status "$s3")
case $s3_end in
  available) grep -q "resuming the upload of snapshot $s3" "$T/stratad.log" ||
      fail "snapshot 3 available after the crash, but no upload was resumed" ;;
  error) ;;
  *) fail "snapshot 3 is $s3_end after the crash" ;;
esac
api GET /strata/v1/nbd-exports
replayed=$(jget "j['nbd_exports'][0]['cache']['replayed_at_open']")
(( replayed >= 3 )) || fail "only $replayed records replayed"
same_as_reference "after kill -9 and the replay"
s4=$(snapshot "$vid" s4)
wait_bypass
same_as_reference "after snapshot 4"
api GET "/v3/snapshots/$s4"
[[ $s3_end == available || $(jget "len(j['snapshot']['os-strata:covers'])") -ge 1 ]] ||
  fail "snapshot 4 does not carry the failed one's writes: $BODY"
stop_stratad
start_export
api GET /strata/v1/nbd-exports
[[ $(jget "j['nbd_exports'][0]['cache']['replayed_at_open']") == 0 ]] || fail "records replayed twice"
same_as_reference "after a clean restart"
pass "kill -9 while released: no daemon left, $replayed records replayed once, snapshot 3 $s3_end ($([[ $s3_end == error ]] && echo "carried by snapshot 4, R2.6" || echo "its upload resumed")), disk = reference"
