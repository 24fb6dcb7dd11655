#!/usr/bin/env bash
# `cmake --install` (issue 20, item 3) into a staging root: the binaries,
# the systemd unit, the example strata.conf, the CLI's bash completion and
# the docs land where a package puts them; the unit passes
# `systemd-analyze verify` (systemd's own checker: unknown keys, a missing
# executable); the installed stratad starts on the installed example
# configuration and answers /healthcheck, the API and the dashboard; the
# installed completion completes.
source "$(dirname "$0")/lib.sh"
need cmake curl systemd-analyze
build=$(dirname "$STRATAD")
root=$T/root
DESTDIR=$root cmake --install "$build" >"$T/install.log" 2>&1 ||
  fail "cmake --install: $(tail -3 "$T/install.log")"
prefix=$(sed -n 's/^CMAKE_INSTALL_PREFIX:PATH=//p' "$build/CMakeCache.txt")
[[ -n $prefix ]] || fail "no install prefix in the cache"
etc=$prefix/etc
[[ $prefix == /usr ]] && etc=/etc
for f in "$prefix/bin/stratad" "$prefix/bin/strata" "$etc/strata/strata.conf" \
         "$prefix/lib/systemd/system/strata.service" \
         "$prefix/share/bash-completion/completions/strata" \
         "$prefix/share/doc/strata/README.md" "$prefix/share/doc/strata/operations.md"; do
  [[ -s $root$f ]] || fail "not installed: $f"
done
pass "installed under $prefix: stratad, strata, the unit, $etc/strata/strata.conf, completion, docs"

# The unit as systemd reads it. ExecStart names the installed binary: for
# the check it points into the staging root, which is all that changes.
unit=$root$prefix/lib/systemd/system/strata.service
grep -qx "ExecStart=$prefix/bin/stratad --config $etc/strata/strata.conf" "$unit" ||
  fail "the unit's ExecStart: $(grep ExecStart "$unit")"
mkdir -p "$T/unit"
sed "s|^ExecStart=$prefix/bin/|ExecStart=$root$prefix/bin/|" "$unit" >"$T/unit/strata.service"
systemd-analyze verify "$T/unit/strata.service" >"$T/verify.log" 2>&1 || true
if grep -q "strata.service" "$T/verify.log"; then
  fail "systemd-analyze verify: $(grep strata.service "$T/verify.log")"
fi
# The check can fail: a unit with a bad key is reported.
sed 's/^Restart=/Restrat=/' "$T/unit/strata.service" >"$T/unit/bad.service"
systemd-analyze verify "$T/unit/bad.service" >"$T/verify-bad.log" 2>&1 || true
grep -q "Unknown key 'Restrat'" "$T/verify-bad.log" ||
  fail "systemd-analyze verify did not notice a bad key: $(cat "$T/verify-bad.log")"
pass "systemd-analyze verify accepts strata.service (and reports a misspelt key)"

# The installed daemon on the installed example configuration (state and
# address overridden by flags, as they win over the file).
STRATAD=$root$prefix/bin/stratad start_stratad --config "$root$etc/strata/strata.conf"
[[ $(curl -s "$URL/healthcheck") == OK ]] || fail "/healthcheck"
api GET /v3/volumes
expect_code 200 "volume list"
code=$(curl -s -o /dev/null -w '%{http_code}' "$URL/dashboard/")
[[ $code == 200 ]] || fail "/dashboard/: HTTP $code"
pass "the installed stratad starts on the example strata.conf and answers /healthcheck, the API and /dashboard/"

words=$(bash -c 'source "$1"; COMP_WORDS=(strata pol); COMP_CWORD=1; _strata; echo "${COMPREPLY[@]}"' _ \
  "$root$prefix/share/bash-completion/completions/strata")
[[ $words == policy ]] || fail "the installed completion: [$words]"
pass "the installed bash completion completes 'strata pol' to policy"
