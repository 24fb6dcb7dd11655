# Helpers of the dashboard tests (test-dashboard*.sh), sourced after lib.sh:
# skip without the browser, and check the API paths a flow called.
PY=/usr/bin/python3
[[ -x /usr/bin/chromium && -x /usr/bin/chromedriver ]] ||
  skip "needs chromium and chromium-driver"
"$PY" -c 'import selenium' 2>/dev/null || skip "needs python3-selenium"
SHOTS_ROOT=${STRATA_ARTIFACTS:-$(dirname "$STRATAD")/test-artifacts}/dashboard

# run_flow SCRIPT ARGS…: runs tests/dashboard/SCRIPT, its JSON result in
# $T/flow.json; fails with the flow's own error.
run_flow() {
  local script=$1; shift
  "$PY" "$STRATA_SRC/tests/dashboard/$script" "$@" >"$T/flow.json" 2>"$T/flow.err" ||
    fail "the browser flow $script failed: $(grep -v '^#[0-9]' "$T/flow.err" | grep -v '^  *File "/usr' | tail -12)"
}

# flow_field KEY: a field of the last flow's JSON result.
flow_field() {
  "$PY" -c 'import json,sys; v=json.load(sys.stdin)[sys.argv[1]]; print(" ".join(v) if isinstance(v, list) else v)' "$1" <"$T/flow.json"
}

# check_page_paths LABEL: every API path the last flow's page called (ids
# as {id}) is named in docs/api.md or docs/dashboard.md.
check_page_paths() {
  local p norm rel
  while read -r p; do
    norm=$(sed -E 's/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/{id}/g; s|^[A-Z]+ ||; s|^/v3/|/|; s|^/v2.1/|/|' <<<"$p")
    case $norm in /dashboard/*.css|/dashboard/*.js|/dashboard/*.svg|/dashboard/) continue ;; esac
    # An extension's table names its paths relative to it: "…/preview".
    rel=$(sed -nE 's|^/os-[a-z-]+(/.+)$|…\1|p' <<<"$norm")
    grep -qF -- "$norm" "$STRATA_SRC/docs/api.md" "$STRATA_SRC/docs/dashboard.md" ||
      { [[ -n $rel ]] && grep -qF -- "$rel" "$STRATA_SRC/docs/api.md"; } ||
      fail "$1: the page called $p, which the docs do not name ($norm)"
  done < <("$PY" -c 'import json,sys; print("\n".join(json.load(sys.stdin)["paths"]))' <"$T/flow.json")
}
