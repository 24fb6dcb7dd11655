#!/usr/bin/env bash
# What Cinder clients ask besides volumes and snapshots (issue 18, items 3-5),
# against a real stratad with the unmodified Debian cinder and openstack
# clients and curl:
#   - volume types: openstack volume type list/show (the default type
#     __DEFAULT__), create/set/unset/delete by an admin, refused to a member
#     (403), private types hidden from members, the default type not
#     deletable and its extra specs fixed while a volume has it (400);
#   - a volume of a type whose extra specs this backend does not satisfy
#     (Cinder's CapabilitiesFilter) ends in error with no file, and a user
#     message (cinder message-list/show/delete) tells its project why;
#   - encryption types (openstack volume type create/set/unset
#     --encryption-*, admin only): kept and shown, but a volume of an
#     encrypted type is refused (400: no key manager), and none is added to
#     a type in use;
#   - QoS specs: openstack volume qos create/set/unset/associate/
#     disassociate/delete by an admin (in use: 400 unless forced; a member
#     403), the type's qos_specs_id;
#   - availability zones ([DEFAULT] storage_availability_zone), services,
#     hosts and pools (admin only);
#   - quotas and limits: cinder quota-show/quota-defaults/quota-usage,
#     absolute-limits; an admin's quota-update, then a snapshot create over
#     the snapshots and the gigabytes quota → 413 overLimit with Cinder's
#     messages; a member reads its own project's quotas, not another's
#     (403), and cannot change them; quota-delete restores the defaults;
#     with a real Keystone (the openstack client names projects through
#     it), openstack quota set by an admin and quota list --volume by the
#     admin and by the project's member, refused to the member (403);
#   - all_tenants from a member is ignored as Cinder ignores it: 200 with
#     its own rows only (volumes, snapshots, cinder's name lookup in
#     revert-to-snapshot), while an admin's still lists every project.
# Requirements: issue 18 items 3, 4, 5; openstack-api.md (Cinder v3 faults:
# 413 overLimit, 403 forbidden).
STRATA_CINDER_QUOTAS=1   # Cinder's default quotas, not the tests' (lib.sh)
source "$(dirname "$0")/lib.sh"
need cinder openstack qemu-img curl python3 keystone-manage uwsgi

cat >"$T/strata.conf" <<'CONF'
[DEFAULT]
storage_availability_zone = strata-az
CONF
start_stratad --config "$T/strata.conf"

C=(cinder --os-auth-type noauth --os-user-id admin --os-project-id admin
   --os-endpoint "$URL/v3" --os-volume-api-version 3.70)
A=(cinder --os-auth-type noauth --os-user-id alice --os-project-id alpha
   --os-endpoint "$URL/v3" --os-volume-api-version 3.70)
O=(openstack --os-auth-type none --os-endpoint "$URL/v3/admin"
   --os-volume-api-version 3.65)

# ---- volume types -----------------------------------------------------
listed=$("${O[@]}" volume type list -f value -c Name)
[[ $listed == __DEFAULT__ ]] || fail "openstack volume type list: $listed"
default_id=$("${O[@]}" volume type show __DEFAULT__ -f value -c id)
api GET /v3/admin/types/default
expect_code 200 "types/default"
[[ $(jget 'j["volume_type"]["id"]') == "$default_id" ]] || fail "types/default: $BODY"
pass "openstack volume type list/show: __DEFAULT__ ($default_id)"

"${O[@]}" volume type create --property spec1=val1 --description "fast disks" gold \
  -f value -c id >"$T/gold" || fail "volume type create"
gold=$(cat "$T/gold")
"${O[@]}" volume type set --property spec2=val2 gold
"${O[@]}" volume type unset --property spec1 gold
props=$("${O[@]}" volume type show gold -f json -c properties)
[[ $(python3 -c 'import json,sys; print(json.load(sys.stdin)["properties"])' <<<"$props") == "{'spec2': 'val2'}" ]] ||
  fail "volume type properties: $props"
grep -q "spec2" <<<"$("${C[@]}" extra-specs-list)" || fail "cinder extra-specs-list lacks spec2"
TOKEN=alice:alpha api POST /v3/alpha/types '{"volume_type":{"name":"mine"}}'
expect_code 403 "a member creates a type"
grep -q "volume_extension:type_create" <<<"$BODY" || fail "403 names the rule: $BODY"
TOKEN=alice:alpha api GET "/v3/alpha/types/$gold"
expect_code 200 "a member shows a public type"
[[ $(jget 'j["volume_type"]["extra_specs"]') == "{}" ]] ||
  fail "a member sees sensitive extra specs: $BODY"
api POST /v3/admin/types '{"volume_type":{"name":"gold"}}'
expect_code 409 "a second type named gold"
api POST /v3/admin/types '{"volume_type":{"name":"secret","os-volume-type-access:is_public":false}}'
expect_code 200 "private type create"
secret=$(jget 'j["volume_type"]["id"]')
TOKEN=alice:alpha api GET "/v3/alpha/types/$secret"
expect_code 404 "a member shows a private type"
TOKEN=alice:alpha api GET /v3/alpha/types
[[ $(jget 'sorted(t["name"] for t in j["volume_types"])') == "['__DEFAULT__', 'gold']" ]] ||
  fail "a member's type list: $BODY"
# Shared with alpha (cinder type-access-add; openstack's --project looks the
# project up in Keystone, which noauth has not): alpha sees it,
# lists it and creates a volume of it; beta does not; the share is listed,
# then withdrawn.
"${C[@]}" type-access-add --volume-type "$secret" --project-id alpha
TOKEN=alice:alpha api GET "/v3/alpha/types/$secret"
expect_code 200 "alpha shows the private type shared with it"
TOKEN=alice:alpha api GET /v3/alpha/types
[[ $(jget 'sorted(t["name"] for t in j["volume_types"])') == "['__DEFAULT__', 'gold', 'secret']" ]] ||
  fail "alpha's type list with the shared type: $BODY"
TOKEN=bob:beta api GET "/v3/beta/types/$secret"
expect_code 404 "beta shows a type shared with alpha only"
api GET "/v3/admin/types/$secret/os-volume-type-access"
[[ $(jget '[a["project_id"] for a in j["volume_type_access"]]') == "['alpha']" ]] ||
  fail "access list: $BODY"
api POST "/v3/admin/types/$default_id/action" '{"addProjectAccess":{"project":"beta"}}'
expect_code 400 "access to a public type"
"${C[@]}" type-access-remove --volume-type "$secret" --project-id alpha
TOKEN=alice:alpha api GET "/v3/alpha/types/$secret"
expect_code 404 "alpha after the share was withdrawn"
pass "private type shared with a project (cinder type-access-add/remove), listed, withdrawn"
api DELETE "/v3/admin/types/$default_id"
expect_code 400 "delete the default type"
grep -q "default volume type and cannot be deleted" <<<"$BODY" || fail "$BODY"
"${O[@]}" volume type delete secret
api GET "/v3/admin/types/$secret"
expect_code 404 "deleted type"
pass "volume types: create/set/unset/delete (admin), 403 member, private hidden, default kept"

# ---- zones, services, hosts, pools -------------------------------------
zones=$("${O[@]}" availability zone list --volume -f value -c "Zone Name")
[[ $zones == strata-az ]] || fail "openstack availability zone list --volume: $zones"
grep -q strata-az <<<"$("${C[@]}" availability-zone-list)" || fail "cinder availability-zone-list"
services=$("${C[@]}" service-list)
grep -q "cinder-volume .*$(hostname)@strata .*strata-az .*enabled .*up" <<<"$services" ||
  fail "cinder service-list: $services"
grep -q "cinder-scheduler" <<<"$services" || fail "no scheduler: $services"
api GET "/v3/admin/os-services?binary=cinder-volume&host=$(hostname)"
[[ $(jget 'len(j["services"])') == 1 ]] || fail "os-services filter: $BODY"
TOKEN=alice:alpha api GET /v3/alpha/os-services
expect_code 403 "a member lists services"
api GET /v3/admin/os-hosts
[[ $(jget 'len(j["hosts"])') == 2 ]] || fail "os-hosts: $BODY"
grep -q "vendor_name.*Strata" <<<"$("${C[@]}" get-pools --detail)" || fail "cinder get-pools --detail"
pass "availability zone strata-az; service-list, os-hosts, get-pools (admin), 403 member"

# ---- quotas and limits --------------------------------------------------
disk="$T/var/disks/vm1.qcow2"
qemu-img create -q -f qcow2 "$disk" 64M   # 1 GiB of quota, as Cinder rounds
vol=$(manage_disk "$disk" vm1)
s1=$(snapshot "$vol" s1)
api POST "/v3/admin/types/$default_id/extra_specs" '{"extra_specs":{"k":"v"}}'
expect_code 400 "extra specs of a type a volume has"
grep -q "Volume Type is currently in use." <<<"$BODY" || fail "$BODY"
shown=$("${C[@]}" quota-show admin)
grep -Eq "\| snapshots +\| 10 " <<<"$shown" || fail "cinder quota-show: $shown"
grep -Eq "\| volumes___DEFAULT__ +\| -1 " <<<"$shown" || fail "no per-type key: $shown"
grep -Eq "\| snapshots_gold +\| -1 " <<<"$shown" || fail "no key for gold: $shown"
grep -Eq "\| gigabytes +\| 1000 " <<<"$("${C[@]}" quota-defaults admin)" || fail "quota-defaults"
usage=$("${C[@]}" quota-usage admin)
grep -Eq "\| volumes +\| 1 +\| 0 +\| 10 " <<<"$usage" || fail "quota-usage volumes: $usage"
grep -Eq "\| gigabytes +\| 2 +\| 0 +\| 1000 " <<<"$usage" || fail "quota-usage gigabytes: $usage"
limits=$("${C[@]}" absolute-limits)
grep -Eq "\| totalSnapshotsUsed +\| 1 " <<<"$limits" || fail "absolute-limits: $limits"
grep -Eq "\| maxTotalVolumes +\| 10 " <<<"$limits" || fail "absolute-limits: $limits"
pass "cinder quota-show/quota-defaults/quota-usage/absolute-limits"

grep -Eq "\| snapshots +\| 1 " <<<"$("${C[@]}" quota-update --snapshots 1 admin)" ||
  fail "cinder quota-update --snapshots 1"
out=$("${C[@]}" snapshot-create --name s2 "$vol" 2>&1) && fail "snapshot over quota created: $out"
grep -q "SnapshotLimitExceeded: Maximum number of snapshots allowed (1) exceeded (HTTP 413)" <<<"$out" ||
  fail "cinder snapshot-create over quota: $out"
api POST /v3/snapshots "{\"snapshot\":{\"volume_id\":\"$vol\",\"name\":\"s2\"}}"
expect_code 413 "snapshot over the snapshots quota"
[[ $(jget 'j["overLimit"]["code"]') == 413 ]] || fail "not an overLimit fault: $BODY"
api PUT /v3/admin/os-quota-sets/admin '{"quota_set":{"snapshots":10,"gigabytes":2}}'
expect_code 200 "quota update"
[[ $(jget 'j["quota_set"]["gigabytes"]') == 2 ]] || fail "quota update: $BODY"
api POST /v3/snapshots "{\"snapshot\":{\"volume_id\":\"$vol\",\"name\":\"s2\"}}"
expect_code 413 "snapshot over the gigabytes quota"
[[ $(jget 'j["overLimit"]["message"]') == "VolumeSizeExceedsAvailableQuota: Requested volume or snapshot exceeds allowed gigabytes quota. Requested 1G, quota is 2G and 2G has been consumed." ]] ||
  fail "gigabytes over quota: $BODY"
api PUT /v3/admin/os-quota-sets/admin '{"quota_set":{"gigabytes":1}}'
expect_code 400 "a limit below the usage"
api PUT /v3/admin/os-quota-sets/admin '{"quota_set":{"bogus":1}}'
expect_code 400 "an unknown quota key"
api GET /v3/snapshots
[[ $(jget 'len(j["snapshots"])') == 1 ]] || fail "a refused snapshot was recorded: $BODY"
pass "quota-update by admin; snapshot create over quota → 413 (snapshots, gigabytes)"

"${C[@]}" quota-delete admin
grep -Eq "\| gigabytes +\| 1000 " <<<"$("${C[@]}" quota-show admin)" || fail "quota-delete"
s2=$(snapshot "$vol" s2)
pass "quota-delete restores the defaults; the snapshot is allowed again"

grep -Eq "\| volumes +\| 10 " <<<"$("${A[@]}" quota-show alpha)" || fail "alice reads alpha's quotas"
out=$("${A[@]}" quota-show admin 2>&1) && fail "alice read admin's quotas: $out"
grep -q "HTTP 403" <<<"$out" || fail "alice, another project's quotas: $out"
TOKEN=alice:alpha api PUT /v3/alpha/os-quota-sets/alpha '{"quota_set":{"volumes":100}}'
expect_code 403 "a member updates its quotas"
TOKEN=alice:alpha api GET /v3/alpha/os-quota-class-sets/default
expect_code 403 "a member reads the quota classes"
pass "a member reads its own quotas only and changes none"

# ---- all_tenants from a member -----------------------------------------
disk2="$T/var/disks/alpha1.qcow2"
qemu-img create -q -f qcow2 "$disk2" 64M
vol2=$(TOKEN=admin:alpha manage_disk "$disk2" alpha1)
"${A[@]}" snapshot-create --name alpha-snap "$vol2" >/dev/null 2>&1 || fail "alice snapshot-create"
sa=$("${A[@]}" snapshot-list 2>/dev/null | awk '/ alpha-snap /{print $2}')
wait_snapshot "$sa" available
for what in snapshots volumes snapshots/detail volumes/detail; do
  TOKEN=alice:alpha api GET "/v3/alpha/$what?all_tenants=1"
  expect_code 200 "a member's $what?all_tenants=1"
  [[ $(jget "len(j['${what%%/*}'])") == 1 ]] || fail "a member's $what?all_tenants=1: $BODY"
done
"${A[@]}" snapshot-list --all-tenants >"$T/alist" 2>&1 || fail "alice snapshot-list --all-tenants: $(cat "$T/alist")"
grep -q alpha-snap "$T/alist" && ! grep -q " s1 " "$T/alist" || fail "alice's --all-tenants list: $(cat "$T/alist")"
"${A[@]}" revert-to-snapshot alpha-snap >"$T/revert" 2>&1 || fail "alice revert-to-snapshot by name: $(cat "$T/revert")"
wait_volume "$vol2" available
api GET "/v3/admin/snapshots?all_tenants=1"
[[ $(jget 'len(j["snapshots"])') == 3 ]] || fail "an admin's all_tenants: $BODY"
pass "all_tenants from a member: 200 with its own rows (lists, revert-to-snapshot NAME); an admin's spans projects"

# ---- a type this backend cannot hold: no valid backend, a user message ----
"${O[@]}" volume type create --property vendor_name=Other --property hw:scoped=x badtype >/dev/null
"${O[@]}" volume type create --property vendor_name=Strata \
  --property 'storage_protocol=<in> qcow' \
  --property 'capabilities:thin_provisioning_support=<is> True' \
  --property RESKEY:elsewhere=x goodtype >/dev/null
n_files=$(find "$T/var" -name 'volume-*' | wc -l)
vb=$("${O[@]}" volume create --type badtype --size 1 vb -f value -c id)
wait_volume "$vb" error
[[ $(find "$T/var" -name 'volume-*' | wc -l) == "$n_files" ]] || fail "an unschedulable volume got a file"
vg=$("${O[@]}" volume create --type goodtype --size 1 vg -f value -c id)
wait_volume "$vg" available
"${A[@]}" message-list >"$T/alice-msgs"
grep -q "$vb" "$T/alice-msgs" && fail "alice sees admin's message"
"${C[@]}" message-list --resource_uuid "$vb" >"$T/msgs"
msg=$(awk -v v="$vb" '$0 ~ v {print $2; exit}' "$T/msgs")
[[ -n $msg ]] || fail "no message for the unschedulable volume: $(cat "$T/msgs")"
api GET "/v3/admin/messages/$msg" "" -H "OpenStack-API-Version: volume 3.3"
[[ $(jget 'j["message"]["event_id"]') == VOLUME_VOL_001_002 &&
   $(jget 'j["message"]["resource_type"]') == VOLUME &&
   $(jget 'j["message"]["user_message"]') == "schedule allocate volume: Could not find any available weighted backend." ]] ||
  fail "message: $BODY"
"${C[@]}" message-delete "$msg"
api GET "/v3/admin/messages/$msg" "" -H "OpenStack-API-Version: volume 3.3"
expect_code 404 "a deleted message"
"${O[@]}" volume delete vb vg
for v in "$vb" "$vg"; do
  for _ in $(seq 100); do api GET "/v3/volumes/$v"; [[ $CODE == 404 ]] && break; sleep 0.1; done
done
"${O[@]}" volume type delete badtype goodtype
pass "a type whose extra specs this backend lacks: the volume in error, no file, a user message (list/show/delete); matching specs and operators: available"

# ---- encryption types: kept, and no volume of an encrypted type -------
"${O[@]}" volume type create --encryption-provider luks --encryption-cipher aes-xts-plain64 \
  --encryption-key-size 256 --encryption-control-location front-end enctype >/dev/null ||
  fail "openstack volume type create --encryption-provider"
enct=$("${O[@]}" volume type show enctype -f value -c id)
api GET "/v3/admin/types/$enct/encryption"
[[ $(jget 'j["provider"]') == luks && $(jget 'j["key_size"]') == 256 &&
   $(jget 'j["cipher"]') == aes-xts-plain64 ]] || fail "encryption type: $BODY"
"${O[@]}" volume type set --encryption-key-size 512 enctype
api GET "/v3/admin/types/$enct/encryption/key_size"
[[ $(jget 'j["key_size"]') == 512 ]] || fail "encryption key_size after set: $BODY"
n_vols() { api GET /v3/admin/volumes; jget 'len(j["volumes"])'; }
before=$(n_vols)
api POST /v3/admin/volumes '{"volume": {"size": 1, "volume_type": "enctype"}}'
expect_code 400 "a volume of an encrypted type"
jget 'j["badRequest"]["message"]' | grep -q "key manager" || fail "no reason given: $BODY"
[[ $(n_vols) == "$before" ]] || fail "a refused encrypted volume was recorded"
api POST "/v3/admin/types/$enct/encryption" '{"encryption": {"provider": "luks"}}'
expect_code 400 "a second encryption type"
code=$(curl -s -o "$T/body" -w '%{http_code}' -H "X-Auth-Token: alice:alpha" "$URL/v3/alpha/types/$enct/encryption")
[[ $code == 403 ]] || fail "a member reads an encryption type: HTTP $code"
"${O[@]}" volume type unset --encryption-type enctype
api GET "/v3/admin/types/$enct/encryption"
[[ $BODY == "{}" ]] || fail "encryption type after unset: $BODY"
ve=$("${O[@]}" volume create --type enctype --size 1 ve -f value -c id)
wait_volume "$ve" available
api POST "/v3/admin/types/$enct/encryption" '{"encryption": {"provider": "luks"}}'
expect_code 400 "an encryption type for a type in use"
"${O[@]}" volume delete ve
for _ in $(seq 100); do api GET "/v3/volumes/$ve"; [[ $CODE == 404 ]] && break; sleep 0.1; done
"${O[@]}" volume type delete enctype
pass "encryption types: create/show/set/unset (admin; 403 member); no volume of an encrypted type (400), none added to a type in use"

# ---- QoS specs --------------------------------------------------------
qos=$("${O[@]}" volume qos create --consumer front-end --property total_iops_sec=500 q1 -f value -c id) ||
  fail "openstack volume qos create"
"${O[@]}" volume qos set --property read_bytes_sec=1048576 q1
"${O[@]}" volume qos unset --property total_iops_sec q1
api GET "/v3/admin/qos-specs/$qos"
[[ $(jget 'j["qos_specs"]["specs"]') == "{'read_bytes_sec': '1048576'}" &&
   $(jget 'j["qos_specs"]["consumer"]') == front-end ]] || fail "qos set/unset: $BODY"
"${O[@]}" volume type create qtype >/dev/null
qtype=$("${O[@]}" volume type show qtype -f value -c id)
"${O[@]}" volume qos associate q1 qtype
api GET "/v3/admin/types/$qtype"
[[ $(jget 'j["volume_type"]["qos_specs_id"]') == "$qos" ]] || fail "type's qos_specs_id: $BODY"
api GET "/v3/admin/qos-specs/$qos/associations"
[[ $(jget '[a["id"] for a in j["qos_associations"]]') == "['$qtype']" ]] || fail "associations: $BODY"
q2=$("${O[@]}" volume qos create q2 -f value -c id)
api GET "/v3/admin/qos-specs/$q2/associate?vol_type_id=$qtype"
expect_code 400 "a type with qos specs associated with others"
api POST /v3/admin/qos-specs '{"qos_specs": {"name": "q1"}}'
expect_code 409 "a second qos specs named q1"
api POST /v3/admin/qos-specs '{"qos_specs": {"name": "q3", "consumer": "elsewhere"}}'
expect_code 400 "an unknown consumer"
api DELETE "/v3/admin/qos-specs/$qos"
expect_code 400 "deleting qos specs in use"
code=$(curl -s -o "$T/body" -w '%{http_code}' -H "X-Auth-Token: alice:alpha" "$URL/v3/alpha/qos-specs")
[[ $code == 403 ]] || fail "a member lists qos specs: HTTP $code"
"${O[@]}" volume qos disassociate --all q1
api GET "/v3/admin/types/$qtype"
[[ $(jget 'j["volume_type"]["qos_specs_id"]') == None ]] || fail "after disassociate: $BODY"
"${O[@]}" volume qos associate q1 qtype
api DELETE "/v3/admin/qos-specs/$qos?force=true"
expect_code 202 "a forced delete of qos specs in use"
api GET "/v3/admin/types/$qtype"
[[ $(jget 'j["volume_type"]["qos_specs_id"]') == None ]] || fail "the deleted specs stay associated: $BODY"
"${O[@]}" volume qos delete q2
"${O[@]}" volume type delete qtype
pass "openstack volume qos create/set/unset/associate/disassociate/delete (admin; 403 member; in use 400, --force)"

# ---- openstack quota set/list, with Keystone ----------------------------
# The openstack client names the project through Keystone, and its quota
# commands build a compute client first: Strata is registered as both.
# ("openstack quota show" then asks Nova's os-quota-sets, which Strata's
# compute API does not have: volume quotas are read with "quota list
# --volume" or cinder quota-show.)
stop_stratad
ks_port=$(free_port)
ks_pid=$("$STRATA_SRC/scripts/start-test-keystone.sh" "$T/ks" "$ks_port") ||
  fail "keystone did not start"
trap 'rc=$?; stop_group "$ks_pid"; cleanup "$rc"' EXIT
cat >>"$T/strata.conf" <<CONF
[auth]
strategy = keystone
[keystone_authtoken]
auth_url = http://127.0.0.1:$ks_port/v3
username = strata
password = strata-secret
project_name = service
CONF
start_stratad --config "$T/strata.conf"
export OS_CLIENT_CONFIG_FILE="$T/ks/clouds.yaml"
OS_CLOUD=admin "$STRATA_SRC/scripts/register-keystone.sh" "$URL" \
  --type volumev3 --type compute >/dev/null || fail "register-keystone.sh failed"
os() { local cloud=$1; shift; openstack --os-cloud "$cloud" --os-volume-api-version 3.65 "$@"; }
alpha=$(os admin project show alpha -f value -c id)
beta=$(os admin project show beta -f value -c id)
os admin quota set --volumes 7 --snapshots 3 alpha || fail "openstack quota set (admin)"
for who in admin alice; do
  listed=$(os "$who" quota list --volume --project "$alpha" -f value -c Volumes -c Snapshots) ||
    fail "openstack quota list --volume ($who): $listed"
  [[ $listed == "3 7" ]] || fail "openstack quota list --volume ($who): $listed"
done
out=$(os alice quota set --volumes 100 "$alpha" 2>&1) && fail "alice set her quotas: $out"
grep -q "volume_extension:quotas:update" <<<"$out" || fail "alice quota set: $out"
bob=$(os bob token issue -f value -c id)
code=$(curl -s -o "$T/body" -w '%{http_code}' -H "X-Auth-Token: $bob" \
  "$URL/v3/$beta/os-quota-sets/$alpha")
[[ $code == 403 ]] || fail "bob reads alpha's quotas: HTTP $code $(cat "$T/body")"
code=$(curl -s -o "$T/body" -w '%{http_code}' -H "X-Auth-Token: $bob" "$URL/v3/$beta/limits")
[[ $code == 200 ]] || fail "bob's limits: HTTP $code"
pass "openstack quota set/list with Keystone: a member reads its own, only an admin sets"
