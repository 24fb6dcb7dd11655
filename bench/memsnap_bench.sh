#!/usr/bin/env bash
# Memory snapshots (issue 21), Strata's region against libvirt's own, on the
# test guest under TCG, side by side in one run:
#   - Strata: engine TakeMemorySnapshot into a fresh region file
#     (build/tests/memsnap_take): apparent and allocated size, time from
#     the request to the region complete, how long after QEMU completed the
#     VM ran again, QEMU's reported downtime;
#   - virsh snapshot-create-as --memspec … --live (a live external
#     snapshot with memory; the anchor for size and time while running);
#   - virsh save (the VM stops): size and time;
#   - restore: the region alone (it keeps libvirt's save header) read back
#     into a FIFO as virsh restore reads it, against virsh restore of the
#     save file.
# Each row is one guest size; the guest only runs its record writer (no
# memory dirtier yet: the dirty-rate rows come with it). Ratios are
# Strata / anchor.
#   bench/memsnap_bench.sh [SIZES_MIB...]   (default: 256 512)
set -euo pipefail
cd "$(dirname "$0")/.."
take=build/tests/memsnap_take rebuild=build/tests/memstream_rebuild
[[ -x $take && -x $rebuild ]] || { echo "build first (scripts/build.sh)" >&2; exit 2; }
sizes=("$@"); [[ ${#sizes[@]} -gt 0 ]] || sizes=(256 512)
scripts/start-libvirt.sh >/dev/null
w=$(mktemp -d /var/tmp/strata-memsnap-bench.XXXXXX)
chmod 711 "$w"
name=strata-memsnap-bench-$$
trap 'virsh -q destroy "$name" >/dev/null 2>&1 || true; rm -rf "$w"' EXIT
scripts/build-test-guest.sh "$w/guest" >/dev/null
ms() { date +%s%N; }
boot() {  # boot SIZE_MIB: a fresh guest writing records
  virsh -q destroy "$name" >/dev/null 2>&1 || true
  rm -f "$w/disk.qcow2" "$w/console.log"
  qemu-img create -q -f qcow2 "$w/disk.qcow2" 1G
  scripts/render-test-domain.sh "$name" "$(cat /proc/sys/kernel/random/uuid)" \
    "$w/disk.qcow2" "$w/console.log" "$w/guest" "recwriter.interval_ms=5" |
    sed "s|<memory unit='MiB'>[0-9]*</memory>|<memory unit='MiB'>$1</memory>|" >"$w/domain.xml"
  grep -q "<memory unit='MiB'>$1</memory>" "$w/domain.xml" ||
    { echo "render-test-domain.sh's memory line changed" >&2; exit 1; }
  virsh -q create "$w/domain.xml" >/dev/null
  for _ in $(seq 600); do grep -aq '^REC 20' "$w/console.log" 2>/dev/null && return 0; sleep 0.1; done
  echo "the guest did not boot" >&2; exit 1
}
alloc() { echo $(( $(stat -c %b "$1") * $(stat -c %B "$1") )); }
mib() { awk -v b="$1" 'BEGIN { printf "%.1f", b / 1048576 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }'; }

printf '%-6s | %-34s | %-34s | %-22s | %-30s\n' "RAM" \
  "Strata region: apparent/alloc MiB, ms" "live --memspec: MiB, ms (ratio)" \
  "virsh save: MiB, ms" "restore ms: Strata / virsh (ratio)"
for size in "${sizes[@]}"; do
  # Strata, on a running guest.
  boot "$size"
  t0=$(ms); "$take" qemu:///system "$name" "$w/region.img" >"$w/take.json"; t1=$(ms)
  s_ms=$(( (t1 - t0) / 1000000 ))
  s_app=$(stat -c %s "$w/region.img"); s_alloc=$(alloc "$w/region.img")
  resume=$(python3 -c 'import json,sys; print(round(json.load(open(sys.argv[1]))["resume_ms"], 1))' "$w/take.json")
  # libvirt's live snapshot with memory, same guest, running.
  t0=$(ms)
  virsh -q snapshot-create-as "$name" bench --no-metadata --live --atomic \
    --memspec "file=$w/mem.img,snapshot=external" \
    --diskspec "vda,snapshot=external,file=$w/overlay.qcow2" >/dev/null
  t1=$(ms); m_ms=$(( (t1 - t0) / 1000000 )); m_size=$(stat -c %s "$w/mem.img")
  # virsh save: the anchor for restore (the VM stops).
  t0=$(ms); virsh -q save "$name" "$w/save.img" >/dev/null; t1=$(ms)
  v_ms=$(( (t1 - t0) / 1000000 )); v_size=$(stat -c %s "$w/save.img")
  # Restore: virsh's own file, then Strata's region behind the same header.
  t0=$(ms); virsh -q restore "$w/save.img" >/dev/null; t1=$(ms)
  vr_ms=$(( (t1 - t0) / 1000000 ))
  virsh -q destroy "$name" >/dev/null
  rm -f "$w/restore.fifo"; mkfifo -m 0600 "$w/restore.fifo"
  t0=$(ms)
  "$rebuild" --restore-image "$w/region.img" "$w/restore.fifo" &
  timeout 300 virsh -q restore "$w/restore.fifo" >/dev/null
  wait $!
  t1=$(ms); sr_ms=$(( (t1 - t0) / 1000000 ))
  virsh -q destroy "$name" >/dev/null
  printf '%-6s | %-34s | %-34s | %-22s | %-30s\n' "${size}M" \
    "$(mib "$s_app") / $(mib "$s_alloc"), $s_ms (resumed +${resume} ms)" \
    "$(mib "$m_size"), $m_ms ($(ratio "$s_alloc" "$m_size"), $(ratio "$s_ms" "$m_ms"))" \
    "$(mib "$v_size"), $v_ms" \
    "$sr_ms / $vr_ms ($(ratio "$sr_ms" "$vr_ms"))"
  rm -f "$w"/*.img "$w"/*.bin "$w/overlay.qcow2"
done
echo "ratios: Strata's allocated size and time over --memspec's; restore over virsh restore's"
