#!/usr/bin/env bash
# Store benchmark (issue 4): upload and download MB/s of one layer-sized file
# through Strata's store drivers, next to the plain tool moving the same file
# to the same place: `cp` for the local store, `curl -T` / `curl -o` for the
# dav store on Debian's nginx (scripts/start-test-nginx.sh); then the same
# through the zstd relay stage, with the stored size. Peak RSS of the
# store_transfer process is printed for each run (goal for relay stages:
# under 64 MiB whatever the size). Warm page cache, loopback. A local put is
# durable (written back as it goes, fsynced), cp is not; a get, like
# curl -o, does not fsync; nginx does not fsync what it receives.
#   bench/store_bench.sh [MiB]        (default 512; STORE_TRANSFER=path)
# The file is half random bytes, half zeros in 1 MiB runs (like a qcow2
# layer: data and unallocated space), so compression has something to do.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
tool=${STORE_TRANSFER:-$here/build/bench/store_transfer}
mib=${1:-512}
T=$(mktemp -d /var/tmp/strata-storebench.XXXXXX)
ngx=""
trap '[[ -n $ngx ]] && kill $ngx; rm -rf "$T"' EXIT
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
run_tool() {  # run_tool LABEL ARGS… : one store_transfer line → a row
  local label=$1; shift
  local op bytes t rss sha
  read -r op bytes t rss sha < <("$tool" "$@")
  row "$label" "$t" "$(mbps "$t")" "$((rss / 1024)) MiB" \
    "$([[ $op == put ]] && echo $((bytes >> 20)))"
  LAST_SHA=$sha
}
anchor() {  # anchor LABEL CMD… : wall time of a plain tool
  local label=$1; shift
  local a b
  a=$(ms); "$@"; b=$(ms)
  local t
  t=$(python3 -c "print(f'{($b - $a) / 1000:.1f}')")
  row "$label" "$t" "$(mbps "$t")" "" ""
}

for zstd in 0 3; do
  z=(); tag=""
  [[ $zstd -gt 0 ]] && z=(--zstd "$zstd") && tag=" +zstd $zstd"
  run_tool "local put$tag" put "local:$T/store" "k/layer$zstd" "$T/layer" "${z[@]}"
  run_tool "local get$tag" get "local:$T/store" "k/layer$zstd" "$T/out" "$LAST_SHA" "${z[@]}"
  cmp -s "$T/layer" "$T/out" || { echo "local$tag: the file read back differs" >&2; exit 1; }
  rm -f "$T/out"
  [[ $zstd -eq 0 ]] && anchor "  cp (anchor for local put)" cp "$T/layer" "$T/cp-copy" && rm -f "$T/cp-copy"
  run_tool "dav put$tag" put "dav:$url" "k/layer$zstd" "$T/layer" "${z[@]}"
  run_tool "dav get$tag" get "dav:$url" "k/layer$zstd" "$T/out" "$LAST_SHA" "${z[@]}"
  cmp -s "$T/layer" "$T/out" || { echo "dav$tag: the file read back differs" >&2; exit 1; }
  rm -f "$T/out"
  if [[ $zstd -eq 0 ]]; then
    anchor "  curl -T (anchor for dav put)" curl -sf -T "$T/layer" "$url/curl/layer"
    anchor "  curl -o (anchor for dav get)" curl -sf -o "$T/curl-out" "$url/curl/layer"
    rm -f "$T/curl-out"
  fi
done
