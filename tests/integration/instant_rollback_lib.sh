# Helpers of the instant-rollback tests (test-instant-rollback*.sh), sourced
# after lib.sh once $name (the domain), $uuid, $disk and $console are set.

# await_boot OLD_BOOT_ID MORE: waits for a boot other than OLD_BOOT_ID and
# MORE records written in it.
await_boot() {
  for _ in $(seq 900); do
    b=$(boot_id); [[ -n $b && $b != "$1" ]] && break
    sleep 0.1
  done
  [[ -n $b && $b != "$1" ]] || fail "the guest did not boot again"
  local next; next=$(resumed_at)
  for _ in $(seq 600); do (( $(last_rec) >= next + $2 )) && return 0; sleep 0.1; done
  fail "the guest does not write after its new boot (resumed at $next)"
}
snapshot_now() {  # prints the new snapshot's id once it is available
  api POST "/v2.1/servers/$uuid/action" "{\"createImage\":{\"name\":\"$1\"}}" \
    -H "OpenStack-API-Version: compute 2.45"
  expect_code 202 "createImage $1"
  local id; id=$(jget 'j["image_id"]')
  wait_snapshot "$id" available 120
  echo "$id"
}
rollback() {  # rollback SNAPSHOT MODE: starts one; sets RB (its id)
  api POST /v3/os-instant-rollbacks \
    "{\"rollback\":{\"server_id\":\"$uuid\",\"snapshot_id\":\"$1\",\"switch\":\"$2\"}}"
}
start_rollback() {  # start_rollback SNAPSHOT MODE: expects 202; sets rb
  rollback "$1" "$2"
  expect_code 202 "instant rollback to $1"
  rb=$(jget 'j["rollback"]["id"]')
}
rb_phase() {  # rb_phase ID: sets PHASE (and BODY) from a GET
  api GET "/v3/os-instant-rollbacks/$1"
  [[ $CODE == 200 ]] || fail "GET rollback $1: HTTP $CODE $BODY"
  PHASE=$(jget 'j["rollback"]["phase"]')
}
# await_phase ID PHASE…: waits (≤ 300 s) for one of PHASEs; an end that is
# not one of them (done, error, aborted) fails at once.
await_phase() {
  local id=$1; shift
  for _ in $(seq 3000); do
    rb_phase "$id"
    for want in "$@"; do [[ $PHASE == "$want" ]] && return 0; done
    [[ $PHASE == done || $PHASE == error || $PHASE == aborted ]] && break
    sleep 0.1
  done
  fail "rollback $id: phase $PHASE, wanted $*: $BODY"
}
chain_of() { virsh dumpxml "$name" | grep -o "<source file='[^']*'" | sed "s/.*='//;s/'$//"; }
# check_normal: the server runs on the disk's own chain: libvirt's chain is
# the disk then its history, no mirror file is left, and the definition for
# its next start names no chain.
check_normal() {
  local c; c=$(chain_of)
  [[ $(sed -n 1p <<<"$c") == "$disk" ]] || fail "$1: the VM's top is not $disk: $c"
  [[ $(sed -n 2p <<<"$c") == *.history-* ]] || fail "$1: the VM's backing is not a history: $c"
  ! grep -q strata-mirror <<<"$c" || fail "$1: the VM still reads the mirror: $c"
  ! compgen -G "$T/var/disks/.*strata-mirror*" >/dev/null ||
    fail "$1: mirror files are left: $(ls -a "$T/var/disks")"
  local def; def=$(virsh dumpxml --inactive "$name")
  ! grep -q backingStore <<<"$def" ||
    fail "$1: the domain's definition still names a backing chain"
}

# writes_on N WHEN: waits (<= 60 s) for N more records, else fails saying
# the guest does not write WHEN.
writes_on() {
  local mid; mid=$(last_rec)
  for _ in $(seq 600); do (( $(last_rec) > mid + $1 )) && return 0; sleep 0.1; done
  fail "the guest does not write $2"
}
