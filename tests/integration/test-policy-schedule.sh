#!/usr/bin/env bash
# Backup policies on a running guest (issue 19; R1.1, R1.5, R1.6, R1.9): a
# policy naming the booted test guest's server (its system disk) with a
# one-minute calendar schedule ("*:*:00") and a cap of 3. After 5
# successful runs exactly the 3 newest of its snapshots remain in the
# catalog, the store and the chain; a restart of stratad across a scheduled
# time runs that time once; and each remaining snapshot reverts to exactly
# the records the guest had written by then (none torn). Also the API's
# faults for bad policies, the schedule preview and the prune dry run.
source "$(dirname "$0")/lib.sh"
need_guest
need curl

name=strata-policy-$$
disk=$T/var/disks/guest.qcow2
console=$T/console.log
boot_guest "$name" "$disk" 1G
start_stratad
vol=$(manage_disk "$disk" guest)
pass "guest booted and writing; its disk adopted ($vol)"

# The guest's progress, sampled: "unix-seconds last-record" lines.
# It ends with this shell or its temp dir.
( while kill -0 $$ 2>/dev/null && [[ -d $T ]]; do
    echo "$(date +%s.%N) $(last_rec)"; sleep 0.2
  done ) >>"$T/recs" 2>/dev/null &
sampler=$!

# ---- Faults and previews (nothing stored) ----
api POST /v3/os-snapshot-policies '{"policy":{"name":"x","schedule":"wed 25:00","targets":{"volumes":["'"$vol"'"]}}}'
expect_code 400 "a bad calendar expression"
grep -q "schedule" <<<"$BODY" || fail "the fault does not name the schedule: $BODY"
api POST /v3/os-snapshot-policies '{"policy":{"schedule":"daily","targets":{"volumes":["no-such-volume"]}}}'
expect_code 404 "an unknown volume"
api POST /v3/os-snapshot-policies '{"policy":{"schedule":"daily","targets":{"volumes":["'"$vol"'"]},"retention":{"max_count":-1}}}'
expect_code 400 "a negative cap"
api POST /v3/os-snapshot-policies '{"policy":{"schedule":"daily","targets":{}}}'
expect_code 400 "no targets"
api POST /v3/os-snapshot-policies '{"policy":{"schedule":"daily","timezone":"Mars/Olympus","targets":{"volumes":["'"$vol"'"]}}}'
expect_code 400 "an unknown zone"
api GET "/v3/os-snapshot-policies/preview?schedule=every%2010d%20from%202026-12-01%2022:00&timezone=Europe/Berlin&count=3"
expect_code 200 "preview"
[[ $(jget 'len(j["next_runs"])') == 3 ]] || fail "preview: $BODY"
api GET "/v3/os-snapshot-policies/preview?schedule=bogus"
expect_code 400 "preview of a bad expression"
pass "bad policies get 400/404 with the field named; the preview answers"

# ---- The policy ----
api POST /v3/os-snapshot-policies '{"policy":{"name":"every-minute","schedule":"*:*:00","targets":{"servers":[{"server":"'"$name"'","disks":"system"}]},"retention":{"max_count":3}}}'
expect_code 200 "policy create"
pid=$(jget 'j["policy"]["id"]')
[[ $(jget 'len(j["policy"]["next_runs"])') == 5 ]] || fail "no next runs: $BODY"
next2=$(jget '", ".join(j["policy"]["next_runs"][:2])')
TOKEN=other:other api GET "/v3/os-snapshot-policies/$pid"
expect_code 404 "another project's policy"
pass "policy $pid created (next runs $next2, …)"

# runs_where EXPR: how many of the policy's runs satisfy EXPR (on r).
runs_where() {
  api GET "/v3/os-snapshot-policies/$pid/runs"
  jget "sum(1 for r in j['runs'] if $1)"
}
wait_runs() {  # wait_runs N SECONDS: until N runs succeeded
  for _ in $(seq 1 "$2"); do
    [[ $(runs_where 'r["status"] == "success"') -ge $1 ]] && return 0
    sleep 1
  done
  fail "fewer than $1 successful runs after $2 s: $BODY"
}

wait_runs 2 200
no_run_going() {
  for _ in $(seq 120); do
    [[ $(runs_where 'r["status"] == "running"') == 0 ]] && return 0; sleep 1
  done
  fail "a run is still going: $BODY"
}
# Stop across a scheduled time: from 10 s after a minute's start until 20 s
# after the next one.
sec() { local s; s=$(date +%S); echo $((10#$s)); }
while :; do
  no_run_going
  (( $(sec) >= 10 && $(sec) <= 40 )) && break
  sleep 1
done
stop_stratad
missed_min=$(( ($(date +%s) / 60 + 1) * 60 ))
while (( $(date +%s) < missed_min + 20 )); do sleep 1; done
start_stratad
wait_runs 3 120
api GET "/v3/os-snapshot-policies/$pid/runs"
at=$(python3 -c 'import datetime,sys; print(datetime.datetime.fromtimestamp(int(sys.argv[1]), datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S"))' "$missed_min")
n=$(jget "sum(1 for r in j['runs'] if r['scheduled_at'].startswith('$at'))")
[[ $n == 1 ]] || fail "the time stratad was down for ($at) ran $n times: $BODY"
[[ $(jget "[r['status'] for r in j['runs'] if r['scheduled_at'].startswith('$at')][0]") == success ]] ||
  fail "the missed time's run did not succeed: $BODY"
pass "a restart across $at ran that time once, after the start"

wait_runs 5 400
api GET "/v3/os-snapshot-policies/$pid/runs"
echo "$BODY" >"$T/runs.json"
[[ $(jget 'sum(1 for r in j["runs"] if r["status"] not in ("success",))') == 0 ]] ||
  fail "a run did not succeed: $BODY"
api POST "/v3/os-snapshot-policies/$pid/action" '{"os-run":{}}'
# A manual run may land on a scheduled one's heels: 202, or 409 while one runs.
[[ $CODE == 202 || $CODE == 409 ]] || fail "os-run: $CODE $BODY"
api PUT "/v3/os-snapshot-policies/$pid" '{"policy":{"enabled":false}}'
expect_code 200 "disable"
no_run_going
[[ $(runs_where 'r["status"] not in ("success",)') == 0 ]] || fail "a run failed: $BODY"
total=$(runs_where 'True')

# The policy's snapshots: exactly the 3 newest of every one its runs made.
api GET "/v3/os-snapshot-policies/$pid/runs?limit=1000"
made=$(jget '" ".join(s["snapshot_id"] for r in reversed(j["runs"]) for s in r["snapshots"])')
pruned=$(jget '" ".join(p["snapshot_id"] for r in j["runs"] for p in r["pruned"])')
read -r -a made_a <<<"$made"
((${#made_a[@]} == total)) || fail "$total runs made ${#made_a[@]} snapshots"
want=$(printf '%s\n' "${made_a[@]: -3}" | sort | tr '\n' ' ')
api GET "/v3/snapshots/detail?volume_id=$vol"
have=$(jget '" ".join(sorted(s["id"] for s in j["snapshots"] if s["metadata"].get("strata:policy_id") == "'"$pid"'"))')
[[ "$have " == "$want" ]] || fail "catalog holds [$have], wanted the 3 newest [$want]"
# A layer a prune merged its parent's into is stored as <id>.g<n>.qcow2.
stored=$(cd "$T/var/store/volumes/$vol" && ls | sed -n 's/\(\.g[0-9]*\)\?\.qcow2$//p' | sort | tr '\n' ' ')
for s in "${made_a[@]}"; do
  in_store=0; [[ " $stored " == *" $s "* ]] && in_store=1
  in_want=0; [[ " $want" == *" $s "* ]] && in_want=1
  ((in_store == in_want)) || fail "snapshot $s: in the store $in_store, kept $in_want (store: $stored)"
  if ((in_want == 0)); then
    [[ " $pruned " == *" $s "* ]] || fail "snapshot $s is gone but no run pruned it"
    ls "$T/var/disks" | grep -q -- "$s" && fail "snapshot $s still names a file next to the disk"
  fi
done
pass "$total runs, ${#made_a[@]} snapshots: the 3 newest remain in the catalog and the store (stored: $stored); the others are gone from both and from the disk's files"

api POST "/v3/os-snapshot-policies/$pid/action" '{"os-prune":{"dry_run":true}}'
expect_code 200 "prune dry run"
[[ $(jget 'sum(1 for d in j["prune"] if d["action"] == "remove")') == 0 ]] || fail "dry run: $BODY"
[[ $(jget 'len(j["prune"])') == 3 ]] || fail "dry run: $BODY"
pass "the prune dry run keeps all 3"

# Each remaining snapshot holds exactly the records written by its run.
kill $sampler 2>/dev/null || true
virsh -q destroy "$name"
api GET "/v3/os-snapshot-policies/$pid/runs?limit=1000"
echo "$BODY" >"$T/runs.json"
for s in "${made_a[@]: -3}"; do
  # lo: records the guest had reported before the run started; hi: by the
  # time the run ended. (Times are UTC.)
  bounds=$(python3 - "$T/recs" "$s" "$T/runs.json" <<'PY'
import datetime, json, sys
runs = json.load(open(sys.argv[3]))["runs"]
run = next(r for r in runs if any(x["snapshot_id"] == sys.argv[2] for x in r["snapshots"]))
utc = datetime.timezone.utc
ts = lambda t: datetime.datetime.fromisoformat(t.rstrip("Z")).replace(tzinfo=utc).timestamp()
start, end = ts(run["started_at"]), ts(run["finished_at"])
samples = [tuple(map(float, l.split())) for l in open(sys.argv[1]) if len(l.split()) == 2]
lo = max((r for t, r in samples if t <= start), default=0)
hi = min((r for t, r in samples if t >= end), default=max(r for _, r in samples))
print(int(lo), int(hi))
PY
) || fail "no record bounds for $s"
  read -r lo hi <<<"$bounds"
  [[ -n $lo && -n $hi ]] || fail "no record bounds for $s: $bounds"
  revert "$vol" "$s"
  result=$(verify_disk "$disk" "$lo")
  last=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["last"])' "$result")
  ((last <= hi)) || fail "snapshot $s holds record $last, after $hi"
  pass "revert to $s: records 1..$last exactly, none torn ($lo <= $last <= $hi)"
done
