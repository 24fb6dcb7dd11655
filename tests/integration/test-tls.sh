#!/usr/bin/env bash
# TLS for the API (issue 5): a test CA and a server certificate made with
# openssl(1); stratad --tls-cert/--tls-key serves HTTPS only: curl and
# Debian's openstack and cinder clients work with the test CA, a client
# without it is refused by certificate verification, plain HTTP to the port
# gets no answer; a plain listener exists only when asked for
# ([api] plain_listen); a missing file or a key that does not match the
# certificate stops stratad with a clear message.
source "$(dirname "$0")/lib.sh"
need curl python3 openssl openstack cinder qemu-img

c="$T/tls"
mkdir -p "$c"
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$c/ca.key" -out "$c/ca.pem" \
  -days 2 -subj "/CN=Strata test CA" 2>/dev/null
openssl req -newkey rsa:2048 -nodes -keyout "$c/srv.key" -out "$c/srv.csr" \
  -subj "/CN=127.0.0.1" 2>/dev/null
printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\n' >"$c/ext"
openssl x509 -req -in "$c/srv.csr" -CA "$c/ca.pem" -CAkey "$c/ca.key" \
  -CAcreateserial -out "$c/srv.pem" -days 2 -extfile "$c/ext" 2>/dev/null
openssl req -newkey rsa:2048 -nodes -keyout "$c/other.key" -out /dev/null \
  -subj "/CN=other" 2>/dev/null

# Bad TLS files: clear message, exit 2, before anything listens.
bad=(--state-dir "$T/bad" --libvirt-uri none)
expect_exit 2 "both --tls-cert and --tls-key" "cert without key" -- \
  "${bad[@]}" --listen "127.0.0.1:$(free_port)" --tls-cert "$c/srv.pem"
expect_exit 2 "cannot be loaded" "missing certificate" -- "${bad[@]}" \
  --listen "127.0.0.1:$(free_port)" --tls-cert "$c/nope.pem" --tls-key "$c/srv.key"
expect_exit 2 "does not belong to the certificate" "mismatched key" -- \
  "${bad[@]}" --listen "127.0.0.1:$(free_port)" \
  --tls-cert "$c/srv.pem" --tls-key "$c/other.key"

tls=(--tls-cert "$c/srv.pem" --tls-key "$c/srv.key")
start_stratad --libvirt-uri none "${tls[@]}"
[[ $URL == https://* ]] || fail "stratad with TLS does not say it serves https: $URL"

code=$(curl -s --cacert "$c/ca.pem" -o "$T/body" -w '%{http_code}' "$URL/v3/")
[[ $code == 300 || $code == 200 ]] || fail "https with the CA: HTTP $code"
grep -q "\"href\":\"$URL/v3/\"" "$T/body" || fail "links do not name https: $(cat "$T/body")"
set +e
curl -s -o /dev/null "$URL/v3/"; rc=$?
set -e
[[ $rc == 60 ]] || fail "a client without the CA: curl exit $rc, wanted 60 (certificate)"
code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/v3/" || true)
[[ $code == 000 ]] || fail "plain HTTP to the TLS port answered HTTP $code"
pass "HTTPS with the test CA; without it refused; plain HTTP to the port unanswered"

# The real clients, over HTTPS with the test CA.
disk="$T/var/disks/t.qcow2"
mkdir -p "$T/var/disks"
qemu-img create -q -f qcow2 "$disk" 16M
C=(cinder --os-auth-type noauth --os-user-id admin --os-project-id admin
   --os-endpoint "$URL/v3" --os-volume-api-version 3.40 --os-cacert "$c/ca.pem")
"${C[@]}" manage --name t "strata@strata#strata" "$disk" >/dev/null ||
  fail "cinder manage over TLS failed"
"${C[@]}" snapshot-create --name s1 t >/dev/null || fail "cinder snapshot-create over TLS failed"
O=(openstack --os-auth-type none --os-endpoint "$URL/v3/admin" --os-cacert "$c/ca.pem"
   --os-volume-api-version 3.40)
for _ in $(seq 50); do
  st=$("${O[@]}" volume snapshot list -f value -c Name -c Status | awk '$1 == "s1" {print $2}')
  [[ $st == available ]] && break
  sleep 0.2
done
[[ $st == available ]] || fail "openstack volume snapshot list over TLS: s1 is '$st'"
pass "cinder and openstack clients work over HTTPS with --os-cacert"
stop_stratad

# A plain listener only when asked for: here on another loopback port.
plain=$(free_port)
printf '[api]\nplain_listen = 127.0.0.1:%s\n' "$plain" >"$T/plain.conf"
start_stratad --libvirt-uri none "${tls[@]}" --config "$T/plain.conf"
code=$(curl -s -o /dev/null -w '%{http_code}' -H 'X-Auth-Token: admin:admin' \
  "http://127.0.0.1:$plain/v3/admin/snapshots")
[[ $code == 200 ]] || fail "the plain listener asked for: HTTP $code"
code=$(curl -s --cacert "$c/ca.pem" -o /dev/null -w '%{http_code}' \
  -H 'X-Auth-Token: admin:admin' "$URL/v3/admin/snapshots")
[[ $code == 200 ]] || fail "HTTPS next to the plain listener: HTTP $code"
pass "[api] plain_listen adds a plain listener besides HTTPS, only when asked for"
