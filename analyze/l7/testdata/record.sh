#!/usr/bin/env bash
# record.sh: record l7-v4.pcap, real HTTP/1.x, TLS and DNS traffic for
# package analyze/l7's tests (run as root from anywhere; idempotent).
#
#   analyze/l7/testdata/record.sh
#   go test ./analyze/l7 -run TestRecordingsMatchTshark -update   # its tshark reference
#
# Two network namespaces joined by a veth pair (names and subnet apart from
# testdata/rec/record.sh's, so both can run):
#   fp7-cli  veth7-c  10.79.0.1/24   client: curl, dig, python3 (pipelining), tcpdump
#   fp7-srv  veth7-s  10.79.0.2/24   server: nginx (:80, :8080, TLS :443), a slow python
#                     10.79.0.3/24   backend behind nginx, dnsmasq (:53), and on .3:53 a
#                                    UDP socket that reads queries and never answers
# Offloads are switched off with ethtool, as in testdata/rec/record.sh.
#
# Traffic, in order (what each step should show is checked by ../rec_test.go):
#   curl GET 200; keep-alive 200, 404, 200 on one connection; HEAD; 204; 500; 503;
#   301; 304 (If-Modified-Since); chunked (gzip, HTTP/1.1); close-delimited (gzip,
#   HTTP/1.0); POST upload (Content-Length, 100-continue) and chunked upload; a slow
#   answer (300 ms backend); three pipelined requests in one segment (python); GET on
#   port 8080; TLS 1.3 and TLS 1.2 with SNI www.flowproof.test (curl offers h2 and
#   http/1.1); dig over UDP: A, AAAA, NXDOMAIN, REFUSED; dig over TCP with two
#   queries on one connection; a query nobody answers (two tries).
#
# Recorded with the tools of the machine: see the README table of testdata/rec for
# versions (curl 7.88.1, nginx 1.22.1, dnsmasq 2.90, dig 9.18, tcpdump 4.99).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
NS_C=fp7-cli NS_S=fp7-srv
C=10.79.0.1 S=10.79.0.2 HOLE=10.79.0.3

[ "$(id -u)" = 0 ] || { echo "record.sh: run as root" >&2; exit 1; }
for t in ip tcpdump nginx dnsmasq curl dig python3 openssl ethtool; do
	command -v "$t" >/dev/null || { echo "record.sh: $t is missing" >&2; exit 1; }
done

# The interpreter itself, not a version-manager shim that would fork it: the
# background servers must be the processes whose ids are kept for cleanup.
py=$(python3 -c 'import sys; print(sys.executable)')
work=$(mktemp -d /tmp/flowproof-rec7.XXXXXX)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	for f in "$work"/*.pypid; do [ -f "$f" ] && kill "$(cat "$f")" 2>/dev/null || true; done
	[ -f "$work/nginx.pid" ] && kill "$(cat "$work/nginx.pid")" 2>/dev/null || true
	[ -f "$work/dnsmasq.pid" ] && kill "$(cat "$work/dnsmasq.pid")" 2>/dev/null || true
	sleep 0.2
	ip netns del "$NS_C" 2>/dev/null || true
	ip netns del "$NS_S" 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT

inc() { ip netns exec "$NS_C" "$@"; }
ins() { ip netns exec "$NS_S" "$@"; }

ip netns del "$NS_C" 2>/dev/null || true
ip netns del "$NS_S" 2>/dev/null || true
ip link del veth7-c 2>/dev/null || true
ip netns add "$NS_C"
ip netns add "$NS_S"
ip link add veth7-c type veth peer name veth7-s
ip link set veth7-c netns "$NS_C"
ip link set veth7-s netns "$NS_S"
for ns in "$NS_C" "$NS_S"; do
	ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
	ip netns exec "$ns" ip link set lo up
done
inc ip addr add "$C/24" dev veth7-c
ins ip addr add "$S/24" dev veth7-s
ins ip addr add "$HOLE/24" dev veth7-s
inc ip link set veth7-c up
ins ip link set veth7-s up
inc ethtool -K veth7-c tx off rx off tso off gso off gro off sg off >/dev/null 2>&1 || true
ins ethtool -K veth7-s tx off rx off tso off gso off gro off sg off >/dev/null 2>&1 || true
for _ in $(seq 50); do
	inc ping -c1 -W1 "$S" >/dev/null 2>&1 && inc ping -c1 -W1 "$HOLE" >/dev/null 2>&1 && break
	sleep 0.1
done

# --- servers -------------------------------------------------------------------
chmod 755 "$work"
mkdir -p "$work/www" "$work/tmp"
head -c 100 < <(seq -w 1 100000) >"$work/www/small.txt"
head -c 10000 < <(seq -w 1 100000) >"$work/www/medium.txt"
head -c 30000 < <(seq -w 1 100000) >"$work/www/chunk.txt"
head -c 5000 < <(seq -w 1 100000) >"$work/upload.bin"
touch -d '2020-01-01 00:00:00 UTC' "$work/www/small.txt"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=www.flowproof.test \
	-keyout "$work/key.pem" -out "$work/cert.pem" 2>/dev/null
cat >"$work/nginx.conf" <<EOF
worker_processes 1;
pid $work/nginx.pid;
error_log $work/nginx-error.log;
events { worker_connections 64; }
http {
	access_log off;
	server_tokens off;
	sendfile off;
	keepalive_timeout 5s;
	client_body_temp_path $work/tmp/body;
	proxy_temp_path $work/tmp/proxy;
	fastcgi_temp_path $work/tmp/fastcgi;
	uwsgi_temp_path $work/tmp/uwsgi;
	scgi_temp_path $work/tmp/scgi;
	default_type text/plain;
	gzip on;
	gzip_types text/plain;
	gzip_min_length 0;
	gzip_http_version 1.0;
	if_modified_since before; # the default (exact) would answer 200
	server {
		listen $S:80;
		listen $S:8080;
		listen $S:443 ssl;
		ssl_certificate $work/cert.pem;
		ssl_certificate_key $work/key.pem;
		ssl_protocols TLSv1.2 TLSv1.3; # nginx 1.22 leaves 1.3 out by default
		root $work/www;
		location = /status/204 { return 204; }
		location = /status/500 { return 500; }
		location = /status/503 { return 503; }
		location = /redirect { return 301 /small.txt; }
		location = /upload { client_max_body_size 1m; proxy_pass http://127.0.0.1:8081; }
		location = /slow { proxy_pass http://127.0.0.1:8081; }
	}
}
EOF
# The backend answers /slow after 300 ms and /upload at once, reading the body.
cat >"$work/backend.py" <<'EOF'
import http.server, os, sys, time
open(sys.argv[1], "w").write(str(os.getpid()))  # ip netns exec forks: the script's \$! is not this process
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def reply(self):
        n = int(self.headers.get("Content-Length") or 0)
        if n:
            self.rfile.read(n)
        if self.path == "/slow":
            time.sleep(0.3)
        body = b"done\n"
        self.send_response(201 if self.command == "POST" else 200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    do_GET = do_POST = reply
    def log_message(self, *a):
        pass
http.server.ThreadingHTTPServer(("127.0.0.1", 8081), H).serve_forever()
EOF
ins "$py" "$work/backend.py" "$work/backend.pypid" &
pids+=($!)
ins nginx -c "$work/nginx.conf" -p "$work"
cat >"$work/hosts" <<EOF
$S www.flowproof.test
10.79.0.10 a.flowproof.test
fd79::10 a.flowproof.test
EOF
ins dnsmasq --conf-file=/dev/null --no-resolv --no-hosts --addn-hosts="$work/hosts" \
	--local=/flowproof.test/ --bind-interfaces --listen-address="$S" --except-interface=lo --port=53 \
	--pid-file="$work/dnsmasq.pid" --user=nobody --group=nogroup --log-facility="$work/dnsmasq.log"
# A resolver that never answers: reads and drops.
ins "$py" -c "
import os, socket
open('$work/hole.pypid', 'w').write(str(os.getpid()))
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(('$HOLE', 53))
while True:
    s.recv(4096)
" &
pids+=($!)
for _ in $(seq 50); do
	inc curl -sf -o /dev/null "http://$S/small.txt" && inc curl -sf -o /dev/null "http://$S/slow" && break
	sleep 0.1
done
sleep 1

# --- the recording -------------------------------------------------------------
out="$here/l7-v4.pcap"
rm -f "$out"
ip netns exec "$NS_C" tcpdump -i veth7-c -s 0 -U -Z root --time-stamp-precision=nano -w "$out" 'tcp or udp' 2>"$work/tcpdump.err" &
tcpdump_pid=$!
pids+=("$tcpdump_pid")
for _ in $(seq 100); do
	grep -q 'listening on' "$work/tcpdump.err" 2>/dev/null && break
	sleep 0.05
done
sleep 0.3
step() { sleep 0.2; }
q() { inc curl -s -o /dev/null "$@" >/dev/null || true; step; }

q "http://$S/small.txt"
q "http://$S/small.txt" "http://$S/missing" "http://$S/medium.txt"
q -I "http://$S/small.txt"
q "http://$S/status/204"
q "http://$S/status/500"
q "http://$S/status/503"
q "http://$S/redirect"
q -H 'If-Modified-Since: Wed, 01 Jan 2025 00:00:00 GMT' "http://$S/small.txt"
q --compressed "http://$S/chunk.txt"
q --http1.0 --compressed "http://$S/chunk.txt"
q -H 'Expect: 100-continue' --data-binary @"$work/upload.bin" "http://$S/upload"
q -H 'Transfer-Encoding: chunked' --data-binary @"$work/upload.bin" "http://$S/upload"
q "http://$S/slow"
inc "$py" -c "
import socket
s = socket.create_connection(('$S', 80))
req = b''.join(b'GET /%s HTTP/1.1\r\nHost: $S\r\nUser-Agent: pipeline\r\n%s\r\n' % (p, c)
              for p, c in ((b'small.txt', b''), (b'missing', b''), (b'medium.txt', b'Connection: close\r\n')))
s.sendall(req)
while s.recv(65536):
    pass
"
step
q "http://$S:8080/small.txt"
q -k --resolve "www.flowproof.test:443:$S" "https://www.flowproof.test/small.txt"
q -k --tlsv1.2 --tls-max 1.2 --resolve "www.flowproof.test:443:$S" "https://www.flowproof.test/medium.txt"
d() { inc dig +tries=1 +time=2 "$@" >/dev/null || true; step; }
d +notcp @"$S" www.flowproof.test A
d +notcp @"$S" a.flowproof.test AAAA
d +notcp @"$S" missing.flowproof.test A
d +notcp @"$S" example.com A
d +tcp +keepopen @"$S" www.flowproof.test A a.flowproof.test A
inc dig +notcp +tries=2 +time=1 @"$HOLE" www.flowproof.test A >/dev/null || true
sleep 0.5
kill -TERM "$tcpdump_pid"
wait "$tcpdump_pid" || true
grep -E 'captured|dropped' "$work/tcpdump.err" | sed 's/^/  /' || true
capinfos -T -r -c -E "$out" | cut -f2-
sha256sum "$out"
