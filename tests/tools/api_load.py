#!/usr/bin/env python3
"""Many concurrent API clients against a stratad (issue 16, item 11).

api_load.py URL CLIENTS SECONDS VOLUME_ID[,VOLUME_ID…]

Each client loops until SECONDS have passed, picking at random: list and
show volumes and snapshots, create a snapshot of one of the volumes, delete
one of the oldest snapshots (keeping the chains short), and bad requests (a
malformed body, an unknown id, a bad microversion, a wrong method). Prints
one JSON line: requests by status code, latency percentiles (ms), and the
5xx answers seen (at most 20, with their bodies). Loopback only; bounded in
time and count.
"""
import json
import random
import sys
import threading
import time
import urllib.error
import urllib.request

url, clients, seconds = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
volumes = sys.argv[4].split(",")
assert url.startswith("http://127.0.0.1:"), "loopback only"
HEADERS = {"X-Auth-Token": "admin:admin", "Content-Type": "application/json"}
MAX_REQUESTS = 2_000_000

lock = threading.Lock()
codes, latencies, server_errors = {}, [], []
count = [0]


def call(method, path, body=None, headers=None):
    data = body.encode() if isinstance(body, str) else body
    req = urllib.request.Request(url + path, data=data, method=method,
                                 headers={**HEADERS, **(headers or {})})
    t0 = time.monotonic()
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            code, text = r.status, r.read()
    except urllib.error.HTTPError as e:
        code, text = e.code, e.read()
    except Exception as e:  # a dropped connection counts as a failure
        code, text = 599, str(e).encode()
    ms = (time.monotonic() - t0) * 1000
    with lock:
        codes[code] = codes.get(code, 0) + 1
        latencies.append(ms)
        count[0] += 1
        if code >= 500 and len(server_errors) < 20:
            server_errors.append([method, path, code, text[:300].decode(errors="replace")])
    return code, text


def snapshots_of(vol):
    code, text = call("GET", f"/v3/snapshots/detail?volume_id={vol}&sort=created_at:asc")
    if code != 200:
        return []
    return [s for s in json.loads(text)["snapshots"] if s["status"] in ("available", "error")]


def client(end):
    rnd = random.Random()
    while time.monotonic() < end and count[0] < MAX_REQUESTS:
        vol = rnd.choice(volumes)
        op = rnd.random()
        if op < 0.30:
            call("GET", rnd.choice(["/v3/volumes/detail", "/v3/snapshots", "/v3/volumes",
                                    "/v3/snapshots/detail?limit=5"]))
        elif op < 0.50:
            call("GET", f"/v3/volumes/{vol}")
        elif op < 0.65:
            call("POST", "/v3/snapshots",
                 json.dumps({"snapshot": {"volume_id": vol, "name": "load"}}))
        elif op < 0.75:
            snaps = snapshots_of(vol)
            if len(snaps) > 4:
                call("DELETE", f"/v3/snapshots/{snaps[0]['id']}")
        else:
            rnd.choice([
                lambda: call("POST", "/v3/snapshots", '{"snapshot": {'),
                lambda: call("GET", "/v3/snapshots/4c1d6e3e-0000-4000-8000-000000000000"),
                lambda: call("GET", "/v3/volumes", headers={"OpenStack-API-Version": "volume 9.9"}),
                lambda: call("PATCH", "/v3/snapshots"),
                lambda: call("POST", "/v3/snapshots", '{"snapshot": {"volume_id": 7}}'),
                lambda: call("POST", f"/v3/volumes/{vol}/action", '{"os-frobnicate": {}}'),
            ])()


end = time.monotonic() + seconds
threads = [threading.Thread(target=client, args=(end,)) for _ in range(clients)]
for t in threads:
    t.start()
for t in threads:
    t.join()
lat = sorted(latencies)
pct = lambda p: round(lat[min(len(lat) - 1, int(len(lat) * p))], 1) if lat else None
print(json.dumps({"requests": len(lat), "codes": codes, "p50_ms": pct(0.50),
                  "p99_ms": pct(0.99), "max_ms": round(lat[-1], 1) if lat else None,
                  "server_errors": server_errors}))
