# Helpers of the memory snapshot tests (issue 21), sourced after lib.sh:
# the console of a test guest running tests/guest/memwriter, and a region
# restored with virsh restore. Uses $console, as lib.sh's last_rec does.

# memory_guest NAME MEM_MIB PATTERN_MIB: the test guest as Nova defines
# servers (a defined domain), with MEM_MIB of RAM and memwriter keeping its
# pattern over PATTERN_MIB at 64 MiB/s; sets name, disk, console and uuid,
# and returns once the memory workload runs.
memory_guest() {
  name=$1 disk=$T/var/disks/$1.qcow2 console=$T/console.log
  GUEST_MEMORY_MIB=$2 define_guest "$name" "$disk" 256M \
    "memwriter.mib=$3 memwriter.dirty_mibps=64"
  uuid=$(virsh domuuid "$name")
  uuid=${uuid%%$'\n'*}
  await_memwriter "the guest"
}

# mem_ticks: the console's MEM lines as "boot tick", in order.
mem_ticks() {
  { tr -d '\r' <"$console" 2>/dev/null | grep -a '^MEM boot=' || true; } |
    sed -n 's/^MEM boot=\([0-9a-f]*\) tick=\([0-9]*\).*/\1 \2/p'
}
last_tick() { mem_ticks | tail -1 | cut -d' ' -f2; }

# await_memwriter WHAT: until the workload's first full check passed.
await_memwriter() {
  for _ in $(seq 600); do
    tr -d '\r' <"$console" 2>/dev/null | grep -aq '^MEMCHECK ok' && return 0
    sleep 0.1
  done
  fail "$1: the memory workload did not start: $(tail -3 "$console")"
}

# restore_server_memory SNAPSHOT: os-strata:restoreMemory of SNAPSHOT on
# server $uuid (domain $name, the test's `action`), then until the server
# is ACTIVE, its domain running and its counter printing again.
restore_server_memory() {
  action "{\"os-strata:restoreMemory\":{\"imageRef\":\"$1\"}}"
  expect_code 202 "os-strata:restoreMemory of $1"
  for _ in $(seq 1200); do
    api GET "/v2.1/servers/$uuid"
    [[ $(jget 'j["server"]["status"]') == ACTIVE && -n $(mem_ticks) ]] &&
      [[ $(virsh domstate "$name") == running ]] && break
    sleep 0.1
  done
  [[ $(jget 'j["server"]["status"]') == ACTIVE ]] ||
    fail "the server is not ACTIVE after restoring $1: $BODY"
}

# crash_at_memory_cut: stratad restarted (with $T/strata.conf) to be
# killed at the disk's cut of a snapshot with memory, which the test's
# `action` asks for; returns with stratad dead and the VM paused at the
# stream's end; sets crashed (the snapshot's id).
crash_at_memory_cut() {
  stop_stratad
  STRATA_CRASH_AT=create.link_top start_stratad --config "$T/strata.conf"
  action '{"createImage":{"name":"crash","os-strata:memory":true}}'
  [[ $CODE == 202 ]] || fail "createImage before the crash: HTTP $CODE $BODY"
  crashed=$(jget 'j["image_id"]')
  wait_crash create.link_top
  [[ $(virsh domstate "$name") == paused ]] ||
    fail "the crash did not leave the VM paused at the cut ($(virsh domstate "$name")): the test proves nothing"
}

# restored_counter BOOT LO HI: the restored guest's first counter line has
# boot id BOOT (no reboot) and a tick within LO..HI+1; sets FIRST_TICK.
restored_counter() {
  local rboot
  for _ in $(seq 600); do [[ -n $(mem_ticks) ]] && break; sleep 0.1; done
  read -r rboot FIRST_TICK < <(mem_ticks | head -1)
  [[ -n ${FIRST_TICK:-} ]] || fail "the restored guest prints no counter: $(tail -3 "$console")"
  ! tr -d '\r' <"$console" | grep -aq '^MEMWRITER START\|^RECWRITER START' ||
    fail "the restored guest booted again: $(head -3 "$console")"
  [[ $rboot == "$1" ]] || fail "the restored counter has boot id $rboot, not $1"
  ((FIRST_TICK >= $2 && FIRST_TICK <= $3 + 1)) ||
    fail "the restored counter went on at $FIRST_TICK, not within the snapshot's $2..$3"
}

# restored_pattern BOOT: the restored guest's next full check of its
# pattern (every 2 s) passes; sets VERDICT.
restored_pattern() {
  for _ in $(seq 600); do
    tr -d '\r' <"$console" | grep -aq '^MEMCHECK' && break
    sleep 0.1
  done
  VERDICT=$(tr -d '\r' <"$console" | grep -a '^MEMCHECK' | head -1)
  [[ $VERDICT == "MEMCHECK ok boot=$1 "* ]] ||
    fail "the restored pattern does not verify: ${VERDICT:-no check within 60 s}"
}

# restore_region REGION: virsh restore of the region alone, its libvirt
# header and stream written into a FIFO as libvirt reads it
# (memstream_rebuild --restore-image).
restore_region() {
  rm -f "$T/restore.fifo"
  mkfifo -m 0600 "$T/restore.fifo"
  "$MEMSTREAM_REBUILD" --restore-image "$1" "$T/restore.fifo" 2>"$T/fifo.err" &
  local writer=$!
  if ! timeout 300 virsh -q restore "$T/restore.fifo" >/dev/null 2>"$T/restore.err"; then
    kill "$writer" 2>/dev/null || true
    fail "virsh restore from $1: $(cat "$T/restore.err") $(cat "$T/fifo.err")"
  fi
  wait "$writer" || fail "writing the restore image of $1: $(cat "$T/fifo.err")"
}
