#!/usr/bin/env bash
# The dashboard in headless Chromium (issue 20, item 1;
# tests/dashboard/dashboard_flow.py drives it with Debian's selenium,
# chromium and chromium-driver), signed in both ways:
#   - noauth (the embedded default) and a real Keystone user (alice, through
#     /dashboard/api/login);
#   - find the volume and its chain length, take a snapshot and watch its
#     progress, pick Rollback and then the oldest point, read the confirm
#     page, confirm, watch the rollback end: the disk then holds that
#     point's bytes exactly; then the same point into a new volume, which
#     holds them too;
#   - the task view with rates; the policy editor: a policy with retention
#     buckets made, its schedule edited with the next-runs preview, run now
#     (the run shows in its runs), deleted; the timeline and the policies
#     at a phone's width without sideways scrolling;
#   - no console errors, and every API path the page called is one the
#     docs name.
# Screenshots stay in build/test-artifacts/dashboard/{noauth,keystone}/.
source "$(dirname "$0")/lib.sh"
need qemu-img qemu-io curl openstack keystone-manage uwsgi
source "$(dirname "$0")/dashboard_lib.sh"

# flow MODE VOLUME DISK [USER PASSWORD PROJECT]: the browser's flow against
# $URL; checks the disk afterwards holds the oldest point's bytes
# ($T/MODE-s1.raw) and the paths the page called.
flow() {
  local mode=$1 vol=$2 disk=$3
  shift 3
  local shots=$SHOTS_ROOT/$mode
  rm -rf "$shots"; mkdir -p "$shots"
  run_flow dashboard_flow.py "$URL" "$vol" "$shots" "$@"
  qemu-img convert -O raw "$disk" "$T/now.raw"
  cmp -s "$T/now.raw" "$T/$mode-s1.raw" ||
    fail "$mode: after the rollback the disk does not hold the oldest point"
  # The rollback into a new volume: its disk holds the same point.
  local new
  new=$(flow_field new_volume)
  api GET "/v3/volumes/$new"
  expect_code 200 "$mode: the new volume"
  [[ $(jget 'j["volume"]["status"]') == available ]] || fail "$mode: the new volume: $BODY"
  # (The new volume has whole GiB: past the point's end it reads zeros,
  # which qemu-img compare requires of the longer image.)
  qemu-img compare -q -f raw -F qcow2 "$T/$mode-s1.raw" \
    "$(jget 'j["volume"]["os-strata:path"]')" ||
    fail "$mode: the volume the point was rolled into does not hold it"
  check_page_paths "$mode"
  ls "$shots"/*.png >/dev/null || fail "$mode: no screenshots"
  pass "$mode: signed in, chain length shown, snapshot with progress, rollback to the oldest point in place and into a new volume, confirmed and followed (both disks = that point, byte for byte), task rates, a policy made with buckets, edited with its preview, run and deleted, phone width; $(ls "$shots" | wc -l) screenshots in $shots"
}

# make_volume MODE TOKEN: a disk with data, adopted, and its first point
# (saved raw in $T/MODE-s1.raw), then more writes; sets VOL and DISK.
make_volume() {
  DISK=$T/var/disks/$1.qcow2
  qemu-img create -q -f qcow2 "$DISK" 64M
  qemu-io -c "write -P 0x41 0 3M" "$DISK" >/dev/null
  TOKEN=$2 api POST /v3/os-volume-manage \
    "{\"volume\":{\"host\":\"h@strata#strata\",\"ref\":{\"source-name\":\"$DISK\"},\"name\":\"$1\"}}"
  expect_code 202 "manage"
  VOL=$(jget 'j["volume"]["id"]')
  TOKEN=$2 api POST /v3/snapshots "{\"snapshot\":{\"volume_id\":\"$VOL\",\"name\":\"first\"}}"
  expect_code 202 "first snapshot"
  TOKEN=$2 wait_snapshot "$(jget 'j["snapshot"]["id"]')" available
  qemu-img convert -O raw "$DISK" "$T/$1-s1.raw"
  qemu-io -c "write -P 0x42 1M 2M" "$DISK" >/dev/null
}

start_stratad
make_volume noauth admin:admin
TOKEN=admin:admin
flow noauth "$VOL" "$DISK"

# os-verify's faults and a layer that rotted in the store: the newest
# point's object is replaced by a copy with one byte changed (a copy: the
# original may be linked into a chain), then verified.
api POST /v3/snapshots/00000000-0000-4000-8000-000000000000/action '{"os-verify":{}}'
expect_code 404 "os-verify of an unknown snapshot"
api GET "/v3/snapshots/detail?volume_id=$VOL&sort=created_at:desc"
rot=$(jget 'j["snapshots"][0]["id"]')
api POST "/v3/snapshots/$rot/action" '{"os-verify":{"now":true}}'
expect_code 400 "os-verify with arguments"
obj=$(find "$T/var/store" -type f -name "$rot*.qcow2" -print -quit)
[[ -f $obj ]] || fail "no stored object of $rot under $T/var/store"
cp "$obj" "$T/rot.tmp"
printf '\xff' | dd of="$T/rot.tmp" bs=1 seek=4096 conv=notrunc status=none
mv "$T/rot.tmp" "$obj"
api POST "/v3/snapshots/$rot/action" '{"os-verify":{}}'
expect_code 202 "os-verify"
for _ in $(seq 600); do
  api GET "/v3/snapshots/$rot"
  st=$(jget 'j["snapshot"]["os-strata:verify"]["state"]')
  [[ $st != verifying ]] && break
  sleep 0.1
done
[[ $st == failed ]] || fail "a rotten layer verified as $st: $BODY"
why=$(jget 'j["snapshot"]["os-strata:verify"]["error"]')
[[ $why == *[Ss][Hh][Aa]* ]] || fail "the failed verify does not say why: $why"
pass "os-verify: 404 unknown, 400 with arguments; a layer with one byte changed in the store is 'failed' ($why)"
stop_stratad

# Keystone: alice of project alpha signs in with her password.
start_keystone
keystone_auth_conf >"$T/ks.conf"
start_stratad --config "$T/ks.conf"
ada=$(openstack --os-cloud ada token issue -f value -c id)
make_volume keystone "$ada"
# A wrong password is the API's fault, shown on the page; here through the
# same call the page makes.
code=$(curl -s -o "$T/body" -w '%{http_code}' -H 'Content-Type: application/json' \
  -d '{"username":"alice","password":"wrong","project_name":"alpha"}' "$URL/dashboard/api/login")
[[ $code == 401 ]] || fail "a wrong password: HTTP $code $(cat "$T/body")"
TOKEN=$ada
flow keystone "$VOL" "$DISK" alice alice-secret alpha
