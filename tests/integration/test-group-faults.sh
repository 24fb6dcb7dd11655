#!/usr/bin/env bash
# Faults in a group snapshot across hosts (issue 22, R4.4): two hosts (the
# stratads A and B in their own namespaces, hosts_lib.sh), a guest on each,
# the ring across them (ring_lib.sh: n_a >= n_b >= n_a - 1 in any state
# they could leave together). Host A coordinates. After each fault every
# guest runs again within the hold's deadline (hold_max_ms 4000) plus a
# margin, the ring goes on, and the group snapshot ends either available,
# every part there and a consistent cut, or error, with no member snapshot
# left on any host (A keeps the row that says error; B's part is gone).
# - kill -9 of the coordinator at each phase (crash points coord.hold,
#   coord.cut, coord.release: error; coord.settle, after every host held
#   through its cut and released: the restart settles it, error when the
#   kill also failed A's own part while it was being stored, else
#   available; coord.settled, once every part was stored: the restart
#   finishes it, available);
# - kill -9 of host B while its guest is held (group.hold, group.cut), B
#   restarted: error;
# - host B's link down mid-cut (the coordinator stopped at coord.cut, B's
#   link cut, the coordinator continued): B's guest runs again at its
#   deadline while B is unreachable; once the link is back, error.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/ring_lib.sh"
source "$(dirname "$0")/hosts_lib.sh"
need_guest
need ip qemu-img python3
[[ -x $STRATAD_CRASH_POINTS ]] || skip "no crash-point build ($STRATAD_CRASH_POINTS)"
hosts_net fa fb
test_cleanup() { kill -CONT "$(host_pid fa)" 2>/dev/null; hosts_cleanup; }
HOLD_MAX_MS=4000
VOLUME_API_VERSION=3.65

host_start fa
host_start fb
for h in fb fa; do host_boot "$h"; done
console=$T/fa-console.log
uuid_a=$(virsh domuuid fa-vm) uuid_b=$(virsh domuuid fb-vm)
ring_start "$T/ring/fa.sock" "$T/ring/fb.sock"

host_api fa POST /v3/group_types '{"group_type": {"name": "app-type"}}'
expect_code 202 "group type"
gt=$(jget 'j["group_type"]["id"]')
host_api fa POST /v3/groups "{\"group\": {\"name\": \"app\", \"group_type\": \"$gt\", \"volume_types\": [\"__DEFAULT__\"]}}"
expect_code 202 "group"
g=$(jget 'j["group"]["id"]')
pass "hosts A ($HOST_ADDR_fa) and B ($HOST_ADDR_fb), a guest each, the ring across them"

# start_cut NAME: a group snapshot of both servers on host A; sets gs.
start_cut() {
  host_api fa POST /v3/group_snapshots \
    "{\"group_snapshot\": {\"group_id\": \"$g\", \"name\": \"$1\", \"os-strata:servers\": [\"$uuid_a\", \"$uuid_b\"]}}"
  expect_code 202 "group snapshot $1"
  gs=$(jget 'j["group_snapshot"]["id"]')
}
# guests_run: both guests run within the deadline plus a margin.
guests_run() {
  local h
  for h in fa fb; do
    for _ in $(seq 1 $((HOLD_MAX_MS / 100 + 50))); do
      [[ $(virsh domstate "$h-vm") == running ]] && break
      sleep 0.1
    done
    [[ $(virsh domstate "$h-vm") == running ]] ||
      fail "$h-vm is $(virsh domstate --reason "$h-vm") past the hold's deadline"
  done
}
# outcome WANT: the group snapshot gs ends one of WANT (available, error)
# on host A (its status in st), and is that whole: available, a consistent
# cut on both hosts; error, no member snapshot left anywhere and B's part
# gone. Then deletes it.
outcome() {
  local _
  st=""
  for _ in $(seq 1 1800); do
    host_api fa GET "/v3/group_snapshots/$gs"
    st=$(jget 'j["group_snapshot"]["status"]' 2>/dev/null || echo "?")
    [[ $st == available || $st == error ]] && break
    sleep 0.1
  done
  [[ " $1 " == *" $st "* ]] || fail "group snapshot $gs ended $st, wanted $1: $(grep -a "$gs" "$T/fa.log" | tail -3)"
  if [[ $st == available ]]; then
    local a b
    a=$(part_records fa "$gs") || fail "host A's part"
    b=$(part_records fb "$gs") || fail "host B's part"
    ring_consistent_n "$a" "$b" || fail "group snapshot $gs: fa $a, fb $b records: not a cut"
    echo "  consistent: fa $a, fb $b"
  else
    [[ -z $(part_snapshots fa "$gs") ]] || fail "the failed cut left snapshots on host A"
    [[ -z $(part_snapshots fb "$gs") ]] || fail "the failed cut left snapshots on host B"
    host_api fb GET "/v3/group_snapshots/$gs"
    expect_code 404 "host B's part of the failed cut"
  fi
  host_api fa DELETE "/v3/group_snapshots/$gs"
  expect_code 202 "deleting group snapshot $gs"
}

# kill -9 of the coordinator at each phase.
for step in coord.hold coord.cut coord.release coord.settle coord.settled; do
  host_stop fa
  STRATA_CRASH_AT=$step host_start fa
  start_cut "crash-$step"
  host_wait_crash fa "$step"
  guests_run
  host_start fa
  ring_advances 4
  case $step in
    coord.settle) want="available error" ;;  # A's part may have failed
    coord.settled) want=available ;;
    *) want=error ;;
  esac
  outcome "$want"
  ring_advances 4
  pass "kill -9 of the coordinator at $step: the guests ran on, the group snapshot ended $st, whole"
done

# kill -9 of host B while its guest is held.
for step in group.hold group.cut; do
  host_stop fb
  STRATA_CRASH_AT=$step host_start fb
  start_cut "b-$step"
  host_wait_crash fb "$step"
  guests_run
  host_start fb
  outcome error
  ring_advances 4
  pass "kill -9 of host B at $step: the guests ran on, the group snapshot ended error, cleaned on both hosts"
done

# Host B's link down mid-cut.
host_stop fa
STRATA_STOP_AT=coord.cut host_start fa
start_cut link-down
for _ in $(seq 1 300); do
  grep -aq "injected stop at coord.cut" "$T/fa.log" && break
  sleep 0.1
done
grep -aq "injected stop at coord.cut" "$T/fa.log" || fail "the coordinator did not stop at coord.cut"
ip -n "sfb$$" link set "vsfb$$" down
kill -CONT "$(host_pid fa)"
guests_run  # B's guest at B's own deadline, B unreachable
ip -n "sfb$$" link set "vsfb$$" up
outcome error
ring_advances 4
pass "host B's link down mid-cut: B's guest ran again at its deadline, the group snapshot ended error, cleaned once B was back"

ring_stop
stats=$(ring_line)
[[ $stats == *state=stopped* ]] || fail "the ring driver: $stats"
pass "the ring: $stats"
