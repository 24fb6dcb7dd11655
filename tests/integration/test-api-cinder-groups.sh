#!/usr/bin/env bash
# Cinder's generic volume groups (issue 18) through the unmodified openstack
# and cinder CLIs (noauth), the data checked with qemu-io:
# - group types (admins only: a member's create is a 403) and their specs;
# - a group of two volumes, a group snapshot of it, then a group from the
#   group snapshot (`cinder group-create-from-src --group-snapshot`): its
#   volumes read exactly the members' data at the cut, while the sources
#   keep their own; a group from the source group clones them as they are;
# - update: a volume of a type the group lacks, or in another group, is
#   not added (400), one not in it not removed (400);
# - delete: refused without delete-volumes while it has volumes (400),
#   refused while it has group snapshots (400); with delete-volumes its
#   volumes go, then the group;
# - bad input: no volume types (400), an unknown group type (404), a
#   volume create into a group of other types (400), another project's
#   group (404), a group type in use (400): each with a message and
#   nothing made or changed.
source "$(dirname "$0")/lib.sh"
need openstack cinder qemu-img qemu-io python3
start_stratad

O=(openstack --os-auth-type none --os-endpoint "$URL/v3/admin"
   --os-volume-api-version 3.65)
C=(cinder --os-auth-type noauth --os-user-id admin --os-project-id admin
   --os-endpoint "$URL/v3" --os-volume-api-version 3.65)
VOLUME_API_VERSION=3.65  # every api call (lib.sh)
file_of() { echo "$T/var/volumes/volume-$1.qcow2"; }
wait_gone() {  # wait_gone COLLECTION ID
  for _ in $(seq 1 600); do
    api GET "/v3/$1/$2"
    [[ $CODE == 404 ]] && return 0
    sleep 0.1
  done
  fail "$1/$2 is still there: $BODY"
}
count_of() {  # count_of COLLECTION: rows the admin project lists
  api GET "/v3/$1"
  jget "len(j['${1%%/*}'])"
}

# Group types: admins only.
TOKEN=alice:alpha api POST /v3/alpha/group_types '{"group_type": {"name": "mine"}}'
expect_code 403 "a member creating a group type"
gt=$("${O[@]}" volume group type create gt1 -f value -c ID)
"${O[@]}" volume group type set --property consistent_group_snapshot_enabled="<is> True" gt1 >/dev/null
api GET "/v3/group_types/$gt/group_specs"
[[ $(jget 'j["group_specs"]["consistent_group_snapshot_enabled"]') == "<is> True" ]] ||
  fail "group type specs: $BODY"
"${O[@]}" volume type create other >/dev/null
pass "group types: a member's create is refused (403), an admin's has its specs"

# Bad input first: each refused with a message, nothing made.
groups_before=$(count_of groups)
api POST /v3/groups "{\"group\": {\"name\": \"x\", \"group_type\": \"$gt\"}}"
expect_code 400 "a group without volume types"
grep -q "volume_types" <<<"$BODY" || fail "no message: $BODY"
api POST /v3/groups '{"group": {"name": "x", "group_type": "nope", "volume_types": ["__DEFAULT__"]}}'
expect_code 404 "a group of an unknown group type"
VOLUME_API_VERSION=3.12 api POST /v3/groups "{\"group\": {\"name\": \"x\", \"group_type\": \"$gt\"}}"
expect_code 404 "groups below microversion 3.13"
[[ $(count_of groups) == "$groups_before" ]] || fail "a refused create made a group"
pass "bad group creates: 400/404 with a message, nothing made"

g=$("${O[@]}" volume group create gt1 __DEFAULT__ --name g1 -f value -c ID)
v1=$("${C[@]}" create --group-id "$g" --name m1 1 | awk '$2=="id"{print $4}')
v2=$("${C[@]}" create --group-id "$g" --name m2 1 | awk '$2=="id"{print $4}')
wait_volume "$v1" available
wait_volume "$v2" available
api GET "/v3/volumes/$v1"
[[ $(jget 'j["volume"]["group_id"]') == "$g" ]] || fail "m1's group_id: $BODY"
volumes_before=$(count_of volumes)
api POST /v3/volumes "{\"volume\": {\"size\": 1, \"name\": \"x\", \"volume_type\": \"other\", \"group_id\": \"$g\"}}"
expect_code 400 "a volume of another type into the group"
TOKEN=alice:alpha api GET "/v3/alpha/groups/$g"
expect_code 404 "another project's group"
[[ $(count_of volumes) == "$volumes_before" ]] || fail "a refused create made a volume"
pass "a group of two volumes; a volume of another type is not made in it (400); another project sees no group (404)"

write_pattern "$(file_of "$v1")" 0x11 0 1M
write_pattern "$(file_of "$v2")" 0x22 0 1M
gs=$("${O[@]}" volume group snapshot create "$g" --name gs1 -f value -c ID)
wait_status group_snapshot "$gs" available
write_pattern "$(file_of "$v1")" 0x33 0 1M
g2=$("${C[@]}" group-create-from-src --group-snapshot "$gs" --name g2 | awk '$2=="id"{print $4}')
wait_status group "$g2" available
api GET "/v3/volumes/detail?group_id=$g2"
n1=$(jget '[v["id"] for v in j["volumes"] if v["name"] == "m1"][0]')
n2=$(jget '[v["id"] for v in j["volumes"] if v["name"] == "m2"][0]')
reads_pattern "$(file_of "$n1")" 0x11 0 1M || fail "g2's m1 does not hold m1's data at the cut"
reads_pattern "$(file_of "$n2")" 0x22 0 1M || fail "g2's m2 does not hold m2's data at the cut"
reads_pattern "$(file_of "$v1")" 0x33 0 1M || fail "m1 lost its own later data"
api GET "/v3/groups/$g2"
[[ $(jget 'j["group"]["group_snapshot_id"]') == "$gs" ]] || fail "g2's group_snapshot_id: $BODY"
g3=$("${C[@]}" group-create-from-src --source-group "$g" --name g3 | awk '$2=="id"{print $4}')
wait_status group "$g3" available
api GET "/v3/volumes/detail?group_id=$g3"
c1=$(jget '[v["id"] for v in j["volumes"] if v["name"] == "m1"][0]')
reads_pattern "$(file_of "$c1")" 0x33 0 1M || fail "g3's m1 is not a clone of m1 as it is"
pass "group-create-from-src: from the group snapshot each volume holds its member's data at the cut (the source keeps its own); from the group, clones"

# Update: what may and may not join.
lone=$("${C[@]}" create --name lone 1 | awk '$2=="id"{print $4}')
odd=$("${C[@]}" create --volume-type other --name odd 1 | awk '$2=="id"{print $4}')
wait_volume "$lone" available
wait_volume "$odd" available
api PUT "/v3/groups/$g" "{\"group\": {\"add_volumes\": \"$odd\"}}"
expect_code 400 "adding a volume of a type the group lacks"
api PUT "/v3/groups/$g" "{\"group\": {\"add_volumes\": \"$n1\"}}"
expect_code 400 "adding a volume of another group"
api PUT "/v3/groups/$g" "{\"group\": {\"remove_volumes\": \"$lone\"}}"
expect_code 400 "removing a volume not in the group"
"${C[@]}" group-update --add-volumes "$lone" --name g1b "$g" >/dev/null
api GET "/v3/groups/$g"
[[ $(jget 'len(j["group"]["volumes"])') == 3 && $(jget 'j["group"]["name"]') == g1b ]] ||
  fail "after the update: $BODY"
"${C[@]}" group-update --remove-volumes "$lone" "$g" >/dev/null
api GET "/v3/volumes/$lone"
[[ $(jget 'j["volume"]["group_id"]') == None ]] || fail "removed volume's group_id: $BODY"
pass "group update: other types, other groups' volumes and non-members refused (400); add, rename and remove work"

# Delete rules.
api POST "/v3/groups/$g/action" '{"delete": {"delete-volumes": true}}'
expect_code 400 "deleting a group with a group snapshot"
api POST "/v3/groups/$g2/action" '{"delete": {"delete-volumes": false}}'
expect_code 400 "deleting a group with volumes, without delete-volumes"
api GET "/v3/groups/$g2"
[[ $(jget 'j["group"]["status"]') == available ]] || fail "g2 after a refused delete: $BODY"
api DELETE "/v3/group_types/$gt"
expect_code 400 "deleting a group type in use"
"${O[@]}" volume group delete --force "$g2"
wait_gone groups "$g2"
wait_gone volumes "$n1"
wait_gone volumes "$n2"
"${O[@]}" volume group snapshot delete "$gs"
wait_gone group_snapshots "$gs"
"${O[@]}" volume group delete --force "$g"
wait_gone groups "$g"
wait_gone volumes "$v1"
pass "delete: refused with group snapshots or volumes (400); with delete-volumes its volumes go, then the group"
