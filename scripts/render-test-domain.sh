#!/usr/bin/env bash
# Prints the libvirt domain XML of the test guest (tests/guest/README.md):
# TCG (type='qemu': nested KVM hangs here), 256 MiB, 1 vCPU, direct kernel
# boot from GUEST_DIR (built by scripts/build-test-guest.sh), one virtio
# qcow2 disk as vda, serial console logged to CONSOLE_LOG, no network, no
# graphics. Paths must be absolute.
#   scripts/render-test-domain.sh NAME UUID DISK CONSOLE_LOG GUEST_DIR [CMDLINE_EXTRA]
# e.g. CMDLINE_EXTRA="recwriter.interval_ms=10". Use with `virsh create`.
# DISK_SERIAL=ID in the environment gives the disk <serial>ID</serial>: how
# Nova marks an attached Cinder volume (its id). DISK_NBD_SOCKET=PATH makes
# the disk an NBD export instead: DISK is then the export's name on that
# unix socket (e.g. stratad --nbd-export), the guest sees it as raw.
# GUEST_MEMORY_MIB=N gives the guest N MiB of RAM instead of 256.
# SECOND_DISK=PATH adds a second qcow2 file disk as vdb (the record
# writer's ring, recwriter.ring=1).
# RING_SOCKET=PATH adds the virtio-serial port org.strata.ring, its host
# side a unix socket QEMU listens on at PATH (its directory writable by
# libvirt-qemu): the guest's requests with recwriter.serve=1
# (tests/tools/ring_driver.py).
# GUEST_AGENT=1 boots initrd-agent.img with a virtio NIC on QEMU's user
# network and the guest agent's channel: the guest sets its host name
# (CMDLINE_EXTRA guest.hostname=NAME) and address (guest.ip=A/P, default
# 10.0.2.15/24) and runs qemu-ga, so libvirt reports both (virsh
# domhostname / domifaddr --source agent).
#
# The kernel is GUEST_DIR/vmlinux (PVH ELF) when the build made one, else
# GUEST_DIR/vmlinuz. The cmdline flags after "quiet" trim TCG boot time
# (no crypto self-tests, no i8042/extra UART probing, no TSC watchdog):
# ~0.5 s of ~2.5 s measured together.
#
# cache='none' (host O_DIRECT) is what Nova uses for qcow2 on local disks,
# so the guest sees the same flush semantics as in production: the guest's
# O_DSYNC writes become virtio flushes, which qemu turns into fdatasync, and
# nothing the guest reported durable sits only in the host page cache.
set -euo pipefail

[[ $# -ge 5 && $# -le 6 ]] ||
  { echo "usage: $0 NAME UUID DISK CONSOLE_LOG GUEST_DIR [CMDLINE_EXTRA]" >&2; exit 2; }
name=$1 uuid=$2 disk=$3 console_log=$4 guest=$5 extra=${6:-}
paths=("$console_log" "$guest")
[[ -z "${DISK_NBD_SOCKET:-}" ]] && paths+=("$disk")
for p in "${paths[@]}"; do
  [[ "$p" == /* ]] || { echo "render-test-domain: $p is not absolute" >&2; exit 2; }
done
kernel=$guest/vmlinux
[[ -s "$kernel" ]] || kernel=$guest/vmlinuz
initrd=$guest/initrd.img
extra_devices_xml=
if [[ "${GUEST_AGENT:-}" == 1 ]]; then
  initrd=$guest/initrd-agent.img
  extra_devices_xml="
    <interface type='user'>
      <model type='virtio'/>
    </interface>
    <channel type='unix'>
      <target type='virtio' name='org.qemu.guest_agent.0'/>
    </channel>"
fi
cmdline="console=ttyS0 quiet panic=-1 cryptomgr.notests i8042.noaux i8042.nopnp"
cmdline+=" 8250.nr_uarts=1 tsc=reliable no_timer_check mitigations=off audit=0"
cmdline+=" rcupdate.rcu_expedited=1 $extra"

xml_escape() { sed -e 's/&/\&amp;/g' -e 's/</\&lt;/g' -e "s/'/\&apos;/g" <<<"$1"; }
if [[ -n "${DISK_NBD_SOCKET:-}" ]]; then
  disk_xml="    <disk type='network' device='disk'>
      <driver name='qemu' type='raw'/>
      <source protocol='nbd' name='$(xml_escape "$disk")'>
        <host transport='unix' socket='$(xml_escape "$DISK_NBD_SOCKET")'/>
      </source>"
else
  disk_xml="    <disk type='file' device='disk'>
      <driver name='qemu' type='qcow2' cache='none'/>
      <source file='$(xml_escape "$disk")'/>"
fi
serial=
[[ -n "${DISK_SERIAL:-}" ]] && serial="
      <serial>$(xml_escape "$DISK_SERIAL")</serial>"
disk_xml+="
      <target dev='vda' bus='virtio'/>$serial
    </disk>"
if [[ -n "${SECOND_DISK:-}" ]]; then
  [[ "$SECOND_DISK" == /* ]] || { echo "render-test-domain: $SECOND_DISK is not absolute" >&2; exit 2; }
  disk_xml+="
    <disk type='file' device='disk'>
      <driver name='qemu' type='qcow2' cache='none'/>
      <source file='$(xml_escape "$SECOND_DISK")'/>
      <target dev='vdb' bus='virtio'/>
    </disk>"
fi

if [[ -n "${RING_SOCKET:-}" ]]; then
  [[ "$RING_SOCKET" == /* ]] || { echo "render-test-domain: $RING_SOCKET is not absolute" >&2; exit 2; }
  extra_devices_xml+="
    <channel type='unix'>
      <source mode='bind' path='$(xml_escape "$RING_SOCKET")'/>
      <target type='virtio' name='org.strata.ring'/>
    </channel>"
fi

cat <<EOF
<domain type='qemu'>
  <name>$(xml_escape "$name")</name>
  <uuid>$uuid</uuid>
  <memory unit='MiB'>${GUEST_MEMORY_MIB:-256}</memory>
  <vcpu>1</vcpu>
  <os>
    <type arch='x86_64' machine='pc'>hvm</type>
    <kernel>$(xml_escape "$kernel")</kernel>
    <initrd>$(xml_escape "$initrd")</initrd>
    <cmdline>$(xml_escape "$cmdline")</cmdline>
  </os>
  <features><acpi/><apic/></features>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>destroy</on_reboot>
  <on_crash>destroy</on_crash>
  <devices>
    <emulator>/usr/bin/qemu-system-x86_64</emulator>
$disk_xml$extra_devices_xml
    <serial type='file'>
      <source path='$(xml_escape "$console_log")'/>
      <target port='0'/>
    </serial>
    <console type='file'>
      <source path='$(xml_escape "$console_log")'/>
      <target type='serial' port='0'/>
    </console>
    <controller type='usb' model='none'/>
    <memballoon model='none'/>
  </devices>
</domain>
EOF
