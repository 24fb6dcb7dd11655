#!/usr/bin/env bash
# The Debian package (issue 20, item 3): scripts/build-deb.sh packs the
# built tree; the package's control data, files and maintainer scripts are
# checked; `dpkg -i` on this host starts the service, which then answers
# /healthcheck and the CLI from /usr/bin on 127.0.0.1:8786; `dpkg --purge`
# stops it and removes its files and /etc/strata, and keeps
# /var/lib/strata (the catalog and store).
#
# This installs into the host itself, as an operator would. Two guards keep
# it from touching other tests' work: /etc/strata/strata.conf is put there
# first with libvirt_uri = none (dpkg --force-confold keeps it), so the
# packaged stratad looks at no domain. And a container's
# /usr/sbin/policy-rc.d (exit 101: "start no service", which invoke-rc.d
# obeys) is set aside while the package is installed and purged, and put
# back after: on a host without one the install starts the service as it
# does here.
source "$(dirname "$0")/lib.sh"
need dpkg dpkg-deb curl readelf strip
[[ $(id -u) -eq 0 ]] || skip "needs root (dpkg -i)"
build=$(dirname "$STRATAD")
if dpkg -s strata >/dev/null 2>&1; then
  dpkg-query -W -f='${Maintainer}' strata | grep -q "Strata developers" ||
    fail "a strata package not of this project is installed"
  dpkg --purge strata >/dev/null  # a crashed run's
fi
curl -s -o /dev/null --max-time 2 http://127.0.0.1:8786/ &&
  fail "127.0.0.1:8786 is in use: the packaged stratad could not listen there"

deb=$("$STRATA_SRC/scripts/build-deb.sh" "$build" "$T/strata.deb") ||
  fail "build-deb.sh failed"
dpkg-deb --field "$deb" Package Depends >"$T/control"
grep -q "^Package: strata$" "$T/control" || fail "control: $(cat "$T/control")"
for dep in libvirt0 libsqlite3-0 libcpprest2.10 libyaml-cpp0.7 qemu-utils; do
  grep -q "$dep" "$T/control" || fail "Depends lacks $dep: $(cat "$T/control")"
done
dpkg-deb --contents "$deb" | awk '{print $6}' >"$T/files"
for f in ./usr/bin/stratad ./usr/bin/strata ./etc/strata/strata.conf \
         ./etc/init.d/strata ./usr/lib/systemd/system/strata.service \
         ./usr/share/bash-completion/completions/strata; do
  grep -qx "$f" "$T/files" || fail "the package lacks $f"
done
pass "built $(basename "$deb") ($(du -k "$deb" | cut -f1) KiB): control, Depends and files as expected"

had_var=0
[[ -d /var/lib/strata ]] && had_var=1
policy=/usr/sbin/policy-rc.d
test_cleanup() {
  dpkg --purge strata >/dev/null 2>&1 || true
  [[ -e $T/policy-rc.d ]] && mv -f "$T/policy-rc.d" "$policy"
  [[ $had_var == 0 ]] && rm -rf /var/lib/strata
  rm -rf /etc/strata
}
[[ -e $policy ]] && cp -p "$policy" "$T/policy-rc.d"
printf '#!/bin/sh\nexit 0\n' >"$policy.strata-test"
chmod 755 "$policy.strata-test"
mv -f "$policy.strata-test" "$policy"
trap 'rc=$?; test_cleanup; cleanup "$rc"' EXIT
mkdir -p /etc/strata
sed 's/^# libvirt_uri = .*/libvirt_uri = none/' "$STRATA_SRC/packaging/strata.conf" \
  >/etc/strata/strata.conf
grep -qx "libvirt_uri = none" /etc/strata/strata.conf || fail "could not preset libvirt_uri"

dpkg -i --force-confold "$deb" >"$T/dpkg.log" 2>&1 ||
  fail "dpkg -i: $(tail -5 "$T/dpkg.log")"
for _ in $(seq 600); do
  [[ $(curl -s --max-time 2 http://127.0.0.1:8786/healthcheck) == OK ]] && break
  sleep 0.1
done
[[ $(curl -s --max-time 2 http://127.0.0.1:8786/healthcheck) == OK ]] ||
  fail "the installed service does not answer: $(tail -5 /var/log/strata/stratad.log 2>/dev/null)"
/etc/init.d/strata status >/dev/null || fail "the init script says it is not running"
out=$(OS_ENDPOINT=http://127.0.0.1:8786/v3 OS_TOKEN=admin:admin /usr/bin/strata volume list -f json) ||
  fail "the installed CLI: $out"
[[ $out == "[]" ]] || fail "the installed CLI lists: $out"
pass "dpkg -i started the service: /healthcheck OK on 127.0.0.1:8786, the installed CLI lists its (empty) volumes"

dpkg --purge strata >"$T/purge.log" 2>&1 ||
  fail "dpkg --purge: $(tail -5 "$T/purge.log")"
curl -s -o /dev/null --max-time 2 http://127.0.0.1:8786/healthcheck &&
  fail "the service still answers after the purge"
[[ ! -e /usr/bin/stratad && ! -e /etc/strata && ! -e /etc/init.d/strata ]] ||
  fail "files left after the purge"
[[ -d /var/lib/strata ]] || fail "the purge removed /var/lib/strata (the snapshots)"
pass "dpkg --purge stopped it and removed its files and /etc/strata; /var/lib/strata stays"
