#!/usr/bin/env bash
# Builds a Debian package of Strata from a built tree (scripts/build.sh):
#   scripts/build-deb.sh [BUILD_DIR] [OUT.deb]   (default build, build/strata_<v>_<arch>.deb)
# Its files are `cmake --install BUILD_DIR --prefix /usr` (stratad, strata,
# the systemd unit, /etc/strata/strata.conf, completion, docs) plus
# /etc/init.d/strata for hosts without systemd. Depends: the Debian
# packages whose shared libraries the binaries link (found with ldd and
# dpkg -S, at the versions installed here, as dpkg-shlibdeps would), and
# qemu-utils, qemu-system-common at run time. Its install starts the
# service (systemctl where systemd runs, else invoke-rc.d, which obeys the
# host's policy-rc.d), its removal stops it, and its purge removes
# /etc/strata; /var/lib/strata (the catalog and local store: the
# snapshots) is never removed.
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:-$src/build}" && pwd)
version=0.20.$(git -C "$src" rev-list --count HEAD 2>/dev/null || echo 0)
arch=$(dpkg --print-architecture)
out=${2:-$build/strata_${version}_${arch}.deb}
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT

DESTDIR=$stage cmake --install "$build" --prefix /usr >/dev/null
install -D -m 755 "$src/packaging/strata.init" "$stage/etc/init.d/strata"

# The binaries without their debugging sections (a package's size).
strip --strip-debug "$stage/usr/bin/stratad" "$stage/usr/bin/strata"

# Depends: the packages of the libraries the binaries link directly (their
# NEEDED entries, located as ldd resolves them).
declare -A pkgs=()
for bin in "$stage/usr/bin/stratad" "$stage/usr/bin/strata"; do
  while read -r name; do
    lib=$(ldd "$bin" | awk -v n="$name" '$1 == n && $3 ~ /^\// {print $3}')
    [[ -n $lib ]] || continue
    owner=$(dpkg -S "$lib" 2>/dev/null || dpkg -S "$(readlink -f "$lib")" 2>/dev/null || true)
    owner=${owner%%:*}
    [[ -n $owner ]] && pkgs[$owner]=1
  done < <(readelf -d "$bin" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p')
done
depends=""
for p in $(printf '%s\n' "${!pkgs[@]}" | sort); do
  v=$(dpkg-query -W -f='${Version}' "$p" 2>/dev/null || true)
  depends+="${depends:+, }$p${v:+ (>= ${v%%-*})}"
done
depends+=", qemu-utils, qemu-system-common"

mkdir -p "$stage/DEBIAN"
size=$(du -sk --exclude=DEBIAN "$stage" | cut -f1)
cat >"$stage/DEBIAN/control" <<CONTROL
Package: strata
Version: $version
Architecture: $arch
Maintainer: Strata developers <strata@localhost>
Installed-Size: $size
Depends: $depends
Recommends: libvirt-daemon-system
Section: admin
Priority: optional
Homepage: https://localhost/strata
Description: incremental, non-disruptive VM snapshots beside OpenStack
 Strata gives qcow2 disks under libvirt incremental snapshots, reverts to
 any point, backup policies and seconds-level rollback through a REST API
 in OpenStack's style (Cinder and Nova shaped), with a dashboard and the
 strata command-line client.
CONTROL
echo "/etc/strata/strata.conf" >"$stage/DEBIAN/conffiles"
echo "/etc/init.d/strata" >>"$stage/DEBIAN/conffiles"
cat >"$stage/DEBIAN/postinst" <<'SH'
#!/bin/sh
set -e
if [ "$1" = configure ]; then
  mkdir -p /var/lib/strata
  chmod 0751 /var/lib/strata
  if [ -d /run/systemd/system ]; then
    systemctl daemon-reload
    systemctl enable strata.service >/dev/null
    systemctl restart strata.service
  else
    update-rc.d strata defaults >/dev/null
    invoke-rc.d strata restart
  fi
fi
SH
cat >"$stage/DEBIAN/prerm" <<'SH'
#!/bin/sh
set -e
if [ -d /run/systemd/system ]; then
  systemctl stop strata.service || true
  [ "$1" = remove ] && systemctl disable strata.service >/dev/null || true
else
  invoke-rc.d strata stop || true
fi
SH
cat >"$stage/DEBIAN/postrm" <<'SH'
#!/bin/sh
set -e
if [ "$1" = purge ]; then
  update-rc.d strata remove >/dev/null 2>&1 || true
  rm -rf /etc/strata /var/log/strata
  # /var/lib/strata holds the catalog and the local store: kept.
fi
SH
chmod 755 "$stage/DEBIAN/postinst" "$stage/DEBIAN/prerm" "$stage/DEBIAN/postrm"
dpkg-deb --root-owner-group --build "$stage" "$out" >/dev/null
echo "$out"
