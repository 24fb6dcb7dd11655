#!/usr/bin/env bash
# Starts Debian's cinder-api (the Block Storage API, nothing else) for tests
# of os-assisted-volume-snapshots, where Strata plays Nova and reports to
# Cinder: noauth (a token "user:project" is an admin of that project), a
# sqlite database under DIR, one worker, on 127.0.0.1:PORT, oslo.messaging's
# in-process fake transport (there is no scheduler or volume service: what
# the API casts to them goes nowhere, and status changes a volume service
# would make are made with the admin reset-state actions). It runs in the
# background, in a process group of its own, until killed (kill -- -PID);
# prints its PID once it answers.
# With KEYSTONE_AUTH_URL (e.g. http://127.0.0.1:5000/v3) Cinder validates
# tokens there instead (keystonemiddleware), as the service user "strata"
# (password strata-secret, project service) of
# scripts/start-test-keystone.sh; CINDER_SERVICE_USER/_PASSWORD/_PROJECT
# name another.
# A "nfs" volume type exists, and one volume service host, "strata-test@nfs"
# in zone nova, is registered so the API accepts volumes of that type.
# Needs: cinder-api (brings python3-cinder), curl.
# Usage: scripts/start-test-cinder.sh DIR PORT
# Then: the v3 API is http://127.0.0.1:PORT/v3/<project_id>
set -euo pipefail
source "$(dirname "$0")/await-http.sh"
dir=$(realpath -m "$1") port=$2
command -v cinder-api >/dev/null ||
  { echo "cinder-api missing (apt-get install cinder-api)" >&2; exit 1; }
if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
  echo "port $port is already in use" >&2; exit 1
fi
mkdir -p "$dir/lock"
rm -f "$dir"/cinder.sqlite*
auth=noauth_include_project_id
[[ -n "${KEYSTONE_AUTH_URL:-}" ]] && auth=keystone
cat >"$dir/cinder.conf" <<CONF
[DEFAULT]
auth_strategy = $auth
osapi_volume_listen = 127.0.0.1
osapi_volume_listen_port = $port
osapi_volume_workers = 1
transport_url = fake:/
api_paste_config = /etc/cinder/api-paste.ini
state_path = $dir
log_file = $dir/cinder-api.log
use_stderr = false
[database]
connection = sqlite:///$dir/cinder.sqlite
[oslo_concurrency]
lock_path = $dir/lock
[oslo_policy]
# Only the built-in defaults.
policy_file = $dir/policy.yaml
policy_dirs = $dir/policy.d
CONF
if [[ $auth == keystone ]]; then
  cat >>"$dir/cinder.conf" <<CONF
[keystone_authtoken]
www_authenticate_uri = $KEYSTONE_AUTH_URL
auth_url = $KEYSTONE_AUTH_URL
auth_type = password
username = ${CINDER_SERVICE_USER:-strata}
password = ${CINDER_SERVICE_PASSWORD:-strata-secret}
project_name = ${CINDER_SERVICE_PROJECT:-service}
user_domain_name = Default
project_domain_name = Default
CONF
fi
cinder-manage --config-file "$dir/cinder.conf" db sync >"$dir/db_sync.log" 2>&1 ||
  { echo "cinder-manage db sync failed: $(tail -3 "$dir/db_sync.log")" >&2; exit 1; }
# The volume service host the API's availability-zone check looks for.
# Debian's python, where python3-cinder is (not a python3 earlier on PATH).
/usr/bin/python3 - "$dir/cinder.conf" >"$dir/service.log" 2>&1 <<'PY' ||
import sys
from cinder import context, objects
from cinder.volume import rpcapi
from cinder.common import config  # noqa: F401 (registers the options)
from oslo_config import cfg
cfg.CONF(["--config-file", sys.argv[1]], project="cinder")
objects.register_all()
ctx = context.get_admin_context()
objects.Service(ctx, host="strata-test@nfs", binary="cinder-volume",
                topic="cinder-volume", availability_zone="nova",
                report_count=1,
                rpc_current_version=rpcapi.VolumeAPI.RPC_API_VERSION,
                object_current_version=objects.base.OBJ_VERSIONS.get_current()
                ).create()
PY
  { echo "cannot register the volume service: $(tail -3 "$dir/service.log")" >&2; exit 1; }
setsid cinder-api --config-file "$dir/cinder.conf" </dev/null \
  >"$dir/cinder-api.out" 2>&1 &
pid=$!
await_http "$pid" "http://127.0.0.1:$port/" cinder-api "$dir/cinder-api.log" "$dir/cinder-api.out"
