#!/usr/bin/env bash
# Strata's main job, shown against a running stratad (default
# http://127.0.0.1:8786, state dir ./var): boots the test guest under
# libvirt with its disk in the state dir, takes live snapshots through the
# Cinder API while the guest writes checksummed records, stops the guest,
# reverts its disk to the second snapshot, and proves with verify-records
# that the disk holds exactly the records up to that moment, none torn.
# Then the same job in the dashboard, driven by headless Chromium when it is
# installed (scripts/install-deps.sh --browser): the guest started again,
# found on the servers page, snapshotted, rolled back instantly to snapshot
# 3 (a later point of the tree) from the confirm page, and its log shown to
# resume at that point; screenshots in STATE_DIR/demo/dashboard/.
#   scripts/demo.sh [URL] [STATE_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
url=${1:-http://127.0.0.1:8786}
state=$(realpath -m "${2:-./var}")
work=$state/demo
name=strata-demo
say() { printf '\033[1mdemo:\033[0m %s\n' "$*"; }
api() {  # api METHOD PATH [JSON] → body on stdout
  curl -sf -X "$1" -H 'X-Auth-Token: admin:admin' -H 'Content-Type: application/json' \
    -H 'OpenStack-API-Version: volume 3.40' -H 'X-Strata-Details: true' ${3:+--data-binary "$3"} "$url$2"
}
field() { python3 -c 'import json,sys; print(eval("j"+sys.argv[1], {"j": json.load(sys.stdin)}))' "$1"; }
last_rec() {
  { grep -a '^REC [0-9]*' "$work/console.log" 2>/dev/null || true; } | tail -1 | tr -dc '0-9\n' |
    awk 'END { print $1 + 0 }'
}
# The console file starts over at each start of the domain; its RECWRITER
# START line gives the boot's id and the record its log resumed at.
boot_line() { { grep -a '^RECWRITER START' "$work/console.log" 2>/dev/null || true; } | tail -1; }
boot_id() { boot_line | sed -n 's/.*boot_id=\([0-9a-f]*\).*/\1/p'; }
resumed_at() { boot_line | sed -n 's/.* next=\([0-9]*\).*/\1/p'; }

for _ in $(seq 100); do curl -sf -o /dev/null "$url/v3/" && break; sleep 0.1; done
curl -sf -o /dev/null "$url/v3/" || { say "no stratad answers at $url"; exit 1; }
virsh -q destroy "$name" >/dev/null 2>&1 || true
virsh -q undefine "$name" >/dev/null 2>&1 || true
mkdir -p "$work" "$state/disks"
chmod 711 "$state" "$state/disks" "$work"   # qemu runs as libvirt-qemu
# Each run adopts its own disk (earlier demos' volumes and snapshots stay,
# like any other; delete them through the API when done).
run_id=$(date +%Y%m%d-%H%M%S)
disk=$state/disks/demo-guest-$run_id.qcow2

scripts/build-test-guest.sh "$work/guest" >/dev/null
scripts/start-libvirt.sh
qemu-img create -q -f qcow2 "$disk" 1G
scripts/render-test-domain.sh "$name" "$(cat /proc/sys/kernel/random/uuid)" "$disk" \
  "$work/console.log" "$work/guest" "recwriter.interval_ms=5" >"$work/domain.xml"
say "booting the test guest (TCG) with its disk at $disk"
# Defined, as Nova's servers are: an instant rollback restarts it.
virsh -q define "$work/domain.xml" >/dev/null
virsh -q start "$name" >/dev/null
for _ in $(seq 600); do [[ $(last_rec) -ge 20 ]] && break; sleep 0.1; done
say "guest is writing records (last reported: $(last_rec))"
vol=$(api POST /v3/os-volume-manage \
  "{\"volume\":{\"host\":\"$(hostname)@strata#strata\",\"ref\":{\"source-name\":\"$disk\"},\"name\":\"demo-guest-$run_id\"}}" |
  field '["volume"]["id"]')
say "adopted the running guest's disk as volume $vol (status in-use)"

# Cinder's default quotas (10 snapshots a project) would end the demo after
# a few runs, as earlier runs' snapshots stay: the demo's project has none.
api PUT /v3/admin/os-quota-sets/admin \
  '{"quota_set":{"volumes":-1,"snapshots":-1,"gigabytes":-1}}' >/dev/null
declare -a ids lo hi
for i in 1 2 3; do
  lo[$i]=$(last_rec)
  id=$(api POST /v3/snapshots "{\"snapshot\":{\"volume_id\":\"$vol\",\"name\":\"demo-$i\"}}" | field '["snapshot"]["id"]')
  for _ in $(seq 600); do
    st=$(api GET "/v3/snapshots/$id" | field '["snapshot"]["status"]')
    [[ $st == available || $st == error ]] && break; sleep 0.1
  done
  [[ $st == available ]] || { say "snapshot $i ended in $st"; exit 1; }
  ids[$i]=$id
  hi[$i]=$(last_rec)
  bytes=$(api GET "/v3/snapshots/$id" | field '["snapshot"]["os-strata:stored_bytes"]')
  say "live snapshot $i: $id stored ($bytes bytes, only the writes since the last one); guest still $(virsh domstate $name)"
  sleep 2
done
say "chain now: $(qemu-img info -U --backing-chain "$disk" | grep '^image:' | sed 's|image: .*/||' | tr '\n' ' ')"

virsh -q destroy "$name"
say "guest stopped after record $(last_rec); reverting its disk to snapshot 2"
api POST "/v3/volumes/$vol/action" "{\"revert\":{\"snapshot_id\":\"${ids[2]}\"}}" >/dev/null
for _ in $(seq 600); do
  [[ $(api GET "/v3/volumes/$vol" | field '["volume"]["status"]') != reverting ]] && break; sleep 0.1
done
qemu-img convert -O raw "$disk" "$work/disk.raw"
result=$("$work/guest/verify-records" --min-last "${lo[2]}" "$work/disk.raw")
rm -f "$work/disk.raw"
say "verify-records: $result"
say "the disk holds exactly records 1..$(field '["last"]' <<<"$result"), none torn: snapshot 2 was taken after record ${lo[2]}"

# ---- the same job in the dashboard ----
if ! [[ -x /usr/bin/chromium && -x /usr/bin/chromedriver ]] ||
   ! /usr/bin/python3 -c 'import selenium' 2>/dev/null; then
  say "the dashboard part needs chromium, chromium-driver and python3-selenium (scripts/install-deps.sh --browser); open $url/dashboard/ to see the volume $vol and its points"
  exit 0
fi
shots=$work/dashboard
rm -rf "$shots"; mkdir -p "$shots"
boot0=$(boot_id)
virsh -q start "$name" >/dev/null
for _ in $(seq 600); do
  b=$(boot_id); [[ -n $b && $b != "$boot0" && $(last_rec) -ge $(( $(resumed_at) + 20 )) ]] && break
  sleep 0.1
done
say "in the dashboard ($url/dashboard/, headless Chromium): the guest runs again from snapshot 2's data (its log resumed at record $(resumed_at)); now: find it on the servers page, take a snapshot, choose Rollback, then snapshot 3, confirm the instant rollback"
boot1=$(boot_id)
uuid=$(virsh domuuid "$name"); uuid=${uuid%%$'\n'*}
/usr/bin/python3 tests/dashboard/server_flow.py "$url" "$uuid" "${ids[3]}" "$shots" >"$work/flow.json" 2>"$work/flow.err" ||
  { say "the dashboard flow failed: $(grep -v '^#[0-9]' "$work/flow.err" | tail -3)"; exit 1; }
for _ in $(seq 600); do
  b=$(boot_id); [[ -n $b && $b != "$boot1" && $(last_rec) -ge $(( $(resumed_at) + 20 )) ]] && break
  sleep 0.1
done
k=$(( $(resumed_at) - 1 ))
if (( ${lo[3]} <= k && k <= ${hi[3]} )); then
  say "the guest runs snapshot 3's data: after the instant rollback its log resumed after record $k (snapshot 3 was taken between records ${lo[3]} and ${hi[3]}); $(ls "$shots" | wc -l) screenshots in $shots"
else
  say "after the instant rollback the log resumed after record $k, not within snapshot 3's ${lo[3]}..${hi[3]}"
  exit 1
fi
virsh -q destroy "$name"
say "guest stopped; its volume $vol, its points and the tasks stay in the dashboard"
