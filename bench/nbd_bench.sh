#!/usr/bin/env bash
# NBD export throughput (issue 6): fio's nbd engine (Debian fio, libnbd)
# against Strata's export of a raw file and against qemu-nbd serving the
# same file, side by side: 4 KiB random writes (IOPS) and 1 MiB sequential
# writes (MB/s). Each run is fio for RUNTIME seconds, one job, one
# connection; the medians of REPS runs are printed.
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
for tool in fio qemu-nbd python3; do
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

start_strata() {
  local port
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  "$stratad" --listen "127.0.0.1:$port" --state-dir "$work/var" --libvirt-uri none \
    --nbd-export "b=file:$disk" >"$work/stratad.out" 2>"$work/stratad.log" &
  server_pid=$!
  sock=$work/var/nbd/b.sock
  for _ in $(seq 100); do [[ -S $sock ]] && grep -q ready "$work/stratad.out" && return 0; sleep 0.1; done
  echo "nbd_bench: stratad did not start: $(tail -3 "$work/stratad.log")" >&2; exit 1
}
start_qemu_nbd() {
  sock=$work/qemu-nbd.sock
  rm -f "$sock"
  qemu-nbd -f raw --persistent --shared=4 --cache=writeback -x b -k "$sock" "$disk" &
  server_pid=$!
  for _ in $(seq 100); do [[ -S $sock ]] && return 0; sleep 0.1; done
  echo "nbd_bench: qemu-nbd did not start" >&2; exit 1
}

# run_fio RW BS: prints "iops bw_bytes_per_s" of one fio run on $sock (the
# nbd engine prints a line of its own before the JSON).
run_fio() {
  fio --name=bench --ioengine=nbd --uri="nbd+unix:///b?socket=$sock" \
    --rw="$1" --bs="$2" --iodepth="$iodepth" --size="${size_mib}M" \
    --time_based --runtime="$runtime" --output-format=json 2>/dev/null |
    python3 -c 'import json,sys; t=sys.stdin.read(); w=json.loads(t[t.index("{"):])["jobs"][0]["write"]; print(w["iops"], w["bw_bytes"])'
}
median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

declare -A result
for server in strata qemu-nbd; do
  for workload in "randwrite 4k" "write 1M"; do
    set -- $workload
    iops=() bw=()
    for _ in $(seq "$reps"); do
      if [[ $server == strata ]]; then start_strata; else start_qemu_nbd; fi
      read -r i b < <(run_fio "$1" "$2")
      stop_server
      iops+=("$i") bw+=("$b")
    done
    result[$server,$1,iops]=$(printf '%s\n' "${iops[@]}" | median)
    result[$server,$1,mbs]=$(printf '%s\n' "${bw[@]}" | median | awk '{printf "%.1f", $1 / 1e6}')
  done
done

printf '\nNBD export, %d MiB raw file in %s, fio nbd engine, iodepth %d, %d s, median of %d\n\n' \
  "$size_mib" "${DIR:-/var/tmp}" "$iodepth" "$runtime" "$reps"
printf '| workload | Strata | qemu-nbd | Strata / qemu-nbd |\n|---|---|---|---|\n'
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }'; }
printf '| 4 KiB random write, IOPS | %.0f | %.0f | %s |\n' \
  "${result[strata,randwrite,iops]}" "${result[qemu-nbd,randwrite,iops]}" \
  "$(ratio "${result[strata,randwrite,iops]}" "${result[qemu-nbd,randwrite,iops]}")"
printf '| 1 MiB sequential write, MB/s | %s | %s | %s |\n' \
  "${result[strata,write,mbs]}" "${result[qemu-nbd,write,mbs]}" \
  "$(ratio "${result[strata,write,mbs]}" "${result[qemu-nbd,write,mbs]}")"
