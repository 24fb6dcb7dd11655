#!/usr/bin/env bash
# The API's connection gate (issue 16, item 5; api/connection_gate.h):
# cpprestsdk alone accepted every connection and kept idle ones for ever
# (20000 idle connections stopped every new client). Now:
#   - one client address gets at most [api] max_connections_per_client; the
#     next connection from it gets a 503 fault, other clients are served;
#   - at most [api] max_connections in all; the next, from anyone, a 503;
#   - held connections closed → served again;
#   - a connection idle for [api] idle_seconds is closed by stratad;
#   - a client trickling its request a byte a second (never idle) is closed
#     after [api] request_seconds;
#   - a client streaming far more than a request may send (300 MiB,
#     chunked, at a cap of 1 MiB) is cut off: cpprestsdk would receive it
#     all into its own buffer, whatever the handler answered.
# Clients are told apart by source address (127.0.0.x, all loopback).
source "$(dirname "$0")/lib.sh"
need curl python3

cat >"$T/hold.py" <<'PY'
# hold.py SRC PORT N [WAIT]: N idle connections from SRC; prints "held N".
# With WAIT, exits once stratad has closed all of them (0), or after WAIT
# seconds (1); without, holds them until killed.
import select, socket, sys, time
src, port, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
socks = []
for _ in range(n):
    s = socket.socket()
    s.bind((src, 0))
    s.connect(("127.0.0.1", port))
    socks.append(s)
print("held", n, flush=True)
if len(sys.argv) > 4:
    live, end = set(socks), time.time() + float(sys.argv[4])
    while live and time.time() < end:
        r, _, _ = select.select(list(live), [], [], 1)
        for s in r:
            if s.recv(4096) == b"":
                live.discard(s)
    print("closed", n - len(live), flush=True)
    sys.exit(0 if not live else 1)
time.sleep(3600)
PY
# hold NAME SRC N: starts a holder and waits until it holds its connections.
hold() {
  python3 "$T/hold.py" "$2" "$PORT" "$3" >"$T/$1.out" 2>&1 &
  eval "$1=$!"
  for _ in $(seq 600); do grep -q "^held" "$T/$1.out" && return 0; sleep 0.1; done
  fail "holder $1 did not connect: $(cat "$T/$1.out")"
}
# from SRC: GET /v3 from that source address; sets CODE and BODY.
from() {
  CODE=$(curl -s -o "$T/body" -w '%{http_code}' --max-time 60 \
    --interface "$1" "$URL/v3") || CODE=000
  BODY=$(cat "$T/body" 2>/dev/null || true)
}
holders=()
trap 'rc=$?; for h in "${holders[@]}"; do kill "$h" 2>/dev/null || true; done; cleanup $rc' EXIT

printf '[api]\nmax_connections = 40\nmax_connections_per_client = 15\nidle_seconds = 600\n' \
  >"$T/caps.conf"
start_stratad --config "$T/caps.conf"
hold a 127.0.0.1 15; holders+=("$a")
from 127.0.0.1
[[ $CODE == 503 ]] || fail "the 16th connection of one client: HTTP $CODE $BODY"
[[ $(jget "j['serviceUnavailable']['code']") == 503 ]] || fail "503 body: $BODY"
from 127.0.0.2
[[ $CODE == 200 || $CODE == 300 ]] || fail "another client while one is at its cap: HTTP $CODE"
pass "one client at its cap gets a 503 fault; another is served"

hold b 127.0.0.2 15; holders+=("$b")
hold c 127.0.0.3 10; holders+=("$c")
from 127.0.0.4
[[ $CODE == 503 ]] || fail "a connection over the global cap: HTTP $CODE $BODY"
kill "$a" "$b" "$c"; wait "$a" "$b" "$c" 2>/dev/null || true
for _ in $(seq 300); do from 127.0.0.4; [[ $CODE != 503 ]] && break; sleep 0.1; done
[[ $CODE == 200 || $CODE == 300 ]] || fail "served again once the holders left: HTTP $CODE"
kill -0 "$PID" || fail "stratad died"
pass "over the global cap: 503; served again once connections close"
stop_stratad

printf '[api]\nidle_seconds = 2\n' >"$T/idle.conf"
start_stratad --config "$T/idle.conf"
python3 "$T/hold.py" 127.0.0.1 "$PORT" 10 120 >"$T/idle.out" 2>&1 ||
  fail "idle connections not closed by stratad: $(cat "$T/idle.out")"
grep -q "^closed 10" "$T/idle.out" || fail "idle: $(cat "$T/idle.out")"
from 127.0.0.1
[[ $CODE == 200 || $CODE == 300 ]] || fail "after the idle ones: HTTP $CODE"
pass "10 idle connections closed by stratad after idle_seconds; the API serving"
stop_stratad

cat >"$T/trickle.py" <<'PY'
# trickle.py PORT SECONDS: sends a request's headers one byte a second;
# prints "closed after N bytes" when stratad closes the connection (exit 0),
# or "still open" once SECONDS have passed (exit 1).
import socket, sys, time
port, limit = int(sys.argv[1]), float(sys.argv[2])
s = socket.create_connection(("127.0.0.1", port))
req = b"GET /v3 HTTP/1.1\r\nHost: x\r\n" + b"X-Slow: " + b"a" * 10000
end, sent = time.time() + limit, 0
while time.time() < end:
    try:
        s.sendall(req[sent:sent + 1])
        sent += 1
        s.settimeout(1)
        if s.recv(4096) == b"":
            print("closed after", sent, "bytes", flush=True); sys.exit(0)
    except socket.timeout:
        continue
    except OSError:
        print("closed after", sent, "bytes", flush=True); sys.exit(0)
print("still open after", sent, "bytes", flush=True); sys.exit(1)
PY
printf '[api]\nidle_seconds = 600\nrequest_seconds = 3\n' >"$T/trickle.conf"
start_stratad --config "$T/trickle.conf"
python3 "$T/trickle.py" "$PORT" 60 >"$T/trickle.out" 2>&1 ||
  fail "a trickling client was not closed: $(cat "$T/trickle.out")"
grep -q "took longer than 3 s to send a request" "$T/stratad.log" ||
  fail "no log line for the trickling client"
from 127.0.0.1
[[ $CODE == 200 || $CODE == 300 ]] || fail "after the trickler: HTTP $CODE"
pass "a client trickling a byte a second closed after request_seconds ($(cat "$T/trickle.out")); the API serving"

stop_stratad
start_stratad
rss() { awk '/VmRSS/ {print $2}' "/proc/$PID/status"; }
before=$(rss)
code=$(head -c 300M /dev/zero | curl -s -o /dev/null -w '%{http_code}' --max-time 300 \
  -X POST -H "X-Auth-Token: admin:admin" -H "Content-Type: application/json" \
  -H "Transfer-Encoding: chunked" --data-binary @- "$URL/v3/snapshots") || true
after=$(rss)
grep -q "api gate: a client at .* sent" "$T/stratad.log" || fail "the 300 MiB body was not cut (HTTP $code)"
(( after - before < 32768 )) || fail "stratad grew by $(( (after - before) / 1024 )) MiB for one refused body"
from 127.0.0.1
[[ $CODE == 200 || $CODE == 300 ]] || fail "after the cut: HTTP $CODE"
pass "a 300 MiB chunked body cut off (HTTP ${code:-none}); stratad grew by $(( (after - before) / 1024 )) MiB"
