#!/usr/bin/env bash
# Runs Tempest's volume API tests (Debian's tempest and
# cinder-tempest-plugin) against a stratad behind a real Keystone (issue 18):
# a throw-away Keystone (scripts/start-test-keystone.sh), stratad with
# [auth] strategy = keystone registered in its catalog as volumev3
# (scripts/register-keystone.sh), a tempest.conf from
# scripts/write-tempest-conf.sh, then `tempest run` with the exclude list
# beside this script (tests that need a Nova server or Glance, each with its
# reason). Prints Tempest's summary and the counts; exits non-zero when a
# test failed (or, with --expect-pass N, when fewer than N passed).
#
# Usage: tests/tempest/run-volume-tempest.sh [--regex R] [--include-list F]
#          [--keep DIR] [--concurrency N]
#   default regex: ^(tempest|cinder_tempest_plugin)\.api\.volume\.  (the
#   whole volume API set, Tempest's and cinder-tempest-plugin's)
# Needs: tempest, keystone, uwsgi-plugin-python3, python3-openstackclient,
# a built stratad (STRATAD, default build/stratad).
set -euo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
stratad=${STRATAD:-$src/build/stratad}
regex='^(tempest|cinder_tempest_plugin)\.api\.volume\.' include="" keep="" concurrency=2 regex_given=""
while [[ $# -gt 0 ]]; do
  case $1 in
    --regex) regex=$2; regex_given=1; shift 2 ;;
    --include-list) include=$2; shift 2 ;;
    --keep) keep=$2; shift 2 ;;
    --concurrency) concurrency=$2; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
for tool in tempest keystone-manage uwsgi openstack curl python3; do
  command -v "$tool" >/dev/null || { echo "$tool missing (scripts/install-deps.sh --test)" >&2; exit 77; }
done
[[ -x $stratad ]] || { echo "no stratad at $stratad (scripts/build.sh)" >&2; exit 1; }

dir=${keep:-$(mktemp -d /var/tmp/strata-tempest.XXXXXX)}
mkdir -p "$dir"
ks_pid="" pid=""
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
finish() {
  local rc=$?
  [[ -n $pid ]] && { kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null || true; }
  [[ -n $ks_pid ]] && { kill -- "-$ks_pid" 2>/dev/null || true; }
  if [[ $rc -ne 0 ]]; then
    echo "--- last lines of stratad.log ---"; tail -n 20 "$dir/stratad.log" 2>/dev/null || true
  fi
  [[ -z $keep ]] && rm -rf "$dir"
  return $rc
}
trap finish EXIT

ks_port=$(free_port)
ks_pid=$("$src/scripts/start-test-keystone.sh" "$dir/ks" "$ks_port")
ks_url=http://127.0.0.1:$ks_port/v3

port=$(free_port)
mkdir -p "$dir/var"
cat >"$dir/stratad.conf" <<CONF
[auth]
strategy = keystone
[keystone_authtoken]
auth_url = $ks_url
username = strata
password = strata-secret
project_name = service
CONF
"$stratad" --listen "127.0.0.1:$port" --state-dir "$dir/var" \
  --libvirt-uri none --config "$dir/stratad.conf" \
  >"$dir/stratad.out" 2>"$dir/stratad.log" &
pid=$!
for _ in $(seq 3000); do  # while it lives, up to 300 s
  grep -q ready "$dir/stratad.out" 2>/dev/null && break
  kill -0 "$pid" 2>/dev/null || { echo "stratad exited at start" >&2; exit 1; }
  sleep 0.1
done
url=$(sed -n 's/^stratad ready on //p' "$dir/stratad.out")
[[ -n $url ]] || { echo "stratad did not become ready" >&2; exit 1; }
OS_CLIENT_CONFIG_FILE=$dir/ks/clouds.yaml OS_CLOUD=admin \
  "$src/scripts/register-keystone.sh" "$url" --type volumev3 >/dev/null

# A Tempest workspace of its own (tempest init writes etc/ and .stestr.conf).
(cd "$dir" && tempest init --workspace-path "$dir/workspace.yaml" \
  --name "strata-$(basename "$dir")" ws >/dev/null)
"$src/scripts/write-tempest-conf.sh" "$ks_url" admin-secret "$dir/ws/etc/tempest.conf" \
  --backup --manage-ref "$dir/var/volumes/volume-%s.qcow2"
# stestr takes the union of --regex and --include-list: a list replaces the
# default regex.
args=(--exclude-list "$src/tests/tempest/exclude-list.txt"
      --concurrency "$concurrency")
if [[ -n $include ]]; then
  args+=(--include-list "$include")
  [[ $regex_given ]] && args+=(--regex "$regex")
else
  args+=(--regex "$regex")
fi
set +e
(cd "$dir/ws" && tempest run "${args[@]}") >"$dir/tempest.out" 2>&1
rc=$?
set -e
sed -n '/^Totals/,$p' "$dir/tempest.out"
grep -E '^\{[0-9]+\} .* \.\.\. FAILED' "$dir/tempest.out" | sed 's/^/failed: /' || true
exit $rc
