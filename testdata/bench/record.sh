#!/usr/bin/env bash
# record.sh: record the benchmark capture of `make bench` (run as root).
#
#   testdata/bench/record.sh OUT.pcap
#
# Two network namespaces joined by a veth pair with offloads off (so every frame
# is a real MTU-sized packet). nginx serves two files in the server namespace;
# in the client namespace tcpdump records while
#   ab  -n $AB_REQUESTS -c 32     short HTTP/1.0 connections (one request each) for a 1 KiB file,
#   wrk -c 16                     keep-alive connections fetching a 64-byte file, until
#                                 $WRK_REQUESTS responses (or 20 s),
# run one after the other. Defaults give about 1.9 million packets, 150 thousand
# TCP connections and 400 MB. The capture is not committed (it is large and
# differs on every run); `make bench` records it once into $FLOWPROOF_BENCH_DIR.
set -euo pipefail

out=${1:?usage: record.sh OUT.pcap}
AB_REQUESTS=${AB_REQUESTS:-150000}
WRK_REQUESTS=${WRK_REQUESTS:-190000}
NS_C=fpb-cli NS_S=fpb-srv V4_C=10.78.0.1 V4_S=10.78.0.2

[ "$(id -u)" = 0 ] || { echo "record.sh: run as root" >&2; exit 1; }
export DEBIAN_FRONTEND=noninteractive
for pkg in tcpdump:tcpdump nginx:nginx ab:apache2-utils wrk:wrk ethtool:ethtool; do
	command -v "${pkg%%:*}" >/dev/null || apt-get install -y -qq "${pkg#*:}" >/dev/null
done

work=$(mktemp -d /tmp/flowproof-bench.XXXXXX)
chmod 755 "$work" # nginx's workers run as nobody
cleanup() {
	[ -n "${tcpdump_pid:-}" ] && kill "$tcpdump_pid" 2>/dev/null || true
	[ -f "$work/nginx.pid" ] && kill "$(cat "$work/nginx.pid")" 2>/dev/null || true
	sleep 0.3
	ip netns del "$NS_C" 2>/dev/null || true
	ip netns del "$NS_S" 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT

inc() { ip netns exec "$NS_C" "$@"; }
ins() { ip netns exec "$NS_S" "$@"; }

ip netns del "$NS_C" 2>/dev/null || true
ip netns del "$NS_S" 2>/dev/null || true
ip netns add "$NS_C"
ip netns add "$NS_S"
ip link add fpb-c type veth peer name fpb-s
ip link set fpb-c netns "$NS_C"
ip link set fpb-s netns "$NS_S"
inc ip link set lo up
ins ip link set lo up
inc ip addr add "$V4_C/24" dev fpb-c
ins ip addr add "$V4_S/24" dev fpb-s
inc ip link set fpb-c up
ins ip link set fpb-s up
inc ethtool -K fpb-c tso off gso off gro off tx off rx off >/dev/null 2>&1 || true
ins ethtool -K fpb-s tso off gso off gro off tx off rx off >/dev/null 2>&1 || true
# Many short connections from one client address: widen the port range and
# let TIME_WAIT ports be reused so ab does not run out.
inc sysctl -qw net.ipv4.ip_local_port_range="1024 65535" net.ipv4.tcp_tw_reuse=1

mkdir -p "$work/www"
head -c 1024 /dev/zero | tr '\0' 'a' >"$work/www/small.txt"
head -c 64 /dev/zero | tr '\0' 'b' >"$work/www/tiny.txt"
chmod -R a+rX "$work/www"
# wrk has no request count: each of its 2 threads stops after its share.
cat >"$work/stop.lua" <<LUA
local done = 0
function response(status, headers, body)
	done = done + 1
	if done >= $((WRK_REQUESTS / 2)) then wrk.thread:stop() end
end
LUA
cat >"$work/nginx.conf" <<CONF
worker_processes 2;
pid $work/nginx.pid;
error_log $work/error.log;
events { worker_connections 4096; }
http {
	access_log off;
	keepalive_requests 1000000;
	server {
		listen $V4_S:80 backlog=4096;
		root $work/www;
	}
}
CONF
ins nginx -c "$work/nginx.conf"
sleep 0.5

# Not through inc: $! must be tcpdump itself (ip netns exec execs it).
ip netns exec "$NS_C" tcpdump -i fpb-c -s 0 -B 131072 -n -w "$out" 2>"$work/tcpdump.log" &
tcpdump_pid=$!
sleep 1
inc ab -q -n "$AB_REQUESTS" -c 32 "http://$V4_S/small.txt" >"$work/ab.log"
inc wrk -t 2 -c 16 -d 20s -s "$work/stop.lua" "http://$V4_S/tiny.txt" >"$work/wrk.log"
sleep 1
kill -INT "$tcpdump_pid"
wait "$tcpdump_pid" || true
tcpdump_pid=
cat "$work/tcpdump.log" >&2
grep -E "Complete requests|Failed requests|Non-2xx" "$work/ab.log" >&2 || true
grep -E "requests in|Non-2xx" "$work/wrk.log" >&2 || true
