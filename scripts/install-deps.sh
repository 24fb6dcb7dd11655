#!/usr/bin/env bash
# Installs the Debian packages Strata needs to build, run and test, if any
# are missing. Idempotent and quiet when everything is already there.
#   scripts/install-deps.sh            build + run-time packages
#   scripts/install-deps.sh --test     also what the tests use (real clients)
set -euo pipefail

build_pkgs=(cmake g++ make pkg-config libcpprest-dev nlohmann-json3-dev
            libvirt-dev libsqlite3-dev libssl-dev doctest-dev)
run_pkgs=(qemu-utils)
test_pkgs=(python3-cinderclient python3-openstackclient curl)

want=("${build_pkgs[@]}" "${run_pkgs[@]}")
[[ "${1:-}" == "--test" ]] && want+=("${test_pkgs[@]}")

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
apt-get update -qq >/dev/null
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
