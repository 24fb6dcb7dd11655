#!/usr/bin/env bash
# OpenStack's conformance suite against Strata (issue 18): the Tempest volume
# API tests listed in tests/tempest/smoke-list.txt, run by
# tests/tempest/run-volume-tempest.sh against stratad behind a real Keystone
# (registered in its catalog, Tempest's dynamic credentials). Every listed
# test must run and pass: a skip or a missing test fails this test. The
# whole volume API set (with its justified exclude list) is the script
# alone: tests/tempest/run-volume-tempest.sh.
source "$(dirname "$0")/lib.sh"
need tempest keystone-manage uwsgi openstack python3 curl
list="$STRATA_SRC/tests/tempest/smoke-list.txt"
want=$(grep -cv '^\s*\(#\|$\)' "$list")
set +e
out=$(STRATAD=$STRATAD bash "$STRATA_SRC/tests/tempest/run-volume-tempest.sh" \
  --include-list "$list" --keep "$T/tempest" 2>&1)
rc=$?
set -e
echo "$out" | sed -n '/^Totals/,/Failed/p'
count() { sed -n "s/^ - $1: \([0-9]*\)$/\1/p" <<<"$out"; }
ran=$(sed -n 's/^Ran: \([0-9]*\) tests.*/\1/p' <<<"$out")
[[ $rc == 0 ]] || fail "tempest failed (rc $rc): $(grep '^failed' <<<"$out" | head -20)"
[[ $(count Failed) == 0 && $(count Skipped) == 0 ]] ||
  fail "failed $(count Failed), skipped $(count Skipped): $(grep -E '^failed|SKIPPED' "$T/tempest/tempest.out" | head)"
[[ $ran == "$want" && $(count Passed) == "$want" ]] ||
  fail "ran $ran, passed $(count Passed), of $want listed"
pass "Tempest: $want volume API tests passed, none skipped"
