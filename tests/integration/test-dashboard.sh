#!/usr/bin/env bash
# The dashboard in headless Chromium (issue 20, item 1;
# tests/dashboard/dashboard_flow.py drives it with Debian's selenium,
# chromium and chromium-driver), signed in both ways:
#   - noauth (the embedded default) and a real Keystone user (alice, through
#     /dashboard/api/login);
#   - find the volume, take a snapshot and watch its progress, pick
#     Rollback and then the oldest point, read the confirm page, confirm,
#     watch the rollback end: the disk then holds that point's bytes exactly;
#   - the task view and the policies page with its next-runs preview, and
#     the timeline at a phone's width without sideways scrolling;
#   - no console errors, and every API path the page called is one the
#     docs name.
# Screenshots stay in build/test-artifacts/dashboard/{noauth,keystone}/.
source "$(dirname "$0")/lib.sh"
need qemu-img qemu-io curl openstack keystone-manage uwsgi
PY=/usr/bin/python3
[[ -x /usr/bin/chromium && -x /usr/bin/chromedriver ]] ||
  skip "needs chromium and chromium-driver"
"$PY" -c 'import selenium' 2>/dev/null || skip "needs python3-selenium"
shots_root=${STRATA_ARTIFACTS:-$(dirname "$STRATAD")/test-artifacts}/dashboard

# flow MODE VOLUME DISK [USER PASSWORD PROJECT]: the browser's flow against
# $URL; checks the disk afterwards holds the oldest point's bytes
# ($T/MODE-s1.raw) and the paths the page called.
flow() {
  local mode=$1 vol=$2 disk=$3
  shift 3
  local shots=$shots_root/$mode
  rm -rf "$shots"; mkdir -p "$shots"
  "$PY" "$STRATA_SRC/tests/dashboard/dashboard_flow.py" "$URL" "$vol" "$shots" "$@" \
    >"$T/flow.json" 2>"$T/flow.err" ||
    fail "$mode: the browser flow failed: $(tail -5 "$T/flow.err")"
  qemu-img convert -O raw "$disk" "$T/now.raw"
  cmp -s "$T/now.raw" "$T/$mode-s1.raw" ||
    fail "$mode: after the rollback the disk does not hold the oldest point"
  # Each path the page called (ids as {id}), named in the docs.
  local p norm
  while read -r p; do
    norm=$(sed -E 's/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/{id}/g; s|^[A-Z]+ ||; s|^/v3/|/|; s|^/v2.1/|/|' <<<"$p")
    case $norm in /dashboard/*.css|/dashboard/*.js|/dashboard/*.svg|/dashboard/) continue ;; esac
    # An extension's table names its paths relative to it: "…/preview".
    rel=$(sed -nE 's|^/os-[a-z-]+(/.+)$|…\1|p' <<<"$norm")
    grep -qF -- "$norm" "$STRATA_SRC/docs/api.md" "$STRATA_SRC/docs/dashboard.md" ||
      { [[ -n $rel ]] && grep -qF -- "$rel" "$STRATA_SRC/docs/api.md"; } ||
      fail "$mode: the page called $p, which the docs do not name ($norm)"
  done < <("$PY" -c 'import json,sys; print("\n".join(json.load(sys.stdin)["paths"]))' <"$T/flow.json")
  ls "$shots"/*.png >/dev/null || fail "$mode: no screenshots"
  pass "$mode: signed in, snapshot with progress, rollback to the oldest point confirmed and followed (disk = that point, byte for byte), tasks, policies preview, phone width; $(ls "$shots" | wc -l) screenshots in $shots"
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
flow noauth "$VOL" "$DISK"
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
flow keystone "$VOL" "$DISK" alice alice-secret alpha
