#!/usr/bin/env bash
# Installs the Debian packages Strata needs to build, run and test, if any
# are missing. Idempotent and quiet when everything is already there.
#   scripts/install-deps.sh            build + run-time packages
#   scripts/install-deps.sh --test     also what the tests use (real clients,
#                                      and the test guest's packages)
#   scripts/install-deps.sh --guest    build + run-time + the test guest's
#                                      packages (tests/guest/README.md)
#   scripts/install-deps.sh --browser  also headless Chromium and selenium,
#                                      which the demo drives the dashboard with
set -euo pipefail

build_pkgs=(cmake g++ make pkg-config libcpprest-dev nlohmann-json3-dev
            libvirt-dev libsqlite3-dev libssl-dev doctest-dev libxml2-dev
            libzstd-dev libcurl4-openssl-dev libxxhash-dev
            libhowardhinnant-date-dev libyaml-cpp-dev)
run_pkgs=(qemu-utils qemu-system-common tzdata)
test_pkgs=(python3-cinderclient python3-openstackclient curl zstd nginx-light
           glance-api python3-cryptography keystone uwsgi-plugin-python3
           cinder-api python3-novaclient libnbd-bin fio xxhash clang
           libclang-rt-14-dev tempest cinder-tempest-plugin swift-proxy
           swift-account swift-container swift-object memcached
           python3-swiftclient python3-keystonemiddleware systemd
           python3-oslo.middleware python3-webob python3-prometheus-client)
browser_pkgs=(chromium chromium-driver python3-selenium)
# The test guest: TCG qemu under libvirtd (started by scripts/start-libvirt.sh),
# Debian's kernel and its modules, static busybox + gcc/libc.a for the initrd,
# xz + binutils to unpack the kernel for PVH boot.
guest_pkgs=(qemu-system-x86 libvirt-daemon-system libvirt-clients
            linux-image-amd64 busybox-static cpio gcc libc6-dev xz-utils binutils
            qemu-guest-agent)

want=("${build_pkgs[@]}" "${run_pkgs[@]}")
for arg in "$@"; do
  case "$arg" in
    --test) want+=("${test_pkgs[@]}" "${guest_pkgs[@]}" "${browser_pkgs[@]}") ;;
    --guest) want+=("${guest_pkgs[@]}") ;;
    --browser) want+=("${browser_pkgs[@]}") ;;
    *) echo "usage: $0 [--test] [--guest] [--browser]" >&2; exit 2 ;;
  esac
done

missing=()
for p in "${want[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed"; then
    missing+=("$p")
  fi
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

if [[ $(id -u) -ne 0 ]]; then
  echo "install-deps: missing packages (${missing[*]}); run as root or install them" >&2
  exit 1
fi
echo "install-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
# The kernel is only booted by the test guest (with its own initrd), never by
# this machine: INITRD=No skips building a host initramfs for it (~20 s).
export INITRD=No
apt-get update -qq >/dev/null
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
