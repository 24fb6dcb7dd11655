#!/usr/bin/env bash
# Store benchmark (issue 4): upload and download MB/s of one layer-sized file
# through Strata's store drivers, next to the plain tool moving the same file
# to the same place: `cp` for the local store, `curl -T` / `curl -o` for the
# dav store on Debian's nginx (scripts/start-test-nginx.sh); then the same
# through the relay stages (zstd; zstd + AES-256-GCM), with the stored size. Peak RSS of the
# store_transfer process is printed for each run (goal for relay stages:
# under 64 MiB whatever the size). The glance store runs against Debian's
# glance-api (scripts/start-test-glance.sh), anchored by curl; the swift store
# against Debian's Swift (scripts/start-test-swift.sh: one replica, tempauth;
# 64 MiB segments), anchored by python3-swiftclient's `swift upload`
# (the same segment size, as an SLO) and `swift download`, and the verified
# get by the fastest verified pipeline, `curl | openssl dgst -sha256` of the
# same object. Each anchor row's last column is Strata's speed over the
# anchor's (>= 1.0: Strata is as fast or faster). Warm page cache, loopback. A local put is
# durable (written back as it goes, fsynced), cp is not; a get, like
# curl -o, does not fsync; nginx does not fsync what it receives.
#   bench/store_bench.sh [MiB]        (default 512; STORE_TRANSFER=path)
#   STORES="local dav glance swift" RELAYS="none zstd zstd+aes" choose the rows,
#   REPS=3 the runs per row (the median is printed, with the highest RSS);
#   e.g. STORES=dav RELAYS=zstd+aes bench/store_bench.sh 2048 for the 2 GiB
#   peak-RSS check.
# The file is half random bytes, half zeros in 1 MiB runs (like a qcow2
# layer: data and unallocated space), so compression has something to do.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
tool=${STORE_TRANSFER:-$here/build/bench/store_transfer}
mib=${1:-512}
# Files live in $STORE_BENCH_DIR (default /dev/shm, a tmpfs): the rows then
# measure the transfer path (drivers, servers, loopback), not this disk's
# writeback, which made runs of the same command vary by 3x.
T=$(mktemp -d "${STORE_BENCH_DIR:-/dev/shm}/strata-storebench.XXXXXX")
stores=${STORES:-local dav glance swift}
relays=${RELAYS:-none zstd zstd+aes}
reps=${REPS:-3}
ngx="" glance="" swift=""
trap '[[ -n $ngx ]] && kill $ngx; [[ -n $glance ]] && kill -- -$glance
      [[ -n $swift ]] && kill -- -$swift; rm -rf "$T"' EXIT
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
ngx=$("$here/scripts/start-test-nginx.sh" "$T/ngx" "$port")
url=http://127.0.0.1:$port/strata

python3 - "$T/layer" "$mib" <<'PY'
import os, sys
with open(sys.argv[1], "wb") as f:
    for i in range(int(sys.argv[2])):
        f.write(os.urandom(1 << 20) if i % 2 == 0 else bytes(1 << 20))
PY
size=$(stat -c %s "$T/layer")
cat "$T/layer" >/dev/null  # warm

ms() { echo "${EPOCHREALTIME/./}"; }  # µs, without starting a process
mbps() { python3 -c "print(f'{$size / 1048576 / ($1 / 1000):.0f}')"; }
row() { printf '%-40s %10s %10s %10s %12s %9s\n' "$@"; }

row "transfer ($((size >> 20)) MiB)" "ms" "MiB/s" "peak RSS" "stored MiB" "Strata/x"
row "----------------------------------------" "----------" "----------" "----------" "------------" "---------"
# Each row is the median of $reps runs; before each run `sync` writes back
# what the previous one left dirty, so no run pays for another's writeback.
median() { python3 -c "import statistics,sys; print(f'{statistics.median(map(float, sys.argv[1:])):.1f}')" "$@"; }
run_tool() {  # run_tool LABEL ARGS… : store_transfer runs → a row
  local label=$1; shift
  local op bytes t rss sha times=() peak=0 i args
  for i in $(seq "$reps"); do
    # A get's file from the rep before would be freed inside this one's
    # time (its rename replaces it).
    [[ $1 == get ]] && rm -f "$4"
    sync
    args=("$@")
    # Each put but the last goes to a key of its own: a put of a key that
    # holds the same bytes already would measure a resume (swift), not an
    # upload. The last one leaves the key the get rows read.
    [[ $1 == put && $i -lt $reps && -z ${SAME_KEY:-} ]] && args[2]="${args[2]}.rep$i"
    # (the drivers' INFO lines, e.g. a resume's, stay out of the table)
    read -r op bytes t rss sha < <("$tool" "${args[@]}" 2> >(grep -v ' INFO ' >&2))
    times+=("$t")
    (( rss > peak )) && peak=$rss
  done
  t=$(median "${times[@]}")
  row "$label" "$t" "$(mbps "$t")" "$((peak / 1024)) MiB" \
    "$([[ $op == put ]] && echo $((bytes >> 20)))" ""
  LAST_SHA=$sha
  if [[ $op == put ]]; then PUT_MS=$t PUT_SHA=$sha; else GET_MS=$t; fi
}
# anchor LABEL STRATA_MS CMD… : wall time of a plain tool, median, and
# the Strata row's speed over it.
anchor() {
  local label=$1 strata_ms=$2; shift 2
  local t
  median_ms "$@"; t=$MEDIAN_MS
  row "$label" "$t" "$(mbps "$t")" "" "" \
    "$(python3 -c "print(f'{$t / $strata_ms:.2f}x')")"
}
# median_ms CMD… : sets MEDIAN_MS to the median wall time of $reps runs of
# CMD, run in this shell (a command may count its runs in a variable).
median_ms() {
  local a b times=()
  for _ in $(seq "$reps"); do
    sync
    a=$(ms); "$@"; b=$(ms)
    times+=("$(( (b - a) / 1000 ))")
  done
  MEDIAN_MS=$(median "${times[@]}")
}
# paired LABEL_A LABEL_B CMD_A -- CMD_B : 2 x $reps + 1 reps, each one run
# of both commands back to back (which runs first alternates, each after
# sync), both timed from outside the same way (process starts included).
# Prints each one's median and, on B's row, the median of each rep's ratio
# B/A: a drift of the machine between reps (Swift's Python processes share
# the two cores with both) hits both runs of a rep alike and cancels. Then
# every rep's pair. $PAIRED_PREP_A, when set, runs before each run of A
# (and before one untimed run of A first), outside A's time: see
# fresh_write.
paired() {
  local label_a=$1 label_b=$2; shift 2
  local a=() b=() i at bt ta=() tb=() ratios=() prep_a=${PAIRED_PREP_A:-true}
  while [[ $1 != -- ]]; do a+=("$1"); shift; done
  shift; b=("$@")
  $prep_a; "${a[@]}"  # untimed: the first timed run of A has one before it
  for i in $(seq $((2 * reps + 1))); do
    if (( i % 2 )); then
      $prep_a; sync; at=$(ms); "${a[@]}"; at=$(( ($(ms) - at) / 1000 ))
      sync; bt=$(ms); "${b[@]}"; bt=$(( ($(ms) - bt) / 1000 ))
    else
      sync; bt=$(ms); "${b[@]}"; bt=$(( ($(ms) - bt) / 1000 ))
      $prep_a; sync; at=$(ms); "${a[@]}"; at=$(( ($(ms) - at) / 1000 ))
    fi
    ta+=("$at"); tb+=("$bt")
    ratios+=("$(python3 -c "print($bt / $at)")")
  done
  local ma mb
  ma=$(median "${ta[@]}"); mb=$(median "${tb[@]}")
  row "$label_a" "$ma" "$(mbps "$ma")" "" "" ""
  row "$label_b" "$mb" "$(mbps "$mb")" "" "" \
    "$(python3 -c "import statistics,sys; print(f'{statistics.median(map(float, sys.argv[1:])):.2f}x')" "${ratios[@]}")"
  # Every rep, so that a spread the medians hide shows.
  local reps_line="" j
  for j in "${!ta[@]}"; do reps_line+=" ${ta[$j]}/${tb[$j]}"; done
  echo "    reps (ms, A/B):$reps_line"
}
# control LABEL CMD… : wall time of one part of a pipeline alone (median),
# the limit this machine sets on the rows above it; no ratio.
control() {
  local label=$1; shift
  local t
  median_ms "$@"; t=$MEDIAN_MS
  row "$label" "$t" "$(mbps "$t")" "" "" ""
}

# glance: Debian's glance-api (no Keystone, file backend), anchored by curl
# creating an image and PUTting/GETting its file, as Glance's own clients do.
if [[ " $stores " == *" glance "* ]]; then
  gport=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  glance=$("$here/scripts/start-test-glance.sh" "$T/glance" "$gport")
  gurl=http://127.0.0.1:$gport
fi
glance_curl_put() {
  local id
  id=$(curl -sf -X POST -H 'Content-Type: application/json' "$gurl/v2/images" \
    -d '{"name":"curl","disk_format":"raw","container_format":"bare"}' |
    grep -o '"id": "[0-9a-f-]*"' | cut -d'"' -f4)
  curl -sf -X PUT -H 'Content-Type: application/octet-stream' -T "$T/layer" \
    "$gurl/v2/images/$id/file"
  echo "$id" >"$T/curl-image"
}
glance_curl_get() { curl -sf -o "$T/curl-out" "$gurl/v2/images/$(cat "$T/curl-image")/file"; }

if [[ " $stores " == *" swift "* ]]; then
  sport=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  swift=$("$here/scripts/start-test-swift.sh" "$T/swift" "$sport")
  sauth=http://127.0.0.1:$sport/auth/v1.0
  echo testing >"$T/swift.key"
  # The account's storage URL and a token, for curl.
  read -r surl stoken < <(curl -sf -D - -o /dev/null -H 'X-Auth-User: test:tester' \
    -H 'X-Auth-Key: testing' "$sauth" | tr -d '\r' |
    awk 'tolower($1) == "x-storage-url:" { u = $2 } tolower($1) == "x-auth-token:" { t = $2 }
         END { print u, t }')
fi
swift_cli() { swift -q -A "$sauth" -U test:tester -K testing "$@"; }
# Each upload to a name of its own, as Strata's puts (an overwrite would
# make swiftclient delete the old segments too); the get reads the last.
cli_puts=0
swift_cli_put() {
  cli_puts=$((cli_puts + 1))
  swift_cli upload --use-slo -S $((64 << 20)) --object-name "cli/layer$cli_puts" \
    bench-cli "$T/layer"
}
swift_cli_get() { swift_cli download bench-cli "cli/layer$cli_puts" -o "$T/curl-out"; }
# The fastest verified pipeline: the bytes and their SHA-256, nothing kept.
swift_curl_sha() {
  curl -sf -H "X-Auth-Token: $stoken" "$surl/bench/k/layer-none" |
    openssl dgst -sha256 >"$T/curl-sha"
  grep -q "$PUT_SHA" "$T/curl-sha" || { echo "curl | openssl: other bytes" >&2; exit 1; }
}
# Its two halves alone: the bytes from Swift, thrown away; the SHA-256 of
# the file from the page cache.
swift_curl_only() { curl -sf -H "X-Auth-Token: $stoken" "$surl/bench/k/layer-none" -o /dev/null; }
sha_only() { openssl dgst -sha256 <"$T/layer" >/dev/null; }
# Before each of Strata's paired runs, untimed for it: the file the last
# get left is removed, then $size bytes are written to a fresh file (dd
# from /dev/zero), timed as a control, and removed. This machine is a
# Firecracker VM: a page its guest has not touched lately costs a host
# fault on first touch, so the same get took 1.2 s or up to 2.3 s (perf:
# 63% of it in the kernel's copy into new tmpfs pages) depending on where
# its file's pages came from, while the pipeline, which writes nothing,
# never paid it. After the control's write and removal the get's file
# lands in pages just touched, as it would in a host's page cache; the
# control's own times show what fresh pages cost at that moment.
fresh_ms=()
fresh_write() {
  rm -f "$T/out"
  local a; a=$(ms)
  dd if=/dev/zero of="$T/fresh" bs=1M count=$((size >> 20)) status=none
  fresh_ms+=("$(( ($(ms) - a) / 1000 ))")
  rm -f "$T/fresh"
}
# Strata's verified get of the same object as the pipeline's, as a command.
# (It checks the bytes' SHA-256 itself and exits 1 on a mismatch.)
strata_verified_get() {
  "$tool" get "$spec" k/layer-none "$T/out" "$PUT_SHA" >/dev/null \
    2> >(grep -v ' INFO ' >&2)
}

head -c 32 /dev/urandom >"$T/aes.key"; chmod 600 "$T/aes.key"
for relay in $relays; do
  z=(); tag=""
  case $relay in
    none) ;;
    zstd) z=(--zstd 3); tag=" +zstd 3" ;;
    zstd+aes) z=(--zstd 3 --aes "$T/aes.key"); tag=" +zstd 3 +aes-256-gcm" ;;
    *) echo "unknown relay $relay (none, zstd, zstd+aes)" >&2; exit 2 ;;
  esac
  for store in $stores; do
    case $store in
      local) spec="local:$T/store" ;;
      dav) spec="dav:$url" ;;
      glance) spec="glance:$gurl" ;;
      swift) spec="swift:$sauth?user=test:tester&key_file=$T/swift.key&container=bench" ;;
      *) echo "unknown store $store (local, dav, glance, swift)" >&2; exit 2 ;;
    esac
    run_tool "$store put$tag" put "$spec" "k/layer-${relay//+/-}" "$T/layer" "${z[@]}"
    FIRST_PUT_MS=$PUT_MS
    run_tool "$store get$tag" get "$spec" "k/layer-${relay//+/-}" "$T/out" "$LAST_SHA" "${z[@]}"
    VERIFIED_GET_MS=$GET_MS
    cmp -s "$T/layer" "$T/out" || { echo "$store$tag: the file read back differs" >&2; exit 1; }
    rm -f "$T/out"
    [[ $relay == none ]] || continue
    # The transfer alone, no SHA-256 check (the engine always checks): what
    # the check costs, next to the row above and curl's.
    if [[ $store != local ]]; then
      run_tool "$store get, no SHA-256 check" get "$spec" "k/layer-${relay//+/-}" "$T/out"
      cmp -s "$T/layer" "$T/out" || { echo "$store: the file read back differs" >&2; exit 1; }
      rm -f "$T/out"
    fi
    case $store in
      local) anchor "  cp (anchor for local put)" "$FIRST_PUT_MS" cp "$T/layer" "$T/cp-copy"
             rm -f "$T/cp-copy" ;;
      dav) anchor "  curl -T (anchor for dav put)" "$FIRST_PUT_MS" curl -sf -T "$T/layer" "$url/curl/layer"
           anchor "  curl -o (anchor for unchecked get)" "$GET_MS" curl -sf -o "$T/curl-out" "$url/curl/layer"
           rm -f "$T/curl-out" ;;
      glance) anchor "  curl PUT (anchor for glance put)" "$FIRST_PUT_MS" glance_curl_put
              anchor "  curl GET (anchor for unchecked get)" "$GET_MS" glance_curl_get
              rm -f "$T/curl-out" ;;
      swift) # The same put again: every segment is stored already, so
             # nothing is sent (each is read and compared, MD5 against
             # Swift's ETag): what a resumed upload costs at most.
             # Segments one at a time (the default keeps 2 in flight).
             run_tool "swift put, one segment at a time" put \
               "$spec&parallel=1" k/layer-serial "$T/layer"
             "$tool" put "$spec" k/layer-again "$T/layer" >/dev/null 2>&1
             SAME_KEY=1 run_tool "swift put again (resumes, sends nothing)" \
               put "$spec" k/layer-again "$T/layer"
             anchor "  swift upload (anchor for swift put)" "$FIRST_PUT_MS" swift_cli_put
             anchor "  swift download (anchor, unchecked get)" "$GET_MS" swift_cli_get
             anchor "  curl | openssl dgst (anchor, checked)" "$VERIFIED_GET_MS" swift_curl_sha
             PAIRED_PREP_A=fresh_write paired "  swift get, paired with the pipeline" \
               "  curl | openssl dgst, paired (ratio: rep by rep)" \
               strata_verified_get -- swift_curl_sha
             row "    control: dd $((size >> 20)) MiB to a fresh file" \
               "$(median "${fresh_ms[@]}")" "" "" "" ""
             echo "    dd before each Strata run (ms):${fresh_ms[*]/#/ }"
             control "    control: curl alone, no hash" swift_curl_only
             control "    control: openssl dgst alone, cached" sha_only
             rm -f "$T/curl-out" "$T/out" ;;
    esac
  done
done
