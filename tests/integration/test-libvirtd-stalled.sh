#!/usr/bin/env bash
# libvirtd stopped (SIGSTOP: it accepts connections and never answers) under
# a running stratad (issue 16, item 4): requests that need libvirt (server
# lists, a snapshot of a disk a domain uses) fail within a bound — 503, or
# the snapshot in "error" with its volume's lease freed — while requests that
# do not need it (versions, snapshot lists, a quiet disk's snapshot) go on
# being answered, even with more hypervisor requests in flight than the API
# has workers; with libvirtd back (SIGCONT) stratad reconnects and the next
# snapshot of the domain's disk succeeds. A private libvirtd
# (scripts/start-test-libvirtd.sh) with one defined domain, so that the
# host's libvirtd and other tests' guests are never stopped.
source "$(dirname "$0")/lib.sh"
need qemu-img qemu-io curl python3 libvirtd virsh unshare qemu-system-x86_64
[[ $(id -u) -eq 0 ]] || skip "needs root (a private libvirtd)"
USES_LIBVIRT=1
BOUND=30   # seconds a request needing the stopped libvirtd may take

lv_pid=$("$STRATA_SRC/scripts/start-test-libvirtd.sh" "$T/lv") ||
  fail "the private libvirtd did not start"
trap 'rc=$?; stop_group "$lv_pid"; cleanup "$rc"' EXIT
uri="qemu+unix:///system?socket=$T/lv/sock/libvirt-sock"

mkdir -p "$T/var/disks"
vm_disk="$T/var/disks/vm.qcow2" quiet_disk="$T/var/disks/quiet.qcow2"
qemu-img create -q -f qcow2 "$vm_disk" 64M
qemu-img create -q -f qcow2 "$quiet_disk" 64M
dom="strata-stall-$$"
bare_domain_xml "$dom" "$vm_disk" >"$T/dom.xml"
virsh -q -c "$uri" define "$T/dom.xml" >/dev/null || fail "virsh define"

# Keepalive: a ping after 2 s of silence, the connection given up after 2
# unanswered (~6 s); a connection attempt waited for 3 s.
printf '[hypervisor]\nkeepalive_interval = 2\nkeepalive_count = 2\nconnect_timeout = 3\n' \
  >"$T/lv.conf"
start_stratad --libvirt-uri "$uri" --config "$T/lv.conf"
api GET /v2.1/servers
expect_code 200 "server list"
[[ $(jget '[s["name"] for s in j["servers"]]') == "['$dom']" ]] ||
  fail "the private libvirtd's domain is not listed: $BODY"
write_pattern "$vm_disk" 0x11 0 1M
vm_vol=$(manage_disk "$vm_disk" vm)
api GET "/v3/volumes/$vm_vol"
quiet_vol=$(manage_disk "$quiet_disk" quiet)
snapshot "$vm_vol" before >/dev/null
pass "a domain of the private libvirtd: listed, its disk adopted and snapshotted"

# now_ms: milliseconds since the epoch.
now_ms() { date +%s%3N; }
# timed PATH OUT: GET PATH, writes "CODE MILLISECONDS" to OUT.
timed() {
  local t0 code
  t0=$(now_ms)
  code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 120 \
    -H "X-Auth-Token: $TOKEN" "$URL$1") || code=000
  echo "$code $(($(now_ms) - t0))" >"$2"
}

write_pattern "$vm_disk" 0x22 1M 1M
kill -STOP -- "-$lv_pid"
stopped_at=$(now_ms)
# More hypervisor requests at once than the API has workers (8).
lists=()
for i in $(seq 12); do timed /v2.1/servers "$T/servers.$i" & lists+=($!); done
api POST /v3/snapshots "{\"snapshot\":{\"volume_id\":\"$vm_vol\",\"name\":\"stalled\"}}"
expect_code 202 "snapshot of the domain's disk with libvirtd stopped"
stalled=$(jget 'j["snapshot"]["id"]')
posted_at=$(now_ms)
# Requests without libvirt are answered throughout; the snapshot errs.
slowest=0
for _ in $(seq 600); do
  for path in /v3 /v3/snapshots/detail; do
    t0=$(now_ms)
    api GET "$path" "" --max-time "$BOUND"
    [[ $CODE == 200 ]] || fail "GET $path while libvirtd is stopped: HTTP $CODE"
    t=$(($(now_ms) - t0)); ((t > slowest)) && slowest=$t
  done
  api GET "/v3/snapshots/$stalled"
  [[ $(jget 'j["snapshot"]["status"]') == error ]] && break
  (( $(now_ms) - posted_at < 2 * BOUND * 1000 )) ||
    fail "the snapshot of the domain's disk is not in error after $((2 * BOUND)) s: $BODY"
  sleep 0.2
done
erred_ms=$(($(now_ms) - posted_at))
wait "${lists[@]}"
for i in $(seq 12); do
  read -r code ms <"$T/servers.$i"
  [[ $code == 503 ]] || fail "server list $i with libvirtd stopped: HTTP $code after $ms ms"
  ((ms < BOUND * 1000)) || fail "server list $i took $ms ms (bound $BOUND s)"
  echo "server list $i: 503 after $ms ms"
done
echo "snapshot of the domain's disk: error after $erred_ms ms; slowest other request $slowest ms"
grep -q "libvirt" <<<"$(grep "$stalled" "$T/stratad.log")" ||
  grep -q "connection to libvirt is lost\|has not answered" "$T/stratad.log" ||
  fail "the snapshot's failure does not name libvirt"
pass "libvirtd stopped: 12 server lists → 503 within $BOUND s, the snapshot → error, the API answering (slowest $slowest ms)"

# Still stopped: a fresh request fails at once (the stuck connection
# attempt is not waited for again); a quiet disk needs no libvirt.
timed /v2.1/servers "$T/again"
read -r code ms <"$T/again"
[[ $code == 503 ]] || fail "server list, libvirtd still stopped: HTTP $code"
((ms < 10000)) || fail "server list, libvirtd still stopped, took $ms ms"
write_pattern "$quiet_disk" 0x33 0 1M
snapshot "$quiet_vol" quiet >/dev/null
api GET /v3/volumes/detail "" --max-time "$BOUND"
expect_code 200 "volume list with libvirtd stopped"
pass "still stopped: a server list fails in $ms ms; a quiet disk's snapshot and the volume list work"

# libvirtd back: stratad reconnects; the domain's disk snapshots again (its
# lease was freed) and carries nothing lost.
kill -CONT -- "-$lv_pid"
echo "libvirtd stopped for $(( ($(now_ms) - stopped_at) / 1000 )) s"
for _ in $(seq 600); do
  api GET /v2.1/servers "" --max-time "$BOUND"
  [[ $CODE == 200 ]] && break
  sleep 0.1
done
expect_code 200 "server list after SIGCONT"
[[ $(jget 'len(j["servers"])') == 1 ]] || fail "server list after SIGCONT: $BODY"
after=$(snapshot "$vm_vol" after)
api GET "/v3/volumes/$vm_vol"
expect_code 200 "the domain's volume"
[[ $(jget 'j["volume"]["status"]') == available ]] || fail "the volume is not available: $BODY"
pass "libvirtd continued: servers listed again, the next snapshot ($after) available"
