# The ring guest's checks, for tests that boot the test guest with
# "recwriter.ring=1" and a SECOND_DISK: it writes its records to vda and
# vdb in turn (vda's 1, vdb's 1, vda's 2, …, each durable before the
# next), so any state it could leave has vda's count a and vdb's count b
# with b <= a <= b + 1. Sourced after lib.sh.

# ring_counts DISK_A DISK_B: "a b", each disk's record count (each verified:
# a clean prefix, none torn).
ring_counts() {
  local a b
  a=$(verify_disk "$1" 0 | python3 -c 'import json,sys; print(json.load(sys.stdin)["records"])')
  b=$(verify_disk "$2" 0 | python3 -c 'import json,sys; print(json.load(sys.stdin)["records"])')
  echo "$a $b"
}
# ring_consistent A B: whether counts A (vda) and B (vdb) are a cut the
# guest could leave.
ring_consistent() { (($2 <= $1 && $1 <= $2 + 1)); }
# advances N DOMAIN: waits (up to 60 s) until the guest has printed N more
# records than now (it runs).
advances() {
  local from; from=$(last_rec)
  for _ in $(seq 1 600); do
    (($(last_rec) >= from + $1)) && return 0
    sleep 0.1
  done
  fail "the guest wrote no more records after $from (state: $(virsh domstate "$2"))"
}
# boot_ring_guest NAME: boots the ring guest NAME on two new 64 MiB disks
# in $T/var/disks; sets uuid, and va and vb to its vda's and vdb's volume
# ids (a server's disks are volumes without an adopt step).
boot_ring_guest() {
  mkdir -p "$T/var/disks"
  qemu-img create -q -f qcow2 "$T/var/disks/$1-b.qcow2" 64M
  export SECOND_DISK="$T/var/disks/$1-b.qcow2"
  boot_guest "$1" "$T/var/disks/$1-a.qcow2" 64M "recwriter.ring=1"
  uuid=$(virsh domuuid "$1")
  api GET /v3/volumes/detail
  va=$(jget '[v["id"] for v in j["volumes"] if v["name"] == "'"$1"'-vda"][0]')
  vb=$(jget '[v["id"] for v in j["volumes"] if v["name"] == "'"$1"'-vdb"][0]')
}
