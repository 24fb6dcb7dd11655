#!/usr/bin/env bash
# Seconds-level rollback (issue 19, R1.8) from a remote store: the layers are
# on nginx (the dav store) behind the zstd relay stage, so nothing can be
# hard-linked, and nginx sends each response at NGINX_RATE (a slow store).
# The booted test guest, a defined domain on a 2 GiB disk, takes two live
# snapshots; then:
#  - a rollback that switches on its own: the server runs on the stored
#    layers served over NBD while they download. The guest resumes right
#    after the snapshot's last record and writes on while a layer's
#    download is still under way (its partial file is there), and libvirt's
#    chain names the NBD exports;
#  - nginx killed mid-download (a store outage): the server stays up and
#    writes on, the download is asked again; stratad stopped meanwhile stops at once and
#    its next start carries the rollback on once nginx is back, to the
#    server on its disk's own chain;
#  - stratad killed (-9) while the server runs on the served layers: the
#    restart serves them again and finishes the rollback;
#  - at the end the disk holds the random bytes and records 1..N, N at
#    least the last record the guest reported, none torn.
source "$(dirname "$0")/lib.sh"
need_guest
need curl /usr/sbin/nginx zstd

ngx_port=$(free_port)
ngx_pid=""
# Slow enough that the first layer takes many seconds, whatever the load.
export NGINX_LIMIT_RATE=${NGINX_RATE:-512k}
start_nginx() {
  ngx_pid=$("$STRATA_SRC/scripts/start-test-nginx.sh" "$T/ngx" "$ngx_port") ||
    fail "nginx did not start"
}
stop_nginx() {
  [[ -n $ngx_pid ]] || return 0
  kill "$ngx_pid"
  while kill -0 "$ngx_pid" 2>/dev/null; do sleep 0.05; done
  ngx_pid=""
}
test_cleanup() { stop_nginx; }  # run by the guest's exit trap (lib.sh)
trap 'rc=$?; stop_nginx; cleanup "$rc"' EXIT
start_nginx

name=strata-irr-$$
disk=$T/var/disks/irr.qcow2
console=$T/console.log
define_guest "$name" "$disk" 2G
uuid=$(virsh domuuid "$name")
printf '[store]\ncompression = zstd\nzstd_level = 1\n' >"$T/zstd.conf"
start_stratad --store "dav:http://127.0.0.1:$ngx_port/strata" --config "$T/zstd.conf"
source "$(dirname "$0")/instant_rollback_lib.sh"

lo1=$(last_rec); s1=$(snapshot_now s1); hi1=$(last_rec)
for _ in $(seq 300); do (( $(last_rec) > hi1 + 100 )) && break; sleep 0.1; done
# The second layer ends with 24 MiB of random bytes at 1 GiB, written with
# the guest paused and no record after them: the guest's log (which it
# reads whole when it starts) is at the layer's head, and the download goes
# on long after it (24 MiB at 512 KiB/s: 48 s).
virsh -q suspend "$name"
head -c $((24 << 20)) /dev/urandom >"$T/random"
chmod 644 "$T/random"   # qemu runs as libvirt-qemu
out=$(virsh qemu-monitor-command "$name" --hmp \
  "qemu-io -d /machine/peripheral/virtio-disk0/virtio-backend \"write -s $T/random 1G 24M\"")
[[ -z $out ]] || fail "qemu-io in the VM: $out"
# The snapshot's last record, read from the paused disk itself: the
# console may lag behind it by a line or two.
qemu-img convert -U -O raw "$disk" "$T/paused.raw"
hi2=$("$T/guest/verify-records" "$T/paused.raw" |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["last"])')
rm -f "$T/paused.raw"
s2=$(snapshot_now s2)
virsh -q resume "$name"
for _ in $(seq 300); do (( $(last_rec) > hi2 + 200 )) && break; sleep 0.1; done
(( $(last_rec) > hi2 + 200 )) || fail "the guest stopped writing"
stored=$(du -sb "$T/ngx/root" | cut -f1)
(( stored > 24 << 20 )) || fail "the layers on nginx hold $stored bytes, not the random ones"
pass "snapshots $s1 ($lo1..$hi1) and $s2 (at $hi2, with 24 MiB of random bytes) on nginx ($stored bytes, sent at $NGINX_LIMIT_RATE/s)"

partial() { compgen -G "$T/var/disks/.*strata-mirror*.part-*" >/dev/null; }

# 1. The server runs while the layers download.
boot0=$(boot_id)
start_rollback "$s2" auto
await_boot "$boot0" 50
partial || fail "the guest wrote on before any download was under way? (no partial layer: $(ls -a "$T/var/disks"))"
k=$(( $(resumed_at) - 1 ))
(( k == hi2 )) || fail "on the served layers the log resumed after record $k, not $hi2"
c=$(chain_of)
[[ $(virsh dumpxml "$name") == *"protocol='nbd' name='ir-$rb-"* ]] ||
  fail "libvirt's chain does not name the layers' NBD exports: $(virsh dumpxml "$name" | grep -A4 backingStore)"
rb_phase "$rb"
[[ $PHASE == copying ]] || fail "the rollback is $PHASE while a layer downloads"
secs=$(jget 'j["rollback"]["seconds_to_running"]')
pass "rollback $rb: the server ran ${secs}s after the request; the guest resumed after record $k (the snapshot's last) and writes on while its layers download over NBD"

# 2. A store outage mid-download: nothing fails, the store is asked again.
stop_nginx
for _ in $(seq 600); do grep -q "attempt 1 failed" "$T/stratad.log" && break; sleep 0.1; done
grep -q "attempt 1 failed" "$T/stratad.log" || fail "the download did not notice nginx going"
[[ $(virsh domstate "$name") == running ]] || fail "the server is not running during the outage"
writes_on 100 "during the outage"
rb_phase "$rb"
[[ $PHASE == copying ]] || fail "the rollback is $PHASE during the outage: $BODY"
# stratad stopped meanwhile (SIGTERM) stops at once, the copy waiting for
# the download left as it is; the next start carries it on.
kill "$PID"
for _ in $(seq 300); do kill -0 "$PID" 2>/dev/null || break; sleep 0.1; done
kill -0 "$PID" 2>/dev/null && fail "stratad did not stop within 30 s of SIGTERM while a download waited"
wait "$PID" 2>/dev/null || true
PID=""
start_nginx
start_stratad --store "dav:http://127.0.0.1:$ngx_port/strata" --config "$T/zstd.conf"
await_phase "$rb" done
check_normal "after the outage"
writes_on 100 "after the switch"
api GET "/v3/os-instant-rollbacks/$rb"
copy=$(jget 'j["rollback"]["copy_seconds"]')
pass "nginx down mid-download: the server ran on and wrote; stratad stopped and started meanwhile; the store was asked again, and the rollback ended on the disk's own chain (download and copy after the restart: ${copy}s)"

# 3. stratad killed (-9) while the server runs on the served layers: the
#    restart serves them again (downloading from the start) and carries the
#    rollback to its end.
stop_stratad
STRATA_CRASH_AT=instant.copy start_stratad --store "dav:http://127.0.0.1:$ngx_port/strata" --config "$T/zstd.conf"
boot0=$(boot_id)
rollback "$s2" auto
[[ $CODE == 202 || $CODE == 000 ]] || fail "rollback: HTTP $CODE $BODY"
wait_crash instant.copy
start_stratad --store "dav:http://127.0.0.1:$ngx_port/strata" --config "$T/zstd.conf"
api GET /v3/os-instant-rollbacks
rb=$(jget 'j["rollbacks"][0]["id"]')
await_boot "$boot0" 50
k=$(( $(resumed_at) - 1 ))
(( k == hi2 )) || fail "after the restart the log resumed after record $k, not $hi2"
await_phase "$rb" done
[[ $(virsh domstate "$name") == running ]] || fail "the server is not running after the rollback"
check_normal "after kill -9 at instant.copy"
writes_on 100 "after the restart's switch"
pass "kill -9 while the server ran on the served layers: the restart served them again and finished the rollback"

stop_stratad
last=$(last_rec)
virsh -q destroy "$name" >/dev/null 2>&1 || true
# The random bytes are the guest's data too: checked, then zeroed for the
# record check.
qemu-img convert -O raw "$disk" "$T/disk.raw"
cmp -n $((24 << 20)) -i $((1 << 30)):0 "$T/disk.raw" "$T/random" ||
  fail "the random bytes at 1 GiB are not what was written"
fallocate -p -o $((1 << 30)) -l $((24 << 20)) "$T/disk.raw"
result=$("$T/guest/verify-records" --min-last "$last" "$T/disk.raw") ||
  fail "verify-records: $result"
pass "the disk holds the random bytes and records 1..N (N >= $last, the last the guest reported), none torn: $result"
