#!/usr/bin/env bash
# Starts Debian's glance-api for the `glance` store (tests, benchmarks, trying
# it by hand): no Keystone (`[paste_deploy] flavor =` empty: every request
# runs as an unauthenticated admin context), a sqlite catalog and the file
# backend under DIR, one worker, on 127.0.0.1:PORT. It runs in the
# background, in a process group of its own, until killed (kill -- -PID);
# prints its PID once it answers. GLANCE_HASHING_ALGORITHM (default sha512)
# sets the os_hash_algo Glance records.
# Usage: scripts/start-test-glance.sh DIR PORT
# Then: stratad --store glance:http://127.0.0.1:PORT
set -euo pipefail
source "$(dirname "$0")/await-http.sh"
dir=$(realpath -m "$1") port=$2
command -v glance-api >/dev/null ||
  { echo "glance-api missing (apt-get install glance-api)" >&2; exit 1; }
mkdir -p "$dir/images" "$dir/lock"
cat >"$dir/glance-api.conf" <<CONF
[DEFAULT]
bind_host = 127.0.0.1
bind_port = $port
workers = 1
log_file = $dir/glance-api.log
use_stderr = false
image_size_cap = 1099511627776
hashing_algorithm = ${GLANCE_HASHING_ALGORITHM:-sha512}
[database]
connection = sqlite:///$dir/glance.sqlite
[paste_deploy]
flavor =
config_file = /etc/glance/glance-api-paste.ini
[glance_store]
stores = file
default_store = file
filesystem_store_datadir = $dir/images/
[oslo_concurrency]
lock_path = $dir/lock
CONF
glance-manage --config-file "$dir/glance-api.conf" db_sync \
  >"$dir/db_sync.log" 2>&1 ||
  { echo "glance-manage db_sync failed: $(tail -3 "$dir/db_sync.log")" >&2; exit 1; }
setsid glance-api --config-file "$dir/glance-api.conf" </dev/null \
  >"$dir/glance-api.out" 2>&1 &
pid=$!
await_http "$pid" "http://127.0.0.1:$port/v2/images" glance-api "$dir/glance-api.log" "$dir/glance-api.out"
