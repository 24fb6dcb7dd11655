#!/usr/bin/env bash
# Crash anywhere (issue 16, item 6): a mixed workload — live snapshots of a
# running test guest, snapshots, reverts and deletes of a quiet disk, every
# layer uploaded to nginx (dav store), merges into history — while stratad is
# killed with SIGKILL at random instants, SOAK_KILLS times (30), restarted
# each time. The kills are not at journal steps but wherever the random
# delay lands: inside qemu-img runs, uploads, merges, libvirt block jobs.
# After every restart: the quiet disk's chain passes qemu-img check and
# reads exactly one state the test knows (the state before an interrupted
# revert or the target's, never a mix); the guest runs on its own path and
# libvirt's chain equals the files'; no snapshot is left creating or
# deleting. At the end every available snapshot of the quiet disk reverts to
# exactly its state, and every available snapshot of the guest's disk holds
# an exact, untorn prefix of the guest's records.
source "$(dirname "$0")/lib.sh"
need_guest
need qemu-img qemu-io curl python3 /usr/sbin/nginx
kills=${SOAK_KILLS:-30}
(( kills <= 120 )) || fail "SOAK_KILLS is at most 120"

ngx_port=$(free_port)
ngx_pid=$("$STRATA_SRC/scripts/start-test-nginx.sh" "$T/ngx" "$ngx_port") || fail "nginx"
name=strata-soak-$$
gdisk=$T/var/disks/guest.qcow2
console=$T/console.log
boot_guest "$name" "$gdisk" 256M
trap 'rc=$?; virsh -q destroy "$name" >/dev/null 2>&1 || true
      kill "$ngx_pid" 2>/dev/null || true; cleanup "$rc"' EXIT
store="dav:http://127.0.0.1:$ngx_port/strata"
qdisk=$T/var/disks/quiet.qcow2
qemu-img create -q -f qcow2 "$qdisk" 512M
# Uploads paced at 8 MiB/s: a round's 8 MiB layer is a second in flight, so
# most kills land inside a task.
printf '[store]\nmax_bytes_per_second = 8388608\n' >"$T/soak.conf"
start_stratad --store "$store" --config "$T/soak.conf"
qvol=$(manage_disk "$qdisk" quiet)
gvol=$(manage_disk "$gdisk" guest)

# The quiet disk's model: round i wrote pattern P(i) at 8i MiB (8 MiB). A state is
# the list of rounds whose writes it holds ("1 2 5"); snapshot r<i> was
# taken with the state as it was when it was asked for.
declare -A snap_state   # snapshot name → state
state=""
round=0
pat() { echo $(( ($1 * 37) % 250 + 3 )); }
holds() {  # holds STATE: the quiet disk reads exactly STATE's rounds
  local i want
  for i in $(seq 1 "$round"); do
    want=0; [[ " $1 " == *" $i "* ]] && want=$(pat "$i")
    reads_pattern "$qdisk" "$want" "$((8 * i))M" 8M || return 1
  done
}

settle() {  # waits until no task runs: nothing creating, deleting, reverting
  local st=""
  for _ in $(seq 1200); do
    api GET "/v3/snapshots/detail"
    st=$(jget 'sum(s["status"] in ("creating","deleting","restoring") for s in j["snapshots"])')
    api GET "/v3/volumes/$qvol"
    [[ $st == 0 && $(jget 'j["volume"]["status"]') == available ]] && return 0
    sleep 0.1
  done
  fail "$1: tasks still running after 120 s: $BODY"
}

pending_revert=""   # the target of a revert a kill may have interrupted
for k in $(seq 1 "$kills"); do
  settle "after restart $k"
  # The quiet disk is one known state, whole.
  qemu-img check -q "$qdisk" || fail "kill $k: qemu-img check of the quiet disk"
  if holds "$state"; then :
  elif [[ -n $pending_revert ]] && holds "${snap_state[$pending_revert]}"; then
    state=${snap_state[$pending_revert]}
  else
    fail "kill $k: the quiet disk reads neither '$state' nor the revert target's state"
  fi
  pending_revert=""
  [[ $(virsh domstate "$name") == running ]] || fail "kill $k: the guest stopped"
  [[ $(libvirt_chain "$name") == "$(file_chain "$gdisk")" ]] ||
    fail "kill $k: libvirt sees '$(libvirt_chain "$name")', the files '$(file_chain "$gdisk")'"

  # The next round: a write, then work for stratad, then a kill.
  round=$((round + 1))
  write_pattern "$qdisk" "$(pat "$round")" "$((8 * round))M" 8M
  state="$state $round"
  api POST /v3/snapshots "{\"snapshot\":{\"volume_id\":\"$gvol\",\"name\":\"g$round\"}}"
  api GET "/v3/snapshots/detail?volume_id=$qvol&status=available"
  mapfile -t avail < <(jget '"\n".join(s["name"] for s in j["snapshots"])' | grep . || true)
  op=$((RANDOM % 10))
  if (( op < 2 && ${#avail[@]} > 0 )); then
    target=${avail[$((RANDOM % ${#avail[@]}))]}
    api GET "/v3/snapshots/detail?volume_id=$qvol&name=$target"
    tid=$(jget 'j["snapshots"][0]["id"]')
    api POST "/v3/volumes/$qvol/action" "{\"revert\":{\"snapshot_id\":\"$tid\"}}" \
      -H "OpenStack-API-Version: volume 3.40"
    [[ $CODE == 202 ]] && pending_revert=$target
  elif (( op < 3 && ${#avail[@]} > 3 )); then
    api GET "/v3/snapshots/detail?volume_id=$qvol&name=${avail[-1]}"
    api DELETE "/v3/snapshots/$(jget 'j["snapshots"][0]["id"]')"
  else
    api POST /v3/snapshots "{\"snapshot\":{\"volume_id\":\"$qvol\",\"name\":\"r$round\"}}"
    [[ $CODE == 202 ]] && snap_state[r$round]=$state
  fi
  # A random instant in the next 1.5 s: inside whatever runs then. Every
  # fifth round is let finish first, so that snapshots complete although
  # each interrupted upload leaves a larger layer to the next (R2.6).
  (( round % 5 == 0 )) && settle "round $round"
  sleep "$(python3 -c 'import random; print(round(random.uniform(0.05, 1.5), 2))')"
  kill -9 "$PID"; wait "$PID" 2>/dev/null || true; PID=""
  start_stratad --store "$store" --config "$T/soak.conf"
done
settle "the last restart"
holds "$state" || { [[ -n $pending_revert ]] && holds "${snap_state[$pending_revert]}"; } ||
  fail "after the last restart the quiet disk is in no known state"
interrupted=$(log_count "recovering .* task")
(( interrupted > 0 )) || fail "no kill landed inside a task: the soak proved nothing"
pass "$kills kills at random instants ($interrupted restarts recovered an interrupted task): after each restart the chains, libvirt's view and the catalog agreed and the quiet disk was one known state"

# Every available snapshot of the quiet disk reverts to exactly its state.
api GET "/v3/snapshots/detail?volume_id=$qvol&status=available"
mapfile -t rows < <(jget '"\n".join(s["id"] + " " + s["name"] for s in j["snapshots"])' | grep . || true)
(( ${#rows[@]} > 0 )) || fail "no quiet snapshot survived"
for row in "${rows[@]}"; do
  read -r id sname <<<"$row"
  [[ -n ${snap_state[$sname]+x} ]] || fail "snapshot $sname: not one the test asked for"
  revert "$qvol" "$id"
  holds "${snap_state[$sname]}" || fail "revert to $sname does not read its state '${snap_state[$sname]}'"
done
pass "${#rows[@]} available snapshots of the quiet disk each revert to exactly their state"

# The guest's snapshots: stop it; each holds an exact prefix of its records.
final=$(last_rec)
virsh -q destroy "$name" >/dev/null
for _ in $(seq 100); do
  api GET "/v3/volumes/$gvol"; [[ $(jget 'j["volume"]["status"]') == available ]] && break
  sleep 0.1
done
verify_disk "$gdisk" "$final" >/dev/null
api GET "/v3/snapshots/detail?volume_id=$gvol&status=available"
mapfile -t gsnaps < <(jget '"\n".join(s["id"] for s in j["snapshots"])' | grep . || true)
(( ${#gsnaps[@]} > 0 )) || fail "no guest snapshot survived"
for id in "${gsnaps[@]}"; do
  revert "$gvol" "$id"
  verify_disk "$gdisk" 1 >/dev/null
done
pass "the guest's disk holds every record it reported ($final); its ${#gsnaps[@]} available snapshots each hold an exact prefix"
