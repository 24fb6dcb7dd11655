#!/usr/bin/env bash
# Starts Debian's nginx as an HTTP file server for the `dav` store (tests,
# benchmarks, trying it by hand): PUT/DELETE with DAV, directory listings as
# JSON, files under DIR/root, no body size limit. It runs in the background
# (no master process, one worker) until killed; prints its PID once it
# answers on 127.0.0.1:PORT. Usage: scripts/start-test-nginx.sh DIR PORT
# Then: stratad --store dav:http://127.0.0.1:PORT/strata
# With NGINX_LIMIT_RATE set (nginx's limit_rate, e.g. 2m), each response is
# sent at most that fast: a slow store, for tests.
set -euo pipefail
dir=$1 port=$2
rate=""
[[ -n ${NGINX_LIMIT_RATE:-} ]] && rate="limit_rate $NGINX_LIMIT_RATE;"
mkdir -p "$dir/root" "$dir/body"
cat >"$dir/nginx.conf" <<CONF
daemon off; master_process off; worker_processes 1;
pid $dir/nginx.pid;
error_log $dir/error.log;
events { worker_connections 256; }
http { access_log off;
  client_body_temp_path $dir/body;
  server { listen 127.0.0.1:$port;
    root $dir/root; client_max_body_size 0;
    location / { dav_methods PUT DELETE MKCOL; create_full_put_path on;
      autoindex on; autoindex_format json; $rate } } }
CONF
/usr/sbin/nginx -q -c "$dir/nginx.conf" </dev/null >/dev/null 2>&1 &
pid=$!
for _ in $(seq 50); do
  if curl -s -o /dev/null "http://127.0.0.1:$port/"; then echo "$pid"; exit 0; fi
  kill -0 "$pid" 2>/dev/null || break
  sleep 0.1
done
echo "nginx did not start: $(tail -3 "$dir/error.log" 2>/dev/null)" >&2
kill "$pid" 2>/dev/null || true
exit 1
