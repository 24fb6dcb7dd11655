#!/usr/bin/env bash
# Starts virtlogd and libvirtd as daemons (-d) when they are not running, for
# machines without systemd as PID 1 (containers, CI VMs), and waits (≤ 20 s)
# until `virsh -c qemu:///system version` answers. Idempotent; silent on
# success unless -v. Needs root and libvirt-daemon-system (install-deps.sh
# --guest). Test domains must be TCG (<domain type='qemu'>): nested KVM hangs.
#
# No libvirt configuration is changed: the stock Debian 12 config works here
# (no AppArmor/SELinux, cgroup v1 controllers present, the "default" network
# is not autostarted, so no dnsmasq is needed). qemu runs as libvirt-qemu with
# dynamic ownership, so disks, kernels and their parent directories must be
# reachable by that user (see tests/guest/README.md).
set -euo pipefail

verbose=0
[[ "${1:-}" == "-v" ]] && verbose=1
say() { if [[ $verbose == 1 ]]; then echo "start-libvirt: $*" >&2; fi; }
die() { echo "start-libvirt: $*" >&2; exit 1; }

[[ $(id -u) -eq 0 ]] || die "must run as root"
for tool in virtlogd libvirtd virsh; do
  command -v "$tool" >/dev/null || die "$tool missing (scripts/install-deps.sh --guest)"
done

# running NAME: the daemon's pidfile names a live process of that name.
running() {
  local pid
  pid=$(cat "/run/$1.pid" 2>/dev/null) || return 1
  [[ -n "$pid" && "$(cat "/proc/$pid/comm" 2>/dev/null)" == "$1" ]]
}

answers() { timeout 3 virsh -c qemu:///system version >/dev/null 2>&1; }

# Tests run in parallel (ctest -j): one caller at a time starts the daemons
# (which must not inherit the lock's fd, or they would hold it forever).
exec 9>/run/strata-start-libvirt.lock
flock -w 30 9 || die "timed out waiting for /run/strata-start-libvirt.lock"
if running virtlogd; then say "virtlogd already running"; else
  say "starting virtlogd"
  virtlogd -d 9>&- || die "virtlogd failed to start"
fi
if running libvirtd; then say "libvirtd already running"; else
  say "starting libvirtd"
  libvirtd -d 9>&- || die "libvirtd failed to start (see /var/log/libvirt/libvirtd.log)"
fi

deadline=$((SECONDS + 20))
while ((SECONDS < deadline)); do
  answers && { say "libvirtd answers"; exit 0; }
  sleep 0.5
done
die "libvirtd did not answer within 20 s (see /var/log/libvirt/libvirtd.log)"
