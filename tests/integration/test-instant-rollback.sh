#!/usr/bin/env bash
# Seconds-level rollback (issue 19, R1.8) of the booted test guest, a
# defined domain as Nova makes them, on a 2 GiB disk that writes checksummed
# records. Two live snapshots (createImage) make a lineage of two stored
# layers; more records follow. Then:
#  - bad requests are OpenStack faults (400/404/409) that change nothing;
#  - a rollback to the second snapshot (switch on confirmation): the server
#    runs on the mirror (libvirt's chain names the linked layers), resumes
#    its log right after the snapshot's last record and writes on; once
#    "ready", os-confirm switches it: libvirt's chain is the disk's own
#    (history), the mirror files are gone, the domain's definition names no
#    chain, and the guest writes on through the switch;
#  - a rollback aborted while ready: the server is back on its disk as it
#    was (its log resumes after the last record before the rollback);
#  - a rollback to the first snapshot (one layer) switches on its own;
#  - stratad killed (-9) at every step of a rollback that switches
#    automatically: after the restart the rollback is undone (before the
#    server ran on the mirror) or carried to its end, and the server runs;
#    killed inside an abort: the restart finishes the abort;
#  - at the end the disk holds records 1..N, N at least the last record the
#    guest reported, none torn.
source "$(dirname "$0")/lib.sh"
need_guest
need curl

name=strata-instant-$$
disk=$T/var/disks/ir.qcow2
console=$T/console.log
define_guest "$name" "$disk" 2G
uuid=$(virsh domuuid "$name")
start_stratad

source "$(dirname "$0")/instant_rollback_lib.sh"

lo1=$(last_rec); s1=$(snapshot_now s1); hi1=$(last_rec)
for _ in $(seq 300); do (( $(last_rec) > hi1 + 100 )) && break; sleep 0.1; done
lo2=$(last_rec); s2=$(snapshot_now s2); hi2=$(last_rec)
for _ in $(seq 300); do (( $(last_rec) > hi2 + 200 )) && break; sleep 0.1; done
(( $(last_rec) > hi2 + 200 )) || fail "the guest stopped writing"
pass "snapshots $s1 (records $lo1..$hi1) and $s2 ($lo2..$hi2) of the running guest; it wrote on to $(last_rec)"

# Bad requests: faults, nothing started.
api POST /v3/os-instant-rollbacks '{"rollback":{}}'
expect_code 400 "rollback without server_id"
api POST /v3/os-instant-rollbacks "{\"rollback\":{\"server_id\":\"$uuid\",\"snapshot_id\":\"$s2\",\"switch\":\"later\"}}"
expect_code 400 "rollback with switch=later"
api POST /v3/os-instant-rollbacks "{\"rollback\":{\"server_id\":\"$uuid\",\"snapshot_id\":\"00000000-0000-4000-8000-000000000000\"}}"
expect_code 400 "rollback to an unknown snapshot"
api POST /v3/os-instant-rollbacks "{\"rollback\":{\"server_id\":\"no-such-server\",\"snapshot_id\":\"$s2\"}}"
expect_code 404 "rollback of an unknown server"
api POST /v3/os-instant-rollbacks "{\"rollback\":{\"server_id\":\"$uuid\",\"snapshot_id\":\"$s2\",\"disk\":\"vdz\"}}"
expect_code 400 "rollback of a disk the server lacks"
api POST /v3/os-instant-rollbacks/00000000-0000-4000-8000-000000000000/action '{"os-confirm":{}}'
expect_code 404 "confirm of an unknown rollback"
api GET /v3/os-instant-rollbacks
[[ $(jget 'len(j["rollbacks"])') == 0 ]] || fail "a refused request left a rollback: $BODY"
pass "bad requests are faults (400, 404) and start nothing"

# 1. Rollback to s2, switched at the user's confirmation.
boot0=$(boot_id); before=$(last_rec)
start_rollback "$s2" confirm
api POST /v3/os-instant-rollbacks "{\"rollback\":{\"server_id\":\"$uuid\",\"snapshot_id\":\"$s1\"}}"
expect_code 409 "a second rollback of the same disk while one runs"
await_boot "$boot0" 50
k=$(( $(resumed_at) - 1 ))
(( lo2 <= k && k <= hi2 )) || fail "on the mirror the log resumed after record $k, not within $lo2..$hi2"
await_phase "$rb" ready
api GET "/v3/os-instant-rollbacks/$rb"
secs=$(jget 'j["rollback"]["seconds_to_running"]')
# (Outputs are read whole before grep -q: under pipefail, grep -q ending a
# pipe early can fail it with the writer's SIGPIPE.)
c=$(chain_of)
grep -q strata-mirror <<<"$c" || fail "libvirt's chain does not name the mirror while ready: $c"
def=$(virsh dumpxml --inactive "$name")
grep -q strata-mirror <<<"$def" ||
  fail "the definition does not name the mirror while the server runs on it"
writes_on 100 "on the mirror"
pass "rollback $rb: the server ran on the mirror ${secs}s after the request, resumed after record $k ($lo2 <= $k <= $hi2; it had written $before), and writes on while ready"
api POST "/v3/os-instant-rollbacks/$rb/action" '{"os-bogus":{}}'
expect_code 400 "an unknown rollback action"
api POST "/v3/os-instant-rollbacks/$rb/action" '{"os-confirm":{}}'
expect_code 202 "os-confirm"
await_phase "$rb" done
check_normal "after the switch"
writes_on 100 "after the switch"
api GET "/v3/os-instant-rollbacks/$rb"
vol=$(jget 'j["rollback"]["volume_id"]')
api GET "/v3/volumes/$vol"
[[ $(jget 'j["volume"]["os-strata:head_snapshot_id"]') == "$s2" ]] || fail "the volume's head is not $s2: $BODY"
api POST "/v3/os-instant-rollbacks/$rb/action" '{"os-abort":{}}'
expect_code 409 "abort of a finished rollback"
pass "os-confirm: the server runs on its disk's own chain (history), the mirror is gone, and it writes on"

# 2. Rollback to s1, a lineage of one layer (its link is the history:
#    nothing is copied), switched on its own.
boot0=$(boot_id)
start_rollback "$s1" auto
await_boot "$boot0" 20
k=$(( $(resumed_at) - 1 ))
(( lo1 <= k && k <= hi1 )) || fail "rolled back to $s1, the log resumed after record $k, not within $lo1..$hi1"
await_phase "$rb" done
check_normal "after the automatic switch"
pass "rollback to $s1 (one layer), switched on its own: resumed after record $k ($lo1 <= $k <= $hi1)"

# 3. Abort while ready: back to the disk as it was.
boot0=$(boot_id); before=$(last_rec)
start_rollback "$s2" confirm
await_boot "$boot0" 20
await_phase "$rb" ready
boot1=$(boot_id)
api POST "/v3/os-instant-rollbacks/$rb/action" '{"os-abort":{}}'
expect_code 202 "os-abort"
await_phase "$rb" aborted
await_boot "$boot1" 20
r=$(( $(resumed_at) - 1 ))
(( r >= before )) || fail "after the abort the log resumed after record $r, before the $before written before the rollback"
check_normal "after the abort"
pass "os-abort: the server is back on its disk as it was (resumed after record $r >= $before)"

# 4. kill -9 at every step of a rollback that switches on its own.
for step in instant.link instant.power_off instant.install_top instant.start \
            instant.copy instant.ready instant.switch repoint.away repoint.back \
            instant.finish; do
  stop_stratad
  STRATA_CRASH_AT=$step start_stratad
  boot0=$(boot_id); before=$(last_rec)
  rollback "$s2" auto
  [[ $CODE == 202 || $CODE == 000 ]] || fail "$step: rollback: HTTP $CODE $BODY"
  wait_crash "$step"
  start_stratad
  api GET /v3/os-instant-rollbacks
  rb=$(jget 'j["rollbacks"][0]["id"]')
  await_phase "$rb" done error
  phase=$PHASE
  for _ in $(seq 300); do [[ $(virsh domstate "$name") == running ]] && break; sleep 0.1; done
  [[ $(virsh domstate "$name") == running ]] || fail "$step: the server is not running after recovery: $(virsh domstate --reason "$name")"
  case $step in
    instant.link|instant.power_off|instant.install_top)
      [[ $phase == error ]] || fail "$step: the rollback is $phase, not undone" ;;
    *) [[ $phase == done ]] || fail "$step: the rollback is $phase, not carried to its end: $BODY" ;;
  esac
  check_normal "$step"
  b=$(boot_id)
  writes_on 50 "after recovery ($step)"
  if [[ $phase == done ]]; then
    k=$(( $(resumed_at) - 1 ))
    (( lo2 <= k && k <= hi2 )) || fail "$step: resumed after record $k, not within $lo2..$hi2"
  else
    r=$(( $(resumed_at) - 1 ))
    [[ $b == "$boot0" ]] || (( r >= before )) || fail "$step: undone, but resumed after $r < $before"
  fi
  pass "kill -9 at $step: after the restart the rollback is $phase and the server writes on"
done

# kill -9 inside an abort: the restart finishes it.
stop_stratad
STRATA_CRASH_AT=instant.abort start_stratad
boot0=$(boot_id); before=$(last_rec)
start_rollback "$s1" confirm
await_boot "$boot0" 20
await_phase "$rb" ready
api POST "/v3/os-instant-rollbacks/$rb/action" '{"os-abort":{}}'
[[ $CODE == 202 || $CODE == 000 ]] || fail "os-abort: HTTP $CODE $BODY"
wait_crash instant.abort
boot1=$(boot_id)
start_stratad
await_phase "$rb" aborted
await_boot "$boot1" 20
r=$(( $(resumed_at) - 1 ))
(( r >= before )) || fail "instant.abort: resumed after record $r, before the $before written before the rollback"
check_normal "instant.abort"
pass "kill -9 at instant.abort: the restart finished the abort (resumed after record $r >= $before)"

stop_stratad
virsh -q destroy "$name"
result=$(verify_disk "$disk" "$(last_rec)")
pass "the disk holds records 1..$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["last"])' "$result") exactly, none torn"
