#!/usr/bin/env bash
# NBD export throughput (issue 6): fio's nbd engine (Debian fio, libnbd)
# against Strata's export of a raw file and against qemu-nbd serving the
# same file, side by side: 4 KiB random writes (IOPS) and 1 MiB sequential
# writes (MB/s), Strata with the cache off, with the cache on (bypass) and
# with it redirecting. Each run is fio for at most RUNTIME seconds or twice
# the disk's size written, one job, one connection; the medians of REPS runs
# are printed. Then the snapshot crossing: 4 KiB random writes for 12 s with
# the cache redirecting from 3 s to 6 s and draining after, against the same
# run with no redirect: the longest write latency fio saw, and the drain's
# final pause against its configured bound.
# Then the same on a qcow2 disk, as a VM's disk reaches it through Strata:
# qemu-storage-daemon serving the qcow2 (the anchor) next to Strata's
# "qcow2:" export (its own qemu-storage-daemon behind it), cache off and on;
# and a real snapshot through the Cinder API while fio writes: the longest
# write latency, the snapshot's duration, and the drain's final pause.
#   bench/nbd_bench.sh [SIZE_MIB]          (default 1024)
# Environment: STRATAD (default build/stratad), RUNTIME (default 10), REPS
# (default 3), IODEPTH (default 16), DIR (default /var/tmp).
# Goal (issue 6): Strata ≥ 0.9× qemu-nbd.
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
stratad=${STRATAD:-$src/build/stratad}
size_mib=${1:-1024}
runtime=${RUNTIME:-10}
reps=${REPS:-3}
iodepth=${IODEPTH:-16}
for tool in fio qemu-nbd qemu-storage-daemon qemu-img python3 curl; do
  command -v "$tool" >/dev/null || { echo "nbd_bench: $tool is missing" >&2; exit 77; }
done
[[ -x $stratad ]] || { echo "nbd_bench: no $stratad (build first)" >&2; exit 1; }
fio --enghelp 2>/dev/null | grep -qw nbd ||
  { echo "nbd_bench: this fio has no nbd engine" >&2; exit 77; }

work=$(mktemp -d "${DIR:-/var/tmp}/strata-nbd-bench.XXXXXX")
server_pid=""
stop_server() {
  [[ -n $server_pid ]] && { kill "$server_pid" 2>/dev/null; wait "$server_pid" 2>/dev/null || true; }
  server_pid=""
}
trap 'stop_server; rm -rf "$work"' EXIT
disk=$work/disk.raw
# Allocated, so neither server pays for first writes to holes.
fallocate -l "${size_mib}M" "$disk"

# start_strata [off|on|redirect] [BACKEND]: the cache off, on (bypass), or
# redirecting, over BACKEND (default the raw file).
start_strata() {
  local mode=${1:-off} backend=${2:-file:$disk}
  api_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  rm -f "$work/var/nbd/b.cache"
  "$stratad" --listen "127.0.0.1:$api_port" --state-dir "$work/var" --libvirt-uri none \
    --nbd-export "b=$backend" --nbd-cache "$([[ $mode == off ]] && echo off || echo on)" \
    >"$work/stratad.out" 2>"$work/stratad.log" &
  server_pid=$!
  sock=$work/var/nbd/b.sock
  for _ in $(seq 100); do [[ -S $sock ]] && grep -q ready "$work/stratad.out" && break; sleep 0.1; done
  grep -q ready "$work/stratad.out" ||
    { echo "nbd_bench: stratad did not start: $(tail -3 "$work/stratad.log")" >&2; exit 1; }
  [[ $mode == redirect ]] && cache_action '{"os-redirect": {"expected_seconds": 10}}'
  return 0
}
cache_action() {
  curl -sf -o /dev/null -X POST -H "Content-Type: application/json" -d "$1" \
    "http://127.0.0.1:$api_port/strata/v1/nbd-exports/b/action" ||
    { echo "nbd_bench: cache action $1 failed" >&2; exit 1; }
}
cache_field() {
  curl -sf "http://127.0.0.1:$api_port/strata/v1/nbd-exports" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["nbd_exports"][0]["cache"][sys.argv[1]])' "$1"
}
start_qsd() {  # qemu-storage-daemon serving the qcow2 disk
  sock=$work/qsd.sock
  rm -f "$sock"
  qemu-storage-daemon \
    --blockdev "{\"driver\":\"qcow2\",\"node-name\":\"d\",\"file\":{\"driver\":\"file\",\"filename\":\"$qdisk\"}}" \
    --nbd-server "addr.type=unix,addr.path=$sock" \
    --export type=nbd,id=e,node-name=d,name=b,writable=on &
  server_pid=$!
  for _ in $(seq 100); do [[ -S $sock ]] && return 0; sleep 0.1; done
  echo "nbd_bench: qemu-storage-daemon did not start" >&2; exit 1
}
start_qemu_nbd() {
  sock=$work/qemu-nbd.sock
  rm -f "$sock"
  qemu-nbd -f raw --persistent --shared=4 --cache=writeback -x b -k "$sock" "$disk" &
  server_pid=$!
  for _ in $(seq 100); do [[ -S $sock ]] && return 0; sleep 0.1; done
  echo "nbd_bench: qemu-nbd did not start" >&2; exit 1
}

# run_fio RW BS [fio args…]: prints "iops bw_bytes_per_s max_clat_ms" of one
# fio run on $sock (the nbd engine prints a line of its own before the JSON).
run_fio() {
  local rw=$1 bs=$2; shift 2
  fio --name=bench --ioengine=nbd --uri="nbd+unix:///b?socket=$sock" \
    --rw="$rw" --bs="$bs" --iodepth="$iodepth" --size="${size_mib}M" \
    --io_size="$((2 * size_mib))M" --runtime="$runtime" "$@" \
    --output-format=json 2>/dev/null |
    python3 -c 'import json,sys; t=sys.stdin.read(); w=json.loads(t[t.index("{"):])["jobs"][0]["write"]; print(w["iops"], w["bw_bytes"], w["clat_ns"]["max"] / 1e6)'
}
median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

qdisk=$work/var/disks/disk.qcow2
mkdir -p "$work/var/disks"
qemu-img create -q -f qcow2 -o preallocation=falloc "$qdisk" "${size_mib}M"

declare -A result
for server in strata cache-bypass cache-redirect qemu-nbd qsd qcow2 qcow2-cache; do
  for workload in "randwrite 4k" "write 1M"; do
    set -- $workload
    iops=() bw=()
    for _ in $(seq "$reps"); do
      case $server in
        strata) start_strata off ;;
        cache-bypass) start_strata on ;;
        cache-redirect) start_strata redirect ;;
        qemu-nbd) start_qemu_nbd ;;
        qsd) start_qsd ;;
        qcow2) start_strata off "qcow2:$qdisk" ;;
        qcow2-cache) start_strata on "qcow2:$qdisk" ;;
      esac
      read -r i b _ < <(run_fio "$1" "$2")
      stop_server
      iops+=("$i") bw+=("$b")
    done
    result[$server,$1,iops]=$(printf '%s\n' "${iops[@]}" | median)
    result[$server,$1,mbs]=$(printf '%s\n' "${bw[@]}" | median | awk '{printf "%.1f", $1 / 1e6}')
  done
done

# The snapshot crossing: redirect at 3 s, drain at 6 s, in a 12 s run.
crossing() {  # with_redirect: 1 or 0; prints "max_clat_ms pause_ms"
  start_strata on
  if [[ $1 == 1 ]]; then
    ( sleep 3; cache_action '{"os-redirect": {"expected_seconds": 3}}'
      sleep 3; cache_action '{"os-drain": {}}' ) &
    local driver=$!
  fi
  read -r _ _ lat < <(run_fio randwrite 4k --time_based --runtime=12 --io_size=64G)
  local pause=0
  if [[ $1 == 1 ]]; then
    wait "$driver"
    # The drain may still run when fio stops: writes kept coming.
    for _ in $(seq 600); do [[ $(cache_field state) == bypass ]] && break; sleep 0.1; done
    [[ $(cache_field state) == bypass ]] || { echo "nbd_bench: the drain did not end" >&2; exit 1; }
    grep -oE "(final stretch|drained;).*" "$work/stratad.log" >&2
    pause=$(cache_field last_pause_ms)
  fi
  stop_server
  echo "$lat $pause"
}
# In this shell, not a subshell: its server must be stopped by the trap
# if anything fails.
crossing 0 >"$work/crossing0"
crossing 1 >"$work/crossing1"
read -r base_lat _ <"$work/crossing0"
read -r snap_lat pause <"$work/crossing1"

# A real snapshot of the qcow2 disk through the Cinder API at 3 s of a 12 s
# run: redirect, chain released, cut + upload + merge, chain back, drain.
snapshot_crossing() {  # prints "max_clat_ms pause_ms snapshot_seconds"
  start_strata on "qcow2:$qdisk"
  local api="http://127.0.0.1:$api_port" vid
  vid=$(curl -sf -H "X-Auth-Token: admin:admin" "$api/v3/volumes" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["volumes"][0]["id"])')
  ( sleep 3
    curl -sf -o "$work/snap.json" -H "X-Auth-Token: admin:admin" -H "Content-Type: application/json" \
      -d "{\"snapshot\":{\"volume_id\":\"$vid\",\"name\":\"bench\"}}" "$api/v3/snapshots" ) &
  local driver=$!
  read -r _ _ lat < <(run_fio randwrite 4k --time_based --runtime=12 --io_size=64G)
  wait "$driver"
  local sid st=""
  sid=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["snapshot"]["id"])' "$work/snap.json")
  for _ in $(seq 1200); do
    st=$(curl -sf -H "X-Auth-Token: admin:admin" "$api/v3/snapshots/$sid" |
      python3 -c 'import json,sys; print(json.load(sys.stdin)["snapshot"]["status"])')
    [[ $st == available || $st == error ]] && break; sleep 0.1
  done
  [[ $st == available ]] || { echo "nbd_bench: the snapshot ended $st" >&2; exit 1; }
  for _ in $(seq 600); do [[ $(cache_field state) == bypass ]] && break; sleep 0.1; done
  [[ $(cache_field state) == bypass ]] || { echo "nbd_bench: the drain did not end" >&2; exit 1; }
  local secs
  secs=$(curl -sf -H "X-Auth-Token: admin:admin" "$api/v3/snapshots/$sid" | python3 -c '
import json,sys,datetime as d
s=json.load(sys.stdin)["snapshot"]; f="%Y-%m-%dT%H:%M:%S.%f"
print("%.2f" % (d.datetime.strptime(s["updated_at"], f) - d.datetime.strptime(s["created_at"], f)).total_seconds())')
  echo "$lat $(cache_field last_pause_ms) $secs"
  stop_server
}
snapshot_crossing >"$work/crossing2"
read -r q_lat q_pause q_secs <"$work/crossing2"
printf '\nNBD export, %d MiB raw file in %s, fio nbd engine, iodepth %d, %d s, median of %d\n\n' \
  "$size_mib" "${DIR:-/var/tmp}" "$iodepth" "$runtime" "$reps"
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }'; }
printf '| workload | qemu-nbd | Strata, no cache | Strata, cache bypassed | Strata, cache redirecting |\n|---|---|---|---|---|\n'
row() {  # LABEL KEY FIELD FORMAT ANCHOR SERVER…: each server next to the anchor
  local label=$1 key=$2 field=$3 fmt=$4 anchor=$5; shift 5
  local q=${result[$anchor,$key,$field]}
  printf "| %s | $fmt |" "$label" "$q"
  for s in "$@"; do
    local v=${result[$s,$key,$field]}
    printf " $fmt (%s×) |" "$v" "$(ratio "$v" "$q")"
  done
  printf '\n'
}
raw_servers=(qemu-nbd strata cache-bypass cache-redirect)
row "4 KiB random write, IOPS" randwrite iops "%.0f" "${raw_servers[@]}"
row "1 MiB sequential write, MB/s" write mbs "%s" "${raw_servers[@]}"
printf '\nAcross a snapshot (4 KiB random writes, 12 s; redirect 3 s → 6 s, then drain):\n\n'
printf '| | longest write latency (ms) |\n|---|---|\n'
printf '| no snapshot | %.1f |\n| redirect and drain | %.1f |\n' "$base_lat" "$snap_lat"
printf '\nFinal drain pause: %.1f ms (policy: block when under 1 MiB or 20 ms is left)\n' "$pause"

printf '\nqcow2 disk (%d MiB, preallocated), as a VM reaches it through Strata:\n\n' "$size_mib"
printf '| workload | qemu-storage-daemon | Strata qcow2:, no cache | Strata qcow2:, cache bypassed |\n|---|---|---|---|\n'
row "4 KiB random write, IOPS" randwrite iops "%.0f" qsd qcow2 qcow2-cache
row "1 MiB sequential write, MB/s" write mbs "%s" qsd qcow2 qcow2-cache
printf '\nA real snapshot (Cinder API) at 3 s of 12 s of 4 KiB random writes:\n'
printf 'longest write latency %.1f ms (%.1f ms with no snapshot, raw file above); snapshot %s s; final drain pause %.1f ms\n' \
  "$q_lat" "$base_lat" "$q_secs" "$q_pause"
