#!/usr/bin/env bash
# Starts a one-replica OpenStack Swift for the `swift` store (tests,
# benchmarks, trying it by hand): Debian's swift-proxy, swift-account,
# swift-container and swift-object, with rings that this script builds
# (one device, one replica, 2^10 partitions) and everything under DIR
# (swift.conf, rings, the device, the servers' configs and output). The
# proxy listens on 127.0.0.1:PORT with tempauth (users admin:admin / admin,
# a reseller admin, and test:tester / testing) and Static Large Objects;
# the account, container and object servers and memcached (which tempauth
# keeps its tokens in) on free loopback ports of their own (in DIR/ports).
# All run in one process
# group of their own until the group is sent TERM (kill -- -PID); prints
# its PID once the proxy answers.
# With KEYSTONE_URL (a scripts/start-test-keystone.sh Keystone, its v3 URL),
# the proxy authenticates with Keystone instead (keystonemiddleware's
# authtoken, Swift's keystoneauth; operator roles admin and member, so a
# project's admins and members own its account AUTH_<project id>): this
# script adds the user swift (swift-secret, admin on project service) the
# middleware validates tokens as, and registers the object-store service
# with public, internal and admin endpoints
# http://127.0.0.1:PORT/v1/AUTH_%(project_id)s (Keystone's admin password:
# KEYSTONE_ADMIN_PASSWORD, default admin-secret).
# Usage: [KEYSTONE_URL=http://127.0.0.1:K/v3] scripts/start-test-swift.sh DIR PORT
# Then: swift -A http://127.0.0.1:PORT/auth/v1.0 -U test:tester -K testing stat
#   or, with Keystone: OS_CLIENT_CONFIG_FILE=…/clouds.yaml openstack
#   --os-cloud strata object store account show
set -euo pipefail
source "$(dirname "$0")/await-http.sh"
dir=$(realpath -m "$1") port=$2
for tool in swift-proxy-server swift-object-server swift-ring-builder memcached; do
  command -v "$tool" >/dev/null ||
    { echo "$tool missing (scripts/install-deps.sh --test)" >&2; exit 1; }
done
mkdir -p "$dir/node/d1" "$dir/run"
# Four free ports at once (each bound until all are chosen): account,
# container, object, memcached.
read -r p_account p_container p_object p_memcached < <(python3 -c '
import socket
socks = [socket.socket() for _ in range(4)]
for s in socks: s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in socks))')
echo "proxy $port account $p_account container $p_container object $p_object memcached $p_memcached" >"$dir/ports"
cat >"$dir/swift.conf" <<CONF
[swift-hash]
swift_hash_path_suffix = $(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')
swift_hash_path_prefix = strata-test
[storage-policy:0]
name = Policy-0
default = yes
CONF
for server in account container object; do
  p_var=p_$server
  p=${!p_var}
  swift-ring-builder "$dir/$server.builder" create 10 1 1 >/dev/null
  swift-ring-builder "$dir/$server.builder" add "r1z1-127.0.0.1:$p/d1" 100 >/dev/null
  swift-ring-builder "$dir/$server.builder" rebalance >/dev/null
  cat >"$dir/$server-server.conf" <<CONF
[DEFAULT]
bind_ip = 127.0.0.1
bind_port = $p
devices = $dir/node
mount_check = false
swift_dir = $dir
user = $(id -un)
workers = 0
log_name = $server-server
[pipeline:main]
pipeline = $server-server
[app:$server-server]
use = egg:swift#$server
CONF
done
keystone=${KEYSTONE_URL:-}
keystone=${keystone%/}
if [[ $keystone ]]; then
  auth_filters="authtoken keystoneauth"
  python3 - "$keystone" "${KEYSTONE_ADMIN_PASSWORD:-admin-secret}" "$port" <<'PY' ||
import json, sys, urllib.request
url, password, port = sys.argv[1], sys.argv[2], sys.argv[3]
def call(method, path, body=None, token=None):
    req = urllib.request.Request(url + path, method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={"Content-Type": "application/json",
                 **({"X-Auth-Token": token} if token else {})})
    with urllib.request.urlopen(req, timeout=30) as r:
        return r.headers.get("X-Subject-Token"), json.loads(r.read() or b"{}")
token, _ = call("POST", "/auth/tokens", {"auth": {
    "identity": {"methods": ["password"], "password": {"user": {
        "name": "admin", "domain": {"id": "default"}, "password": password}}},
    "scope": {"project": {"name": "admin", "domain": {"id": "default"}}}}})
one = lambda path, kind, name: [x for x in call("GET", path + "?name=" + name,
    token=token)[1][kind] if x["name"] == name]
service = one("/projects", "projects", "service")[0]["id"]
admin_role = one("/roles", "roles", "admin")[0]["id"]
users = one("/users", "users", "swift")
user = users[0]["id"] if users else call("POST", "/users", {"user": {
    "name": "swift", "domain_id": "default", "password": "swift-secret",
    "default_project_id": service}}, token)[1]["user"]["id"]
call("PUT", f"/projects/{service}/users/{user}/roles/{admin_role}", token=token)
for s in call("GET", "/services?type=object-store", token=token)[1]["services"]:
    call("DELETE", "/services/" + s["id"], token=token)
svc = call("POST", "/services", {"service": {"type": "object-store",
    "name": "swift", "description": "Swift for Strata's tests"}}, token)[1]
for interface in ("public", "internal", "admin"):
    call("POST", "/endpoints", {"endpoint": {"service_id": svc["service"]["id"],
        "interface": interface, "region_id": "RegionOne",
        "url": f"http://127.0.0.1:{port}/v1/AUTH_%(project_id)s"}}, token)
PY
    { echo "cannot register Swift in Keystone at $keystone" >&2; exit 1; }
  auth_config="[filter:authtoken]
paste.filter_factory = keystonemiddleware.auth_token:filter_factory
www_authenticate_uri = ${keystone%/v3}
auth_url = ${keystone%/v3}
auth_type = password
project_domain_id = default
user_domain_id = default
project_name = service
username = swift
password = swift-secret
delay_auth_decision = True
memcache_servers = 127.0.0.1:$p_memcached
[filter:keystoneauth]
use = egg:swift#keystoneauth
operator_roles = admin, member"
else
  auth_filters=tempauth
  auth_config="[filter:tempauth]
use = egg:swift#tempauth
user_admin_admin = admin .admin .reseller_admin
user_test_tester = testing .admin"
fi
cat >"$dir/proxy-server.conf" <<CONF
[DEFAULT]
bind_ip = 127.0.0.1
bind_port = $port
swift_dir = $dir
user = $(id -un)
workers = 0
log_name = proxy-server
[pipeline:main]
pipeline = catch_errors gatekeeper healthcheck proxy-logging cache listing_formats bulk slo dlo $auth_filters copy proxy-logging proxy-server
[app:proxy-server]
use = egg:swift#proxy
account_autocreate = true
allow_account_management = true
$auth_config
[filter:cache]
use = egg:swift#memcache
memcache_servers = 127.0.0.1:$p_memcached
[filter:catch_errors]
use = egg:swift#catch_errors
[filter:gatekeeper]
use = egg:swift#gatekeeper
[filter:healthcheck]
use = egg:swift#healthcheck
[filter:proxy-logging]
use = egg:swift#proxy_logging
[filter:listing_formats]
use = egg:swift#listing_formats
[filter:bulk]
use = egg:swift#bulk
[filter:slo]
use = egg:swift#slo
[filter:dlo]
use = egg:swift#dlo
[filter:copy]
use = egg:swift#copy
CONF
# Swift's servers leave the process group (they call setsid as they drop
# privileges), so the group's leader ends them itself when it is told to.
setsid bash -c "
  pids=''
  trap 'kill \$pids 2>/dev/null; wait; exit 0' TERM INT HUP
  memcached -l 127.0.0.1 -p $p_memcached -U 0 -m 64 -u $(id -un) &
  pids=\"\$pids \$!\"
  for s in account container object; do
    swift-\$s-server '$dir/'\$s-server.conf >'$dir/run/'\$s.out 2>&1 &
    pids=\"\$pids \$!\"
  done
  swift-proxy-server '$dir/proxy-server.conf' >'$dir/run/proxy.out' 2>&1 &
  pids=\"\$pids \$!\"
  wait" </dev/null >"$dir/run/group.out" 2>&1 &
pid=$!
# The proxy answers its healthcheck before the servers behind it may: each
# of them answers first (any HTTP status).
for p in $p_account $p_container $p_object; do
  for _ in $(seq 300); do
    [[ $(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$p/" || true) != 000 ]] && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
done
await_http "$pid" "http://127.0.0.1:$port/healthcheck" swift-proxy \
  "$dir/run/proxy.out" "$dir/run/object.out" "$dir/run/group.out"
