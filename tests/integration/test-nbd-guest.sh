#!/usr/bin/env bash
# A real guest on Strata's NBD export with the redirect cache (issue 6, R0):
# the test guest boots under libvirt with its only disk on stratad's unix
# socket (<disk type='network'><source protocol='nbd'>) and writes its
# checksummed records all along. Three times: the cache redirects, the raw
# file behind the export is copied while the guest keeps writing (the
# "snapshot" of a quiet disk), the cache drains. Each copy holds records
# 1..N, none torn, N at least what the guest had reported before the
# redirect; the guest never stops (it writes at least 100 records during each
# window); at the end the disk holds every record the guest reported.
source "$(dirname "$0")/lib.sh"
need_guest

name=strata-nbd-guest-$$
console=$T/console.log
raw=$T/var/disks/g.raw
mkdir -p "$T/var/disks"
chmod 711 "$T" "$T/var" "$T/var/disks"   # qemu runs as libvirt-qemu
truncate -s 256M "$raw"
trap 'rc=$?; virsh -q destroy "$name" >/dev/null 2>&1 || true
      [[ $rc -ne 0 && -f "$console" ]] && { echo "--- guest console ---"; tail -n 5 "$console"; }
      cleanup "$rc"' EXIT
"$STRATA_SRC/scripts/build-test-guest.sh" "$T/guest" >/dev/null || fail "guest build"
"$STRATA_SRC/scripts/start-libvirt.sh" || fail "libvirt did not start"
start_stratad --nbd-export "g=file:$raw" --nbd-cache on
sock=$T/var/nbd/g.sock
[[ $(stat -c %G "$sock") == libvirt-qemu ]] || fail "the socket is not libvirt-qemu's group"
DISK_NBD_SOCKET=$sock "$STRATA_SRC/scripts/render-test-domain.sh" "$name" \
  "$(cat /proc/sys/kernel/random/uuid)" g "$console" "$T/guest" \
  "recwriter.interval_ms=5" >"$T/domain.xml"
virsh -q create "$T/domain.xml" >/dev/null || fail "virsh create"
for _ in $(seq 600); do [[ $(last_rec) -ge 20 ]] && break; sleep 0.1; done
[[ $(last_rec) -ge 20 ]] || fail "the guest wrote no records to the export"
pass "the guest boots from nbd+unix:///g and writes records ($(last_rec))"

state() {
  api GET /strata/v1/nbd-exports
  jget "j['nbd_exports'][0]['cache']['state']"
}
for round in 1 2 3; do
  lo=$(last_rec)
  api POST /strata/v1/nbd-exports/g/action '{"os-redirect": {"expected_seconds": 3}}'
  expect_code 202 "redirect $round"
  cp --sparse=always "$raw" "$T/snap-$round.raw"
  # The guest keeps writing while redirected: wait for 100 more records (a
  # TCG guest on a loaded machine takes from 1 s to tens of seconds).
  for _ in $(seq 1200); do (( $(last_rec) > lo + 100 )) && break; sleep 0.1; done
  mid=$(last_rec)
  (( mid > lo + 100 )) || fail "round $round: the guest wrote only $((mid - lo)) records in 120 s while redirected"
  api POST /strata/v1/nbd-exports/g/action '{"os-drain": {}}'
  expect_code 202 "drain $round"
  for _ in $(seq 300); do [[ $(state) == bypass ]] && break; sleep 0.1; done
  [[ $(state) == bypass ]] || fail "round $round: the drain did not end"
  api GET /strata/v1/nbd-exports
  pause=$(jget "j['nbd_exports'][0]['cache']['last_pause_ms']")
  got=$(verify_disk "$T/snap-$round.raw" "$lo")
  n=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["last"])' "$got")
  (( n <= mid )) || fail "round $round: the snapshot holds record $n, written after the redirect window"
  rm -f "$T/snap-$round.raw"
  pass "round $round: snapshot copied while the guest wrote $((mid - lo)) records; it holds 1..$n (reported $lo before), none torn; drain pause ${pause} ms"
done

before=$(last_rec)
for _ in $(seq 300); do (( $(last_rec) > before + 200 )) && break; sleep 0.1; done
virsh -q destroy "$name" >/dev/null
final=$(last_rec)
result=$(verify_disk "$raw" "$final")
pass "after three rounds the disk holds $result (the guest reported $final)"
