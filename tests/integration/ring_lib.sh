# The rings' checks. Sourced after lib.sh.
# - One guest's ring (tests that boot the test guest with "recwriter.ring=1"
#   and a SECOND_DISK): it writes its records to vda and vdb in turn (vda's
#   1, vdb's 1, vda's 2, …, each durable before the next), so any state it
#   could leave has vda's count a and vdb's count b with b <= a <= b + 1.
# - The ring across guests ("recwriter.serve=1" and a RING_SOCKET each,
#   driven by tests/tools/ring_driver.py): request i goes to guest
#   (i - 1) mod N, i + 1 only after i is durable, so the guests' counts
#   n_0 >= n_1 >= … >= n_0 - 1 in any state they could leave together.

# disk_records DISK: the disk's record count (verified: a clean prefix,
# none torn).
disk_records() {
  verify_disk "$1" 0 | python3 -c 'import json,sys; print(json.load(sys.stdin)["records"])'
}
# ring_counts DISK_A DISK_B: "a b", each disk's record count.
ring_counts() { echo "$(disk_records "$1") $(disk_records "$2")"; }
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

# ring_consistent_n N_0 N_1 …: whether the guests' counts, in the driver's
# order, are a state the ring across guests could leave.
ring_consistent_n() {
  local prev=$1 n
  for n in "${@:2}"; do ((n <= prev)) || return 1; prev=$n; done
  ((prev >= $1 - 1))
}
# ring_start SOCKET…: the driver across those guests' ports, in the
# background (RING_PID, its progress in $T/ring.progress), RING_INTERVAL_MS
# (default 10) between requests, its slow requests in RING_SLOW_LOG when
# set; waits until it has 30 answered requests.
ring_start() {
  local slow=()
  [[ -n ${RING_SLOW_LOG:-} ]] && slow=(--slow-log "$RING_SLOW_LOG")
  python3 "$STRATA_SRC/tests/tools/ring_driver.py" --progress "$T/ring.progress" \
    --interval-ms "${RING_INTERVAL_MS:-10}" "${slow[@]}" "$@" \
    2>>"$T/ring.err" &
  RING_PID=$!
  ring_advances 30
}
# ring_field NAME: that field of the driver's progress line.
ring_field() {
  local line
  line=$(ring_line) || { echo ""; return; }
  sed -n "s/.*\b$1=\([^ ]*\).*/\1/p" <<<"$line"
}
# ring_advances N: waits (up to 120 s) until the driver has N more requests
# answered than now; fails when it stopped or stalled.
ring_advances() {
  local from now; from=$(ring_field acked); from=${from:-0}
  for _ in $(seq 1 1200); do
    [[ $(ring_field state) == error* ]] && fail "the ring driver failed: $(ring_line)"
    now=$(ring_field acked)
    ((${now:-0} >= from + $1)) && return 0
    sleep 0.1
  done
  fail "the ring answered no $1 requests after $from: $(ring_line)"
}
# ring_stop: stops the driver (its last progress line: ring_line).
ring_stop() {
  [[ -n ${RING_PID:-} ]] || return 0
  kill "$RING_PID" 2>/dev/null && { wait "$RING_PID" 2>/dev/null || true; }
  RING_PID=
}
ring_line() { cat "$T/ring.progress" 2>/dev/null; }
