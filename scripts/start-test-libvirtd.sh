#!/usr/bin/env bash
# Starts a private libvirtd for tests that stop or kill it (SIGSTOP, as a
# hung daemon): the host's libvirtd, and the guests other tests run on it,
# are never touched. It runs as root in a mount namespace of its own, where
# empty tmpfs cover /etc/libvirt, /run/libvirt, /var/lib/libvirt,
# /var/cache/libvirt and /var/log/libvirt (so its domains, state and pid
# file are its own), and listens only on DIR/sock/libvirt-sock; it starts no
# guests here (no virtlogd), it defines domains. It runs in the background,
# in a process group of its own, until killed (kill -- -PID); prints its PID
# once it answers.
# Usage: scripts/start-test-libvirtd.sh DIR
# Then: virsh -c "qemu+unix:///system?socket=DIR/sock/libvirt-sock"
# Needs: root, libvirt-daemon-system (libvirtd, virsh), util-linux (unshare).
set -euo pipefail
dir=$(realpath -m "$1")
[[ $(id -u) -eq 0 ]] || { echo "start-test-libvirtd: must run as root" >&2; exit 1; }
for tool in libvirtd virsh unshare; do
  command -v "$tool" >/dev/null || { echo "$tool missing" >&2; exit 1; }
done
mkdir -p "$dir/sock"
cat >"$dir/libvirtd.conf" <<CONF
unix_sock_dir = "$dir/sock"
log_outputs = "3:file:$dir/libvirtd.log"
CONF
# The directories must exist to be mounted over (on the host they stay
# empty if they were not there).
private="/etc/libvirt /run/libvirt /var/lib/libvirt /var/cache/libvirt /var/log/libvirt"
setsid unshare --mount --propagation private bash -c '
  set -e
  for d in '"$private"'; do mkdir -p "$d"; mount -t tmpfs -o mode=0755 strata "$d"; done
  exec libvirtd -f "$1/libvirtd.conf" -p "$1/libvirtd.pid"' _ "$dir" \
  </dev/null >"$dir/libvirtd.out" 2>&1 &
pid=$!
uri="qemu+unix:///system?socket=$dir/sock/libvirt-sock"
for _ in $(seq 200); do
  if [[ -S $dir/sock/libvirt-sock ]] &&
     timeout 5 virsh -c "$uri" version >/dev/null 2>&1; then
    echo "$pid"; exit 0
  fi
  kill -0 "$pid" 2>/dev/null || break
  sleep 0.1
done
kill -- "-$pid" 2>/dev/null || true
echo "start-test-libvirtd: libvirtd did not answer: $(tail -n 3 "$dir/libvirtd.out" "$dir/libvirtd.log" 2>/dev/null)" >&2
exit 1
