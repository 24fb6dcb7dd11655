#!/usr/bin/env bash
# Overlay layouts (issue 17): what each qcow2 layout Strata could give the
# overlays it creates costs the guest, and how much of what it holds is
# data. The anchor is qemu's default layout (64 KiB clusters), measured in
# the same run, side by side, and every figure is printed as a ratio to it.
#
# For each layout, on an overlay of a 1 GiB qcow2 base full of data (the
# chain a VM runs on after a snapshot), with qemu-img bench (O_DIRECT,
# queue depth 16; a VM's virtio-blk goes through the same block layer):
#   - 4 KiB random first writes (IOPS), SIZE_MIB of them in all; then the
#     layer's file: its size, the bytes its data extents hold (SEEK_DATA:
#     what a sparse-aware store keeps) and both divided by what was written;
#   - 4 KiB random reads over the whole disk (IOPS), half from the overlay;
#   - 1 MiB sequential first writes, then reads, of SEQ_MIB (MB/s) on a
#     fresh overlay.
# The control row "base" reads the base directly (no overlay): the machine's
# own limit for reads. Medians of REPS runs.
#   bench/overlay_layout_bench.sh [SIZE_MIB]     (default 64)
# Environment: SEQ_MIB (default 512), REPS (default 5), DIR (default
# /var/tmp), BASE (full or empty, default full), RESERVE_MIB (default 256).
set -euo pipefail
size_mib=${1:-64}
reps=${REPS:-5}
seq_mib=${SEQ_MIB:-512}
for tool in qemu-img qemu-io python3; do
  command -v "$tool" >/dev/null || { echo "overlay_layout_bench: $tool is missing" >&2; exit 77; }
done
work=$(mktemp -d "${DIR:-/var/tmp}/strata-layout-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT
cd "$work"

# name:qemu-img -o options
# A name ending in "+res" also gets RESERVE_MIB (default 256) reserved past
# the file's end, as Strata's overlays do (util/space_reserve.h).
layouts=("default:" "c4k:cluster_size=4096" "sub64k:extended_l2=on"
  "sub128k:extended_l2=on,cluster_size=131072" "sub64k+res:extended_l2=on")
disk=$((1024 << 20))
qemu-img create -q -f qcow2 base.qcow2 $disk
# BASE=empty: a base with no data at all (the writes land where the chain
# below holds nothing: qemu's layout then fills each cluster's rest with one
# zero range, a subcluster write leaves it a hole).
[ "${BASE:-full}" = empty ] ||
  qemu-io -c "write -P 0x5a 0 $disk" base.qcow2 >/dev/null

# bench ARGS…: the seconds qemu-img bench took.
bench() {
  qemu-img bench -f qcow2 -t none -d 16 "$@" 2>&1 |
    sed -n 's/^Run completed in \([0-9.]*\) seconds.*/\1/p'
}
# overlay NAME OPTIONS: a fresh overlay of base.qcow2 named NAME.qcow2.
overlay() {
  rm -f "$1.qcow2"
  qemu-img create -q -f qcow2 -F qcow2 -b base.qcow2 ${2:+-o "$2"} "$1.qcow2" $disk
  case $1 in *+res)
    fallocate -n -o "$(stat -c %s "$1.qcow2")" -l $((${RESERVE_MIB:-256} << 20)) "$1.qcow2" ;;
  esac
}
# extents FILE: "apparent data" bytes.
extents() {
  python3 - "$1" <<'PY'
import os, sys
fd = os.open(sys.argv[1], os.O_RDONLY)
size, pos, data = os.fstat(fd).st_size, 0, 0
while pos < size:
    try:
        d = os.lseek(fd, pos, os.SEEK_DATA)
    except OSError:
        break
    h = os.lseek(fd, d, os.SEEK_HOLE)
    data, pos = data + h - d, h
print(size, data)
PY
}
median() { tr ' ' '\n' | grep . | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

count4k=$((size_mib * 256))
count1m=$seq_mib
# Strides that visit 4 KiB slots in a scattered order (odd multiples of
# 4 KiB, prime: no slot twice within a run).
wstep=$((4096 * 7919))
rstep=$((4096 * 104729))
declare -A W R SW SR FILE DATA
# Reps outermost: each rep measures every layout in turn, so a drift of the
# machine (page cache, the host) spreads over all of them alike.
for _ in $(seq "$reps"); do
  for l in "${layouts[@]}"; do
    name=${l%%:*} opts=${l#*:}
    overlay "$name" "$opts"
    W[$name]+=" $(bench -w -s 4k -S $wstep -c $count4k "$name.qcow2")"
    read -r FILE[$name] DATA[$name] < <(extents "$name.qcow2")
    R[$name]+=" $(bench -s 4k -S $rstep -c $((count4k * 2)) "$name.qcow2")"
    overlay "$name" "$opts"
    SW[$name]+=" $(bench -w -s 1M -S 1M -c $count1m "$name.qcow2")"
    SR[$name]+=" $(bench -s 1M -S 1M -c $count1m "$name.qcow2")"
  done
done
for l in "${layouts[@]}"; do
  name=${l%%:*}
  W[$name]=$(median <<<"${W[$name]}") R[$name]=$(median <<<"${R[$name]}")
  SW[$name]=$(median <<<"${SW[$name]}") SR[$name]=$(median <<<"${SR[$name]}")
done
br="" bsr=""
for _ in $(seq "$reps"); do
  br+=" $(bench -s 4k -S $rstep -c $((count4k * 2)) base.qcow2)"
  bsr+=" $(bench -s 1M -S 1M -c $count1m base.qcow2)"
done
BR=$(median <<<"$br") BSR=$(median <<<"$bsr")

written=$((count4k * 4096))
echo "Overlay layouts: ${size_mib} MiB of 4 KiB random first writes, ${seq_mib} MiB sequential; median of $reps; ratios to qemu's default layout"
printf '%-10s %12s %7s %12s %7s %10s %7s %10s %7s %13s %13s\n' layout 4k-write-iops ratio 4k-read-iops ratio 1m-write-MB/s ratio 1m-read-MB/s ratio file/written data/written
for l in "${layouts[@]}"; do
  n=${l%%:*}
  python3 - "$n" "${W[$n]}" "${W[default]}" "${R[$n]}" "${R[default]}" "${SW[$n]}" "${SW[default]}" "${SR[$n]}" "${SR[default]}" "${FILE[$n]}" "${DATA[$n]}" "$written" "$count4k" "$count1m" <<'PY'
import sys
n = sys.argv[1]
w, w0, r, r0, sw, sw0, sr, sr0 = map(float, sys.argv[2:10])
f, d, written, c4, c1 = map(float, sys.argv[10:15])
iops = lambda t, c: c / t
mbs = lambda t: c1 * 1.048576 / t
print(f"{n:<10} {iops(w, c4):12.0f} {w0 / w:7.2f} {iops(r, 2 * c4):12.0f} {r0 / r:7.2f} "
      f"{mbs(sw):10.0f} {sw0 / sw:7.2f} {mbs(sr):10.0f} {sr0 / sr:7.2f} "
      f"{f / written:13.2f} {d / written:13.2f}")
PY
done
python3 - "$BR" "$BSR" "$count4k" "$count1m" <<'PY'
import sys
br, bsr, c4, c1 = map(float, sys.argv[1:5])
print(f"control: the base alone (no overlay): 4 KiB random reads {2 * c4 / br:.0f} IOPS, 1 MiB sequential reads {c1 * 1.048576 / bsr:.0f} MB/s")
PY
