#!/usr/bin/env bash
# The test guest (tests/guest/README.md) boots under libvirt/TCG, writes
# records, and after `virsh destroy` its disk holds a contiguous prefix of
# records 1..N, none torn, N >= the last "REC" the console showed. Prints the
# time from `virsh create` to the first record and the record rate. Needs no
# stratad; needs root, qemu-system-x86, libvirt and linux-image-amd64
# (scripts/install-deps.sh --guest), else skips.
source "$(dirname "$0")/lib.sh"
need_guest

name=strata-guest-boot-$$
disk=$T/disk.qcow2
console=$T/console.log
# qemu runs as libvirt-qemu: it must be able to reach files under $T (0700).
chmod 711 "$T"

destroy_domain() {
  virsh -q -c qemu:///system destroy "$name" >/dev/null 2>&1 || true
}
on_exit() {
  local rc=$?
  set +e   # cleanup must run even though rc != 0
  destroy_domain
  if [[ $rc -ne 0 && -f "$console" ]]; then
    echo "--- last lines of the guest console ---"; tail -n 15 "$console"
  fi
  cleanup "$rc"
}
trap on_exit EXIT

now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }

"$STRATA_SRC/scripts/build-test-guest.sh" "$T/guest" || fail "guest build"
"$STRATA_SRC/scripts/start-libvirt.sh" || fail "libvirt did not start"
qemu-img create -q -f qcow2 "$disk" 64M
"$STRATA_SRC/scripts/render-test-domain.sh" "$name" "$(cat /proc/sys/kernel/random/uuid)" \
  "$disk" "$console" "$T/guest" >"$T/domain.xml"

t0=$(now)
virsh -q -c qemu:///system create "$T/domain.xml" >/dev/null || fail "virsh create"
t_first="" n_first=0
for _ in $(seq 1 600); do
  n=$(last_rec)
  if [[ -z "$t_first" && $n -gt 0 ]]; then t_first=$(now); n_first=$n; fi
  [[ $n -ge 50 ]] && break
  sleep 0.1
done
[[ -n "$t_first" ]] || fail "no record within 60 s"
[[ $n -ge 50 ]] || fail "only $n records within 60 s"
grep -aq '^RECWRITER START dev=/dev/vda next=1 ' "$console" || fail "writer did not start at record 1"
state=$(virsh -c qemu:///system domstate "$name")
[[ "$state" == running ]] || fail "domain is $state, not running"
pass "guest wrote record $n; domain running"

# Let it run a little longer to measure a steady rate, then pull the plug.
sleep 2
t_end=$(now); n_end=$(last_rec)
destroy_domain
shown=$(last_rec)   # every REC printed before the destroy is durable
echo "timing: virsh create -> first REC $(secs "$t0" "$t_first") s;" \
  "rate $(awk -v n=$((n_end - n_first)) -v t="$(secs "$t_first" "$t_end")" \
  'BEGIN { printf "%.0f", n / t }') records/s (REC $n_first..$n_end)"

qemu-img convert -O raw "$disk" "$T/disk.raw"
result=$("$T/guest/verify-records" --min-last "$shown" "$T/disk.raw") ||
  fail "verify-records: $result (console showed REC $shown)"
echo "verify-records: $result"
pass "disk holds a contiguous prefix 1..N, none torn, N >= $shown"
