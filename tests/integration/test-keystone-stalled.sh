#!/usr/bin/env bash
# Keystone stopped (SIGSTOP: it accepts connections and never answers) under
# a running stratad with [auth] strategy = keystone (issue 16, item 4): a
# token stratad validated before answers as before (its cache); versions
# need no token; a token it has not seen gets a 503 OpenStack fault within
# the bound ([keystone_authtoken] http_connect_timeout), not a hang — and so
# do 10 such requests at once on a stratad that has no service token yet
# (they share one attempt to get it instead of queueing one timeout each);
# with Keystone back (SIGCONT) new tokens validate again.
source "$(dirname "$0")/lib.sh"
need curl python3 keystone-manage uwsgi

ks_port=$(free_port)
ks_pid=$("$STRATA_SRC/scripts/start-test-keystone.sh" "$T/ks" "$ks_port") ||
  fail "keystone did not start"
trap 'rc=$?; stop_group "$ks_pid"; cleanup "$rc"' EXIT
ks_url="http://127.0.0.1:$ks_port/v3"
TIMEOUT=2      # [keystone_authtoken] http_connect_timeout
BOUND_MS=10000 # what a request may take with Keystone stopped (5 timeouts)

# token USER: a token of USER (password USER-secret) on its project.
token() {
  local project=$2
  curl -sS --fail-with-body -o /dev/null -D - -H 'Content-Type: application/json' \
    -d '{"auth": {"identity": {"methods": ["password"], "password": {"user": {
      "name": "'$1'", "domain": {"id": "default"}, "password": "'$1'-secret"}}},
      "scope": {"project": {"name": "'$project'", "domain": {"id": "default"}}}}}' \
    "$ks_url/auth/tokens" | sed -n 's/^x-subject-token: *\([^[:space:]]*\).*/\1/Ip'
}
now_ms() { date +%s%3N; }
# as TOKEN PATH OUT: GET PATH with TOKEN; writes "CODE MILLISECONDS" to OUT
# and the body to OUT.body.
as() {
  local t0 code
  t0=$(now_ms)
  code=$(curl -s -o "$3.body" -w '%{http_code}' --max-time 120 \
    -H "X-Auth-Token: $1" "$URL$2") || code=000
  echo "$code $(($(now_ms) - t0))" >"$3"
}
# expect_fast OUT CODE WHAT: OUT says CODE within BOUND_MS.
expect_fast() {
  local code ms
  read -r code ms <"$1"
  [[ $code == "$2" ]] || fail "$3: HTTP $code after $ms ms, wanted $2: $(cat "$1.body")"
  ((ms < BOUND_MS)) || fail "$3: answered after $ms ms (bound $BOUND_MS ms)"
  echo "$3: $code after $ms ms"
}

cat >"$T/ks.conf" <<CONF
[auth]
strategy = keystone
[keystone_authtoken]
auth_url = $ks_url
username = strata
password = strata-secret
project_name = service
http_connect_timeout = $TIMEOUT
CONF
start_stratad --config "$T/ks.conf"
alice=$(token alice alpha) && [[ $alice ]] || fail "no token for alice"
alpha=$(curl -s -H "X-Auth-Token: $alice" \
  -H "X-Subject-Token: $alice" "$ks_url/auth/tokens" |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["token"]["project"]["id"])')
fresh=()
for i in $(seq 11); do fresh+=("$(token alice alpha)"); done
as "$alice" "/v3/$alpha/snapshots" "$T/before"
expect_fast "$T/before" 200 "alice's token, Keystone up"

kill -STOP -- "-$ks_pid"
as "$alice" "/v3/$alpha/snapshots" "$T/cached"
expect_fast "$T/cached" 200 "Keystone stopped: alice's cached token"
as "" /v3 "$T/versions"
expect_fast "$T/versions" 200 "Keystone stopped: versions, no token"
as "${fresh[0]}" "/v3/$alpha/snapshots" "$T/new"
expect_fast "$T/new" 503 "Keystone stopped: a token not seen before"
grep -q '"serviceUnavailable"' "$T/new.body" || fail "not an OpenStack fault: $(cat "$T/new.body")"
grep -q "Keystone" "$T/new.body" || fail "the fault does not name Keystone: $(cat "$T/new.body")"
pass "Keystone stopped: a cached token and versions answer, a new token gets 503 within $BOUND_MS ms"

# A stratad without a service token: 10 new tokens at once, all 503 within
# the bound (one fetch of the service token shared, not ten in a row), and
# the API (versions) answering meanwhile.
stop_stratad
start_stratad --config "$T/ks.conf"
pids=()
for i in $(seq 1 10); do as "${fresh[$i]}" "/v3/$alpha/snapshots" "$T/many.$i" & pids+=($!); done
as "" /v3 "$T/versions2"
wait "${pids[@]}"
for i in $(seq 1 10); do expect_fast "$T/many.$i" 503 "request $i of 10 at once"; done
expect_fast "$T/versions2" 200 "versions among them"
pass "Keystone stopped, no service token yet: 10 requests at once, each 503 within $BOUND_MS ms"

kill -CONT -- "-$ks_pid"
for _ in $(seq 300); do
  as "${fresh[1]}" "/v3/$alpha/snapshots" "$T/back"
  read -r code _ <"$T/back"; [[ $code == 200 ]] && break
  sleep 0.2
done
expect_fast "$T/back" 200 "Keystone continued: a new token"
pass "Keystone continued: new tokens validate again"
