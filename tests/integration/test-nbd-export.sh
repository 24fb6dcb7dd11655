#!/usr/bin/env bash
# Strata's NBD server (issue 6, first part: the export, before the redirect
# cache): stratad serves a raw file and an upstream NBD export (Debian's
# qemu-storage-daemon serving a qcow2) on a unix socket each and on TCP,
# and clients nobody here wrote use them: qemu-io and qemu-img over
# nbd+unix:// and nbd://, nbdinfo and nbdcopy (libnbd-bin).
#
# Checked: sizes and capabilities as advertised (flush, FUA, trim, write
# zeroes, multi-conn); patterns written through an export are in the backing
# file (FUA and flush included), zeroes and discards too; a 64 MiB copy in
# and out with nbdcopy (4 connections) is byte-identical; writes through the
# upstream backend land in the qcow2; malformed traffic (tests/tools/
# nbd_misbehave.py) gets errors or a hang-up for that client only, the other
# export keeps serving and no acknowledged data is lost; bad export options
# stop stratad at start with a clear message.
source "$(dirname "$0")/lib.sh"
need qemu-io qemu-img qemu-storage-daemon nbdinfo nbdcopy python3 cmp

raw=$T/disk1.raw
qcow=$T/disk2.qcow2
truncate -s 64M "$raw"
qemu-img create -q -f qcow2 "$qcow" 32M
qsd_sock=$T/qsd.sock
qemu-storage-daemon \
  --blockdev "driver=file,node-name=f,filename=$qcow" \
  --blockdev "driver=qcow2,node-name=q,file=f" \
  --nbd-server "addr.type=unix,addr.path=$qsd_sock" \
  --export "type=nbd,id=e,node-name=q,name=q,writable=on" \
  --pidfile "$T/qsd.pid" --daemonize || fail "qemu-storage-daemon did not start"
trap 'rc=$?; [[ -f "$T/qsd.pid" ]] && kill "$(cat "$T/qsd.pid")" 2>/dev/null; cleanup "$rc"' EXIT

expect_exit 2 "NAME=BACKEND" "an export without a backend" -- \
  --state-dir "$T/x" --nbd-export disk1
expect_exit 2 "use file:/path" "an unknown backend form" -- \
  --state-dir "$T/x" --nbd-export "d=ftp://x"
expect_exit 1 "No such file" "a backend file that does not exist" -- \
  --state-dir "$T/x" --nbd-export "d=file:$T/nope.raw"
# NBD over TCP has no authentication: loopback only (issue 16, item 5).
expect_exit 2 "loopback only" "NBD over TCP on a non-loopback address" -- \
  --state-dir "$T/x" --listen "127.0.0.1:$(free_port)" \
  --nbd-export "d=file:$raw" --nbd-listen "0.0.0.0:$(free_port)"

nbd_port=$(free_port)
start_stratad --nbd-export "disk1=file:$raw" \
  --nbd-export "disk2=nbd+unix:///q?socket=$qsd_sock" \
  --nbd-listen "127.0.0.1:$nbd_port"
sock1=$T/var/nbd/disk1.sock
sock2=$T/var/nbd/disk2.sock
[[ -S $sock1 && -S $sock2 ]] || fail "no export sockets in $T/var/nbd"
u1="nbd+unix:///disk1?socket=$sock1"
u2="nbd+unix:///disk2?socket=$sock2"

# reads FMT TARGET "P OFF LEN"…: qemu-io reads each range of TARGET and finds
# pattern P in it (P 0: zeroes); fails on any error or mismatch.
reads() {
  local fmt=$1 target=$2 args=() out n=0; shift 2
  for r in "$@"; do args+=(-c "read -P $r"); n=$((n + 1)); done
  out=$(qemu-io -f "$fmt" "${args[@]}" "$target" 2>&1) || fail "qemu-io read of $target: $out"
  grep -q "Pattern verification failed" <<<"$out" && fail "$target: $out"
  [[ $(grep -c "^read " <<<"$out") == "$n" ]] || fail "$target: not every read ran: $out"
}

# ---- what the exports say they are -------------------------------------
info=$(nbdinfo --json "$u1") || fail "nbdinfo $u1"
check_info() {  # EXPR: a Python expression over nbdinfo's JSON (as e)
  python3 -c 'import json,sys; e=json.loads(sys.argv[1])["exports"][0]; sys.exit(0 if eval(sys.argv[2]) else 1)' \
    "$info" "$1" || fail "nbdinfo: $1 is false: $info"
}
check_info 'e["export-size"] == 64 << 20'
check_info 'e["can_flush"] and e["can_fua"] and e["can_trim"] and e["can_zero"] and e["can_multi_conn"]'
check_info 'not e["is_read_only"]'
[[ $(qemu-img info --output=json "$u2" | python3 -c 'import json,sys; print(json.load(sys.stdin)["virtual-size"])') == $((32 << 20)) ]] ||
  fail "qemu-img info of the upstream export"
names=$(nbdinfo --list --json "nbd://127.0.0.1:$nbd_port" |
  python3 -c 'import json,sys; print(" ".join(sorted(e["export-name"] for e in json.load(sys.stdin)["exports"])))')
[[ $names == "disk1 disk2" ]] || fail "TCP lists '$names'"
nbdinfo "nbd://127.0.0.1:$nbd_port/nothere" >/dev/null 2>&1 && fail "an unknown export opened"
pass "sizes, capabilities and the TCP export list as advertised"

# ---- data ---------------------------------------------------------------
qemu-io -f raw -c "write -P 0xa1 0 1M" -c "write -f -P 0xa2 1M 1M" \
  -c "flush" -c "write -z 2M 1M" -c "write -P 0xa3 3M 1M" -c "discard 3M 64k" \
  "$u1" >/dev/null || fail "qemu-io writes through $u1"
reads raw "$raw" "0xa1 0 1M" "0xa2 1M 1M" "0 2M 1M" "0xa3 3211264 960k"
reads raw "$raw" "0 3M 64k"   # discarded: reads as zeroes
reads raw "nbd://127.0.0.1:$nbd_port/disk1" "0xa2 1M 1M"
pass "patterns, FUA, flush, write zeroes and discard reach the raw file; reads back over TCP"

head -c 64M /dev/urandom >"$T/random.raw"
nbdcopy --connections=4 "$T/random.raw" "$u1" || fail "nbdcopy into $u1"
cmp "$T/random.raw" "$raw" || fail "nbdcopy in: the file differs"
nbdcopy --connections=4 "nbd://127.0.0.1:$nbd_port/disk1" "$T/out.raw" || fail "nbdcopy out"
cmp "$T/random.raw" "$T/out.raw" || fail "nbdcopy out: the copy differs"
qemu-img convert -f raw -O raw "$u1" "$T/out2.raw" && cmp "$T/random.raw" "$T/out2.raw" ||
  fail "qemu-img convert from $u1"
pass "64 MiB of random data in and out with nbdcopy (4 connections) and qemu-img convert, byte-identical"

qemu-io -f raw -c "write -P 0xb7 4M 2M" -c "write -P 0xb8 31M 1M" "$u2" >/dev/null ||
  fail "qemu-io writes through $u2"
reads raw "$u2" "0xb7 4M 2M" "0xb8 31M 1M"
pass "writes and reads through the upstream NBD backend (qemu-storage-daemon)"

# ---- malformed traffic --------------------------------------------------
qemu-io -f raw -c "write -P 0x5a 0 1M" "$u1" >/dev/null || fail "qemu-io write"
out=$(python3 "$STRATA_SRC/tests/tools/nbd_misbehave.py" "$sock1" $((64 << 20))) ||
  fail "malformed traffic: $out"
while read -r line; do pass "misbehaving client: $line"; done <<<"$out"
kill -0 "$PID" || fail "stratad died"
reads raw "$u1" "0x5a 0 1M"    # acknowledged data unchanged
reads raw "$u2" "0xb7 4M 2M"   # the other export serves
pass "after them: acknowledged data intact, both exports serve"

# ---- a connection cap ([nbd] max_connections) ----------------------------
stop_stratad
printf '[nbd]\nmax_connections = 2\n' >"$T/cap.conf"
start_stratad --config "$T/cap.conf" --nbd-export "disk1=file:$raw"
python3 - "$sock1" <<'PY' || fail "connection cap"
import socket, sys
held = []
def greeting(s):
    s.settimeout(30)
    data = b""
    while len(data) < 8:
        part = s.recv(8 - len(data))
        if not part:
            return data
        data += part
    return data
for i in range(2):  # two clients, each greeted, holding their sessions
    s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); held.append(s)
    assert greeting(s) == b"NBDMAGIC", f"client {i} not greeted"
third = socket.socket(socket.AF_UNIX); third.connect(sys.argv[1])
got = greeting(third)
assert got == b"", f"a third client was served: {got!r}"
for s in held: s.close()
PY
# With the held ones gone (their threads end when they see the close), a
# client is served again.
for _ in $(seq 100); do
  qemu-io -f raw -c "read -P 0x5a 0 1M" "$u1" 2>/dev/null | grep -q "^read " && break
  sleep 0.1
done
reads raw "$u1" "0x5a 0 1M"
pass "max_connections = 2: a third client is hung up on unserved; once they leave, clients are served"

# ---- the upstream data landed in the qcow2 ------------------------------
stop_stratad
qsd_pid=$(cat "$T/qsd.pid")
kill "$qsd_pid"
for _ in $(seq 50); do kill -0 "$qsd_pid" 2>/dev/null || break; sleep 0.1; done
reads qcow2 "$qcow" "0xb7 4M 2M" "0xb8 31M 1M"
[[ ! -e $sock1 ]] || fail "stratad left its socket behind"
pass "the qcow2 behind qemu-storage-daemon holds the writes; sockets removed at stop"
