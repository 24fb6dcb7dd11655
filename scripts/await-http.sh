# Sourced by the start-test-*.sh scripts that launch a server in a process
# group of its own (setsid) and report its PID.
# await_http PID URL NAME LOG…: waits (≤ 30 s) until URL answers (any
# status below 400); then prints PID and exits 0. If PID dies first or time
# runs out: says NAME did not start, with the LOGs' last lines, kills PID's
# process group and exits 1.
await_http() {
  local pid=$1 url=$2 name=$3
  shift 3
  for _ in $(seq 300); do
    if curl -sf -o /dev/null "$url"; then
      echo "$pid"
      exit 0
    fi
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  echo "$name did not start: $(tail -n 3 "$@" 2>/dev/null)" >&2
  kill -- "-$pid" 2>/dev/null || true
  exit 1
}
