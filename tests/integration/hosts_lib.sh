# Several compute hosts on this machine, for the group tests of issue 22:
# each a stratad in its own network namespace (ip netns, a veth pair on a
# bridge) with its own address, state directory ($T/NAME) and guests (the
# domains named NAME-*: they share this machine's libvirtd). They talk only
# through their APIs. Sourced after lib.sh; the test's own test_cleanup
# calls hosts_cleanup. Host names make the domains' names (NAME-vm…), so
# tests that may run at once (ctest -j2) use names of their own.

HOST_PORT=8786  # each host has its own address
# hosts_net NAME…: the bridge and a namespace per host; sets HOST_URL_<NAME>
# and HOST_URLS (all of them, in order: every host's [groups] hosts).
hosts_net() {
  need_netns
  local net i=1 n lock taken
  HOST_NAMES=("$@")
  # A /24 no other test's bridge has, picked and taken under a lock.
  exec {lock}>/run/strata-hosts-net.lock
  flock "$lock"
  taken=$(ip -o addr show)
  for _ in $(seq 1 200); do
    net=$((RANDOM % 200 + 20))
    grep -q " 10\.$net\.7\." <<<"$taken" || break
  done
  make_bridge "st$$" "10.$net.7.254"
  flock -u "$lock"
  exec {lock}>&-
  HOST_URLS=()
  for n in "$@"; do
    make_netns_host "s$n$$" "st$$" "10.$net.7.$i"
    eval "HOST_ADDR_$n=10.$net.7.$i"
    eval "HOST_URL_$n=http://10.$net.7.$i:$HOST_PORT"
    HOST_URLS+=("http://10.$net.7.$i:$HOST_PORT")
    i=$((i + 1))
  done
}
host_url() { local v="HOST_URL_$1"; echo "${!v}"; }
# host_start NAME: stratad NAME in its namespace (the crash-point build
# when STRATA_CRASH_AT or STRATA_STOP_AT is set), its domains those named
# NAME-*; waits until it is ready.
host_start() {
  local v="HOST_ADDR_$1" bin=$STRATAD
  [[ -n ${STRATA_CRASH_AT:-}${STRATA_STOP_AT:-} ]] && bin=$STRATAD_CRASH_POINTS
  mkdir -p "$T/$1/disks"
  chmod 711 "$T" "$T/$1" "$T/$1/disks"
  local IFS=,
  cat >"$T/$1.conf" <<EOF
[hypervisor]
domain_name_glob = $1-*
[groups]
hosts = ${HOST_URLS[*]}
hold_max_ms = ${HOLD_MAX_MS:-5000}
EOF
  unset IFS
  rm -f "$T/$1.out"
  ip netns exec "s$1$$" "$bin" --listen "${!v}:$HOST_PORT" --state-dir "$T/$1" \
    --config "$T/$1.conf" >"$T/$1.out" 2>>"$T/$1.log" &
  eval "PID_$1=$!"
  for _ in $(seq 1 3000); do
    grep -q ready "$T/$1.out" 2>/dev/null && return 0
    kill -0 "$(host_pid "$1")" 2>/dev/null || fail "stratad $1 exited: $(tail -3 "$T/$1.log")"
    sleep 0.1
  done
  fail "stratad $1 did not become ready: $(tail -3 "$T/$1.log")"
}
host_pid() { local v="PID_$1"; echo "${!v:-}"; }
# host_stop NAME: stops stratad NAME (SIGTERM) and waits for it.
host_stop() {
  local p; p=$(host_pid "$1")
  kill "$p" 2>/dev/null || true
  wait "$p" 2>/dev/null || true
}
# host_wait_crash NAME STEP: waits (≤ 120 s) until host NAME died at its
# injected crash STEP.
host_wait_crash() {
  local pid; pid=$(host_pid "$1")
  for _ in $(seq 1 1200); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -0 "$pid" 2>/dev/null && fail "$1 did not crash at $2"
  wait "$pid" 2>/dev/null || true
  grep -aq "injected crash at $2" "$T/$1.log" || fail "$1 died, but not at $2: $(tail -3 "$T/$1.log")"
}
# host_api HOST METHOD PATH [JSON]: api against host HOST.
host_api() {
  local u; u=$(host_url "$1"); shift
  URL=$u api "$@"
}
# host_boot NAME [CMDLINE_EXTRA]: the ring guest NAME-vm on host NAME,
# serving requests on $T/ring/NAME.sock (recwriter.serve=1).
host_boot() {
  mkdir -p "$T/ring"
  chmod 777 "$T/ring"  # QEMU, as libvirt-qemu, makes the socket
  console=$T/$1-console.log RING_SOCKET=$T/ring/$1.sock \
    boot_guest "$1-vm" "$T/$1/disks/$1-vm.qcow2" 256M \
    "recwriter.serve=1 recwriter.print_every=1000 ${2:-}"
}
# hosts_cleanup: the ring driver, every host's guest and stratad, the
# namespaces; on failure the logs' tails.
hosts_cleanup() {
  ring_stop
  local h
  for h in "${HOST_NAMES[@]}"; do
    virsh -q destroy "$h-vm" >/dev/null 2>&1 || true
    [[ -n $(host_pid "$h") ]] && host_stop "$h"
  done
  if [[ ${rc:-0} -ne 0 ]]; then
    for h in "${HOST_NAMES[@]}"; do echo "--- $h's log ---"; tail -n 15 "$T/$h.log" 2>/dev/null; done
    echo "--- the ring driver ---"; cat "$T/ring.progress" "$T/ring.err" 2>/dev/null
  fi
  local ns=()
  for h in "${HOST_NAMES[@]}"; do ns+=("s$h$$"); done
  drop_netns "${ns[@]}" "st$$"
}
# part_snapshots HOST GROUP_SNAPSHOT: the ids of that host's member
# snapshots of the group snapshot, one per line.
part_snapshots() {
  host_api "$1" GET "/v3/snapshots/detail?all_tenants=1"
  jget "'\n'.join(s['id'] for s in j['snapshots'] if s['group_snapshot_id'] == '$2')"
}
# vda_of HOST: the volume id of that host's guest's disk.
vda_of() {
  host_api "$1" GET /v3/volumes/detail
  jget '[v["id"] for v in j["volumes"] if v["name"] == "'"$1"'-vm-vda"][0]'
}
# snapshot_records HOST SNAPSHOT: the records of that host's snapshot,
# turned back into a volume (deleted after).
snapshot_records() {
  local h=$1 x n
  host_api "$h" POST /v3/volumes "{\"volume\": {\"size\": 1, \"snapshot_id\": \"$2\", \"name\": \"x-$2\"}}"
  expect_code 202 "a volume from snapshot $2 on $h"
  x=$(jget 'j["volume"]["id"]')
  URL=$(host_url "$h") wait_volume "$x" available
  n=$(disk_records "$T/$h/volumes/volume-$x.qcow2")
  host_api "$h" DELETE "/v3/volumes/$x"
  expect_code 202 "deleting volume $x on $h"
  echo "$n"
}
# part_records HOST GROUP_SNAPSHOT: the records of that host's part of the
# group snapshot.
part_records() {
  local h=$1 gs=$2 v s
  v=$(vda_of "$h")
  host_api "$h" GET "/v3/snapshots/detail?all_tenants=1"
  s=$(jget "[s['id'] for s in j['snapshots'] if s['group_snapshot_id'] == '$gs' and s['volume_id'] == '$v'][0]")
  snapshot_records "$h" "$s"
}
