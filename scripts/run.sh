#!/usr/bin/env bash
# Strata's main job on its embedded default: installs what is missing,
# builds, starts stratad (SQLite catalog and local store under ./var or
# --state-dir DIR, 127.0.0.1:8786, noauth, local libvirt), shows the main
# job once (scripts/demo.sh: live snapshots of a booted test guest while it
# writes, a revert, its data verified; then in the dashboard, driven by
# headless Chromium: a snapshot and an instant rollback of the guest, its
# data verified, screenshots kept), then keeps stratad in the
# foreground until Ctrl-C. STRATA_DEMO=0 skips the demo. Extra arguments go
# to stratad (see stratad --help).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh --guest --browser
scripts/build.sh
state=./var
listen=127.0.0.1:8786
args=("$@")
for ((i = 0; i < ${#args[@]}; i++)); do
  [[ ${args[$i]} == --state-dir ]] && state=${args[$((i + 1))]}
  [[ ${args[$i]} == --state-dir=* ]] && state=${args[$i]#--state-dir=}
  [[ ${args[$i]} == --listen ]] && listen=${args[$((i + 1))]}
  [[ ${args[$i]} == --listen=* ]] && listen=${args[$i]#--listen=}
done
url=http://$listen
scripts/start-libvirt.sh || echo "run: libvirtd not available: quiet disks only" >&2
build/stratad --state-dir "$state" "$@" &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null' INT TERM
for _ in $(seq 100); do curl -sf -o /dev/null "$url/v3/" && break; sleep 0.1; done
echo "run: the dashboard is at $url/dashboard/ (noauth: sign in as project admin, user admin); the demo's volume and snapshots show there as they happen"
if [[ ${STRATA_DEMO:-1} != 0 ]]; then
  scripts/demo.sh "$url" "$state" || echo "run: the demo failed (see above)" >&2
fi
echo "run: stratad is serving on $url, the dashboard on $url/dashboard/, the CLI is build/strata (OS_ENDPOINT=$url/v3 OS_TOKEN=admin:admin build/strata snapshot list); Ctrl-C stops it"
wait $pid
