#!/usr/bin/env bash
# Crash safety of the live steps (issue 3, point 7): stratad dies (_exit) at
# each journalled step of a running VM's cut-over and of the live repoint
# onto a new history. After each restart the guest is still running, on the
# disk's own path, libvirt's view equals the files, and the next snapshot
# succeeds (carrying the crashed one's writes, R2.6). At the end the guest is
# stopped: its disk holds every record it reported, none torn, and a revert
# to the last snapshot holds an exact prefix.
source "$(dirname "$0")/lib.sh"
need_guest
need curl

name=strata-live-crash-$$
disk=$T/var/disks/guest.qcow2
console=$T/console.log
views_agree() {
  local lv fc
  lv=$(libvirt_chain "$name")
  fc=$(file_chain "$disk")
  [[ "$lv" == "$fc" ]] || fail "$1: libvirt sees '$lv', files say '$fc'"
  [[ ${lv%% *} == "$disk" ]] || fail "$1: the VM runs on ${lv%% *}"
}

boot_guest "$name" "$disk" 1G
start_stratad
vol=$(manage_disk "$disk" guest)
snapshot "$vol" first >/dev/null   # a history exists: later ones merge into it

for step in create.link_top create.switch_vm create.install_overlay \
            create.pivot_back repoint.away repoint.back; do
  stop_stratad
  STRATA_CRASH_AT=$step start_stratad
  api POST /v3/snapshots "{\"snapshot\":{\"volume_id\":\"$vol\",\"name\":\"$step\"}}"
  [[ $CODE == 202 || $CODE == 000 ]] || fail "$step: HTTP $CODE $BODY"
  wait_crash "$step"
  start_stratad
  [[ $(virsh domstate "$name") == running ]] || fail "$step: guest not running"
  views_agree "$step"
  # Checked with the guest paused: a running qemu extends the file while
  # qemu-img reads it, which check reports as references past its end.
  virsh -q suspend "$name" >/dev/null
  qemu-img check -q -U "$disk" || fail "$step: qemu-img check"
  virsh -q resume "$name" >/dev/null
  sid=$(snapshot "$vol" "after-$step")
  views_agree "after $step"
  pass "crash at $step: guest running on its path, views agree, next snapshot ok"
done

before=$(last_rec)
final=$(snapshot "$vol" final)
virsh -q destroy "$name"
verify_disk "$disk" "$(last_rec)" >/dev/null
pass "live disk holds every record the guest reported, none torn"
revert "$vol" "$final"
result=$(verify_disk "$disk" "$before")
pass "revert to the final snapshot: exact prefix, none torn ($result)"
