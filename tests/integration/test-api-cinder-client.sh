#!/usr/bin/env bash
# The unmodified Debian cinder CLI and openstack CLI (noauth) against stratad:
# adopt a qcow2 (manage-existing), snapshot, list/show/rename/metadata,
# revert to each snapshot with the data checked by qemu-io, delete.
# Requirements: R2.1, R2.3, R2.5, R2.11 through Cinder v3 (openstack-api.md).
source "$(dirname "$0")/lib.sh"
need cinder openstack qemu-img qemu-io curl
start_stratad

disk="$T/var/disks/vm1.qcow2"
qemu-img create -q -f qcow2 "$disk" 64M
write_pattern "$disk" 0xa1 0 1M

C=(cinder --os-auth-type noauth --os-user-id admin --os-project-id admin
   --os-endpoint "$URL/v3" --os-volume-api-version 3.70)
"${C[@]}" manage --name vm1 "$(hostname)@strata#strata" "$disk" >/dev/null
vol=$("${C[@]}" list 2>/dev/null | awk '/ vm1 /{print $2}')
[[ -n "$vol" ]] || fail "cinder list does not show the managed volume"
pass "cinder manage + list ($vol)"

"${C[@]}" snapshot-create --name snapA "$vol" >/dev/null 2>&1
sa=$("${C[@]}" snapshot-list 2>/dev/null | awk '/ snapA /{print $2}')
wait_snapshot "$sa" available
write_pattern "$disk" 0xb2 1M 1M
"${C[@]}" snapshot-create --name snapB "$vol" >/dev/null 2>&1
sb=$("${C[@]}" snapshot-list 2>/dev/null | awk '/ snapB /{print $2}')
wait_snapshot "$sb" available
write_pattern "$disk" 0xc3 2M 1M
pass "cinder snapshot-create A and B"

"${C[@]}" snapshot-rename "$sa" snapA2 --description first >"$T/rename.out" 2>&1 || fail "rename: $(cat "$T/rename.out")"
shown=$("${C[@]}" snapshot-show "$sa" 2>/dev/null)
grep -q "snapA2" <<<"$shown" || fail "rename not shown: $shown"
"${C[@]}" snapshot-metadata "$sa" set tier=gold >/dev/null 2>&1
api GET "/v3/snapshots/$sa/metadata"
[[ $(jget 'j["metadata"]["tier"]') == gold ]] || fail "metadata not stored: $BODY"
pass "cinder snapshot-rename, snapshot-metadata"

"${C[@]}" revert-to-snapshot "$sa" >/dev/null 2>&1
wait_volume "$vol" available
reads_pattern "$disk" 0xa1 0 1M || fail "after revert to A: A missing"
reads_pattern "$disk" 0 1M 2M || fail "after revert to A: B or C present"
pass "revert to A reads back exactly A"

"${C[@]}" revert-to-snapshot "$sb" >/dev/null 2>&1
wait_volume "$vol" available
reads_pattern "$disk" 0xa1 0 1M || fail "after revert to B: A missing"
reads_pattern "$disk" 0xb2 1M 1M || fail "after revert to B: B missing"
reads_pattern "$disk" 0 2M 1M || fail "after revert to B: C present"
pass "revert to B (older than the latest revert target is fine) reads back A+B"

# The openstack CLI (python3-openstackclient) with no authentication. At
# 3.66+ "openstack volume snapshot create" always sends force=False, which
# cinderclient itself refuses before any request: 3.65 is the newest that
# OSC 6.0 can use for it (the same against a real Cinder).
O=(openstack --os-auth-type none --os-endpoint "$URL/v3/admin"
   --os-volume-api-version 3.65)
listed=$("${O[@]}" volume snapshot list -f value -c ID)
grep -q "$sb" <<<"$listed" || fail "openstack volume snapshot list: $listed"
st=$("${O[@]}" volume snapshot show "$sb" -f value -c status)
[[ "$st" == available ]] || fail "openstack volume snapshot show: $st"
"${O[@]}" volume snapshot create --volume "$vol" snapC -f value -c id >"$T/osc.out" 2>&1 ||
  fail "openstack volume snapshot create: $(cat "$T/osc.out")"
sc=$("${O[@]}" volume snapshot list -f value -c ID -c Name | awk '$2=="snapC"{print $1}')
wait_snapshot "$sc" available
"${O[@]}" volume snapshot set --name snapC2 "$sc"
"${O[@]}" volume snapshot delete "$sc"
for _ in $(seq 50); do api GET "/v3/snapshots/$sc"; [[ $CODE == 404 ]] && break; sleep 0.1; done
expect_code 404 "deleted snapshot C"
pass "openstack volume snapshot list/show/create/set/delete"

"${C[@]}" snapshot-delete "$sa" >/dev/null 2>&1
for _ in $(seq 50); do api GET "/v3/snapshots/$sa"; [[ $CODE == 404 ]] && break; sleep 0.1; done
expect_code 404 "deleted snapshot A"
listed=$("${C[@]}" snapshot-list 2>/dev/null)
grep -q "$sb" <<<"$listed" || fail "snapshot B lost: $listed"
pass "cinder snapshot-delete"
