#!/usr/bin/env bash
# Crash safety: stratad is killed (_exit, as kill -9) at every journalled step
# of snapshot create (incl. the R2.6 repair), compaction into history (R2.9),
# revert (R2.11) and delete; after each restart the chain is valid, the
# catalog agrees with it, and at the end one more snapshot succeeds (carrying
# the writes of the crashed ones) and the disk reads back every write.
source "$(dirname "$0")/lib.sh"
need qemu-img qemu-io curl python3

disk="$T/var/disks/vm.qcow2"
mkdir -p "$T/var/disks"
qemu-img create -q -f qcow2 "$disk" 128M
round=0
declare -a written=()   # pattern written at offset i MiB, per round

write_round() {
  round=$((round + 1))
  local pat=$(( (round * 37) % 250 + 3 ))
  write_pattern "$disk" "$pat" "${round}M" 1M
  written[$round]=$pat
}

check_all_written() {
  local i
  for i in $(seq 1 "$round"); do
    reads_pattern "$disk" "${written[$i]}" "${i}M" 1M || fail "$1: round $i's write lost"
  done
}

check_consistent() {
  qemu-img check -q "$disk" || fail "$1: qemu-img check failed"
  qemu-img info --backing-chain "$disk" >/dev/null || fail "$1: chain unreadable"
  api GET "/v3/snapshots/detail"
  local bad
  bad=$(jget '[s["status"] for s in j["snapshots"] if s["status"] not in ("available","error")]')
  [[ "$bad" == "[]" ]] || fail "$1: snapshots left in $bad"
  wait_volume "$vol" available 10
  # The only Strata files allowed besides the chain: the spare and delta of
  # the chain's own history, or the ready backup built from them
  # (docs/engine.md), which rebuild it. Files of the old chain a task
  # discarded are removed right after it, and a prebuild's temporary lives
  # while the reaper builds the ready file.
  for _ in $(seq 100); do
    ls -a "$T/var/disks" | grep -q '\.strata-trash-\|\.strata-building-' || break
    sleep 0.1
  done
  local history id
  history=$(qemu-img info --backing-chain --output=json "$disk" |
    python3 -c 'import json,sys,os; c=json.load(sys.stdin); print(os.path.basename(c[1]["filename"]) if len(c) > 1 else "")')
  id=${history#vm.}
  id=${id%.qcow2}
  ls -a "$T/var/disks" | grep '\.strata-' |
    grep -vxF -e ".vm.strata-spare-$id.qcow2" -e ".vm.strata-delta-$id.qcow2" \
      -e ".vm.strata-ready-$id.qcow2" |
    grep -q . && fail "$1: temporaries left (history $history): $(ls -a "$T/var/disks")"
  return 0
}

# crash_at STEP CMD…: run CMD against a daemon that dies at STEP; restart.
crash_at() {
  local step=$1; shift
  stop_stratad
  STRATA_CRASH_AT=$step start_stratad
  "$@"
  wait_crash "$step"
  start_stratad
  check_consistent "$step"
  check_all_written "$step"
  pass "crash at $step: restart reconciled chain, catalog and data"
}

# snapshot_named NAME: the id of the snapshot called NAME.
snapshot_named() {
  api GET "/v3/snapshots?name=$1"
  jget 'j["snapshots"][0]["id"]'
}

start_new_snapshot() {
  api POST /v3/snapshots "{\"snapshot\":{\"volume_id\":\"$vol\",\"name\":\"r$round\"}}"
  # The task may crash the daemon before the 202 is written back.
  [[ $CODE == 202 || $CODE == 000 ]] || fail "snapshot create: HTTP $CODE $BODY"
}

start_stratad
vol=$(manage_disk "$disk" vm)
stop_stratad

for step in create.prepare_overlay create.rename_top create.install_overlay \
            create.check_previous create.merge_failed create.install_merged; do
  write_round
  crash_at "$step" start_new_snapshot
done
# A crash at create.upload: the restart carries the upload on, and the
# snapshot ends available, with the writes of the 4 crashed ones whose
# layers were cut (rounds 3-6) that it had merged before (R2.6).
write_round
stop_stratad
STRATA_CRASH_AT=create.upload start_stratad
start_new_snapshot
wait_crash create.upload
start_stratad
wait_snapshot "$(snapshot_named "r$round")" available 60
check_consistent create.upload
check_all_written create.upload
api GET "/v3/snapshots/$(snapshot_named "r$round")"
[[ $(jget 'len(j["snapshot"]["os-strata:covers"])') -eq 4 ]] ||
  fail "the resumed upload's snapshot does not carry rounds 3-6: $BODY"
grep -q "resuming the upload of snapshot" "$T/stratad.log" ||
  fail "no upload was resumed: $(tail -5 "$T/stratad.log")"
pass "crash at create.upload: the restart resumed the upload; r$round available, carrying 4 crashed snapshots"
for step in compact.begin compact.repoint; do
  write_round
  crash_at "$step" start_new_snapshot
done
write_round
good=$(snapshot "$vol" good1)   # now history exists
good_round=$round
# Every crashed create whose layer was cut (rounds 3-6) is carried by the
# create.upload round's snapshot (R2.6).
api GET "/v3/snapshots/detail"
covers=$(jget 'max(len(s["os-strata:covers"]) for s in j["snapshots"])')
carried=$(jget 'sum("carried by" in s.get("os-strata:error","") for s in j["snapshots"])')
[[ $covers -ge 4 && $carried -eq 4 ]] ||
  fail "R2.6 repair: max covers $covers, carried $carried (want ≥4, 4): $BODY"
pass "the 4 cut-but-crashed snapshots are carried by a later one (R2.6)"
# compact.rebuild_backup: mid-way through rebuilding the history's backup
# from its spare (the spare renamed, its delta not yet committed into it).
for step in compact.backup compact.rebuild_backup compact.merge \
            compact.delete_sources; do
  write_round
  crash_at "$step" start_new_snapshot
  api GET "/v3/snapshots/detail?name=r$round"
  [[ $(jget 'j["snapshots"][0]["status"]') == available ]] || fail "$step: uploaded snapshot not available"
done
write_round
final=$(snapshot "$vol" final)
api GET "/v3/snapshots/$final"
echo "final snapshot covers: $(jget 'j["snapshot"]["os-strata:covers"]')"
len=$(qemu-img info --backing-chain "$disk" | grep -c '^image:')
[[ $len -le 4 ]] || fail "chain length $len > 4"
pass "chain length $len after the final snapshot"

# A clean revert to `good` reads back exactly the rounds up to it.
api POST "/v3/volumes/$vol/action" "{\"revert\":{\"snapshot_id\":\"$good\"}}" \
  -H "OpenStack-API-Version: volume 3.40"
expect_code 202 "revert to good"
wait_volume "$vol" available 60
# The disk reads exactly the rounds up to `good` ($1: what is checked).
reads_good() {
  local i
  for i in $(seq 1 "$round"); do
    if [[ $i -le $good_round ]]; then
      reads_pattern "$disk" "${written[$i]}" "${i}M" 1M || fail "$1: round $i missing"
    else
      reads_pattern "$disk" 0 "${i}M" 1M || fail "$1: round $i present"
    fi
  done
}
reads_good "revert to good"
pass "revert to good1 reads back exactly rounds 1..$good_round"

# Revert steps: revert to `good`, crash, restart: the disk is either as it
# was or exactly `good`; a clean revert to `final` then restores everything.
revert_to() {
  api POST "/v3/volumes/$vol/action" "{\"revert\":{\"snapshot_id\":\"$1\"}}" \
    -H "OpenStack-API-Version: volume 3.40"
  [[ $CODE == 202 || $CODE == 000 ]] || fail "revert: HTTP $CODE $BODY"
}
# Files named as histories of the disk that its chain does not use.
stray_histories() {
  local used
  used=$(qemu-img info -U --backing-chain --output=json "$disk" |
    python3 -c 'import json,sys,os; [print(os.path.basename(c["filename"])) for c in json.load(sys.stdin)]')
  for f in "$(dirname "$disk")"/"$(basename "$disk" .qcow2)".history-*.qcow2; do
    [[ -e $f ]] || continue
    grep -qxF "$(basename "$f")" <<<"$used" || echo "$f"
  done
}
# (revert.merge_upper: the target's lineage has several layers, so the root
# layer is already renamed to a history of its own, not yet in the chain.)
# `good` must not be the latest snapshot (the head) when each loop starts:
# that revert needs no layers (below).
revert_to "$final"; wait_volume "$vol" available 60
for step in revert.download revert.merge revert.merge_upper revert.install revert.cleanup; do
  stop_stratad
  STRATA_CRASH_AT=$step start_stratad
  revert_to "$good"
  wait_crash "$step"
  rebuilt=$(log_count "rebuilt from the layers")
  start_stratad
  qemu-img check -q "$disk" || fail "$step: check failed"
  wait_volume "$vol" available 10
  stray=$(stray_histories)
  [[ -z $stray ]] || fail "$step: history files outside the chain left: $stray"
  # After the install the merged history was in the chain but not yet
  # written back (engine/settle.cc): recovery rebuilt it from its layers.
  if [[ $step == revert.cleanup ]]; then
    now=$(log_count "rebuilt from the layers")
    (( now == rebuilt + 1 )) || fail "$step: recovery did not rebuild the unsettled history"
    reads_good "$step, after recovery"
  fi
  revert_to "$final"; wait_volume "$vol" available 60
  check_all_written "$step"
  pass "crash at $step: revert reconciled, data intact"
done

# A revert to the latest snapshot (`final`, the head now) makes a new
# overlay on the history already in the chain, nothing downloaded: crash
# before (revert.install) and after (revert.cleanup) it replaces the top.
# Offset 0 holds a write no snapshot has.
chain_history() {
  qemu-img info -U --backing-chain --output=json "$disk" |
    python3 -c 'import json,sys,os; print(os.path.basename(json.load(sys.stdin)[1]["filename"]))'
}
for step in revert.install revert.cleanup; do
  history=$(chain_history)
  write_pattern "$disk" 0xe7 0 1M
  stop_stratad
  STRATA_CRASH_AT=$step start_stratad
  revert_to "$final"
  wait_crash "$step"
  completed=$(log_count "recovery: revert of $vol had completed")
  start_stratad
  wait_volume "$vol" available 10
  check_consistent "latest $step"
  # The task is settled as done exactly when the top was replaced.
  now=$(log_count "recovery: revert of $vol had completed")
  if [[ $step == revert.install ]]; then
    (( now == completed )) || fail "latest $step: recovery counted the revert done"
  else
    (( now == completed + 1 )) || fail "latest $step: recovery did not count the revert done"
  fi
  [[ $(chain_history) == "$history" ]] || fail "latest $step: a new history ($(chain_history)), not the one in place ($history)"
  if [[ $step == revert.install ]]; then
    reads_pattern "$disk" 0xe7 0 1M || fail "latest $step: the disk changed before the install"
  else
    reads_pattern "$disk" 0 0 1M || fail "latest $step: the revert that replaced the top is undone"
  fi
  api GET "/v3/volumes/$vol"
  [[ $(jget 'j["volume"]["os-strata:head_snapshot_id"]') == "$final" ]] || fail "latest $step: head moved"
  revert_to "$final"; wait_volume "$vol" available 60
  reads_pattern "$disk" 0 0 1M || fail "latest $step: a revert after the restart did not drop the write"
  check_all_written "latest $step"
  pass "crash at $step of a revert to the latest snapshot: reconciled, the history kept"
done

stop_stratad
STRATA_CRASH_AT=delete.begin start_stratad
api DELETE "/v3/snapshots/$good"
[[ $CODE == 202 || $CODE == 000 ]] || fail "delete: HTTP $CODE"
wait_crash delete.begin
start_stratad
for _ in $(seq 50); do api GET "/v3/snapshots/$good"; [[ $CODE == 404 ]] && break; sleep 0.1; done
expect_code 404 "snapshot deleted after restart"
pass "crash at delete.begin: delete completed on restart"
revert_to "$final"; wait_volume "$vol" available 60
check_all_written "final revert"
pass "every write of $round rounds reads back"

# The product stratad has no crash points (issue 16, item 7): the step that
# ended the crash-point build above is a step like any other here.
stop_stratad
STRATAD_CRASH_POINTS=$STRATAD STRATA_CRASH_AT=create.prepare_overlay start_stratad
write_round
start_new_snapshot
expect_code 202 "snapshot with STRATA_CRASH_AT set, product build"
wait_snapshot "$(jget 'j["snapshot"]["id"]')" available
kill -0 "$PID" || fail "the product stratad ended at STRATA_CRASH_AT"
pass "the product stratad ignores STRATA_CRASH_AT=create.prepare_overlay"
