#!/usr/bin/env bash
# The redirect cache (issue 6, R0) behind Strata's NBD export of a raw file,
# driven through the REST API (/strata/v1/nbd-exports) and used by qemu-io,
# nbdcopy and a misbehaving client. Every write also goes, in the same
# order, straight into a reference file: "what a direct run would" leave.
#
# Checked: in redirect, writes (plain, FUA, zeroes, discards, 32 MiB with
# nbdcopy) are acknowledged while the backing file stays byte-for-byte
# unchanged for a several-second "snapshot" window, and reads return the
# newest data (R0.4–R0.7); the drain writes everything back while new
# writes keep arriving, ends in bypass with its final pause reported, and
# the backing file equals the reference (R0.8–R0.12); kill -9 of stratad
# with records in the cache, then a restart: they are replayed, once, and
# the backing file equals the reference (byte for byte, cmp); API misuse
# is a 400/403/404/409.
source "$(dirname "$0")/lib.sh"
need qemu-io nbdcopy python3 cmp

raw=$T/disk.raw ref=$T/reference.raw
truncate -s 64M "$raw" "$ref"
sock=$T/var/nbd/d.sock
u="nbd+unix:///d?socket=$sock"
start_cached() { start_stratad --nbd-export "d=file:$raw" --nbd-cache on; }
start_cached

# both QEMU-IO-COMMAND…: runs the commands through the export and, the same,
# on the reference file.
both() {
  local args=()
  for c in "$@"; do args+=(-c "$c"); done
  qemu-io -f raw "${args[@]}" "$u" >/dev/null || fail "qemu-io through the export: $*"
  qemu-io -f raw "${args[@]}" "$ref" >/dev/null || fail "qemu-io on the reference"
}
# reads TARGET "P OFF LEN"…: each range holds pattern P.
reads() {
  local target=$1 args=() out n=0; shift
  for r in "$@"; do args+=(-c "read -P $r"); n=$((n + 1)); done
  out=$(qemu-io -f raw "${args[@]}" "$target" 2>&1) || fail "qemu-io read of $target: $out"
  grep -q "Pattern verification failed" <<<"$out" && fail "$target: $out"
  [[ $(grep -c "^read " <<<"$out") == "$n" ]] || fail "$target: not every read ran: $out"
}
cache() {  # EXPR over the export's cache status (as c)
  api GET /strata/v1/nbd-exports
  expect_code 200 "list exports"
  jget "[e for e in j['nbd_exports'] if e['name'] == 'd'][0]['cache']$1"
}
action() {  # JSON: POST it as the export's action
  api POST /strata/v1/nbd-exports/d/action "$1"
}

# ---- API misuse ----------------------------------------------------------
action '{"os-drain": {}}'
expect_code 409 "drain while in bypass"
action '{"os-redirect": {"expected_seconds": -1}}'
expect_code 400 "negative expected_seconds"
action '{"os-frobnicate": {}}'
expect_code 400 "unknown action"
api POST /strata/v1/nbd-exports/nothere/action '{"os-drain": {}}'
expect_code 404 "unknown export"
TOKEN="alice:alpha" api GET /strata/v1/nbd-exports
expect_code 403 "a member listing exports"
[[ $(cache "['state']") == bypass ]] || fail "not in bypass at start"
pass "misuse: 409, 400, 400, 404, 403; the cache starts in bypass"

# ---- redirect: a slow "snapshot" window ---------------------------------
both "write -P 0x11 0 8M" "write -P 0x12 8M 8M"   # bypass: straight through
cmp "$raw" "$ref" || fail "bypass writes did not reach the disk"
action '{"os-redirect": {"expected_seconds": 5, "write_bytes_per_second": 10485760}}'
expect_code 202 "redirect"
[[ $(jget 'j["nbd_export"]["cache"]["state"]') == redirect ]] || fail "not redirecting: $BODY"
cp "$raw" "$T/frozen.raw"
window_start=$(date +%s%N)
head -c 32M /dev/urandom >"$T/random.raw"
nbdcopy "$T/random.raw" "$u" || fail "nbdcopy into the export"
dd if="$T/random.raw" of="$ref" bs=1M conv=notrunc status=none
both "write -P 0x21 1M 2M" "write -f -P 0x22 2M 64k" "write -z 4M 1M" \
  "discard 9M 1M" "write -P 0x23 12M 3M" "write -P 0x24 13M 4k" "flush"
acked=$(( ($(date +%s%N) - window_start) / 1000000 ))
# The misbehaving client's writes are all refused before the cache.
out=$(python3 "$STRATA_SRC/tests/tools/nbd_misbehave.py" "$sock" $((64 << 20))) ||
  fail "malformed traffic with the cache on: $out"
sleep 3   # the rest of the snapshot's window
cmp "$raw" "$T/frozen.raw" || fail "the disk changed while redirected"
reads "$u" "0x21 1M 1M" "0x22 2M 64k" "0 4M 1M" "0x23 12M 1M" "0x24 13M 4k" "0 48M 1M"
qemu-img convert -f raw -O raw "$u" "$T/seen.raw"
cmp "$T/seen.raw" "$ref" || fail "reading the whole export gives other data than the reference"
records=$(cache "['records']")
(( records > 0 )) || fail "no records in the cache"
pass "redirected: 32 MiB and 7 writes acknowledged in ${acked} ms of a >3 s window, the disk unchanged, $records records; reads return the newest data (whole export = reference)"

# ---- drain, with writes arriving meanwhile -------------------------------
action '{"os-drain": {}}'
expect_code 202 "drain"
both "write -P 0x31 20M 4M" "write -P 0x32 40M 1M"
for _ in $(seq 300); do [[ $(cache "['state']") == bypass ]] && break; sleep 0.1; done
[[ $(cache "['state']") == bypass ]] || fail "the drain did not end: $(cache '')"
[[ $(cache "['records']") == 0 ]] || fail "records left after the drain"
[[ $(cache "['error']") == None ]] || fail "drain error: $(cache "['error']")"
pause=$(cache "['last_pause_ms']")
cmp "$raw" "$ref" || fail "after the drain the disk differs from the direct run"
pass "drained: back in bypass, final write pause ${pause} ms (policy: under 1 MiB or 20 ms left), the disk equals the direct run"

# ---- kill -9 with records in the cache ----------------------------------
action '{"os-redirect": {}}'
expect_code 202 "redirect again"
both "write -P 0x41 0 1M" "write -P 0x42 30M 2M" "write -z 33M 1M" "write -P 0x43 30M 4k"
before=$(md5sum <"$raw")
kill -9 "$PID"; wait "$PID" 2>/dev/null || true; PID=""
[[ $(md5sum <"$raw") == "$before" ]] || fail "the disk changed before the restart"
cmp -s "$raw" "$ref" && fail "nothing was left in the cache to replay"
start_cached
[[ $(cache "['replayed_at_open']") -ge 4 ]] || fail "no replay: $(cache '')"
[[ $(cache "['state']") == bypass ]] || fail "not in bypass after the replay"
cmp "$raw" "$ref" || fail "after the replay the disk differs from the direct run"
stop_stratad
start_cached
[[ $(cache "['replayed_at_open']") == 0 ]] || fail "records replayed twice"
cmp "$raw" "$ref" || fail "the disk changed at the second start"
pass "kill -9 with 4 records cached: replayed at restart, once; the disk equals the direct run"
