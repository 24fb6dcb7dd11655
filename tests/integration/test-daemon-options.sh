#!/usr/bin/env bash
# stratad's command line and config file: clear message and non-zero exit on
# a bad option, a bad value, an unreadable config and a port in use; config
# values apply and flags win over them; one daemon per state directory.
source "$(dirname "$0")/lib.sh"
need curl python3 qemu-img

expect_exit 2 "unknown option --frobnicate" "unknown option" -- --frobnicate
expect_exit 2 "needs a value" "missing value" -- --listen
expect_exit 2 "HOST:PORT" "bad --listen" -- --listen nonsense
expect_exit 2 "bad port" "bad port" -- --listen 127.0.0.1:99999
expect_exit 2 "cannot read config file" "unreadable config" -- --config "$T/nope.conf"
printf '[engine]\nworkers = many\n' >"$T/bad.conf"
expect_exit 2 "workers" "bad config value" -- --config "$T/bad.conf"
printf '[store]\ncompression = lz4\n' >"$T/bad-relay.conf"
expect_exit 2 "none or zstd" "unknown compression" -- --config "$T/bad-relay.conf"
printf '[store]\nencryption = rot13\n' >"$T/bad-enc.conf"
expect_exit 2 "none or aes-256-gcm" "unknown encryption" -- --config "$T/bad-enc.conf"
printf '[cinder]\ncatalog_info = volumev3\n' >"$T/bad-cinder.conf"
expect_exit 2 "service_type:service_name:endpoint_type" "bad [cinder] catalog_info" -- \
  --config "$T/bad-cinder.conf"
printf '[store]\nencryption = aes-256-gcm\n' >"$T/no-key.conf"
expect_exit 1 "needs \\[store\\] encryption_key_file" "encryption without a key" -- \
  --config "$T/no-key.conf" --state-dir "$T/enc" --listen "127.0.0.1:$(free_port)"
head -c 32 /dev/urandom >"$T/open.key"; chmod 644 "$T/open.key"
printf '[store]\nencryption = aes-256-gcm\nencryption_key_file = %s\n' "$T/open.key" >"$T/open-key.conf"
expect_exit 1 "chmod 600" "a key file others can read" -- \
  --config "$T/open-key.conf" --state-dir "$T/enc" --listen "127.0.0.1:$(free_port)"
head -c 31 /dev/urandom >"$T/short.key"; chmod 600 "$T/short.key"
sed "s|open.key|short.key|" "$T/open-key.conf" >"$T/short-key.conf"
expect_exit 1 "short.key" "a key file of 31 bytes" -- \
  --config "$T/short-key.conf" --state-dir "$T/enc" --listen "127.0.0.1:$(free_port)"
expect_exit 1 "glance" "a bad glance spec" -- --store "glance:http://h?frob=1" \
  --state-dir "$T/enc" --listen "127.0.0.1:$(free_port)"
printf '[auth]\nstrategy = keystone\n[keystone_authtoken]\nauth_url = http://127.0.0.1:5000/v3\n' >"$T/ks-half.conf"
expect_exit 2 "needs \\[keystone_authtoken\\] username" "keystone without a service user" -- --config "$T/ks-half.conf"
printf '[auth]\nstrategy = ldap\n' >"$T/ldap.conf"
expect_exit 2 "noauth, keystone" "unknown auth strategy" -- --config "$T/ldap.conf"
printf '[engine]\nworker_nice = 42\n' >"$T/bad-nice.conf"
expect_exit 2 "0..19" "worker_nice out of range" -- --config "$T/bad-nice.conf"
printf '"strata:read": "role:reader or"\n' >"$T/bad-policy.yaml"
printf '[api]\npolicy_file = %s\n' "$T/bad-policy.yaml" >"$T/bad-policy.conf"
expect_exit 1 "role:reader or" "a policy rule that does not parse" -- \
  --config "$T/bad-policy.conf" --state-dir "$T/enc" --listen "127.0.0.1:$(free_port)"

# An operator's policy file overrides a default (issue 16, item 2): with
# manage opened to members, a member adopts a disk; unmanage stays admin's.
printf '"volume_extension:volume_manage": "rule:admin_api or role:member"\n' >"$T/policy.yaml"
printf '[api]\npolicy_file = %s\n' "$T/policy.yaml" >"$T/policy.conf"
start_stratad --config "$T/policy.conf"
qemu-img create -q -f qcow2 "$T/var/disks/p.qcow2" 16M
TOKEN="alice:p1"
pvol=$(manage_disk "$T/var/disks/p.qcow2" p)
api POST "/v3/volumes/$pvol/action" '{"os-unmanage":{}}'
expect_code 403 "unmanage by a member under the override"
TOKEN="admin:admin"
stop_stratad
pass "policy file: manage opened to members, unmanage still admin-only"
printf '[engine]\nfrobs = 1\n' >"$T/unknown.conf"
expect_exit 2 "unknown configuration option engine.frobs" "unknown config key" -- --config "$T/unknown.conf"
printf 'garbage line\n' >"$T/garbage.conf"
expect_exit 2 "expected 'key = value'" "malformed config" -- --config "$T/garbage.conf"
expect_exit 0 "usage" "--help" -- --help

# A config file sets the port; the command line overrides the state dir.
p1=$(free_port)
cat >"$T/strata.conf" <<CONF
[DEFAULT]
state_dir = $T/from-config
[api]
listen = 127.0.0.1:$p1
CONF
"$STRATAD" --config "$T/strata.conf" --state-dir "$T/from-flag" >"$T/o1" 2>"$T/l1" &
pid1=$!
for _ in $(seq 50); do grep -q ready "$T/o1" && break; sleep 0.1; done
curl -sf "http://127.0.0.1:$p1/" -o /dev/null -w '%{http_code}' | grep -q 300 || fail "config port not used"
[[ -f "$T/from-flag/catalog.db" && ! -e "$T/from-config" ]] || fail "flag did not win over config"
pass "config applies; flags win"

expect_exit 1 "Address already in use" "port in use" -- --listen "127.0.0.1:$p1" --state-dir "$T/other"
expect_exit 1 "another stratad is using" "same state dir twice" -- --listen "127.0.0.1:$(free_port)" --state-dir "$T/from-flag"
kill "$pid1"; wait "$pid1" || true
grep -q "stopping on" "$T/l1" || fail "no clean stop on SIGTERM"
pass "SIGTERM stops cleanly"
