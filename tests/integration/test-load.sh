#!/usr/bin/env bash
# Load (issue 16, item 11): LOAD_CLIENTS (100) concurrent API clients
# (tests/tools/api_load.py: lists, shows, snapshot creates and deletes, bad
# requests) against a stratad that also snapshots 3 running test guests
# every 2 s, for LOAD_SECONDS (60 here; 600 for the full run:
# LOAD_SECONDS=600 bash tests/integration/test-load.sh). Checked: no 5xx and
# no dropped connection, stratad alive, its open fds and RSS flat (sampled
# after a warm-up and at the end), every guest's disk a valid chain that
# libvirt sees as the files say. Prints the p50/p99 API latency.
source "$(dirname "$0")/lib.sh"
need_guest
need python3 curl
clients=${LOAD_CLIENTS:-100}
seconds=${LOAD_SECONDS:-60}
mkdir -p "$T/var/disks"
chmod 711 "$T" "$T/var" "$T/var/disks"   # qemu runs as libvirt-qemu
doms=()
trap 'rc=$?; for d in "${doms[@]}"; do virsh -q destroy "$d" >/dev/null 2>&1 || true; done
      cleanup "$rc"' EXIT
"$STRATA_SRC/scripts/build-test-guest.sh" "$T/guest" >/dev/null || fail "guest build"
"$STRATA_SRC/scripts/start-libvirt.sh" || fail "libvirt did not start"
start_stratad
vols=()
for i in 1 2 3; do
  name=strata-load-$$-$i
  disk=$T/var/disks/g$i.qcow2
  console=$T/console$i.log
  qemu-img create -q -f qcow2 "$disk" 64M
  "$STRATA_SRC/scripts/render-test-domain.sh" "$name" "$(cat /proc/sys/kernel/random/uuid)" \
    "$disk" "$console" "$T/guest" "recwriter.interval_ms=50" >"$T/dom$i.xml"
  virsh -q create "$T/dom$i.xml" >/dev/null || fail "virsh create $i"
  doms+=("$name")
  for _ in $(seq 600); do [[ $(last_rec) -ge 5 ]] && break; sleep 0.1; done
  [[ $(last_rec) -ge 5 ]] || fail "guest $i wrote no records"
  vols+=("$(manage_disk "$disk" "g$i")")
done
pass "3 guests running and adopted: ${vols[*]}"

# Snapshots of every guest every 2 s (a 409 when one still runs is fine),
# beside the clients, for as long as they run.
(
  end=$((SECONDS + seconds))
  while (( SECONDS < end )); do
    for v in "${vols[@]}"; do
      curl -s -o /dev/null -X POST -H "X-Auth-Token: admin:admin" \
        -H "Content-Type: application/json" \
        -d "{\"snapshot\":{\"volume_id\":\"$v\",\"name\":\"every2s\"}}" \
        "$URL/v3/snapshots" || true
    done
    sleep 2
  done
) &
snapper=$!

sample() { echo "$(ls /proc/$PID/fd | wc -l) $(awk '/^VmRSS/ {print $2}' /proc/$PID/status)"; }
python3 "$STRATA_SRC/tests/tools/api_load.py" "$URL" "$clients" "$seconds" \
  "$(IFS=,; echo "${vols[*]}")" >"$T/load.json" &
loader=$!
# Warm-up: a fifth of the run (caches, thread pools, SQLite pages).
sleep $((seconds / 5))
read -r fd0 rss0 < <(sample)
wait "$loader" || fail "the load driver failed"
read -r fd1 rss1 < <(sample)
wait "$snapper" || true
kill -0 "$PID" || fail "stratad died under load"
result=$(cat "$T/load.json")
echo "load: $result"
echo "stratad: fds $fd0 → $fd1, RSS $((rss0 / 1024)) → $((rss1 / 1024)) MiB"
python3 - "$result" <<'PY' || fail "the load run had server errors or dropped connections"
import json, sys
r = json.loads(sys.argv[1])
bad = {c: n for c, n in r["codes"].items() if int(c) >= 500}
assert not bad, f"5xx/dropped: {bad}: {r['server_errors']}"
assert r["requests"] > 0
PY
(( fd1 <= fd0 + 32 )) || fail "open fds grew from $fd0 to $fd1"
(( rss1 <= rss0 + 65536 )) || fail "RSS grew from $((rss0 / 1024)) to $((rss1 / 1024)) MiB"
# The last snapshots and deletes may still run: the chains are compared
# once none does.
busy() {
  api GET "/v3/snapshots/detail"
  jget 'sum(s["status"] in ("creating", "deleting") for s in j["snapshots"])'
}
for _ in $(seq 1200); do [[ $(busy) == 0 ]] && break; sleep 0.1; done
[[ $(busy) == 0 ]] || fail "snapshots still being created or deleted 120 s after the load"
api GET "/v3/snapshots/detail?status=available"
n=$(jget 'len(j["snapshots"])')
(( n > 0 )) || fail "no snapshot became available under load"
for i in 1 2 3; do
  disk=$T/var/disks/g$i.qcow2
  [[ $(libvirt_chain "${doms[$((i - 1))]}") == "$(file_chain "$disk")" ]] ||
    fail "guest $i: libvirt's chain differs from the files'"
done
pass "$clients clients for ${seconds}s: no 5xx, fds $fd0→$fd1, RSS $((rss0 / 1024))→$((rss1 / 1024)) MiB, $n snapshots available, chains as libvirt sees them"
