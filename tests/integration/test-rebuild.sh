#!/usr/bin/env bash
# Nova's rebuild onto one of Strata's snapshots (issue 5, R2.11): the test
# guest, a defined (persistent) domain as Nova makes them, writes checksummed
# records; `openstack server image create` snapshots it live; more records
# follow; `openstack server rebuild --image <snapshot> --wait` powers it off,
# rolls its system disk back to the snapshot and starts it again. The server
# comes back ACTIVE, the guest boots on the rolled-back disk and resumes its
# log right after the snapshot's last record (between the last record it
# reported before the snapshot and the last one once it was stored), and
# the disk holds records 1..N exactly, none torn. A rebuild with an image
# that is not a snapshot of this server is a 400. stratad killed mid-rebuild:
# after the restart the server runs again and the log stays whole.
source "$(dirname "$0")/lib.sh"
need_guest
need curl openstack

name=strata-rebuild-$$
disk=$T/var/disks/rb.qcow2
console=$T/console.log
define_guest "$name" "$disk" 256M
uuid=$(virsh domuuid "$name")
start_stratad
O=(openstack --os-auth-type none --os-endpoint "$URL/v2.1" --os-compute-api-version 2.45)

lo=$(last_rec)
img=$("${O[@]}" server image create --name before "$name" -f value -c id) ||
  fail "openstack server image create failed"
wait_snapshot "$img" available 60
hi=$(last_rec)
for _ in $(seq 300); do (( $(last_rec) > hi + 200 )) && break; sleep 0.1; done
(( $(last_rec) > hi + 200 )) || fail "the guest stopped writing"
pass "snapshot $img of the running guest taken between records $lo and $hi; the guest wrote on to $(last_rec)"

api POST "/v2.1/servers/$uuid/action" '{"rebuild":{"imageRef":"00000000-0000-4000-8000-000000000000"}}'
expect_code 400 "rebuild onto an unknown image"
api POST "/v2.1/servers/$uuid/action" '{"rebuild":{}}'
expect_code 400 "rebuild without imageRef"

boot_before=$(boot_id)
[[ -n $boot_before ]] || fail "no RECWRITER START line on the console"
"${O[@]}" server rebuild --image "$img" --wait "$name" >/dev/null ||
  fail "openstack server rebuild failed"
[[ $("${O[@]}" server show "$name" -f value -c status) == ACTIVE ]] ||
  fail "the server is not ACTIVE after the rebuild"
[[ $(virsh domstate "$name") == running ]] || fail "the domain is not running"
for _ in $(seq 600); do
  b=$(boot_id); [[ -n $b && $b != "$boot_before" ]] && break
  sleep 0.1
done
b=$(boot_id)
[[ -n $b && $b != "$boot_before" ]] || fail "the guest did not boot again after the rebuild"
start=$(grep -a '^RECWRITER START' "$console" | tail -1)
next=$(sed -n 's/.* next=\([0-9]*\).*/\1/p' <<<"$start")
k=$((next - 1))
(( lo <= k && k <= hi )) || fail "after the rebuild the disk ends at record $k, not within $lo..$hi"
for _ in $(seq 300); do (( $(last_rec) > next + 50 )) && break; sleep 0.1; done
(( $(last_rec) > next + 50 )) || fail "the guest does not write after the rebuild"
pass "openstack server rebuild --image: ACTIVE again, the guest resumed its log at record $next ($lo <= $k <= $hi)"

# Crash safety: stratad killed inside a rebuild, before the revert is done
# (revert.install: the server is off, the disk not yet replaced) and after it
# (rebuild.power_on): after the restart the server runs again, on the old
# disk or the rolled-back one, and the guest's log stays whole. (The image
# is the volume's latest snapshot since the rebuild above: these reverts
# make a new top on its history, docs/engine.md.)
for step in revert.install rebuild.power_on; do
  stop_stratad
  STRATA_CRASH_AT=$step start_stratad
  boot_before=$(boot_id)
  api POST "/v2.1/servers/$uuid/action" "{\"rebuild\":{\"imageRef\":\"$img\"}}"
  [[ $CODE == 202 || $CODE == 000 ]] || fail "rebuild: HTTP $CODE $BODY"
  wait_crash "$step"
  start_stratad
  for _ in $(seq 600); do
    b=$(boot_id); [[ -n $b && $b != "$boot_before" ]] && break
    sleep 0.1
  done
  [[ $(virsh domstate "$name") == running ]] || fail "$step: the server is not running after recovery"
  [[ $(boot_id) != "$boot_before" ]] || fail "$step: the guest did not boot again"
  api GET "/v2.1/servers/$uuid"
  [[ $(jget 'j["server"]["status"]') == ACTIVE ]] || fail "$step: server status: $BODY"
  now=$(sed -n 's/.* next=\([0-9]*\).*/\1/p' <<<"$({ grep -a '^RECWRITER START' "$console" || true; } | tail -1)")
  if [[ $step == rebuild.power_on ]]; then
    (( now - 1 >= lo && now - 1 <= hi )) || fail "$step: resumed at $now, not right after the snapshot"
  fi
  pass "crash at $step: after the restart the server is ACTIVE again (guest resumed at record $now)"
done

virsh -q destroy "$name"
result=$(verify_disk "$disk" "$(last_rec)")
pass "the rebuilt disk holds records 1..$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["last"])' "$result") exactly, none torn"
