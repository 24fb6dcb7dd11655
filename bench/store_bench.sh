#!/usr/bin/env bash
# Store benchmark (issue 4): upload and download MB/s of one layer-sized file
# through Strata's store drivers, next to the plain tool moving the same file
# to the same place: `cp` for the local store, `curl -T` / `curl -o` for the
# dav store on Debian's nginx (scripts/start-test-nginx.sh); then the same
# through the relay stages (zstd; zstd + AES-256-GCM), with the stored size. Peak RSS of the
# store_transfer process is printed for each run (goal for relay stages:
# under 64 MiB whatever the size). The glance store runs against Debian's
# glance-api (scripts/start-test-glance.sh), anchored by curl. Warm page cache, loopback. A local put is
# durable (written back as it goes, fsynced), cp is not; a get, like
# curl -o, does not fsync; nginx does not fsync what it receives.
#   bench/store_bench.sh [MiB]        (default 512; STORE_TRANSFER=path)
#   STORES="local dav glance" RELAYS="none zstd zstd+aes" choose the rows,
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
stores=${STORES:-local dav glance}
relays=${RELAYS:-none zstd zstd+aes}
reps=${REPS:-3}
ngx="" glance=""
trap '[[ -n $ngx ]] && kill $ngx; [[ -n $glance ]] && kill -- -$glance; rm -rf "$T"' EXIT
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
row() { printf '%-34s %10s %10s %10s %12s\n' "$@"; }

row "transfer ($((size >> 20)) MiB)" "ms" "MiB/s" "peak RSS" "stored MiB"
row "----------------------------------" "----------" "----------" "----------" "------------"
# Each row is the median of $reps runs; before each run `sync` writes back
# what the previous one left dirty, so no run pays for another's writeback.
median() { python3 -c "import statistics,sys; print(f'{statistics.median(map(float, sys.argv[1:])):.1f}')" "$@"; }
run_tool() {  # run_tool LABEL ARGS… : store_transfer runs → a row
  local label=$1; shift
  local op bytes t rss sha times=() peak=0
  for _ in $(seq "$reps"); do
    sync
    read -r op bytes t rss sha < <("$tool" "$@")
    times+=("$t")
    (( rss > peak )) && peak=$rss
  done
  t=$(median "${times[@]}")
  row "$label" "$t" "$(mbps "$t")" "$((peak / 1024)) MiB" \
    "$([[ $op == put ]] && echo $((bytes >> 20)))"
  LAST_SHA=$sha
}
anchor() {  # anchor LABEL CMD… : wall time of a plain tool, median
  local label=$1; shift
  local a b times=()
  for _ in $(seq "$reps"); do
    sync
    a=$(ms); "$@"; b=$(ms)
    times+=("$(( (b - a) / 1000 ))")
  done
  local t
  t=$(median "${times[@]}")
  row "$label" "$t" "$(mbps "$t")" "" ""
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
      *) echo "unknown store $store (local, dav, glance)" >&2; exit 2 ;;
    esac
    run_tool "$store put$tag" put "$spec" "k/layer-${relay//+/-}" "$T/layer" "${z[@]}"
    run_tool "$store get$tag" get "$spec" "k/layer-${relay//+/-}" "$T/out" "$LAST_SHA" "${z[@]}"
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
      local) anchor "  cp (anchor for local put)" cp "$T/layer" "$T/cp-copy"
             rm -f "$T/cp-copy" ;;
      dav) anchor "  curl -T (anchor for dav put)" curl -sf -T "$T/layer" "$url/curl/layer"
           anchor "  curl -o (anchor for dav get)" curl -sf -o "$T/curl-out" "$url/curl/layer"
           rm -f "$T/curl-out" ;;
      glance) anchor "  curl PUT (anchor for glance put)" glance_curl_put
              anchor "  curl GET (anchor for glance get)" glance_curl_get
              rm -f "$T/curl-out" ;;
    esac
  done
done
