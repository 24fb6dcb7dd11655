#!/usr/bin/env bash
# The `strata` CLI end to end (issue 20, item 2) against stratad behind a
# real Keystone (scripts/start-test-keystone.sh), found through Keystone's
# catalog (scripts/register-keystone.sh), output parsed in JSON mode:
#   - auth from a clouds.yaml entry (--os-cloud, OS_CLIENT_CONFIG_FILE) and
#     from OS_* variables alone;
#   - snapshot create --wait, a second one, volume revert --wait to the
#     first: the disk holds exactly the first point's bytes;
#   - policy create/run --wait/prune --dry-run/runs, task list and show;
#   - exit codes: 1 for a 404, 2 for a bad command line, 3 for a wrong
#     password and for a reader's write (403), 4 when stratad does not
#     answer; -f value and -c; bash completion.
source "$(dirname "$0")/lib.sh"
need qemu-img qemu-io curl python3 openstack keystone-manage uwsgi
CLI=$(dirname "$STRATAD")/strata
[[ -x $CLI ]] || fail "no strata CLI next to $STRATAD"

start_keystone
keystone_auth_conf >"$T/ks.conf"
start_stratad --config "$T/ks.conf"
OS_CLOUD=admin "$STRATA_SRC/scripts/register-keystone.sh" "$URL" \
  --type volumev3 >/dev/null || fail "register-keystone.sh failed"

# A disk of project alpha, adopted by alpha's admin (manage is admin-only).
disk=$T/var/disks/d.qcow2
qemu-img create -q -f qcow2 "$disk" 64M
TOKEN=$(openstack --os-cloud ada token issue -f value -c id)
api POST /v3/os-volume-manage \
  "{\"volume\":{\"host\":\"h@strata#strata\",\"ref\":{\"source-name\":\"$disk\"},\"name\":\"d\"}}"
expect_code 202 "manage as ada"
vol=$(jget 'j["volume"]["id"]')

# cli ARGS…: the CLI as alice through clouds.yaml; sets OUT and RC.
cli() {
  set +e
  OUT=$("$CLI" --os-cloud alice "$@" 2>"$T/cli.err")
  RC=$?
  set -e
}
jout() { python3 -c 'import json,sys; j=json.load(sys.stdin); print(eval(sys.argv[1]))' "$1" <<<"$OUT"; }
ok() { [[ $RC == 0 ]] || fail "strata $*: exit $RC: $(cat "$T/cli.err")"; }

cli volume list -f json; ok volume list
[[ $(jout '[v["ID"] for v in j]') == "['$vol']" ]] || fail "volume list: $OUT"
pass "volume list through Keystone's catalog as alice (clouds.yaml): [$vol]"

qemu-io -c "write -P 0x11 0 4M" "$disk" >/dev/null
cli snapshot create "$vol" --name s1 --wait -f json; ok snapshot create
[[ $(jout 'j["status"]') == available ]] || fail "snapshot create --wait: $OUT"
s1=$(jout 'j["id"]')
qemu-img convert -O raw "$disk" "$T/at-s1.raw"
qemu-io -c "write -P 0x22 1M 2M" "$disk" >/dev/null
cli snapshot create "$vol" --name s2 --wait -f value -c id; ok snapshot create
s2=$OUT
cli snapshot list --volume "$vol" -f json; ok snapshot list
[[ $(jout 'sorted((s["Name"], s["Status"]) for s in j)') == "[('s1', 'available'), ('s2', 'available')]" ]] ||
  fail "snapshot list: $OUT"
cli volume revert "$vol" "$s1" --wait -f json; ok volume revert
[[ $(jout 'j["os-strata:head_snapshot_id"]') == "$s1" ]] || fail "revert --wait: $OUT"
qemu-img convert -O raw "$disk" "$T/now.raw"
cmp -s "$T/now.raw" "$T/at-s1.raw" || fail "after the revert the disk is not s1's"
pass "snapshot create --wait (s1, s2) and volume revert --wait to s1: the disk is s1's, byte for byte"
cli snapshot verify "$s2" --wait -f json; ok snapshot verify
[[ $(jout 'j["os-strata:verify"]["state"]') == ok ]] || fail "snapshot verify --wait: $OUT"
pass "snapshot verify --wait: s2's stored layer read back, SHA-256 as recorded"

cli policy create --schedule "wed 22:00" --volume "$vol" --keep 1 --name weekly -f json
ok policy create
pid=$(jout 'j["id"]')
[[ $(jout 'j["retention"]["max_count"]') == 1 ]] || fail "policy create: $OUT"
cli policy run "$pid" --wait -f json; ok policy run
[[ $(jout 'j["status"]') == success ]] || fail "policy run --wait: $OUT"
cli policy runs "$pid" -f json; ok policy runs
[[ $(jout 'len(j)') == 1 ]] || fail "policy runs: $OUT"
cli policy prune "$pid" --dry-run -f json; ok policy prune
[[ $(jout '[d["Action"] for d in j]') == "['keep']" ]] || fail "prune dry run: $OUT"
cli task list --volume "$vol" -f json; ok task list
[[ $(jout 'sorted(set((t["Kind"], t["Status"]) for t in j))') == \
   "[('revert', 'succeeded'), ('snapshot_create', 'succeeded')]" ]] || fail "task list: $OUT"
tid=$(jout '[t["ID"] for t in j if t["Kind"] == "revert"][0]')
cli task show "$tid" -f value -c phase; ok task show
[[ $OUT == succeeded ]] || fail "task show: $OUT"
pass "policy create/run --wait/runs/prune --dry-run, task list and show"

# OS_* variables alone, no clouds.yaml.
set +e
OUT=$(env -u OS_CLIENT_CONFIG_FILE OS_AUTH_URL="$KS_URL" OS_USERNAME=alice \
  OS_PASSWORD=alice-secret OS_PROJECT_NAME=alpha "$CLI" snapshot list -f value -c ID 2>"$T/cli.err")
RC=$?
set -e
ok "snapshot list (OS_* variables)"
grep -qx "$s1" <<<"$OUT" && grep -qx "$s2" <<<"$OUT" || fail "OS_* auth: $OUT"
pass "OS_* variables authenticate as well"

# Exit codes.
cli snapshot show no-such-snapshot
[[ $RC == 1 ]] && grep -q "could not be found" "$T/cli.err" || fail "a 404: exit $RC ($(cat "$T/cli.err"))"
cli snapshot frobnicate
[[ $RC == 2 ]] || fail "an unknown command: exit $RC"
cli snapshot create
[[ $RC == 2 ]] || fail "a missing argument: exit $RC"
cli --os-password wrong volume list
[[ $RC == 3 ]] || fail "a wrong password: exit $RC ($(cat "$T/cli.err"))"
set +e
"$CLI" --os-cloud rita snapshot create "$vol" >/dev/null 2>"$T/cli.err"; RC=$?
set -e
[[ $RC == 3 ]] || fail "a reader's snapshot create: exit $RC ($(cat "$T/cli.err"))"
cli --os-endpoint "http://127.0.0.1:$(free_port)/v3" volume list
[[ $RC == 4 ]] || fail "stratad not answering: exit $RC ($(cat "$T/cli.err"))"
pass "exit codes: 404 → 1, bad command line → 2, wrong password and a reader's write → 3, no answer → 4"

# Completion.
words=$(bash -c 'source <("$1" completion bash); COMP_WORDS=(strata snapshot c); COMP_CWORD=2; _strata; echo "${COMPREPLY[@]}"' _ "$CLI")
[[ $words == create ]] || fail "completion of 'strata snapshot c': [$words]"
words=$(bash -c 'source <("$1" completion bash); COMP_WORDS=(strata snapshot create --w); COMP_CWORD=3; _strata; echo "${COMPREPLY[@]}"' _ "$CLI")
[[ $words == --wait ]] || fail "completion of 'strata snapshot create --w': [$words]"
"$CLI" help snapshot create | grep -q -- "--wait" || fail "help snapshot create"
pass "bash completion and per-command help"
