#!/usr/bin/env bash
# Live snapshots of a real booted guest while it writes (R2.2, R2.3, R2.5,
# R2.8, R2.11): N consecutive snapshots (STRATA_LIVE_SNAPSHOTS, default 100),
# one a second, through the Cinder API while the test guest appends
# checksummed records. Every snapshot succeeds, the chain never exceeds 4
# files, libvirt's view equals the files, the guest never stops. Then the
# guest is stopped and the disk reverted to 5 random snapshots: each time it
# holds exactly records 1..K, none torn, with K between the last record the
# guest reported before the snapshot request and the last one reported once
# the snapshot was stored.
source "$(dirname "$0")/lib.sh"
need_guest
need curl
count=${STRATA_LIVE_SNAPSHOTS:-100}

name=strata-live-guest-$$
disk=$T/var/disks/guest.qcow2
console=$T/console.log
boot_guest "$name" "$disk" 1G
start_stratad
vol=$(manage_disk "$disk" guest)
pass "guest booted and writing; its disk adopted ($vol)"

declare -a ids lo hi
max_len=0
for i in $(seq 1 "$count"); do
  t0=$(date +%s.%N)
  before=$(last_rec)
  api POST /v3/snapshots "{\"snapshot\":{\"volume_id\":\"$vol\",\"name\":\"g$i\"}}"
  expect_code 202 "snapshot $i"
  id=$(jget 'j["snapshot"]["id"]')
  wait_snapshot "$id" available 60
  after=$(last_rec)
  ids[$i]=$id; lo[$i]=$before; hi[$i]=$after
  [[ $(virsh domstate "$name") == running ]] || fail "guest stopped at snapshot $i"
  len=$(qemu-img info -U --backing-chain "$disk" | grep -c '^image:')
  ((len > max_len)) && max_len=$len
  ((len <= 4)) || fail "snapshot $i: chain of $len files"
  # One a second.
  sleep "$(awk -v t0="$t0" -v now="$(date +%s.%N)" 'BEGIN { d = 1 - (now - t0); print (d > 0 ? d : 0) }')"
done
[[ $(last_rec) -gt ${hi[$count]} ]] || fail "guest stopped writing"
pass "$count live snapshots, all available; chain at most $max_len files; guest kept writing (REC $(last_rec))"

virsh -q destroy "$name"
verify_disk "$disk" "$(last_rec)" >/dev/null
pass "live disk after $count cut-overs: every record the guest reported, none torn"
picks=$(python3 -c "import random; print(' '.join(map(str, sorted(random.sample(range(1, $count + 1), min(5, $count))))))")
for i in $picks; do
  revert "$vol" "${ids[$i]}"
  result=$(verify_disk "$disk" "${lo[$i]}")
  last=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["last"])' "$result")
  ((last <= hi[$i])) || fail "snapshot $i holds record $last, after ${hi[$i]}"
  pass "revert to snapshot $i: records 1..$last exactly, none torn (${lo[$i]} <= $last <= ${hi[$i]})"
done
