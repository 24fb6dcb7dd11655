#!/usr/bin/env bash
# Builds the test guest into OUTDIR (see tests/guest/README.md):
#   vmlinuz          the Debian kernel (linux-image-amd64) copied from /boot
#   vmlinux          the same kernel uncompressed (ELF with a PVH entry): qemu
#                    boots it directly, skipping the bzImage's xz decompression
#                    (~5 s under TCG here); render-test-domain.sh prefers it
#   initrd.img       cpio.gz: static busybox, the virtio modules, /init and
#                    the static record writer (tests/guest/recwriter.c)
#   verify-records   the host-side checker (tests/tools/verify_records.c)
#   initrd-agent.img initrd.img with a second cpio appended (the kernel
#                    unpacks both): the virtio NIC and console modules and
#                    QEMU's guest agent (qemu-ga from qemu-guest-agent, with
#                    the libraries it links), for a guest with a network
#                    address and a host name that libvirt can report
#                    (render-test-domain.sh with GUEST_AGENT=1)
# Render a libvirt domain for it with scripts/render-test-domain.sh.
# Rebuilds only when an input changed (a stamp of input hashes in OUTDIR).
#   scripts/build-test-guest.sh OUTDIR
# Env: STRATA_GUEST_KERNEL=<version> picks a kernel (default: newest with
# both /boot/vmlinuz-<v> and /lib/modules/<v>).
set -euo pipefail

[[ $# -eq 1 ]] || { echo "usage: $0 OUTDIR" >&2; exit 2; }
src=$(cd "$(dirname "$0")/.." && pwd)
out=$(mkdir -p "$1" && cd "$1" && pwd)
busybox=/bin/busybox
# Load order matters: each module after those it depends on.
modules=(virtio_ring virtio virtio_pci_legacy_dev virtio_pci_modern_dev virtio_pci virtio_blk
         virtio_console)
# The agent guest's, loaded after those.
net_modules=(failover net_failover virtio_net)
qemu_ga=/usr/sbin/qemu-ga

die() { echo "build-test-guest: $*" >&2; exit 1; }

pick_kernel() {
  local v
  if [[ -n "${STRATA_GUEST_KERNEL:-}" ]]; then echo "$STRATA_GUEST_KERNEL"; return; fi
  for v in $(find /lib/modules -mindepth 1 -maxdepth 1 -printf '%f\n' 2>/dev/null | sort -rV); do
    [[ -f /boot/vmlinuz-$v ]] && { echo "$v"; return; }
  done
  die "no kernel with /boot/vmlinuz-<v> and /lib/modules/<v> (install linux-image-amd64)"
}
kver=$(pick_kernel)
kdir=/lib/modules/$kver
[[ -f /boot/vmlinuz-$kver && -f $kdir/modules.dep ]] || die "kernel $kver is incomplete"
if [[ ! -x $busybox ]] || ! grep -qx insmod <($busybox --list); then
  die "$busybox missing (install busybox-static)"
fi
if grep -q dynamic <(file -L "$busybox" 2>/dev/null); then
  die "$busybox is not static (install busybox-static)"
fi
command -v cpio >/dev/null || die "cpio missing"

# module_path NAME: path of NAME's .ko[.xz|.zst|.gz], "" when built in.
module_path() {
  local rel
  rel=$(grep -E "(^|/)$1\.ko(\.[a-z]+)?:" "$kdir/modules.dep" | head -1 | cut -d: -f1) || true
  if [[ -n "$rel" ]]; then echo "$kdir/$rel"; return; fi
  grep -qE "(^|/)$1\.ko$" "$kdir/modules.builtin" 2>/dev/null && return
  die "kernel $kver has no module $1"
}
mod_files=()
for m in "${modules[@]}"; do
  p=$(module_path "$m")
  [[ -n "$p" ]] && mod_files+=("$p")
done
net_mod_files=()
for m in "${net_modules[@]}"; do
  p=$(module_path "$m")
  [[ -n "$p" ]] && net_mod_files+=("$p")
done
[[ -x $qemu_ga ]] || die "$qemu_ga missing (install qemu-guest-agent)"
# qemu-ga's shared libraries and loader, as this host resolves them.
mapfile -t ga_libs < <(ldd "$qemu_ga" | awk '/=> \//{print $3} /^\t\//{print $1}')

# Skip the build when nothing that goes into it changed.
stamp=$( { echo "$kver"; sha256sum "$0" "$src/tests/guest/recwriter.c" "$src/tests/guest/memwriter.c" \
  "$src/tests/guest/record_format.h" "$src/tests/tools/verify_records.c" \
  "$busybox" "/boot/vmlinuz-$kver" "${mod_files[@]}" "${net_mod_files[@]}" \
  "$qemu_ga" "${ga_libs[@]}"; } | sha256sum | cut -d' ' -f1)
if [[ -f "$out/.stamp" && "$(cat "$out/.stamp")" == "$stamp" && -f "$out/vmlinuz" &&
      -f "$out/initrd.img" && -f "$out/initrd-agent.img" && -x "$out/verify-records" ]]; then
  exit 0
fi
rm -f "$out/.stamp"

# extract_vmlinux BZIMAGE OUT: the ELF inside an xz-compressed bzImage (as
# Debian builds it), kept only when it has a PVH entry note (Xen note type
# 18); OUT is left empty otherwise and the guest boots the bzImage.
extract_vmlinux() {
  local off
  : >"$2"
  off=$(LC_ALL=C grep -obUaP '\xfd7zXZ\x00' "$1" | head -1 | cut -d: -f1) || true
  [[ -n "$off" ]] || return 0
  # (xz stops after its stream: a pipe from tail would die of SIGPIPE)
  xz -dc --single-stream <(tail -c +$((off + 1)) "$1") >"$2" 2>/dev/null || { : >"$2"; return 0; }
  grep -q 'Xen.*(0x00000012)' <(LC_ALL=C readelf -n "$2" 2>/dev/null) || : >"$2"
}

work=$(mktemp -d "$out/.build.XXXXXX")
trap 'rm -rf "$work"' EXIT
root=$work/root
mkdir -p "$root"/{bin,dev,proc,sys,lib/modules}

cflags=(-O2 -Wall -Wextra -Werror)
gcc "${cflags[@]}" -static -o "$root/bin/recwriter" "$src/tests/guest/recwriter.c"
gcc "${cflags[@]}" -static -o "$root/bin/memwriter" "$src/tests/guest/memwriter.c"
gcc "${cflags[@]}" -o "$work/verify-records" "$src/tests/tools/verify_records.c"
cp "$busybox" "$root/bin/busybox"

# add_modules ROOT LIST FILE...: FILEs as plain .ko under ROOT/lib/modules
# (busybox insmod reads plain .ko only: decompressed at build time), their
# names in load order in ROOT/lib/modules/LIST.
add_modules() {
  local dir=$1/lib/modules list=$2 f name
  shift 2
  mkdir -p "$dir"
  : >"$dir/$list"
  for f in "$@"; do
    name=$(basename "$f"); name=${name%%.ko*}
    case "$f" in
      *.ko) cp "$f" "$dir/$name.ko" ;;
      *.ko.xz) xz -dc "$f" >"$dir/$name.ko" ;;
      *.ko.zst) zstd -qdc "$f" >"$dir/$name.ko" ;;
      *.ko.gz) gzip -dc "$f" >"$dir/$name.ko" ;;
      *) die "unknown module format: $f" ;;
    esac
    echo "$name" >>"$dir/$list"
  done
}
add_modules "$root" load-order "${mod_files[@]}"
# The kernel opens /dev/console before /init runs; init reopens it after
# mounting devtmpfs in case this node could not be made (non-root build).
mknod -m 600 "$root/dev/console" c 5 1 2>/dev/null || true

cat >"$root/init" <<'EOF'
#!/bin/busybox sh
# Test guest init (PID 1): mounts /proc /sys /dev, loads the virtio modules,
# waits for /dev/vda and runs the record writer on it, then idles forever
# (PID 1 must not exit). Kernel cmdline options, all optional:
#   recwriter.interval_ms=N  sleep N ms after each record (default 2)
#   recwriter.print_every=N  print "REC <seq>" every N records (default 1)
#   recwriter.max=N          stop after record N
#   recwriter.fresh=1        start at record 1 instead of resuming the log
#   recwriter.ring=1         write to /dev/vda and /dev/vdb in turn (the
#                            ring of tests/guest/recwriter.c)
#   recwriter.serve=1        write a record per request read on the
#                            virtio-serial port org.strata.ring (the ring
#                            across hosts: render-test-domain.sh RING_SOCKET)
#   memwriter.mib=N          also run the memory workload on N MiB
#                            (tests/guest/memwriter.c), beside the records
#   memwriter.dirty_mibps=R  its dirty rate in MiB/s (0 idle, -1 flat out)
#   memwriter.check_ms=C     its full pattern check every C ms
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
exec </dev/console >/dev/console 2>&1
echo "GUEST INIT uptime=$(cut -d' ' -f1 /proc/uptime)"
for m in $(cat /lib/modules/load-order); do
  insmod "/lib/modules/$m.ko" || echo "GUEST insmod $m failed"
done
n=0
while [ ! -b /dev/vda ] && [ $n -lt 200 ]; do sleep 0.05; n=$((n + 1)); done
args=""
margs=""
ring=""
serve=""
for kv in $(cat /proc/cmdline); do
  case "$kv" in
    recwriter.interval_ms=*) args="$args --interval-ms ${kv#*=}" ;;
    recwriter.print_every=*) args="$args --print-every ${kv#*=}" ;;
    recwriter.max=*) args="$args --max ${kv#*=}" ;;
    recwriter.fresh=1) args="$args --fresh" ;;
    recwriter.ring=1) ring=/dev/vdb ;;
    recwriter.serve=1) serve=org.strata.ring ;;
    memwriter.mib=*) margs="$margs --mib ${kv#*=}" ;;
    memwriter.dirty_mibps=*) margs="$margs --dirty-mibps ${kv#*=}" ;;
    memwriter.check_ms=*) margs="$margs --check-ms ${kv#*=}" ;;
  esac
done
case "$margs" in
  *--mib*) /bin/memwriter $margs & ;;
esac
# The agent guest (initrd-agent.img): its NIC, host name and guest agent,
# before the records. Options: guest.hostname=NAME (default strata-guest),
# guest.ip=ADDR/PREFIX (default 10.0.2.15/24, QEMU's user network).
if [ -f /lib/modules/net-load-order ]; then
  for m in $(cat /lib/modules/net-load-order); do
    insmod "/lib/modules/$m.ko" || echo "GUEST insmod $m failed"
  done
  host=strata-guest
  ip=10.0.2.15/24
  for kv in $(cat /proc/cmdline); do
    case "$kv" in
      guest.hostname=*) host=${kv#*=} ;;
      guest.ip=*) ip=${kv#*=} ;;
    esac
  done
  hostname "$host"
  ip link set lo up
  n=0
  while [ ! -e /sys/class/net/eth0 ] && [ $n -lt 200 ]; do sleep 0.05; n=$((n + 1)); done
  ip link set eth0 up && ip addr add "$ip" dev eth0 || echo "GUEST no eth0"
  port=""
  n=0
  while [ -z "$port" ] && [ $n -lt 200 ]; do
    for p in /sys/class/virtio-ports/*; do
      [ "$(cat "$p/name" 2>/dev/null)" = org.qemu.guest_agent.0 ] && port=/dev/${p##*/}
    done
    [ -n "$port" ] || { sleep 0.05; n=$((n + 1)); }
  done
  if [ -n "$port" ]; then
    mkdir -p /run/qga
    /usr/sbin/qemu-ga -m virtio-serial -p "$port" -t /run/qga &
    echo "GUEST agent on $port, host $host, address $ip"
  else
    echo "GUEST no guest agent port"
  fi
fi
if [ -n "$ring" ]; then
  n=0
  while [ ! -b $ring ] && [ $n -lt 200 ]; do sleep 0.05; n=$((n + 1)); done
fi
if [ -n "$serve" ]; then
  port=""
  n=0
  while [ -z "$port" ] && [ $n -lt 200 ]; do
    for p in /sys/class/virtio-ports/*; do
      [ "$(cat "$p/name" 2>/dev/null)" = "$serve" ] && port=/dev/${p##*/}
    done
    [ -n "$port" ] || { sleep 0.05; n=$((n + 1)); }
  done
  [ -n "$port" ] && args="$args --serve $port" || echo "GUEST no port $serve"
fi
if [ -b /dev/vda ]; then
  /bin/recwriter $args /dev/vda $ring
  echo "RECWRITER EXIT $?"
else
  echo "GUEST no /dev/vda"
fi
while true; do sleep 3600; done
EOF
chmod 755 "$root/init"

(cd "$root" && find . | LC_ALL=C sort | cpio -o -H newc --owner=0:0 --quiet) |
  gzip -6 >"$work/initrd.img"
# The agent guest's part, appended as a second archive (its own gzip
# member): only guests that ask for it pay for unpacking ~5 MB more.
agent=$work/agent
add_modules "$agent" net-load-order "${net_mod_files[@]}"
mkdir -p "$agent/usr/sbin" "$agent/run"
cp "$qemu_ga" "$agent/usr/sbin/qemu-ga"
for l in "${ga_libs[@]}"; do
  mkdir -p "$agent$(dirname "$l")"
  cp -L "$l" "$agent$l"
done
cp "$work/initrd.img" "$work/initrd-agent.img"
(cd "$agent" && find . | LC_ALL=C sort | cpio -o -H newc --owner=0:0 --quiet) |
  gzip -6 >>"$work/initrd-agent.img"
cp "/boot/vmlinuz-$kver" "$work/vmlinuz"
extract_vmlinux "$work/vmlinuz" "$work/vmlinux"
# libvirt's DAC driver runs qemu as libvirt-qemu: keep the files readable.
chmod 644 "$work"/{initrd.img,initrd-agent.img,vmlinuz,vmlinux}
rm -f "$out/vmlinux"
mv -f "$work"/{vmlinuz,initrd.img,initrd-agent.img,verify-records} "$out/"
[[ -s "$work/vmlinux" ]] && mv -f "$work/vmlinux" "$out/"
echo "$stamp" >"$out/.stamp"
