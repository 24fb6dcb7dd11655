#!/usr/bin/env bash
# Starts a throw-away OpenStack Keystone (Debian's keystone package, identity
# v3) for tests, demos and trying it by hand: its WSGI script
# /usr/bin/keystone-wsgi-public served by uWSGI (one process, one thread) on
# 127.0.0.1:PORT, a sqlite database, fernet tokens, key repositories and
# logs, all under DIR (a new database on every start).
# It runs in the background, in a process group of its own, until killed
# (kill -- -PID); prints its PID once it answers and the test identities
# exist:
#   admin  (password $KEYSTONE_ADMIN_PASSWORD, default admin-secret): admin
#          on project admin (keystone-manage bootstrap);
#   strata (strata-secret): admin on project service, the service user;
#   alice  (alice-secret): member on alpha; rita (rita-secret): reader on
#          alpha; bob (bob-secret): member on beta; ada (ada-secret):
#          admin on alpha.
# Role implication (admin > member > reader) means alice's and bob's tokens
# carry member and reader, rita's only reader. DIR/clouds.yaml has a cloud
# per user: OS_CLIENT_CONFIG_FILE=DIR/clouds.yaml openstack --os-cloud alice
# token issue. KEYSTONE_TOKEN_EXPIRATION (seconds, default 3600) sets the
# tokens' lifetime.
# Needs: keystone (brings python3-keystone, uwsgi-core,
# uwsgi-plugin-python3, sqlite3), curl, python3.
# Usage: scripts/start-test-keystone.sh DIR PORT
# Then: the auth URL is http://127.0.0.1:PORT/v3
set -euo pipefail
dir=$(realpath -m "$1") port=$2
url=http://127.0.0.1:$port/v3
admin_password=${KEYSTONE_ADMIN_PASSWORD:-admin-secret}
# ... with \ and " escaped, for JSON and YAML strings
admin_password_quoted=${admin_password//\\/\\\\}
admin_password_quoted=${admin_password_quoted//\"/\\\"}
expiration=${KEYSTONE_TOKEN_EXPIRATION:-3600}
[[ $expiration =~ ^[0-9]+$ ]] ||
  { echo "KEYSTONE_TOKEN_EXPIRATION must be a number of seconds" >&2; exit 1; }

need() { # FILE-OR-COMMAND PACKAGE
  command -v "$1" >/dev/null || [[ -e $1 ]] ||
    { echo "$1 missing (apt-get install $2)" >&2; exit 1; }
}
need keystone-manage keystone
need /usr/bin/keystone-wsgi-public keystone
need uwsgi uwsgi-core
need /usr/lib/uwsgi/plugins/python3_plugin.so uwsgi-plugin-python3
need sqlite3 sqlite3
need curl curl
need python3 python3
# Something already listening (e.g. a system-wide keystone on 5000)?
if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
  echo "port $port is already in use" >&2; exit 1
fi

mkdir -p "$dir"
rm -f "$dir"/keystone.db* # a fresh one every time
cat >"$dir/keystone.conf" <<CONF
[DEFAULT]
log_file = $dir/keystone.log
use_stderr = false
[database]
connection = sqlite:///$dir/keystone.db
[token]
provider = fernet
expiration = $expiration
[fernet_tokens]
key_repository = $dir/fernet-keys
[credential]
key_repository = $dir/credential-keys
[identity]
# bcrypt's minimum: creating users and issuing tokens stays fast.
password_hash_rounds = 4
[oslo_policy]
# Only the built-in defaults, not /etc/keystone/policy.d.
policy_file = $dir/policy.yaml
policy_dirs = $dir/policy.d
CONF

# keystone-manage CMD...: runs it with DIR's config, its output to
# DIR/manage-CMD.log; on failure says so with the log's tail.
manage() {
  keystone-manage --config-file "$dir/keystone.conf" "$@" \
    >"$dir/manage-$1.log" 2>&1 ||
    { echo "keystone-manage $1 failed: $(tail -n 3 "$dir/manage-$1.log")" >&2
      return 1; }
}
# Each keystone-manage takes seconds (imports); the key repositories do
# not need the database, so all three run at once.
user=$(id -un) group=$(id -gn)
manage db_sync & db=$!
manage fernet_setup --keystone-user "$user" --keystone-group "$group" & fk=$!
manage credential_setup --keystone-user "$user" --keystone-group "$group" & ck=$!
ok=1
for job in $db $fk $ck; do wait "$job" || ok=; done
[[ $ok ]] || exit 1
# Keystone leaks a read transaction per token it renders (the service
# provider query of keystone/federation/backends/sql.py outlives its
# session); with sqlite's default rollback journal that shared lock makes
# the next write fail with "database is locked". In WAL mode readers do not
# block writers.
sqlite3 "$dir/keystone.db" 'PRAGMA journal_mode=WAL' >/dev/null
manage bootstrap --bootstrap-password "$admin_password" \
  --bootstrap-username admin --bootstrap-project-name admin \
  --bootstrap-admin-url "$url" --bootstrap-public-url "$url" \
  --bootstrap-internal-url "$url" --bootstrap-region-id RegionOne

# "Connection: close": uWSGI's http-socket closes each connection after its
# answer; told so, clients do not send the next request on a connection
# about to be closed (seen under load: "connection reset by peer").
OS_KEYSTONE_CONFIG_FILES=$dir/keystone.conf setsid uwsgi --plugin python3 \
  --http-socket "127.0.0.1:$port" --wsgi-file /usr/bin/keystone-wsgi-public \
  --chdir "$dir" --master --die-on-term --need-app --enable-threads \
  --buffer-size 65535 --add-header "Connection: close" \
  </dev/null >"$dir/uwsgi.log" 2>&1 &
pid=$!
# Until it is up and filled in, any failure stops it.
trap 'kill -- "-$pid" 2>/dev/null; wait "$pid"' EXIT
fail() {
  echo "keystone: $*: $(tail -n 3 "$dir/keystone.log" "$dir/uwsgi.log" \
    2>/dev/null)" >&2
  exit 1
}
up=
for _ in $(seq 300); do
  if curl -sf -o /dev/null "$url"; then up=1; break; fi
  kill -0 "$pid" 2>/dev/null || break
  sleep 0.1
done
[[ $up ]] || fail "did not start"

# The test identities, through the v3 API with an admin token (curl: the
# openstack CLI takes ~2 s a call, this ~0.1 s).
auth='{"auth": {"identity": {"methods": ["password"], "password": {"user": {
  "name": "admin", "domain": {"id": "default"},
  "password": "'$admin_password_quoted'"}}},
  "scope": {"project": {"name": "admin", "domain": {"id": "default"}}}}}'
token=$(curl -sS --fail-with-body -o /dev/null -D - -d "$auth" \
  -H 'Content-Type: application/json' "$url/auth/tokens" |
  sed -n 's/^x-subject-token: *\([^[:space:]]*\).*/\1/Ip') && [[ $token ]] ||
  fail "admin cannot get a token"
# api METHOD PATH [CURL-ARGS...]: the response body; fails on an HTTP error.
api() {
  local method=$1 path=$2; shift 2
  curl -sS --fail-with-body -X "$method" -H "X-Auth-Token: $token" \
    -H 'Content-Type: application/json' "$@" "$url$path"
}
# create KIND JSON: creates a KIND (project, user, role), prints its id.
create() {
  api POST "/${1}s" -d "{\"$1\": $2}" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)[sys.argv[1]]["id"])' "$1"
}
declare -A role_id project_id user_id
roles=$(api GET /roles | python3 -c 'import json,sys
for r in json.load(sys.stdin)["roles"]: print(r["id"], r["name"])') ||
  fail "cannot list roles"
while read -r id name; do role_id[$name]=$id; done <<<"$roles"
for role in admin member reader; do
  [[ ${role_id[$role]:-} ]] || role_id[$role]=$(create role "{\"name\": \"$role\"}") ||
    fail "cannot create role $role"
done
for project in service alpha beta; do
  project_id[$project]=$(create project \
    "{\"name\": \"$project\", \"domain_id\": \"default\"}") ||
    fail "cannot create project $project"
done
# user:project:role, password user-secret
for grant in strata:service:admin alice:alpha:member rita:alpha:reader \
             bob:beta:member ada:alpha:admin; do
  IFS=: read -r name project role <<<"$grant"
  user_id[$name]=$(create user "{\"name\": \"$name\", \"domain_id\": \"default\",
    \"password\": \"$name-secret\",
    \"default_project_id\": \"${project_id[$project]}\"}") ||
    fail "cannot create user $name"
  api PUT "/projects/${project_id[$project]}/users/${user_id[$name]}/roles/${role_id[$role]}" ||
    fail "cannot give $name the $role role on $project"
done

# cloud NAME PROJECT PASSWORD: NAME's entry in clouds.yaml.
cloud() {
  cat <<YAML
  $1:
    auth:
      auth_url: $url
      username: $1
      password: "$3"
      project_name: $2
      user_domain_name: Default
      project_domain_name: Default
    identity_api_version: 3
    region_name: RegionOne
    interface: public
YAML
}
{
  echo "clouds:"
  cloud admin admin "$admin_password_quoted"
  cloud strata service strata-secret
  cloud alice alpha alice-secret
  cloud rita alpha rita-secret
  cloud bob beta bob-secret
  cloud ada alpha ada-secret
} >"$dir/clouds.yaml"
trap - EXIT
echo "$pid"
