#!/usr/bin/env bash
# Keystone auth and policy (issue 5, openstack-api.md): a real Keystone
# (Debian's keystone, sqlite, fernet, keystone-manage bootstrap, served by its
# WSGI script; scripts/start-test-keystone.sh) and stratad with
# [auth] strategy = keystone, registered in Keystone's catalog by
# scripts/register-keystone.sh. Debian's openstack client, with password
# auth through the catalog, creates, lists, shows and deletes snapshots as a
# member; a second project sees and touches nothing of the first (404, not
# 403); a reader may list but not create or delete (403); an admin lists
# across projects; requests without a token, with a bad, revoked or expired
# token get 401; tokens never appear in stratad's log. A server of one
# project (a libvirt domain with Nova's owner metadata): server list, image
# create, backup create with rotation and rebuild through the catalog;
# another project sees nothing of it, a reader may not create.
source "$(dirname "$0")/lib.sh"
USES_LIBVIRT=1   # its stratad works on libvirt domains
need qemu-img qemu-io curl python3 openstack keystone-manage uwsgi virsh qemu-system-x86_64
bash "$STRATA_SRC/scripts/start-libvirt.sh" || fail "libvirtd did not start"

ks_port=$(free_port)
# Tokens live 30 s: the expired-token check below waits that long, and
# stratad's own service token expires and is renewed during the test.
ks_pid=$(KEYSTONE_TOKEN_EXPIRATION=30 \
  "$STRATA_SRC/scripts/start-test-keystone.sh" "$T/ks" "$ks_port") ||
  fail "keystone did not start"
dom="strata-ks-$$"
trap 'rc=$?; stop_group "$ks_pid"
      virsh -q destroy "$dom" >/dev/null 2>&1 || true
      virsh -q undefine "$dom" >/dev/null 2>&1 || true
      cleanup "$rc"' EXIT
ks_url="http://127.0.0.1:$ks_port/v3"
export OS_CLIENT_CONFIG_FILE="$T/ks/clouds.yaml"
os() { local cloud=$1; shift; openstack --os-cloud "$cloud" "$@"; }
token_of() { os "$1" token issue -f value -c id; }

cat >"$T/ks.conf" <<CONF
[auth]
strategy = keystone
[keystone_authtoken]
auth_url = $ks_url
username = strata
password = strata-secret
project_name = service
token_cache_time = 2
CONF
start_stratad --config "$T/ks.conf"
OS_CLOUD=admin "$STRATA_SRC/scripts/register-keystone.sh" "$URL" \
  --type volumev3 --type compute --type image >/dev/null ||
  fail "register-keystone.sh failed"
[[ $(os admin endpoint list --service strata-volumev3 -f value -c URL | sort -u) == "$URL/v3/%(project_id)s" ]] ||
  fail "the catalog does not name Strata's volume endpoint"
pass "Strata registered in Keystone's catalog (volumev3, compute, image)"

# Without a token, or with a made-up one: 401.
code=$(curl -s -o "$T/body" -w '%{http_code}' "$URL/v3/snapshots")
[[ $code == 401 ]] || fail "no token: HTTP $code"
grep -q '"unauthorized"' "$T/body" || fail "no token: not an OpenStack fault: $(cat "$T/body")"
curl -s -D - -o /dev/null "$URL/v3/snapshots" | tr -d '\r' |
  grep -qix "www-authenticate: Keystone uri=\"http://127.0.0.1:$ks_port\"" ||
  fail "a 401 without Keystone's WWW-Authenticate"
code=$(curl -s -o /dev/null -w '%{http_code}' -H "X-Auth-Token: gAAAAAbogus" "$URL/v3/snapshots")
[[ $code == 401 ]] || fail "bad token: HTTP $code"
pass "no token and a bad token → 401 (WWW-Authenticate names Keystone)"

# Adopting a disk is admin-only (Cinder's policy): alice (member of alpha)
# is refused, ada (admin of alpha) adopts it into alpha; alice snapshots it
# with the client.
alpha=$(os admin project show alpha -f value -c id)
beta=$(os admin project show beta -f value -c id)
disk="$T/var/disks/a.qcow2"
qemu-img create -q -f qcow2 "$disk" 64M
write_pattern "$disk" 0x11 0 2M
alice=$(token_of alice)
manage_as() {
  curl -s -o "$T/body" -w '%{http_code}' -X POST -H "X-Auth-Token: $1" \
    -H 'Content-Type: application/json' "$URL/v3/$alpha/os-volume-manage" \
    -d "{\"volume\":{\"host\":\"strata\",\"ref\":{\"source-name\":\"$disk\"},\"name\":\"a\"}}"
}
code=$(manage_as "$alice")
[[ $code == 403 ]] || fail "alice (member): manage: HTTP $code, wanted 403 $(cat "$T/body")"
code=$(manage_as "$(token_of ada)")
[[ $code == 202 ]] || fail "ada (admin): manage: HTTP $code $(cat "$T/body")"
pass "manage-existing: a member → 403, an admin of the project → 202"
vol=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["volume"]["id"])' "$T/body")
vc=(--os-volume-api-version 3.40)
os alice "${vc[@]}" volume show "$vol" -f value -c status >/dev/null ||
  fail "alice cannot see her volume through the catalog"
snap=$(os alice "${vc[@]}" volume snapshot create --volume "$vol" s1 -f value -c id) ||
  fail "alice: openstack volume snapshot create failed"
for _ in $(seq 100); do
  st=$(os alice "${vc[@]}" volume snapshot show "$snap" -f value -c status)
  [[ $st == available ]] && break
  sleep 0.3
done
[[ $st == available ]] || fail "alice's snapshot is $st"
os alice "${vc[@]}" volume snapshot list -f value -c ID | grep -qx "$snap" ||
  fail "alice's snapshot list lacks it"
pass "alice (member): openstack volume snapshot create/show/list through the catalog"

# bob (member of beta) sees and touches nothing of alpha's: 404, not 403.
os bob "${vc[@]}" volume snapshot list -f value -c ID | grep -q . &&
  fail "bob lists alpha's snapshots"
out=$(os bob "${vc[@]}" volume snapshot show "$snap" 2>&1) && fail "bob sees alice's snapshot"
# (The client then looks the id up as a name, all_tenants=1 included, which
# is ignored for bob as Cinder ignores it: nothing of alpha's either.)
grep -qi "not found\|could not find\|no snapshot with a name or id" <<<"$out" ||
  fail "bob: not a 404: $out"
bob=$(token_of bob)
for req in "GET /v3/$beta/snapshots/$snap" "DELETE /v3/$beta/snapshots/$snap" \
           "GET /v3/$beta/volumes/$vol"; do
  code=$(curl -s -o /dev/null -w '%{http_code}' -X "${req% *}" -H "X-Auth-Token: $bob" "$URL${req#* }")
  [[ $code == 404 ]] || fail "bob: $req → HTTP $code, wanted 404"
done
code=$(curl -s -o /dev/null -w '%{http_code}' -X POST -H "X-Auth-Token: $bob" \
  -H 'Content-Type: application/json' "$URL/v3/$beta/snapshots" \
  -d "{\"snapshot\":{\"volume_id\":\"$vol\"}}")
[[ $code == 404 ]] || fail "bob snapshotting alice's volume → HTTP $code, wanted 404"
code=$(curl -s -o /dev/null -w '%{http_code}' -H "X-Auth-Token: $bob" "$URL/v3/$alpha/snapshots")
[[ $code == 400 || $code == 403 || $code == 404 ]] || fail "bob using alpha's URL → HTTP $code"
pass "bob (another project): nothing of alpha's visible or touchable (404)"

# rita (reader of alpha): reads, but may not create or delete (403).
os rita "${vc[@]}" volume snapshot list -f value -c ID | grep -qx "$snap" ||
  fail "rita (reader) cannot list alpha's snapshots"
out=$(os rita "${vc[@]}" volume snapshot create --volume "$vol" r1 2>&1) &&
  fail "rita (reader) created a snapshot"
grep -q "403\|Policy" <<<"$out" || fail "rita create: not a 403: $out"
out=$(os rita "${vc[@]}" volume snapshot delete "$snap" 2>&1) &&
  fail "rita (reader) deleted a snapshot"
pass "rita (reader): lists, but create and delete → 403"

# admin lists across projects; the default list is admin's own project.
os admin "${vc[@]}" volume snapshot list --all-projects -f value -c ID | grep -qx "$snap" ||
  fail "admin --all-projects does not list alice's snapshot"
os admin "${vc[@]}" volume snapshot list -f value -c ID | grep -qx "$snap" &&
  fail "admin's own project lists alice's snapshot"
# A member's all_tenants is ignored, as Cinder ignores it (issue 18): her
# own project's rows, none of another's.
out=$(os bob "${vc[@]}" volume snapshot list --all-projects -f value -c ID 2>&1) ||
  fail "bob's --all-projects: $out"
grep -q . <<<"$out" && fail "bob's --all-projects lists alpha's snapshots: $out"
out=$(os alice "${vc[@]}" volume snapshot list --all-projects -f value -c ID 2>&1) ||
  fail "alice's --all-projects: $out"
grep -qx "$snap" <<<"$out" || fail "alice's --all-projects lacks her snapshot: $out"
pass "admin lists across projects (all_tenants); a member's all_tenants lists her own project only"

# A server of project alpha (a persistent libvirt domain with Nova's owner
# metadata; it runs firmware only): the openstack client's server commands
# through the catalog, scoped like the volumes.
sdisk="$T/var/disks/srv.qcow2"
chmod 755 "$T" "$T/var" "$T/var/disks"
qemu-img create -q -f qcow2 "$sdisk" 32M
write_pattern "$sdisk" 0x21 0 1M
bare_domain_xml "$dom" "$sdisk" "$alpha" alice >"$T/srv.xml"
virsh -q define "$T/srv.xml" >/dev/null && virsh -q start "$dom" >/dev/null || fail "virsh define/start"
cv=(--os-compute-api-version 2.45)
os alice "${cv[@]}" server list -f value -c Name -c Status | grep -qx "$dom ACTIVE" ||
  fail "alice's server list lacks $dom"
os bob "${cv[@]}" server list -f value -c Name | grep -qx "$dom" && fail "bob lists alpha's server"
os bob "${cv[@]}" server show "$dom" >/dev/null 2>&1 && fail "bob sees alpha's server"
img=$(os alice "${cv[@]}" server image create --name i1 "$dom" -f value -c id) ||
  fail "alice: openstack server image create failed"
wait_img() {  # wait_img ID: available, read with alice's token
  local t; t=$(token_of alice)
  for _ in $(seq 100); do
    [[ $(curl -s -H "X-Auth-Token: $t" "$URL/v3/snapshots/$1" |
         python3 -c 'import json,sys; print(json.load(sys.stdin)["snapshot"]["status"])') == available ]] && return 0
    sleep 0.2
  done
  fail "image $1 did not become available"
}
wait_img "$img"
for b in b1 b2; do
  os alice "${cv[@]}" server backup create --name "$b" --type daily --rotate 1 "$dom" >/dev/null ||
    fail "alice: openstack server backup create $b failed"
  sleep 1
done
t=$(token_of alice)
for _ in $(seq 100); do
  daily=$(curl -s -H "X-Auth-Token: $t" "$URL/v3/snapshots/detail" | python3 -c '
import json, sys
print(" ".join(sorted(s["name"] for s in json.load(sys.stdin)["snapshots"]
      if s["metadata"].get("backup_type") == "daily" and s["status"] == "available")))')
  [[ $daily == b2 ]] && break
  sleep 0.2
done
[[ $daily == b2 ]] || fail "rotation 1 left daily backups: '$daily'"
out=$(os rita "${cv[@]}" server image create --name r1 "$dom" 2>&1) && fail "rita created an image"
grep -q "403\|Policy" <<<"$out" || fail "rita image create: not a 403: $out"
os alice "${cv[@]}" server rebuild --image "$img" --wait "$dom" >/dev/null ||
  fail "alice: openstack server rebuild failed"
[[ $(os alice "${cv[@]}" server show "$dom" -f value -c status) == ACTIVE ]] ||
  fail "the server is not ACTIVE after the rebuild"
out=$(os bob "${cv[@]}" server rebuild --image "$img" "$dom" 2>&1) && fail "bob rebuilt alpha's server"
pass "openstack server list / image create / backup create --rotate / rebuild --wait through the catalog; bob sees nothing, rita may not create"

# A revoked token: refused once the cache time (2 s) has passed.
victim=$(token_of alice)
code=$(curl -s -o /dev/null -w '%{http_code}' -H "X-Auth-Token: $victim" "$URL/v3/snapshots")
[[ $code == 200 ]] || fail "fresh token → HTTP $code"
os alice token revoke "$victim"
sleep 3
code=$(curl -s -o /dev/null -w '%{http_code}' -H "X-Auth-Token: $victim" "$URL/v3/snapshots")
[[ $code == 401 ]] || fail "revoked token → HTTP $code, wanted 401"
pass "a revoked token → 401"

# An expired token: refused.
old=$(token_of alice)
code=$(curl -s -o /dev/null -w '%{http_code}' -H "X-Auth-Token: $old" "$URL/v3/snapshots")
[[ $code == 200 ]] || fail "fresh token → HTTP $code"
sleep 31
code=$(curl -s -o /dev/null -w '%{http_code}' -H "X-Auth-Token: $old" "$URL/v3/snapshots")
[[ $code == 401 ]] || fail "expired token → HTTP $code, wanted 401"
pass "an expired token → 401 (and stratad renewed its own service token)"

# alice deletes her snapshot with the client.
os alice "${vc[@]}" volume snapshot delete "$snap" || fail "alice: delete failed"
for _ in $(seq 100); do
  os alice "${vc[@]}" volume snapshot show "$snap" >/dev/null 2>&1 || break
  sleep 0.2
done
os alice "${vc[@]}" volume snapshot show "$snap" >/dev/null 2>&1 && fail "snapshot not deleted"
pass "alice: openstack volume snapshot delete"

# No token ever reaches the log.
for t in "$alice" "$bob" "$victim" "$old"; do
  grep -qF "$t" "$T/stratad.log" && fail "a token appears in stratad's log"
done
pass "tokens never appear in stratad's log"
