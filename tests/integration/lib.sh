# Shared helpers for the end-to-end tests: each test sources this, starts a
# real stratad on a free loopback port with its own state dir, and talks to
# it with curl and the real OpenStack clients. Everything is cleaned up on
# exit. A missing tool makes the test skip (exit 77) rather than fail, except
# under CI=true, where every tool is installed and a skip is a failure; an
# environment problem (a server that does not start) is always a failure.
set -euo pipefail

STRATA_SRC=${STRATA_SRC:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
STRATAD=${STRATAD:-$STRATA_SRC/build/stratad}
# The same daemon built with crash points (util/crash_point.h): start_stratad
# runs it when STRATA_CRASH_AT is set; the product stratad ignores that.
STRATAD_CRASH_POINTS=${STRATAD_CRASH_POINTS:-$STRATA_SRC/build/stratad_crash_points}
T=$(mktemp -d /var/tmp/strata-e2e.XXXXXX)
PID=""
PORT=""
URL=""
TOKEN="admin:admin"

# skip REASON: ends the test as skipped (77), or as failed under CI=true.
skip() {
  if [[ ${CI:-} == true ]]; then echo "FAIL: cannot run under CI=true: $*" >&2; exit 1; fi
  echo "SKIP: $*"; exit 77
}

need() {
  for tool in "$@"; do
    command -v "$tool" >/dev/null || skip "$tool is not installed"
  done
}

stop_stratad() {
  if [[ -n "$PID" ]] && kill -0 "$PID" 2>/dev/null; then
    kill "$PID"; wait "$PID" 2>/dev/null || true
  fi
  PID=""
}

# cleanup [RC]: stops stratad and the helper servers in HELPER_GROUPS,
# shows stratad's log on failure, removes $T. Traps of their own pass their
# $? as RC (a `(exit $rc)` there would end the shell under set -e before
# cleanup ran).
HELPER_GROUPS=()
cleanup() {
  local rc=${1:-$?}
  stop_stratad
  local g
  for g in "${HELPER_GROUPS[@]}"; do stop_group "$g"; done
  if [[ $rc -ne 0 && -f "$T/stratad.log" ]]; then
    echo "--- last lines of stratad.log ---"; tail -n 30 "$T/stratad.log"
    cp "$T/stratad.log" "/tmp/last-failed-stratad.$(basename "$0" .sh).log" 2>/dev/null || true
  fi
  rm -rf "$T"
}
trap cleanup EXIT

fail() {
  echo "FAIL: $*" >&2
  [[ -f "$T/curl.log" ]] && { echo "--- curl errors ---" >&2; cat "$T/curl.log" >&2; }
  exit 1
}

# wait_crash: waits (≤ 30 s) for the daemon to die of an injected crash.
wait_crash() {
  local rc=0
  for _ in $(seq 1 300); do kill -0 "$PID" 2>/dev/null || break; sleep 0.1; done
  kill -0 "$PID" 2>/dev/null && fail "$1: stratad did not crash within 30 s"
  wait "$PID" || rc=$?
  PID=""
  [[ $rc == 86 ]] || fail "$1: stratad exited $rc, not at the injected crash"
}
pass() { echo "ok: $*"; }
# log_count PATTERN: how many lines of stratad's log (all its runs) match.
log_count() { grep -c -- "$1" "$T/stratad.log" || true; }

# expect_exit CODE PATTERN DESCRIPTION -- ARGS…: stratad ARGS exits with CODE
# and says PATTERN.
expect_exit() {
  local want=$1 pattern=$2 what=$3; shift 4
  set +e; out=$("$STRATAD" "$@" 2>&1); rc=$?; set -e
  [[ $rc == "$want" ]] || fail "$what: exit $rc, wanted $want ($out)"
  grep -q -- "$pattern" <<<"$out" || fail "$what: message '$out' lacks '$pattern'"
  pass "$what → exit $rc"
}

# stop_group PID: ends the process group PID leads (a server a
# scripts/start-test-*.sh started), continued first in case a test stopped
# it, and waits (≤ 10 s) until its leader is gone, so none writes into $T
# as it is removed. For traps: never fails.
stop_group() {
  [[ -n ${1:-} ]] || return 0
  kill -CONT -- "-$1" 2>/dev/null || true
  kill -- "-$1" 2>/dev/null || true
  for _ in $(seq 100); do kill -0 "$1" 2>/dev/null || return 0; sleep 0.1; done
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# start_keystone: a throw-away Keystone for this test
# (scripts/start-test-keystone.sh under $T/ks: users admin, strata, alice,
# rita, bob, ada), stopped when the test exits. Sets KS_PID, KS_URL and
# exports OS_CLIENT_CONFIG_FILE (a clouds.yaml cloud per user).
start_keystone() {
  local port
  port=$(free_port)
  KS_PID=$("$STRATA_SRC/scripts/start-test-keystone.sh" "$T/ks" "$port") ||
    fail "keystone did not start"
  KS_URL="http://127.0.0.1:$port/v3"
  export OS_CLIENT_CONFIG_FILE="$T/ks/clouds.yaml"
  trap 'rc=$?; declare -F test_cleanup >/dev/null && test_cleanup
        stop_group "$KS_PID"; cleanup "$rc"' EXIT
}

# keystone_auth_conf: the stratad configuration that validates tokens
# against start_keystone's Keystone with the service user strata.
keystone_auth_conf() {
  cat <<CONF
[auth]
strategy = keystone
[keystone_authtoken]
auth_url = $KS_URL
username = strata
password = strata-secret
project_name = service
CONF
}

# Tests without a guest run stratad with --libvirt-uri none: the host's
# libvirt may hold other tests' guests (ctest -j), whose disks would show up
# as volumes. need_guest turns libvirt on.
USES_LIBVIRT=""

# lift_quotas: Cinder's default quotas (issue 18: 10 snapshots and 10
# volumes a project) would stop the tests that take dozens of snapshots, so
# the default quota class is made unlimited, unless the test is about
# quotas (STRATA_CINDER_QUOTAS=1). Kept in the catalog across restarts.
# Noauth stratads only (Keystone ones take few snapshots, and a noauth token
# must not cost them a call to their Keystone); best effort.
lift_quotas() {
  [[ -n ${STRATA_CINDER_QUOTAS:-} ]] && return 0
  grep "listening on" "$T/stratad.log" | tail -1 | grep -q "auth noauth)" ||
    return 0
  curl -s -o /dev/null --max-time 10 -X PUT -H "X-Auth-Token: admin:admin" \
    -H "Content-Type: application/json" \
    -d '{"quota_class_set":{"volumes":-1,"snapshots":-1,"gigabytes":-1,"backups":-1,"backup_gigabytes":-1}}' \
    "$URL/v3/admin/os-quota-class-sets/default" || true
}

# start_stratad [extra stratad args…]: starts it on a free port, waits ready;
# sets PID, PORT and URL (the address it says it serves). With STRATA_CRASH_AT
# (or STRATA_THROW_AT, STRATA_STOP_AT) in its environment it starts the crash-point build; a restart after the
# crash (without it) is the product's.
start_stratad() {
  # A port free_port found can be taken by another process (ctest -j2)
  # before stratad binds it: then a new one, a few times.
  local attempt
  for attempt in 1 2 3 4 5; do
    start_stratad_on "$(free_port)" "$@" && return 0
    grep -q "Address already in use" <<<"$(tail -1 "$T/stratad.log")" ||
      fail "stratad exited at start: $(tail -3 "$T/stratad.log")"
  done
  fail "stratad found no free port in 5 tries: $(tail -1 "$T/stratad.log")"
}

# start_stratad_on PORT [ARGS…]: start_stratad's one try; 1 when stratad
# exited at start.
start_stratad_on() {
  PORT=$1; shift
  URL="http://127.0.0.1:$PORT"
  mkdir -p "$T/var/disks"
  # Gone first: the new process truncates it only once it runs, and until
  # then the previous one's "ready" would be read as this one's.
  rm -f "$T/stratad.out"
  local hv=()
  [[ -z $USES_LIBVIRT ]] && hv=(--libvirt-uri none)
  local bin=$STRATAD
  [[ -n ${STRATA_CRASH_AT:-}${STRATA_THROW_AT:-}${STRATA_STOP_AT:-} ]] && bin=$STRATAD_CRASH_POINTS
  "$bin" --listen "127.0.0.1:$PORT" --state-dir "$T/var" "${hv[@]}" "$@" \
    >"$T/stratad.out" 2>>"$T/stratad.log" &
  PID=$!
  # Ready once recovery is done, which may merge and upload layers first
  # (10 s under a loaded CI once): waits while the process lives, up to
  # 300 s.
  for _ in $(seq 1 3000); do
    if grep -q "ready" "$T/stratad.out" 2>/dev/null; then
      # "stratad ready on http(s)://…": https with --tls-cert/--tls-key.
      URL=$(sed -n 's/^stratad ready on //p' "$T/stratad.out")
      lift_quotas
      return 0
    fi
    if ! kill -0 "$PID" 2>/dev/null; then
      wait "$PID" 2>/dev/null || true
      PID=""
      return 1
    fi
    sleep 0.1
  done
  fail "stratad did not become ready"
}

# api METHOD PATH [JSON] [extra curl args…]: sets CODE and BODY. With
# VOLUME_API_VERSION set, every request asks for that volume microversion.
api() {
  local method=$1 path=$2 data=${3:-}
  shift 3 2>/dev/null || shift $#
  # Strata's own facts ("os-strata:" keys) come only with X-Strata-Details.
  local args=(-s -o "$T/body" -w '%{http_code}' -X "$method"
              -H "X-Auth-Token: $TOKEN" -H "Content-Type: application/json"
              -H "X-Strata-Details: true")
  [[ -n "$data" ]] && args+=(--data-binary "$data")
  [[ -n "${VOLUME_API_VERSION:-}" ]] &&
    args+=(-H "OpenStack-API-Version: volume $VOLUME_API_VERSION")
  : >"$T/body"
  # 000 when the connection drops (a daemon crashing on purpose, mid-reply).
  CODE=$(curl --max-time 120 "${args[@]}" "$@" "$URL$path" 2>"$T/curl.err") || {
    CODE=000; echo "curl $method $path: $(cat "$T/curl.err")" >>"$T/curl.log"; }
  BODY=$(cat "$T/body")
}

# jget EXPR: evaluates a Python expression on the JSON in $BODY (as j).
# The body goes through stdin: a large list would pass argv's limit.
jget() {
  python3 -c 'import json,sys; j=json.load(sys.stdin); print(eval(sys.argv[1]))' "$1" <<<"$BODY"
}

expect_code() {
  [[ "$CODE" == "$1" ]] || fail "$2: expected HTTP $1, got $CODE: $BODY"
}

# wait_status KIND ID STATUS [SECONDS]: waits until the snapshot or volume
# (KIND) has STATUS.
wait_status() {
  local kind=$1 id=$2 want=$3 limit=${4:-60} st=""
  for _ in $(seq 1 $((limit * 10))); do
    api GET "/v3/${kind}s/$id"
    st=$(jget "j['$kind']['status']" 2>/dev/null || echo "?")
    [[ "$st" == "$want" ]] && return 0
    sleep 0.1
  done
  fail "$kind $id: status $st, wanted $want"
}
wait_snapshot() { wait_status snapshot "$@"; }
wait_volume() { wait_status volume "$@"; }

# start_revert VOLUME SNAPSHOT: asks for a revert (3.40); sets CODE, BODY.
start_revert() {
  api POST "/v3/volumes/$1/action" "{\"revert\":{\"snapshot_id\":\"$2\"}}" \
    -H "OpenStack-API-Version: volume 3.40"
}
# await_revert_end VOLUME: waits (≤ 60 s) until VOLUME is no longer
# reverting, whatever the revert's outcome.
await_revert_end() {
  for _ in $(seq 600); do
    api GET "/v3/volumes/$1"; [[ $(jget 'j["volume"]["status"]') != reverting ]] && return 0
    sleep 0.1
  done
  fail "revert of $1 did not end"
}
# revert VOLUME SNAPSHOT: reverts, waits until it has ended, and fails
# unless it succeeded (the volume's head is then SNAPSHOT), with the
# daemon's word on why.
revert() {
  start_revert "$1" "$2"
  expect_code 202 "revert of $1 to $2"
  await_revert_end "$1"
  [[ $(jget 'j["volume"]["os-strata:head_snapshot_id"]') == "$2" ]] ||
    fail "revert of $1 to $2 failed: $(grep "revert of volume $1 failed" "$T/stratad.log" | tail -1)"
}

# last_rec: the highest "REC <n>" the test guest printed to $console. The
# highest, not the last line's: the console's last line may be half
# written ("REC 3" of "REC 328"), and a prefix is always lower.
last_rec() {
  { grep -ao '^REC [0-9]*' "$console" 2>/dev/null || true; } | tr -dc '0-9\n' |
    awk '$1 + 0 > max { max = $1 + 0 } END { print max + 0 }'
}

# verify_disk DISK MIN_LAST: the disk (flattened) holds records 1..N, none
# torn, N >= MIN_LAST; prints verify-records' JSON.
# layer_file OBJECT OUT: a stored layer (a local store's object) as its
# qcow2 file at OUT: a sparse stream (util/sparse_stream.h) decoded, a
# plain layer copied.
layer_file() {
  python3 - "$1" "$2" <<'PY'
import shutil, struct, sys
src, out = sys.argv[1], sys.argv[2]
with open(src, "rb") as f:
    if f.read(16) != b"STRATA-SPARSE-1\n":
        shutil.copyfile(src, out)
        sys.exit(0)
    size, count = struct.unpack(">QQ", f.read(16))
    table = [struct.unpack(">QQ", f.read(16)) for _ in range(count)]
    with open(out, "wb") as o:
        for off, length in table:
            data = f.read(length)
            assert len(data) == length, "the stream ends inside an extent"
            o.seek(off)
            o.write(data)
        o.truncate(size)
    assert f.read(1) == b"", "bytes after the last extent"
PY
}

verify_disk() {
  qemu-img convert -O raw "$1" "$T/disk.raw"
  local result
  result=$("$T/guest/verify-records" --min-last "$2" "$T/disk.raw") || {
    rm -f "$T/disk.raw"; fail "verify-records: $result (wanted last >= $2)"; }
  rm -f "$T/disk.raw"
  echo "$result"
}

# need_guest: skips (77) unless the test guest can boot here (root, libvirt,
# qemu-system, Debian's kernel, busybox-static).
need_guest() {
  USES_LIBVIRT=1
  need qemu-system-x86_64 qemu-img virsh libvirtd virtlogd gcc cpio python3
  [[ $(id -u) -eq 0 ]] || skip "needs root (libvirtd)"
  compgen -G "/boot/vmlinuz-*" >/dev/null || skip "no kernel in /boot"
  [[ -x /bin/busybox ]] || skip "busybox-static is not installed"
}

# Several hosts on one machine (issue 22): each a network namespace with
# its own address on a bridge in this one.
# need_netns: skips (77) unless network namespaces can be made here.
need_netns() {
  need ip
  ip netns add "probe$$" 2>/dev/null || skip "cannot make network namespaces"
  ip netns del "probe$$"
}
# make_bridge NAME ADDR: a bridge here at ADDR/24 (drop_netns removes it).
make_bridge() {
  ip link add "$1" type bridge && ip addr add "$2/24" dev "$1" &&
    ip link set "$1" up || fail "cannot make bridge $1"
}
# make_netns_host NS BRIDGE ADDR: namespace NS with lo up and veth v$NS at
# ADDR/24, its peer p$NS on BRIDGE.
make_netns_host() {
  { ip netns add "$1" &&
    ip link add "v$1" type veth peer name "p$1" &&
    ip link set "v$1" netns "$1" &&
    ip link set "p$1" master "$2" up &&
    ip -n "$1" addr add "$3/24" dev "v$1" &&
    ip -n "$1" link set "v$1" up &&
    ip -n "$1" link set lo up; } || fail "cannot make namespace $1"
}
# drop_netns NAME…: each a namespace (its veth goes with it) or a link.
drop_netns() {
  local n
  for n in "$@"; do
    ip netns del "$n" 2>/dev/null || ip link del "$n" 2>/dev/null || true
  done
}

# start_swift SEGMENT_MIB: Debian's Swift for this test
# (scripts/start-test-swift.sh: one replica, tempauth), stopped by cleanup
# (HELPER_GROUPS: whatever trap a guest started later sets calls it);
# sets s_port, auth (its tempauth URL) and spec (stratad's --store for it:
# the key in $T/swift.key, large objects in SEGMENT_MIB MiB segments).
start_swift() {
  s_port=$(free_port)
  s_pid=$("$STRATA_SRC/scripts/start-test-swift.sh" "$T/swift" "$s_port") ||
    fail "swift did not start"
  HELPER_GROUPS+=("$s_pid")
  echo testing >"$T/swift.key"
  auth="http://127.0.0.1:$s_port/auth/v1.0"
  spec="swift:$auth?user=test:tester&key_file=$T/swift.key&segment_mib=$1"
}

# boot_guest NAME DISK SIZE [CMDLINE_EXTRA]: boots the test guest (records
# 5 ms apart) as a transient domain on a new qcow2 DISK under $T/var/disks,
# its console in $console (set by the caller), destroyed on exit; waits for
# 20 records (with recwriter.serve=1: until it serves requests).
# SECOND_DISK and RING_SOCKET (exported) add vdb and the request port
# (render-test-domain.sh).
boot_guest() { start_guest create "$@"; }

# define_guest NAME DISK SIZE: the same as a defined (persistent) domain,
# as Nova makes them, started, and destroyed and undefined on exit.
define_guest() { start_guest define "$@"; }

# start_guest create|define NAME DISK SIZE [CMDLINE_EXTRA]: boot_guest's
# and define_guest's common part. Sets GUEST_DOMAIN.
start_guest() {
  local how=$1 name=$2 disk=$3 size=$4 extra=${5:-}
  mkdir -p "$T/var/disks"
  chmod 711 "$T" "$T/var" "$T/var/disks"   # qemu runs as libvirt-qemu
  GUEST_DOMAIN=$name
  local undefine=""
  [[ $how == define ]] &&
    undefine='virsh -q undefine "$GUEST_DOMAIN" >/dev/null 2>&1 || true;'
  # A test's own test_cleanup (helper servers it started) runs first.
  trap 'rc=$?; declare -F test_cleanup >/dev/null && test_cleanup
        virsh -q destroy "$GUEST_DOMAIN" >/dev/null 2>&1 || true
        '"$undefine"'
        [[ $rc -ne 0 && -f "$console" ]] && { echo "--- guest console ---"; tail -n 5 "$console"; }
        cleanup "$rc"' EXIT
  "$STRATA_SRC/scripts/build-test-guest.sh" "$T/guest" >/dev/null || fail "guest build"
  "$STRATA_SRC/scripts/start-libvirt.sh" || fail "libvirt did not start"
  qemu-img create -q -f qcow2 "$disk" "$size"
  "$STRATA_SRC/scripts/render-test-domain.sh" "$name" "$(cat /proc/sys/kernel/random/uuid)" \
    "$disk" "$console" "$T/guest" "recwriter.interval_ms=5 $extra" >"$T/domain.xml"
  if [[ $how == define ]]; then
    virsh -q define "$T/domain.xml" >/dev/null || fail "virsh define"
    virsh -q start "$name" >/dev/null || fail "virsh start"
  else
    virsh -q create "$T/domain.xml" >/dev/null || fail "virsh create"
  fi
  if [[ $extra == *recwriter.serve=1* ]]; then  # it writes on request only
    for _ in $(seq 600); do
      grep -aq "RECWRITER START serve" "$console" 2>/dev/null && return 0
      sleep 0.1
    done
    fail "the guest did not start serving requests"
  fi
  for _ in $(seq 600); do [[ $(last_rec) -ge 20 ]] && return 0; sleep 0.1; done
  fail "the guest wrote no records"
}

# The console file starts over when the domain starts: a new boot shows as
# a START line with another boot_id. boot_id: that of the last boot (never
# fails: the console is empty while the guest boots); resumed_at: the
# record the last boot started its log at.
boot_id() {
  { grep -a '^RECWRITER START' "$console" 2>/dev/null || true; } | tail -1 |
    sed -n 's/.*boot_id=\([0-9a-f]*\).*/\1/p'
}
resumed_at() {
  { grep -a '^RECWRITER START' "$console" 2>/dev/null || true; } | tail -1 |
    sed -n 's/.* next=\([0-9]*\).*/\1/p'
}

# bare_domain_xml NAME DISK [PROJECT_ID USER_ID]: a domain with nothing to
# boot (64 MiB, one vCPU) and DISK as its qcow2 vda, for tests that need a
# running domain but not a guest; with PROJECT_ID, Nova's owner metadata.
bare_domain_xml() {
  local owner=""
  [[ $# -ge 4 ]] && owner="
  <metadata>
    <nova:instance xmlns:nova=\"http://openstack.org/xmlns/libvirt/nova/1.1\">
      <nova:owner>
        <nova:user uuid=\"$4\">$4</nova:user>
        <nova:project uuid=\"$3\">$3</nova:project>
      </nova:owner>
    </nova:instance>
  </metadata>"
  cat <<XML
<domain type='qemu'>
  <name>$1</name>
  <memory unit='MiB'>64</memory>
  <vcpu>1</vcpu>$owner
  <os><type arch='x86_64'>hvm</type></os>
  <devices>
    <disk type='file' device='disk'>
      <driver name='qemu' type='qcow2'/>
      <source file='$2'/>
      <target dev='vda' bus='virtio'/>
    </disk>
  </devices>
</domain>
XML
}

# libvirt_chain DOMAIN / file_chain DISK: the chain as libvirt sees it and as
# the files' headers say, top first.
libvirt_chain() {
  virsh dumpxml "$1" | python3 -c '
import sys, xml.etree.ElementTree as ET
d = ET.parse(sys.stdin).getroot().find("./devices/disk")
out = [d.find("source").get("file")]
b = d.find("backingStore")
while b is not None and b.find("source") is not None:
    out.append(b.find("source").get("file")); b = b.find("backingStore")
print(" ".join(out))'
}
file_chain() {
  qemu-img info -U --backing-chain --output=json "$1" |
    python3 -c 'import json,sys; print(" ".join(i["filename"] for i in json.load(sys.stdin)))'
}

# write_pattern DISK PATTERN OFFSET LENGTH (qemu-io)
write_pattern() {
  qemu-io -f qcow2 -c "write -P $2 $3 $4" "$1" >/dev/null
}

# reads_pattern DISK PATTERN OFFSET LENGTH: true when the range holds it.
reads_pattern() {
  local out
  out=$(qemu-io -f qcow2 -c "read -P $2 $3 $4" "$1" 2>&1) || return 1
  ! grep -q "Pattern verification failed" <<<"$out"
}

# manage_disk PATH NAME: adopts a disk; prints the volume id.
manage_disk() {
  api POST /v3/os-volume-manage \
    "{\"volume\":{\"host\":\"h@strata#strata\",\"ref\":{\"source-name\":\"$1\"},\"name\":\"$2\"}}"
  expect_code 202 "manage $1"
  jget 'j["volume"]["id"]'
}

# snapshot VOLUME NAME: creates a snapshot, waits available, prints its id.
snapshot() {
  api POST /v3/snapshots "{\"snapshot\":{\"volume_id\":\"$1\",\"name\":\"$2\"}}"
  expect_code 202 "snapshot create"
  local id
  id=$(jget 'j["snapshot"]["id"]')
  wait_snapshot "$id" available
  echo "$id"
}

# scrape: /metrics parsed by prometheus_client (Debian's python3, with
# python3-prometheus-client) into "name{labels} value" lines (labels
# sorted), in $T/metrics.
scrape() {
  curl -s -f "$URL/metrics" >"$T/metrics.txt" || fail "GET /metrics failed"
  /usr/bin/python3 - "$T/metrics.txt" >"$T/metrics" <<'PY' || fail "prometheus_client rejects /metrics: $(head -c 600 "$T/metrics.txt")"
import sys
from prometheus_client.parser import text_string_to_metric_families
for fam in text_string_to_metric_families(open(sys.argv[1]).read()):
    for s in fam.samples:
        labels = ",".join('%s="%s"' % kv for kv in sorted(s.labels.items()))
        print("%s{%s} %r" % (s.name, labels, float(s.value)))
PY
}
# metric 'name{labels}': its value in the last scrape, 0 when absent.
metric() {
  awk -v k="$1" '$1 == k { v = $2 } END { print v + 0 }' "$T/metrics"
}
