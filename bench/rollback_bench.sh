#!/usr/bin/env bash
# Rollback benchmark (issue 19, R1.8): time from the request to the guest's
# first write, for Strata's instant rollback and for a normal one (Nova's
# rebuild: the disk's chain built before the server starts), for disks of
# 1, 4 and 16 GiB (sizes in GiB as arguments). Beside them, the control:
# the same domain powered off and started again with nothing rolled back
# (virsh destroy + start), which is what this machine's TCG boot costs
# before any guest write, whatever Strata does.
#
# Each disk (qcow2, sparse) holds a lineage of three layers that grows with
# its size: the first snapshot (taken with the server off) holds size/16 of
# data written with qemu-io, the second (also off) another size/16, the
# third (the target, live: createImage) the guest's records. Both rollbacks
# go back to the target (a fourth snapshot is taken before each normal one,
# so that the target is not the latest): the normal one links the first
# layer and merges the two above into a new history before the server
# starts; the instant one starts the server on the linked layers and builds
# that history in the background (its "copy" column), then switches on its
# own.
# Each measurement starts with the page cache dropped (after a sync): the
# stored layers of a point in time to go back to are usually not cached,
# and this machine's page cache made a normal rollback's reads of 2 GiB
# take 0.4 s.
# After every rollback the guest must resume its record log right after the
# snapshot's last record (else the run fails).
#
# STORE=dav: the layers on nginx (the dav store, scripts/start-test-nginx.sh;
# NGINX_LIMIT_RATE slows it), so none can be linked: the instant rollback
# serves them over NBD while they download (its copy column includes the
# download), and the normal one downloads them before the server starts.
#
# Prints one row per size: the medians of REPS runs (default 3) of each
# column, the instant rollback's share above the control, and normal /
# instant.
# Needs root, libvirt, qemu-system-x86 and the guest packages
# (scripts/install-deps.sh --guest). Usage:
#   [REPS=3] [STORE=local|dav] bench/rollback_bench.sh [SIZE_GIB…]
#   (STRATAD=path/to/stratad)
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
STRATAD=${STRATAD:-$here/build/stratad}
reps=${REPS:-3}
sizes=("$@")
[[ ${#sizes[@]} -gt 0 ]] || sizes=(1 4 16)
T=$(mktemp -d /var/tmp/strata-rbbench.XXXXXX)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
url=http://127.0.0.1:$port
pid=""
ngx_pid=""
doms=()
cleanup() {
  [[ -n "$ngx_pid" ]] && kill "$ngx_pid" 2>/dev/null
  for d in "${doms[@]}"; do
    virsh -q destroy "$d" >/dev/null 2>&1 || true
    virsh -q undefine "$d" >/dev/null 2>&1 || true
  done
  [[ -n "$pid" ]] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
  rm -rf "$T"
}
trap cleanup EXIT
die() { echo "rollback_bench: $*" >&2; exit 1; }
mkdir -p "$T/var/disks"; chmod 711 "$T" "$T/var" "$T/var/disks"
api() {
  curl -sf -X "$1" -H 'X-Auth-Token: admin:admin' -H 'Content-Type: application/json' \
    -H 'OpenStack-API-Version: compute 2.45' ${3:+--data-binary "$3"} "$url$2"
}
field() { python3 -c 'import json,sys; print(eval("j"+sys.argv[1], {"j": json.load(sys.stdin)}))' "$1"; }
median() { python3 -c 'import statistics,sys; print(f"{statistics.median(map(float, sys.argv[1:])):.2f}")' "$@"; }

"$here/scripts/build-test-guest.sh" "$T/guest" >/dev/null
"$here/scripts/start-libvirt.sh"
store=()
if [[ ${STORE:-local} == dav ]]; then
  ngx_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  ngx_pid=$("$here/scripts/start-test-nginx.sh" "$T/ngx" "$ngx_port") || die "nginx did not start"
  store=(--store "dav:http://127.0.0.1:$ngx_port/strata")
fi
"$STRATAD" --listen "127.0.0.1:$port" --state-dir "$T/var" "${store[@]}" >/dev/null 2>"$T/stratad.log" &
pid=$!
for _ in $(seq 100); do curl -sf -o /dev/null "$url/v3/" && break; sleep 0.1; done
api PUT /v3/admin/os-quota-class-sets/default \
  '{"quota_class_set":{"volumes":-1,"snapshots":-1,"gigabytes":-1}}' >/dev/null

console=""
last_rec() {
  { grep -a '^REC [0-9]*' "$console" 2>/dev/null || true; } | tr -dc '0-9\n' |
    awk '$1 + 0 > max { max = $1 + 0 } END { print max + 0 }'
}
boot_id() {
  { grep -a '^RECWRITER START' "$console" 2>/dev/null || true; } | tail -1 |
    sed -n 's/.*boot_id=\([0-9a-f]*\).*/\1/p'
}
resumed_at() {
  { grep -a '^RECWRITER START' "$console" 2>/dev/null || true; } | tail -1 |
    sed -n 's/.* next=\([0-9]*\).*/\1/p'
}
wait_status() {  # wait_status PATH JSON_FIELD VALUE SECONDS
  for _ in $(seq $(($4 * 10))); do
    [[ $(api GET "$1" | field "$2" 2>/dev/null) == "$3" ]] && return 0
    sleep 0.1
  done
  die "$1: $2 is not $3 after $4 s"
}
# first_write OLD_BOOT T0: seconds from T0 to the new boot's first record.
first_write() {
  local out
  out=$(python3 "$here/bench/first_write.py" "$console" "$1" 600) || die "no first write"
  python3 -c 'import sys; print(f"{float(sys.argv[1]) - float(sys.argv[2]):.2f}")' "${out%% *}" "$2"
}
# cold: the stored layers as a rollback usually finds them, not in the page
# cache (written back and dropped), after a pause.
cold() {
  sync
  echo 3 >/proc/sys/vm/drop_caches
  sleep 2
}
check_resume() {  # the log resumed within the snapshot's records
  local k=$(( $(resumed_at) - 1 ))
  (( lo <= k && k <= hi )) || die "$1: resumed after record $k, not within $lo..$hi"
}

printf '%-6s %-10s %-10s %-10s %-10s %-10s %-12s %-10s\n' size data control instant normal copy instant-ctl normal/inst
for g in "${sizes[@]}"; do
  name=strata-rbbench-$g-$$
  disk=$T/var/disks/rb$g.qcow2
  console=$T/console-$g.log
  part=$((g * 64))  # MiB: size/16
  qemu-img create -q -f qcow2 "$disk" "${g}G"
  qemu-io -f qcow2 -c "write -q -P 0x11 64M ${part}M" "$disk" >/dev/null
  "$here/scripts/render-test-domain.sh" "$name" "$(cat /proc/sys/kernel/random/uuid)" \
    "$disk" "$console" "$T/guest" "recwriter.interval_ms=5" >"$T/domain.xml"
  virsh -q define "$T/domain.xml" >/dev/null
  doms+=("$name")
  uuid=$(virsh domuuid "$name")
  vol=$(api GET /v3/volumes/detail | python3 -c '
import json, sys
for v in json.load(sys.stdin)["volumes"]:
    if any(a["server_id"] == sys.argv[1] for a in v["attachments"]): print(v["id"])' "$uuid")
  [[ -n $vol ]] || die "the server's disk is not a volume"
  s1=$(api POST /v3/snapshots "{\"snapshot\":{\"volume_id\":\"$vol\",\"name\":\"root\",\"force\":true}}" | field '["snapshot"]["id"]')
  wait_status "/v3/snapshots/$s1" '["snapshot"]["status"]' available 600
  qemu-io -f qcow2 -c "write -q -P 0x22 $((64 + part))M ${part}M" "$disk" >/dev/null
  s2=$(api POST /v3/snapshots "{\"snapshot\":{\"volume_id\":\"$vol\",\"name\":\"upper\",\"force\":true}}" | field '["snapshot"]["id"]')
  wait_status "/v3/snapshots/$s2" '["snapshot"]["status"]' available 600
  virsh -q start "$name" >/dev/null
  for _ in $(seq 600); do [[ $(last_rec) -ge 50 ]] && break; sleep 0.1; done
  lo=$(last_rec)
  target=$(api POST "/v2.1/servers/$uuid/action" '{"createImage":{"name":"target"}}' | field '["image_id"]')
  wait_status "/v3/snapshots/$target" '["snapshot"]["status"]' available 600
  hi=$(last_rec)
  ctl=() inst=() norm=() copy=()
  for _ in $(seq "$reps"); do
    cold; b=$(boot_id); t0=$EPOCHREALTIME
    virsh -q destroy "$name" >/dev/null; virsh -q start "$name" >/dev/null
    ctl+=("$(first_write "$b" "$t0")")

    cold; b=$(boot_id); t0=$EPOCHREALTIME
    rb=$(api POST /v3/os-instant-rollbacks \
      "{\"rollback\":{\"server_id\":\"$uuid\",\"snapshot_id\":\"$target\",\"switch\":\"auto\"}}" |
      field '["rollback"]["id"]')
    inst+=("$(first_write "$b" "$t0")")
    check_resume "instant rollback"
    wait_status "/v3/os-instant-rollbacks/$rb" '["rollback"]["phase"]' done 600
    copy+=("$(api GET "/v3/os-instant-rollbacks/$rb" | field '["rollback"]["copy_seconds"]')")

    # A snapshot after the target first: back to the volume's latest
    # snapshot a rebuild only puts a new top on the history already there
    # (docs/engine.md).
    later=$(api POST "/v2.1/servers/$uuid/action" '{"createImage":{"name":"later"}}' | field '["image_id"]')
    wait_status "/v3/snapshots/$later" '["snapshot"]["status"]' available 600
    cold; b=$(boot_id); t0=$EPOCHREALTIME
    api POST "/v2.1/servers/$uuid/action" "{\"rebuild\":{\"imageRef\":\"$target\"}}" >/dev/null ||
      die "rebuild refused"
    norm+=("$(first_write "$b" "$t0")")
    check_resume "rebuild"
    wait_status "/v3/volumes/$vol" '["volume"]["status"]' in-use 600
  done
  c=$(median "${ctl[@]}") i=$(median "${inst[@]}") n=$(median "${norm[@]}")
  printf '%-6s %-10s %-10s %-10s %-10s %-10s %-12s %-10s\n' "${g}G" "$((2 * part))M" \
    "${c}s" "${i}s" "${n}s" "$(median "${copy[@]}")s" \
    "$(python3 -c "print(f'{$i - $c:+.2f}s')")" "$(python3 -c "print(f'{$n / $i:.2f}x')")"
  virsh -q destroy "$name" >/dev/null 2>&1 || true
done
# VERBOSE=1: what stratad said of each rollback.
[[ -n ${VERBOSE:-} ]] && grep -E "reverted to|instant rollback " "$T/stratad.log" >&2
echo "control: the domain powered off and started again, nothing rolled back (this machine's TCG boot to the first write)"
echo "instant: POST /v3/os-instant-rollbacks (switch auto); normal: Nova's rebuild; copy: the instant rollback's background build of the disk's chain"
