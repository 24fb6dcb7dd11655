#!/usr/bin/env bash
# Strata's own snapshots of a real guest whose disk reaches it through
# Strata's NBD export with the redirect cache (issue 6, point 4 and 5): the
# test guest boots under libvirt from nbd+unix:///g, served by a
# qemu-storage-daemon Strata owns on a qcow2 disk ("g=qcow2:DISK"), and
# writes its checksummed records all along. Five snapshots through the
# Cinder API: each one redirects the guest's writes into the cache while
# the chain is cut, uploaded (capped at 1 MB/s so the window lasts) and
# merged, then drains.
#
# Checked: the guest keeps writing during every snapshot (records advance
# while it is "creating"); every snapshot ends available and the cache back
# in bypass; the chain stays ≤ 4 files; the first stored layer holds records
# 1..N, none torn, N at least what the guest had reported before it; Nova's
# createImage on the server (whose disk is the export's socket) snapshots
# the same volume through the cache; at the
# end the disk holds every record the guest reported; then, with the export
# removed, a revert to snapshot 3 leaves the disk holding exactly the
# records up to that snapshot (none after, none torn).
source "$(dirname "$0")/lib.sh"
need_guest
need qemu-storage-daemon

name=strata-nbd-snap-$$
console=$T/console.log
disk=$T/var/disks/g.qcow2
mkdir -p "$T/var/disks"
chmod 711 "$T" "$T/var" "$T/var/disks"   # qemu runs as libvirt-qemu
qemu-img create -q -f qcow2 "$disk" 128M
trap 'rc=$?; virsh -q destroy "$name" >/dev/null 2>&1 || true
      [[ $rc -ne 0 && -f "$console" ]] && { echo "--- guest console ---"; tail -n 5 "$console"; }
      cleanup "$rc"' EXIT
"$STRATA_SRC/scripts/build-test-guest.sh" "$T/guest" >/dev/null || fail "guest build"
"$STRATA_SRC/scripts/start-libvirt.sh" || fail "libvirt did not start"
printf '[store]\nmax_bytes_per_second = 1000000\n' >"$T/slow.ini"
start_stratad --config "$T/slow.ini" --nbd-export "g=qcow2:$disk" --nbd-cache on
DISK_NBD_SOCKET=$T/var/nbd/g.sock "$STRATA_SRC/scripts/render-test-domain.sh" "$name" \
  "$(cat /proc/sys/kernel/random/uuid)" g "$console" "$T/guest" \
  "recwriter.interval_ms=5" >"$T/domain.xml"
virsh -q create "$T/domain.xml" >/dev/null || fail "virsh create"
for _ in $(seq 600); do [[ $(last_rec) -ge 20 ]] && break; sleep 0.1; done
[[ $(last_rec) -ge 20 ]] || fail "the guest wrote no records to the export"
api GET /v3/volumes/detail
vid=$(jget "[v['id'] for v in j['volumes'] if v.get('os-strata:path') == '$disk'][0]")
st=$(jget "[v['status'] for v in j['volumes'] if v['id'] == '$vid'][0]")
[[ $st == in-use ]] || fail "volume $vid is $st while the guest is connected to its export"
api GET "/v3/volumes/detail?status=in-use"
[[ $(jget "'$vid' in [v['id'] for v in j['volumes']]") == True ]] || fail "status=in-use does not list volume $vid"
# As Cinder: a volume in use is not unmanaged.
api POST "/v3/volumes/$vid/action" '{"os-unmanage": {}}'
expect_code 409 "unmanage of the in-use volume"
[[ $BODY == *"current status is: in-use"* ]] || fail "unmanage refusal does not say why: $BODY"
pass "the guest boots from Strata's export of volume $vid and writes records ($(last_rec)); the volume is in-use, and not unmanaged"

export_state() {
  api GET "/v3/volumes/$vid"
  jget "j['volume']['os-strata:nbd_export']['redirect_cache']['state']"
}
declare -A reported snap
for i in 1 2 3 4 5; do
  lo=$(last_rec)
  api POST /v3/snapshots "{\"snapshot\":{\"volume_id\":\"$vid\",\"name\":\"s$i\"}}"
  expect_code 202 "snapshot $i"
  id=$(jget 'j["snapshot"]["id"]')
  snap[$i]=$id
  reported[$i]=$lo
  wait_snapshot "$id" available 120
  mid=$(last_rec)
  for _ in $(seq 300); do [[ $(export_state) == bypass ]] && break; sleep 0.1; done
  [[ $(export_state) == bypass ]] || fail "snapshot $i: the cache did not drain"
  api GET "/v3/volumes/$vid"
  pause=$(jget "j['volume']['os-strata:nbd_export']['redirect_cache']['last_pause_ms']")
  # The guest goes on writing through the snapshot and the drain: 20 more
  # records than before it (waited for; how many fall inside the snapshot
  # itself is a matter of speed, not of correctness).
  for _ in $(seq 600); do (( $(last_rec) > lo + 20 )) && break; sleep 0.1; done
  (( $(last_rec) > lo + 20 )) ||
    fail "snapshot $i: the guest wrote only $(( $(last_rec) - lo )) records in 60 s after it"
  len=$(qemu-img info -U --backing-chain --output=json "$disk" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')
  (( len <= 4 )) || fail "snapshot $i: chain of $len files"
  pass "snapshot $i available; the guest wrote $((mid - lo)) records while it ran and goes on; drained (final pause ${pause} ms); chain $len files"
done

# The volume shows its cache as /strata/v1/nbd-exports does: the same
# object (the figures may have moved on between the two requests).
api GET "/v3/volumes/$vid"
vol_keys=$(jget "sorted(j['volume']['os-strata:nbd_export']['redirect_cache'])")
export_name=$(jget "j['volume']['os-strata:nbd_export']['name']")
api GET /strata/v1/nbd-exports
exp_keys=$(jget "sorted([e for e in j['nbd_exports'] if e['name'] == '$export_name'][0]['cache'])")
[[ $vol_keys == "$exp_keys" && $vol_keys == *replayed_at_open* ]] ||
  fail "the volume's cache view ($vol_keys) differs from the export's ($exp_keys)"
pass "the volume's redirect_cache is the export's cache view"

# Nova's createImage on the server (its disk is the export's socket) is a
# snapshot of the same volume, through the cache too.
uuid=$(virsh domuuid "$name")
api POST "/v2.1/servers/$uuid/action" '{"createImage": {"name": "img"}}' \
  -H "X-OpenStack-Nova-API-Version: 2.45"
expect_code 202 "createImage on the NBD-backed server"
img=$(jget 'j["image_id"]')
lo=$(last_rec)
wait_snapshot "$img" available 120
api GET "/v3/snapshots/$img"
[[ $(jget "j['snapshot']['volume_id']") == "$vid" ]] || fail "createImage snapshotted another volume: $BODY"
for _ in $(seq 300); do [[ $(export_state) == bypass ]] && break; sleep 0.1; done
[[ $(export_state) == bypass ]] || fail "createImage: the cache did not drain"
grep -q "export g: chain of .* released" "$T/stratad.log" || fail "no release in the log"
pass "createImage on the server (disk = the export's socket) snapshotted volume $vid through the cache"

object=$(find "$T/var/store" -name "${snap[1]}.qcow2" | head -1)
[[ -f $object ]] || fail "snapshot 1's layer is not in the store"
layer_file "$object" "$T/layer1.qcow2" || fail "snapshot 1's stored layer does not decode"
got=$(verify_disk "$T/layer1.qcow2" "${reported[1]}")
pass "snapshot 1's stored layer holds $got (the guest had reported ${reported[1]} before it)"

before=$(last_rec)
for _ in $(seq 300); do (( $(last_rec) > before + 100 )) && break; sleep 0.1; done
virsh -q destroy "$name" >/dev/null
final=$(last_rec)
for _ in $(seq 50); do
  api GET "/v3/volumes/$vid"; [[ $(jget "j['volume']['status']") == available ]] && break; sleep 0.1
done
[[ $(jget "j['volume']['status']") == available ]] ||
  fail "volume $vid is $(jget "j['volume']['status']") after the guest disconnected"
pass "the guest gone, volume $vid is available again"
stop_stratad   # closes the export: the daemon flushes the chain
result=$(verify_disk "$disk" "$final")
pass "the disk holds $result (the guest reported $final)"

start_stratad --config "$T/slow.ini"
revert "$vid" "${snap[3]}"
api GET "/v3/volumes/$vid"
[[ $(jget "j['volume']['status']") == available ]] || fail "revert ended in $(jget "j['volume']['status']")"
[[ $(jget "'os-strata:nbd_export' in j['volume']") == False ]] || fail "still shown as exported"
got=$(verify_disk "$disk" "${reported[3]}")
last=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["last"])' "$got")
(( last < ${reported[4]} + 1 )) || fail "snapshot 3 holds record $last, reported only after snapshot 4 began"
pass "export removed, reverted to snapshot 3: the disk holds $got (reported ${reported[3]} before it, ${reported[4]} before snapshot 4)"
