#!/usr/bin/env bash
# The zstd relay stage (R1.3, `[store] compression = zstd`) end to end: a
# snapshot series of a real disk through the API, every stored layer a valid
# zstd frame (zstd -t) smaller than the layer file, and reverts that read
# back exactly what was snapshotted; a damaged object is refused and the
# disk left as it was.
source "$(dirname "$0")/lib.sh"
need qemu-img qemu-io curl python3 zstd

cat >"$T/strata.conf" <<CONF
[store]
compression = zstd
zstd_level = 3
CONF
disk="$T/var/disks/vm.qcow2"
mkdir -p "$T/var/disks"
qemu-img create -q -f qcow2 "$disk" 64M
write_pattern "$disk" 0x11 0 4M
start_stratad --config "$T/strata.conf"
vol=$(manage_disk "$disk" vm)
s1=$(snapshot "$vol" s1)
write_pattern "$disk" 0x22 2M 4M
s2=$(snapshot "$vol" s2)
write_pattern "$disk" 0x33 8M 1M

objects=$(find "$T/var/store/volumes/$vol" -name '*.qcow2' | sort)
[[ $(wc -l <<<"$objects") -ge 2 ]] || fail "stored objects: $objects"
for o in $objects; do
  zstd -q -t "$o" || fail "$o is not a valid zstd frame"
  zstd -q -f -d "$o" -o "$T/layer.qcow2"
  plain=$(stat -c %s "$T/layer.qcow2")
  stored=$(stat -c %s "$o")
  [[ $stored -lt $plain ]] || fail "$o: $stored bytes stored for a $plain-byte layer"
  qemu-img info -f qcow2 "$T/layer.qcow2" >/dev/null || fail "$o does not hold a qcow2 layer"
done
pass "stored layers are zstd frames (zstd -t) of qcow2 layers, smaller than them: $(wc -l <<<"$objects") objects"

revert "$vol" "$s1"
reads_pattern "$disk" 0x11 0 4M || fail "revert to s1: data"
reads_pattern "$disk" 0 4M 6M || fail "revert to s1: later writes present"
revert "$vol" "$s2"
reads_pattern "$disk" 0x11 0 2M || fail "revert to s2: s1 data"
reads_pattern "$disk" 0x22 2M 4M || fail "revert to s2: s2 data"
reads_pattern "$disk" 0 8M 1M || fail "revert to s2: unsnapshotted write present"
pass "reverts through the zstd stage read back s1 and s2 exactly"

# Damage s1's stored frame: the revert must fail and leave the disk as is.
write_pattern "$disk" 0x44 12M 1M
o1="$T/var/store/volumes/$vol/$s1.qcow2"
[[ -f $o1 ]] || fail "no object $o1"
printf 'XXXXXXXX' | dd of="$o1" bs=1 seek=$(( $(stat -c %s "$o1") / 2 )) conv=notrunc status=none
api POST "/v3/volumes/$vol/action" "{\"revert\":{\"snapshot_id\":\"$s1\"}}" \
  -H "OpenStack-API-Version: volume 3.40"
expect_code 202 "revert to damaged s1"
wait_volume "$vol" available 60
reads_pattern "$disk" 0x44 12M 1M || fail "a failed revert changed the disk"
reads_pattern "$disk" 0x22 2M 4M || fail "a failed revert changed the disk"
grep -q "corruption" "$T/stratad.log" || fail "no corruption reported: $(tail -3 "$T/stratad.log")"
pass "a damaged stored frame is refused; the disk is untouched"
