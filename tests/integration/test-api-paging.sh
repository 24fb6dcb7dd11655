#!/usr/bin/env bash
# Cinder list semantics on snapshots and volumes: limit/marker pages with
# "next" links that walk every row once, sort keys and directions, filters,
# with_count (≥ 3.45), request ids (generated, and an inbound global id
# accepted), all_tenants for admins only.
source "$(dirname "$0")/lib.sh"
need qemu-img curl python3
start_stratad

disk="$T/var/disks/p.qcow2"
qemu-img create -q -f qcow2 "$disk" 16M
vol=$(manage_disk "$disk" pvol)
ids=()
for n in e b d a c; do ids+=("$(snapshot "$vol" "snap-$n")"); done

api GET "/v3/snapshots?limit=2"
[[ $(jget 'len(j["snapshots"])') == 2 ]] || fail "limit 2: $BODY"
# Default order: newest first.
[[ $(jget 'j["snapshots"][0]["name"]') == snap-c ]] || fail "default order: $BODY"
seen=()
next="/v3/admin/snapshots?limit=2"
for _ in 1 2 3 4; do
  api GET "$next"
  mapfile -t page < <(jget '"\n".join(s["id"] for s in j["snapshots"])')
  seen+=("${page[@]}")
  link=$(jget '[l["href"] for l in j.get("snapshots_links",[]) if l["rel"]=="next"]')
  [[ "$link" == "[]" ]] && break
  next=${link#*\'}; next=${next%\'*}; next=${next#http://*/}; next="/$next"
done
[[ ${#seen[@]} == 5 ]] || fail "paging walked ${#seen[@]} rows, not 5"
[[ $(printf '%s\n' "${seen[@]}" | sort -u | wc -l) == 5 ]] || fail "paging repeated a row"
pass "limit/marker/next links walk all 5 snapshots once"

api GET "/v3/snapshots?sort=name:asc"
[[ $(jget '",".join(s["name"] for s in j["snapshots"])') == "snap-a,snap-b,snap-c,snap-d,snap-e" ]] ||
  fail "sort name:asc: $BODY"
api GET "/v3/snapshots?sort_key=name&sort_dir=desc&limit=1"
[[ $(jget 'j["snapshots"][0]["name"]') == snap-e ]] || fail "sort_key/sort_dir"
api GET "/v3/snapshots?sort=name:asc&offset=3"
[[ $(jget '",".join(s["name"] for s in j["snapshots"])') == "snap-d,snap-e" ]] || fail "offset: $BODY"
pass "sort, sort_key/sort_dir, offset"

api GET "/v3/snapshots?name=snap-d"
[[ $(jget 'len(j["snapshots"])') == 1 ]] || fail "name filter"
api GET "/v3/snapshots?volume_id=$vol&status=available"
[[ $(jget 'len(j["snapshots"])') == 5 ]] || fail "volume_id+status filter"
api POST "/v3/snapshots/${ids[0]}/metadata" '{"metadata":{"tier":"gold"}}'
api GET "/v3/snapshots?metadata=%7B%22tier%22%3A%22gold%22%7D"
[[ $(jget 'len(j["snapshots"])') == 1 ]] || fail "metadata filter: $BODY"
pass "filters: name, volume_id, status, metadata"

api GET "/v3/snapshots?with_count=true&limit=1" "" -H "OpenStack-API-Version: volume 3.45"
[[ $(jget 'j["count"]') == 5 ]] || fail "with_count: $BODY"
api GET "/v3/snapshots?with_count=true&limit=1" "" -H "OpenStack-API-Version: volume 3.44"
[[ $(jget '"count" in j') == False ]] || fail "count below 3.45"
pass "with_count from 3.45"

api GET "/v3/snapshots/${ids[0]}" "" -H "OpenStack-API-Version: volume 3.40"
[[ $(jget '"user_id" in j["snapshot"]') == False ]] || fail "user_id below 3.41"
api GET "/v3/snapshots/${ids[0]}" "" -H "OpenStack-API-Version: volume 3.41"
[[ $(jget 'j["snapshot"]["user_id"]') == admin ]] || fail "user_id at 3.41"
pass "microversioned fields (user_id ≥ 3.41)"

hdrs=$(curl -s -D - -o /dev/null -H "X-Auth-Token: $TOKEN" \
  -H "X-Openstack-Request-Id: req-11111111-2222-4333-8444-555555555555" "$URL/v3/snapshots")
grep -Eqi '^x-openstack-request-id: req-[0-9a-f-]{36}' <<<"$hdrs" || fail "no request id: $hdrs"
grep -q "global_request_id=req-11111111-2222-4333-8444-555555555555" "$T/stratad.log" ||
  fail "inbound global request id not logged"
pass "request ids: generated, inbound global id accepted"

# A second project's volume is invisible, except to an admin with all_tenants.
TOKEN="carol:proj2"
disk2="$T/var/disks/q.qcow2"; qemu-img create -q -f qcow2 "$disk2" 16M
# Adopting a disk is an admin's call (Cinder's policy): carol as proj2's admin.
api POST /v3/os-volume-manage \
  "{\"volume\":{\"host\":\"h\",\"ref\":{\"source-name\":\"$disk2\"},\"name\":\"qvol\"}}" \
  -H "X-Roles: admin"
expect_code 202 "manage into proj2"
api GET /v3/volumes
[[ $(jget '[v["name"] for v in j["volumes"]]') == "['qvol']" ]] || fail "proj2 sees: $BODY"
TOKEN="admin:admin"
api GET /v3/volumes
[[ $(jget '[v["name"] for v in j["volumes"]]') == "['pvol']" ]] || fail "admin's own list: $BODY"
api GET "/v3/volumes/detail?all_tenants=1&sort=name:asc"
[[ $(jget '[v["name"] for v in j["volumes"]]') == "['pvol', 'qvol']" ]] || fail "all_tenants: $BODY"
pass "projects isolated; all_tenants for admin"
