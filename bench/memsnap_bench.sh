#!/usr/bin/env bash
# Memory snapshots (issue 21), Strata's region against libvirt's and QEMU's
# own, on the test guest under TCG, side by side in one run. Each row is
# one guest size and dirty rate: the guest runs tests/guest/memwriter over
# SIZE/2 - 32 MiB of its RAM, rewriting pages at RATE MiB/s (-1: as fast
# as it can), beside its record writer.
#   - guest alone: the rate the guest reaches in a 2 s control window
#     before the snapshots (MiB/s, from its own counter);
#   - Strata: engine TakeMemorySnapshot into a fresh region file
#     (build/tests/memsnap_take, defaults: downtime limit 300 ms, paused by
#     Strata after 3 passes): apparent and allocated size, time from the
#     request to the region complete, how long the VM stood still, and the
#     guest's rate during the snapshot over its rate alone (slowdown);
#   - QEMU 7.2's background-snapshot capability (QMP through libvirt, into
#     a file): each page once, at the start instant; size, time, QEMU's
#     downtime, the guest's rate during it. It needs userfaultfd write
#     protection for QEMU's user (libvirt-qemu): the bench sets
#     vm.unprivileged_userfaultfd=1 for its run and puts it back;
#   - virsh snapshot-create-as --memspec … --live: the live anchor for size
#     and time; it is given LIVE_TIMEOUT seconds (default 60), after which
#     the job is aborted (a guest dirtying faster than the file takes it
#     never converges) and the row says so;
#   - virsh save (the VM stops): size and time;
#   - restore, each into a fresh QEMU, RESTORE_REPS times (default 5)
#     in turns, the median printed: virsh restore of the save file;
#     Strata's restore of its region (engine RestoreMemorySnapshot through
#     build/tests/memsnap_take --restore: libvirt's save header and the
#     stream rebuilt from the slots, spliced into a FIFO as virsh restore
#     reads it); the control: virsh restore of the same save file through
#     a FIFO (cat into it), the transport alone; the background
#     snapshot's stream behind the save file's header. Restores run with
#     transparent huge pages off (RESTORE_THP=never; "keep" leaves the
#     host's setting, which is put back after them): QEMU asks for huge
#     pages for guest RAM, and on this machine (itself a VM whose balloon
#     hands free 2 MiB blocks back to its host) a first touch of 300 MiB
#     in huge pages took 1.0-2.6 s against 0.14 s in 4 KiB pages, so
#     single restores moved by 2-4x whoever fed them. Turns and medians
#     all the same.
# Ratios are Strata / anchor.
#   bench/memsnap_bench.sh [SIZES_MIB...]   (default: 256 512)
#   RATES="0 64 256 -1" (MiB/s) LIVE_TIMEOUT=60 RESTORE_REPS=5 RESTORE_THP=never
set -euo pipefail
cd "$(dirname "$0")/.."
take=build/tests/memsnap_take
[[ -x $take ]] || { echo "build first (scripts/build.sh)" >&2; exit 2; }
sizes=("$@"); [[ ${#sizes[@]} -gt 0 ]] || sizes=(256 512)
read -r -a rates <<<"${RATES:-0 64 256 -1}"
live_timeout=${LIVE_TIMEOUT:-60}
restore_reps=${RESTORE_REPS:-5}
scripts/start-libvirt.sh >/dev/null
w=$(mktemp -d /var/tmp/strata-memsnap-bench.XXXXXX)
chmod 711 "$w"
name=strata-memsnap-bench-$$
uffd_was=$(cat /proc/sys/vm/unprivileged_userfaultfd 2>/dev/null || echo "")
# Transparent huge pages during the restores (RESTORE_THP, default never;
# "keep" leaves the host's setting): see the header.
thp=/sys/kernel/mm/transparent_hugepage/enabled
thp_was=$(sed -n 's/.*\[\(.*\)\].*/\1/p' "$thp" 2>/dev/null || echo "")
restore_thp=${RESTORE_THP:-never}
thp_set() {  # thp_set MODE: unless RESTORE_THP=keep
  [[ -n $thp_was && $restore_thp != keep ]] || return 0
  echo "$1" >"$thp"
}
trap 'virsh -q destroy "$name" >/dev/null 2>&1 || true; rm -rf "$w"; thp_set "$thp_was"
      [[ -n $uffd_was ]] && sysctl -qw vm.unprivileged_userfaultfd="$uffd_was" || true' EXIT
bg_ok=1
sysctl -qw vm.unprivileged_userfaultfd=1 2>/dev/null || bg_ok=0
scripts/build-test-guest.sh "$w/guest" >/dev/null
ms() { echo $(($(date +%s%N) / 1000000)); }
qmp() { virsh qemu-monitor-command "$name" "$@"; }
dirtied() {  # the guest's counter of MiB dirtied, as last printed
  { tr -d '\r' <"$w/console.log" | grep -a '^MEM boot=' || true; } | tail -1 |
    sed -n 's/.*dirtied_mib=\([0-9]*\).*/\1/p'
}
boot() {  # boot SIZE_MIB RATE: a fresh guest writing records and memory
  virsh -q destroy "$name" >/dev/null 2>&1 || true
  rm -f "$w/disk.qcow2" "$w/console.log" "$w/overlay.qcow2"
  qemu-img create -q -f qcow2 "$w/disk.qcow2" 1G
  GUEST_MEMORY_MIB=$1 scripts/render-test-domain.sh "$name" \
    "$(cat /proc/sys/kernel/random/uuid)" "$w/disk.qcow2" "$w/console.log" "$w/guest" \
    "recwriter.interval_ms=5 memwriter.mib=$(($1 / 2 - 32)) memwriter.dirty_mibps=$2" \
    >"$w/domain.xml"
  virsh -q create "$w/domain.xml" >/dev/null
  for _ in $(seq 600); do
    tr -d '\r' <"$w/console.log" 2>/dev/null | grep -aq '^MEMCHECK ok' && return 0
    sleep 0.1
  done
  echo "the guest did not start its memory workload" >&2; exit 1
}
alloc() { echo $(($(stat -c %b "$1") * $(stat -c %B "$1"))); }
mib() { awk -v b="$1" 'BEGIN { printf "%.0f", b / 1048576 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }'; }
rate_of() {  # rate_of D0 D1 T0 T1: MiB/s
  awk -v a="$1" -v b="$2" -v t="$3" -v u="$4" 'BEGIN { if (u > t) printf "%.0f", (b - a) * 1000 / (u - t); else print 0 }'
}
restore_ms() {  # restore_ms FILE|strata|fifo:FILE: one restore's time
  local t0 t1
  t0=$(ms)
  case $1 in
    strata) "$take" --restore qemu:///system "$w/region.img" "$w" >/dev/null ;;
    fifo:*)
      rm -f "$w/restore.fifo"; mkfifo -m 0600 "$w/restore.fifo"
      cat "${1#fifo:}" >"$w/restore.fifo" &
      timeout 300 virsh -q restore "$w/restore.fifo" >/dev/null
      wait $! ;;
    *) timeout 300 virsh -q restore "$1" >/dev/null ;;
  esac
  t1=$(ms)
  virsh -q destroy "$name" >/dev/null
  echo $((t1 - t0))
}
median() { tr ' ' '\n' <<<"$*" | grep . | sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }

printf '%-5s %6s | %-40s | %-28s | %-22s | %-12s | %s\n' "RAM" "MiB/s" \
  "Strata: app/alloc MiB, ms, stood ms, slow" "bg-snapshot: MiB, ms, slow" \
  "live memspec: MiB, ms" "save: MiB, ms" "restore ms: Strata / virsh / virsh-fifo / bg"
for size in "${sizes[@]}"; do
  for rate in "${rates[@]}"; do
    boot "$size" "$rate"
    # The guest alone, 2 s.
    d0=$(dirtied); t0=$(ms); sleep 2; d1=$(dirtied); t1=$(ms)
    alone=$(rate_of "$d0" "$d1" "$t0" "$t1")
    # Strata.
    d0=$(dirtied); t0=$(ms)
    "$take" qemu:///system "$name" "$w/region.img" >"$w/take.json"
    t1=$(ms); d1=$(dirtied)
    s_ms=$((t1 - t0)); s_rate=$(rate_of "$d0" "$d1" "$t0" "$t1")
    s_app=$(stat -c %s "$w/region.img"); s_alloc=$(alloc "$w/region.img")
    read -r stood forced < <(python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); print(round(j["vm_paused_ms"]), "P" if j["forced_pause"] else "")' "$w/take.json")
    # QEMU's background snapshot, into a file.
    bg="n/a (no userfaultfd for QEMU)" b_size=0
    if ((bg_ok)) && qmp '{"execute":"migrate-set-capabilities","arguments":{"capabilities":[{"capability":"background-snapshot","state":true}]}}' >/dev/null 2>&1; then
      rm -f "$w/bg.bin"
      qmp --pass-fds 3 '{"execute":"getfd","arguments":{"fdname":"bench"}}' 3>"$w/bg.bin" >/dev/null
      d0=$(dirtied); t0=$(ms)
      qmp '{"execute":"migrate","arguments":{"uri":"fd:bench"}}' >/dev/null
      st=""
      for _ in $(seq 3000); do
        st=$(qmp '{"execute":"query-migrate"}' | python3 -c 'import json,sys; r=json.load(sys.stdin)["return"]; print(r.get("status",""), r.get("downtime",0))')
        [[ $st == completed* || $st == failed* ]] && break
        sleep 0.02
      done
      t1=$(ms); d1=$(dirtied)
      qmp '{"execute":"migrate-set-capabilities","arguments":{"capabilities":[{"capability":"background-snapshot","state":false}]}}' >/dev/null
      if [[ $st == completed* ]]; then
        b_size=$(stat -c %s "$w/bg.bin")
        bg="$(mib "$b_size"), $((t1 - t0)), $(ratio "$(rate_of "$d0" "$d1" "$t0" "$t1")" "$alone") (down ${st#* })"
      else
        bg="failed"
      fi
    fi
    # libvirt's live snapshot with memory.
    t0=$(ms)
    if timeout "$live_timeout" virsh -q snapshot-create-as "$name" bench --no-metadata --live --atomic \
      --memspec "file=$w/mem.img,snapshot=external" \
      --diskspec "vda,snapshot=external,file=$w/overlay.qcow2" >/dev/null 2>&1; then
      t1=$(ms); live="$(mib "$(stat -c %s "$w/mem.img")"), $((t1 - t0))"
    else
      virsh -q domjobabort "$name" >/dev/null 2>&1 || true
      for _ in $(seq 300); do
        [[ $(virsh domjobinfo "$name" 2>/dev/null | awk '/Job type/ {print $3}') == None ]] && break
        sleep 0.1
      done
      live=">${live_timeout} s: aborted, $(mib "$(stat -c %s "$w/mem.img" 2>/dev/null || echo 0)") MiB so far"
    fi
    [[ $(virsh domstate "$name") == running ]] || virsh -q resume "$name" >/dev/null 2>&1 || true
    # virsh save: the anchor for restore (the VM stops).
    t0=$(ms); virsh -q save "$name" "$w/save.img" >/dev/null; t1=$(ms)
    v_ms=$((t1 - t0)); v_size=$(stat -c %s "$w/save.img")
    # Restores, in turns.
    if ((b_size > 0)); then
      # The save file's libvirt header (92 bytes and its data) before the
      # background snapshot's stream.
      hdr=$(python3 -c 'import struct,sys; f=open(sys.argv[1],"rb"); h=f.read(92); print(92 + struct.unpack_from("<I", h, 20)[0])' "$w/save.img")
      { head -c "$hdr" "$w/save.img"; cat "$w/bg.bin"; } >"$w/bg-restore.img"
    fi
    vr=() sr=() fr=() br=()
    thp_set "$restore_thp"
    for _ in $(seq "$restore_reps"); do
      vr+=("$(restore_ms "$w/save.img")")
      sr+=("$(restore_ms strata)")
      fr+=("$(restore_ms "fifo:$w/save.img")")
      ((b_size > 0)) && br+=("$(restore_ms "$w/bg-restore.img")")
    done
    thp_set "$thp_was"
    vr_ms=$(median "${vr[@]}") sr_ms=$(median "${sr[@]}") fr_ms=$(median "${fr[@]}")
    br_ms="-"; ((b_size > 0)) && br_ms=$(median "${br[@]}")
    printf '%-5s %6s | %-40s | %-28s | %-22s | %-12s | %s\n' "${size}M" \
      "$alone" \
      "$(mib "$s_app")/$(mib "$s_alloc"), $s_ms, $stood$forced, $(ratio "$s_rate" "$alone")" \
      "$bg" "$live" "$(mib "$v_size"), $v_ms" "$sr_ms / $vr_ms / $fr_ms / $br_ms ($(ratio "$sr_ms" "$vr_ms"), fifo $(ratio "$sr_ms" "$fr_ms"))"
    rm -f "$w"/*.img "$w"/*.bin "$w/overlay.qcow2"
  done
done
echo "MiB/s: the guest's own dirty rate alone (2 s window; the RATES value -1 is flat out)."
echo "stood: how long the VM stood still (P: paused by Strata after 3 passes, R3.8);"
echo "slow: the guest's dirty rate during the snapshot over its rate alone (1.00 = not slowed)."
echo "down: QEMU's downtime (ms). Restores: medians of $restore_reps in turns; ratios: Strata's"
echo "over virsh restore's of the save file, and over the same file's through a FIFO (the transport alone)."
