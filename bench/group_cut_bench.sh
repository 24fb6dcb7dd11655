#!/usr/bin/env bash
# Group cut benchmark (issue 22, R4.4–R4.5): what a consistent cut across
# VMs and hosts costs the guests. For each layout (VMS x HOSTS, default
# "1x1 3x1 6x1 3x3 6x3"): HOSTS stratads, each in its own network namespace
# (tests/integration/hosts_lib.sh), VMS test guests spread over them, the
# ring of requests across all guests (tests/tools/ring_driver.py, 10 ms
# apart), and CUTS group snapshots (default 20) of all the servers through
# the first host's REST API, each deleted after. Per layout, median / p99 /
# max over the cuts:
#   stall   the guests' longest request during the cut (send to durable
#           answer, as the ring driver sees it): the write stall an
#           application saw;
#   hold    the longest hold a host reported (first pause to last resume);
#   skew    between the hosts' cut instants (0 on one host);
#   e2e     from the request to the group snapshot available.
# The anchor, in the same run and layout: the same servers snapshotted the
# way a script over the Cinder API would hold them, all suspended (virsh
# suspend), one snapshot each through the API, all resumed; its stall and
# hold side by side, and the ratio. The control: one guest suspended and
# resumed at once (virsh), the machine's own floor for a hold.
# Needs root, libvirt, qemu-system-x86, ip netns and the guest packages.
# Usage: [LAYOUTS="3x3"] bench/group_cut_bench.sh [CUTS]
source "$(dirname "$0")/../tests/integration/lib.sh"
source "$(dirname "$0")/../tests/integration/ring_lib.sh"
source "$(dirname "$0")/../tests/integration/hosts_lib.sh"
need_guest
need ip qemu-img python3
CUTS=${1:-20}
LAYOUTS=${LAYOUTS:-1x1 3x1 6x1 3x3 6x3}
HOLD_MAX_MS=10000
VOLUME_API_VERSION=3.65
console=$T/console.log
DOMAINS=()
test_cleanup() {
  local d
  for d in "${DOMAINS[@]}"; do virsh -q destroy "$d" >/dev/null 2>&1 || true; done
  [[ ${#HOST_NAMES[@]} -gt 0 ]] && hosts_cleanup
  return 0
}
trap 'rc=$?; test_cleanup; cleanup "$rc"' EXIT

# stats FILE: "median p99 max" of the numbers in FILE.
stats() {
  sort -n "$1" | awk '{v[NR]=$1} END {
    if (NR == 0) { print "- - -"; exit }
    p = int(NR * 0.99 + 0.999); if (p > NR) p = NR
    printf "%.1f %.1f %.1f\n", v[int((NR + 1) / 2)], v[p], v[NR] }'
}
# stall_between T0 T1: the longest ring request that ended in [T0, T1 + 1 s]
# (a request held across the cut ends after it), 0 when none was slow.
stall_between() {
  awk -v a="$1" -v b="$2" '$1 >= a && $1 <= b + 1 && $2 > m { m = $2 } END { print m + 0 }' \
    "$RING_SLOW_LOG" 2>/dev/null || echo 0
}

# The control: one guest suspended and resumed at once.
control_ms() {
  local d=$1 t0 t1
  t0=$(date +%s%N)
  virsh -q suspend "$d" >/dev/null
  virsh -q resume "$d" >/dev/null
  t1=$(date +%s%N)
  echo "scale=1; ($t1 - $t0) / 1000000" | bc
}

printf '%-7s %-22s %-22s %-22s %-22s %-22s %-22s %s\n' layout \
  "stall ms med/p99/max" "hold ms" "skew ms" "e2e ms" \
  "anchor stall ms" "anchor hold ms" "stall ratio (p99)  control ms"
n_layout=0
for layout in $LAYOUTS; do
  vms=${layout%x*} hosts=${layout#*x}
  n_layout=$((n_layout + 1))
  names=()
  for h in $(seq 1 "$hosts"); do names+=("g${n_layout}h$h"); done
  hosts_net "${names[@]}"
  for h in "${names[@]}"; do host_start "$h"; done
  socks=() servers=() DOMAINS=()
  for v in $(seq 1 "$vms"); do
    h=${names[$(((v - 1) % hosts))]}
    d=$h-vm$v
    mkdir -p "$T/ring"; chmod 777 "$T/ring"
    console=$T/$d-console.log RING_SOCKET=$T/ring/$d.sock \
      boot_guest "$d" "$T/$h/disks/$d.qcow2" 256M "recwriter.serve=1 recwriter.print_every=1000"
    DOMAINS+=("$d")
    socks+=("$T/ring/$d.sock")
    servers+=("\"$(virsh domuuid "$d")\"")
  done
  RING_SLOW_LOG=$T/slow-$layout.log
  : >"$RING_SLOW_LOG"
  ring_start "${socks[@]}"
  coord=${names[0]}
  host_api "$coord" POST /v3/group_types '{"group_type": {"name": "bench"}}'
  gt=$(jget 'j["group_type"]["id"]')
  host_api "$coord" POST /v3/groups "{\"group\": {\"name\": \"bench\", \"group_type\": \"$gt\", \"volume_types\": [\"__DEFAULT__\"]}}"
  g=$(jget 'j["group"]["id"]')
  list=$(IFS=,; echo "${servers[*]}")
  : >"$T/stall" ; : >"$T/hold" ; : >"$T/skew" ; : >"$T/e2e"
  for i in $(seq 1 "$CUTS"); do
    ring_advances 10
    t0=$(date +%s.%N)
    host_api "$coord" POST /v3/group_snapshots \
      "{\"group_snapshot\": {\"group_id\": \"$g\", \"name\": \"c$i\", \"os-strata:servers\": [$list]}}"
    expect_code 202 "group snapshot $i"
    gs=$(jget 'j["group_snapshot"]["id"]')
    URL=$(host_url "$coord") wait_status group_snapshot "$gs" available 300
    t1=$(date +%s.%N)
    echo "($t1 - $t0) * 1000" | bc >>"$T/e2e"
    line=$(grep -a "group snapshot $gs: .*cut consistently" "$T/$coord.log" | tail -1)
    sed -n 's/.*longest hold \([0-9.]*\) ms.*/\1/p' <<<"$line" >>"$T/hold"
    sed -n 's/.*cut skew \([0-9.]*\) ms.*/\1/p' <<<"$line" >>"$T/skew"
    ring_advances 3  # the requests held across the cut have ended
    stall_between "$t0" "$t1" >>"$T/stall"
    host_api "$coord" DELETE "/v3/group_snapshots/$gs"
    expect_code 202 "deleting group snapshot $i"
  done
  # The anchor: all suspended, one API snapshot each, all resumed.
  : >"$T/astall" ; : >"$T/ahold"
  anchor_cuts=$(( CUTS < 5 ? CUTS : 5 ))
  for i in $(seq 1 "$anchor_cuts"); do
    ring_advances 10
    t0=$(date +%s.%N)
    for d in "${DOMAINS[@]}"; do virsh -q suspend "$d" >/dev/null; done
    snaps=()
    for d in "${DOMAINS[@]}"; do
      h=${d%-vm*}
      host_api "$h" GET /v3/volumes/detail
      vol=$(jget '[v["id"] for v in j["volumes"] if v["name"] == "'"$d"'-vda"][0]')
      s=$(URL=$(host_url "$h") snapshot "$vol" "a$i-$d") || fail "anchor snapshot of $d"
      snaps+=("$h $s")
    done
    for d in "${DOMAINS[@]}"; do virsh -q resume "$d" >/dev/null; done
    t1=$(date +%s.%N)
    echo "($t1 - $t0) * 1000" | bc >>"$T/ahold"
    ring_advances 3
    stall_between "$t0" "$t1" >>"$T/astall"
    for hs in "${snaps[@]}"; do
      read -r h s <<<"$hs"
      host_api "$h" DELETE "/v3/snapshots/$s"
    done
  done
  ctl=$(control_ms "${DOMAINS[0]}")
  read -r _ sp99 _ <<<"$(stats "$T/stall")"
  read -r _ ap99 _ <<<"$(stats "$T/astall")"
  ratio=$(echo "scale=2; $sp99 / $ap99" | bc 2>/dev/null || echo -)
  printf '%-7s %-22s %-22s %-22s %-22s %-22s %-22s %-18s %s\n' "$vms"x"$hosts" \
    "$(stats "$T/stall" | tr ' ' /)" "$(stats "$T/hold" | tr ' ' /)" \
    "$(stats "$T/skew" | tr ' ' /)" "$(stats "$T/e2e" | tr ' ' /)" \
    "$(stats "$T/astall" | tr ' ' /)" "$(stats "$T/ahold" | tr ' ' /)" "$ratio" "$ctl"
  ring_stop
  test_cleanup
  HOST_NAMES=() DOMAINS=()
done
echo "($CUTS group snapshots per layout, anchor over $anchor_cuts; the ring's requests 10 ms apart)"
