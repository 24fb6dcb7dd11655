#!/usr/bin/env python3
# Hostile-input exploration against a live stratad (issue 16): random
# requests to every route with wrong JSON types, huge values, odd ids and
# query strings, bad tokens and microversions. Reports any 5xx (503
# excepted), any non-JSON fault body and any connection failure, and the
# count of them last ("done, bad: N").
# Usage: api_hostile.py HOST PORT VOLUME_ID SNAPSHOT_ID [SEED [REQUESTS]]
# against a noauth stratad (tokens "user:project") holding that volume and
# snapshot; valid requests among the random ones do change them.
import json, random, socket, sys, http.client
host, port, vol, snap = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
random.seed(int(sys.argv[5]) if len(sys.argv) > 5 else 1)
import urllib.parse
ids = [vol, snap, "x", "", "..", "%2e%2e", "a"*5000, "00000000-0000-0000-0000-000000000000", "%00", urllib.parse.quote("é"), urllib.parse.quote("1;DROP TABLE volumes"), "%2F..%2F"]
vals = [None, True, 0, -1, 2**64, 1e308, -1e308, "", "x"*100000, [], {}, [1,2], {"a":{"b":{"c":[]}}}, "\u0000", "é", "../../etc/shadow", "/etc/shadow", "json:{}", 3.5]
routes = ["GET /", "GET /v3", "GET /v3/volumes", "GET /v3/volumes/detail", "GET /v3/volumes/{id}",
  "POST /v3/volumes/{id}/action", "GET /v3/snapshots", "GET /v3/snapshots/detail", "GET /v3/snapshots/{id}",
  "POST /v3/snapshots", "PUT /v3/snapshots/{id}", "DELETE /v3/snapshots/{id}", "POST /v3/snapshots/{id}/action",
  "GET /v3/snapshots/{id}/metadata", "POST /v3/snapshots/{id}/metadata", "PUT /v3/snapshots/{id}/metadata",
  "GET /v3/snapshots/{id}/metadata/{key}", "PUT /v3/snapshots/{id}/metadata/{key}", "DELETE /v3/snapshots/{id}/metadata/{key}",
  "POST /v3/os-volume-manage", "POST /v3/manageable_volumes", "GET /v2.1/servers", "GET /v2.1/servers/{id}",
  "POST /v2.1/os-assisted-volume-snapshots", "DELETE /v2.1/os-assisted-volume-snapshots/{id}", "GET /strata/v1/nbd-exports",
  "POST /strata/v1/nbd-exports/{id}/action"]
keys = ["snapshot","volume","metadata","meta","revert","os-reset_status","os-force_delete","os-update_snapshot_status","os-unmanage","createImage","createBackup","rebuild","create_info","delete_info","os-redirect","os-drain","ref","host","name","status","progress","snapshot_id","volume_id","force","limit","marker","sort"]
def body():
    r = random.random()
    if r < 0.1: return random.choice([b"", b"{", b"null", b"[]", b"\xff\xfe", b'{"a":1}'*1000, b"1"*100])
    def obj(d):
        o = {}
        for _ in range(random.randint(0,4)):
            k = random.choice(keys)
            o[k] = obj(d+1) if d < 3 and random.random() < 0.5 else random.choice(vals)
        return o
    return json.dumps(obj(0)).encode()
def hdrs():
    h = {"Content-Type": "application/json", "X-Auth-Token": random.choice(["admin:admin","x:y","", ":", "a"*9000, "admin:admin"])}
    if random.random() < 0.3: h["OpenStack-API-Version"] = random.choice(["volume 3.0","volume 3.999","volume x","volume 3.40","compute 2.1","volume 3.","volume -1"])
    if random.random() < 0.2: h["X-OpenStack-Nova-API-Version"] = random.choice(["2.1","2.999","abc"])
    return h
bad = 0
for i in range(int(sys.argv[6]) if len(sys.argv) > 6 else 2000):
    m, p = random.choice(routes).split(" ")
    p = p.replace("{id}", random.choice(ids[:2]*4+ids)).replace("{key}", random.choice(["k","", "a"*300, "%2F"]))
    if random.random() < 0.3: p += random.choice(["?limit=-1","?limit=abc","?marker=x","?sort=name:desc","?all_tenants=1","?limit=99999999999999999999","?offset=1&limit=0","?name=%00","?sort_key=../x"])
    b = body() if m in ("POST","PUT") else b""
    try:
        c = http.client.HTTPConnection(host, port, timeout=30)
        c.request(m, p, body=b, headers=hdrs())
        r = c.getresponse(); data = r.read()
        if r.status >= 500 and r.status != 503 or r.status == 501:
            bad += 1; print("5xx", r.status, m, p[:100], b[:200], data[:300])
        elif r.status >= 400:
            try: json.loads(data)
            except Exception: bad += 1; print("non-JSON fault", r.status, m, p[:100], data[:200])
    except Exception as e:
        bad += 1; print("conn", m, p[:80], e)
print("done, bad:", bad)
