#!/usr/bin/env bash
# Group snapshots are consistent cuts (issue 18's Cinder groups; the hold of
# engine/group_cut.cc), proven by construction of the workload: the booted
# test guest writes its records to two disks in turn (recwriter's ring:
# vda's 1, vdb's 1, vda's 2, …, each durable before the next), so any state
# the guest could have left has vda's count a and vdb's count b with
# b <= a <= b + 1. Both disks are volumes of one Cinder group.
# - Group snapshots (`openstack volume group snapshot create`, 8 of them)
#   while the guest writes: each is turned back into disks (`cinder
#   group-create-from-src --group-snapshot`), and every pair holds a
#   consistent cut; the guest keeps writing after each (never left paused).
# - The anchor, snapshots taken one by one (vda's, then vdb's once the
#   guest wrote 20 more records): the same check finds the hole, so the
#   check can fail.
# - kill -9 while the guest is held (crash point group.cut): the domain is
#   paused then; the restart resumes it, the guest writes on, the group
#   snapshot ends in error and deletes; the next one is consistent again.
# - Cinder's rules around it: a member snapshot alone is not deleted (400),
#   nor a group with group snapshots (400).
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/ring_lib.sh"
need_guest
need openstack cinder qemu-img python3
console="$T/console.log"
start_stratad

O=(openstack --os-auth-type none --os-endpoint "$URL/v3/admin"
   --os-volume-api-version 3.65)
C=(cinder --os-auth-type noauth --os-user-id admin --os-project-id admin
   --os-endpoint "$URL/v3" --os-volume-api-version 3.65)
VOLUME_API_VERSION=3.65  # every api call (lib.sh)

# The server's two disks are volumes already (no adopt step).
boot_ring_guest ringvm
"${O[@]}" volume group type create app-type >/dev/null
g=$("${O[@]}" volume group create app-type __DEFAULT__ --name app -f value -c ID)
"${C[@]}" group-update --add-volumes "$va,$vb" "$g" >/dev/null
api GET "/v3/groups/$g"
[[ $(jget 'sorted(j["group"]["volumes"])') == "$(python3 -c "print(sorted(['$va','$vb']))")" ]] ||
  fail "the group's volumes: $BODY"
pass "the server's vda and vdb are volumes of group app"

# group_disks GROUP_SNAPSHOT: a new group from it; prints its vda's and
# vdb's files (volumes named after the members' sources).
group_disks() {
  local g2
  g2=$("${C[@]}" group-create-from-src --group-snapshot "$1" --name "from-$1" |
       awk '$2=="id"{print $4}')
  [[ -n $g2 ]] || fail "group-create-from-src printed no id"
  wait_status group "$g2" available
  api GET "/v3/volumes/detail?group_id=$g2"
  local ids
  ids=$(jget '" ".join(v["id"] for v in sorted(j["volumes"], key=lambda v: v["name"]))')
  read -r x y <<<"$ids"
  [[ -n $x && -n $y ]] || fail "group $g2 has not two volumes: $BODY"
  echo "$T/var/volumes/volume-$x.qcow2 $T/var/volumes/volume-$y.qcow2 $g2"
}
drop_group() {
  api POST "/v3/groups/$1/action" '{"delete": {"delete-volumes": true}}'
  expect_code 202 "deleting group $1"
}

for i in $(seq 1 8); do
  gs=$("${O[@]}" volume group snapshot create "$g" --name "cut$i" -f value -c ID)
  wait_status group_snapshot "$gs" available 120
  advances 10 ringvm
  read -r da db g2 <<<"$(group_disks "$gs")"
  read -r a b <<<"$(ring_counts "$da" "$db")"
  ring_consistent "$a" "$b" || fail "group snapshot $i: vda holds $a records, vdb $b: not a cut the guest could leave"
  ((a + b >= 20)) || fail "group snapshot $i holds only $((a + b)) records"
  echo "  group snapshot $i: vda $a, vdb $b (records 1..$((a + b)))"
  drop_group "$g2"
  if [[ $i == 2 ]]; then last_gs=$gs; fi
done
held=$(grep -o "were held for [0-9.]* ms" "$T/stratad.log" | awk '{print $4}' | sort -n | tail -1)
[[ -n $held ]] || fail "no hold was logged"
pass "8 group snapshots of a running guest, each a consistent cut (longest hold ${held} ms); the guest ran on"

# The anchor: one by one, the second after 20 more records.
sa=$(snapshot "$va" one-a)
advances 20 ringvm
sb=$(snapshot "$vb" one-b)
xa=$("${C[@]}" create --snapshot-id "$sa" --name xa 1 | awk '$2=="id"{print $4}')
xb=$("${C[@]}" create --snapshot-id "$sb" --name xb 1 | awk '$2=="id"{print $4}')
wait_volume "$xa" available
wait_volume "$xb" available
read -r a b <<<"$(ring_counts "$T/var/volumes/volume-$xa.qcow2" "$T/var/volumes/volume-$xb.qcow2")"
ring_consistent "$a" "$b" && fail "snapshots taken one by one passed the check (vda $a, vdb $b)"
pass "the anchor, one snapshot after the other: vda $a records, vdb $b: the check finds the hole"

# Cinder's rules: members go only with their group snapshot; a group with
# group snapshots stays.
api GET "/v3/snapshots/detail"
member=$(jget '[s["id"] for s in j["snapshots"] if s["group_snapshot_id"] == "'"$last_gs"'"][0]')
api DELETE "/v3/snapshots/$member"
expect_code 400 "deleting one member of a group snapshot"
api POST "/v3/groups/$g/action" '{"delete": {"delete-volumes": true}}'
expect_code 400 "deleting a group that has group snapshots"
"${O[@]}" volume group snapshot delete "$last_gs"
for _ in $(seq 1 600); do
  api GET "/v3/group_snapshots/$last_gs"
  [[ $CODE == 404 ]] && break
  sleep 0.1
done
expect_code 404 "the deleted group snapshot"
api GET "/v3/snapshots/$member"
expect_code 404 "a member of the deleted group snapshot"
pass "a member alone is not deleted (400), nor the group (400); the group snapshot's delete takes its members"

# kill -9 while the guest is held.
stop_stratad
STRATA_CRASH_AT=group.cut start_stratad
O[4]="$URL/v3/admin"
C[8]="$URL/v3"
api POST /v3/group_snapshots "{\"group_snapshot\": {\"group_id\": \"$g\", \"name\": \"crash\"}}"
expect_code 202 "group snapshot at the crash point"
crashed=$(jget 'j["group_snapshot"]["id"]')
wait_crash "group.cut"
[[ $(virsh domstate ringvm) == paused ]] || fail "at the crash the guest was not held: $(virsh domstate ringvm)"
start_stratad
O[4]="$URL/v3/admin"
C[8]="$URL/v3"
[[ $(virsh domstate ringvm) == running ]] || fail "after the restart the guest is $(virsh domstate ringvm)"
advances 10 ringvm
wait_status group_snapshot "$crashed" error 120
api DELETE "/v3/group_snapshots/$crashed"
expect_code 202 "deleting the failed group snapshot"
gs=$("${O[@]}" volume group snapshot create "$g" --name after -f value -c ID)
wait_status group_snapshot "$gs" available 120
read -r da db g2 <<<"$(group_disks "$gs")"
read -r a b <<<"$(ring_counts "$da" "$db")"
ring_consistent "$a" "$b" || fail "after the crash: vda $a, vdb $b"
pass "kill -9 while held: the restart resumed the guest, the group snapshot ended in error; the next is consistent (vda $a, vdb $b)"
