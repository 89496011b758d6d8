#!/usr/bin/env bash
# record.sh: make flowproof's small real recordings on this machine (run as root).
#
#   testdata/rec/record.sh            # writes the captures and their .flows.tsv next to this script
#
# Two network namespaces joined by a veth pair:
#   fp-cli  veth-c  10.77.0.1/24  fd77::1/64   client: curl, ab, dig, tcpdump
#   fp-srv  veth-s  10.77.0.2/24  fd77::2/64   server: nginx (:80), dnsmasq (:53)
# Offloads (TSO/GSO/GRO and checksum offload) are switched off on both ends with
# ethtool (installed with apt-get when missing), so every captured frame is a real
# MTU-sized packet with a correct checksum. Without ethtool the script falls back
# to `ip link set gso_max_size/gro_max_size`, which limits segmentation offload
# but leaves checksum offload on (checksums in the capture may then be partial).
#
# Output (all small; see ../README.md):
#   http-v4.pcap       curl (keep-alive and not, a ~200 KB file), ab -n 20, a closed port (REJ)
#   http-v6.pcapng     the same over IPv6 (tcpdump pcap converted with editcap -F pcapng)
#   any-sll2.pcap      tcpdump -i any (LINKTYPE_LINUX_SLL2): curl, dig A/AAAA over UDP, loopback
#   dns-udp.pcap       dig over UDP, including a port with nothing listening (ICMP unreachable)
#   http-v4.pcap.gz    gzip -n copy of http-v4.pcap (gzip detection)
#   <file>.flows.tsv   tshark reference per conversation (tshark-flows.sh), checked against
#                      tshark -z conv,tcp / conv,udp
#
# The script is idempotent: it removes what an earlier (or interrupted) run left
# behind, and cleans up on exit. Timestamps differ on every run, so the captures
# (and their sha256) change each time the script is run.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
NS_C=fp-cli NS_S=fp-srv
V4_C=10.77.0.1 V4_S=10.77.0.2 V6_C=fd77::1 V6_S=fd77::2

[ "$(id -u)" = 0 ] || { echo "record.sh: run as root" >&2; exit 1; }
for t in ip tcpdump nginx dnsmasq curl ab dig tshark editcap capinfos gzip; do
	command -v "$t" >/dev/null || { echo "record.sh: $t is missing" >&2; exit 1; }
done

work=$(mktemp -d /tmp/flowproof-rec.XXXXXX)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
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

# --- namespaces and veth (idempotent: drop leftovers first) ------------------
ip netns del "$NS_C" 2>/dev/null || true
ip netns del "$NS_S" 2>/dev/null || true
ip link del veth-c 2>/dev/null || true
ip netns add "$NS_C"
ip netns add "$NS_S"
ip link add veth-c type veth peer name veth-s
ip link set veth-c netns "$NS_C"
ip link set veth-s netns "$NS_S"
for ns in "$NS_C" "$NS_S"; do
	# No router solicitations: fewer stray ICMPv6 packets in the captures.
	ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.router_solicitations=0 net.ipv6.conf.default.router_solicitations=0
	ip netns exec "$ns" ip link set lo up
done
# ... and none from the veth ends themselves (their settings were copied on the move).
inc sysctl -qw net.ipv6.conf.veth-c.router_solicitations=0
ins sysctl -qw net.ipv6.conf.veth-s.router_solicitations=0
inc ip addr add "$V4_C/24" dev veth-c
inc ip addr add "$V6_C/64" dev veth-c nodad
ins ip addr add "$V4_S/24" dev veth-s
ins ip addr add "$V6_S/64" dev veth-s nodad
inc ip link set veth-c up
ins ip link set veth-s up

# --- offloads off --------------------------------------------------------------
if ! command -v ethtool >/dev/null; then
	apt-get install -y ethtool >/dev/null 2>&1 || true
fi
offload_off() { # ns dev
	if command -v ethtool >/dev/null; then
		ip netns exec "$1" ethtool -K "$2" tx off rx off tso off gso off gro off sg off >/dev/null 2>&1 ||
			ip netns exec "$1" ethtool -K "$2" tx off tso off gso off gro off >/dev/null
		echo "offloads on $2: $(ip netns exec "$1" ethtool -k "$2" | grep -E '^(tx-checksumming|tcp-segmentation-offload|generic-segmentation-offload|generic-receive-offload):' | tr -s ' \n' ' ')"
	else
		echo "record.sh: ethtool unavailable; limiting GSO/GRO with ip link (checksum offload stays on)" >&2
		ip netns exec "$1" ip link set dev "$2" gso_max_size 1500 gro_max_size 1500
	fi
}
offload_off "$NS_C" veth-c
offload_off "$NS_S" veth-s

# Wait until the veth answers both ways (IPv6 neighbour discovery included).
for _ in $(seq 50); do
	inc ping -c1 -W1 "$V4_S" >/dev/null 2>&1 && inc ping -6 -c1 -W1 "$V6_S" >/dev/null 2>&1 && break
	sleep 0.1
done

# --- server: nginx with its own config and files of known sizes ----------------
chmod 755 "$work" # nginx workers and dnsmasq run unprivileged
mkdir -p "$work/www" "$work/tmp"
head -c 100 < <(seq -w 1 100000) >"$work/www/small.txt"     # 100 bytes
head -c 10000 < <(seq -w 1 100000) >"$work/www/medium.txt"  # 10000 bytes
head -c 204800 < <(seq -w 1 100000) >"$work/www/big.txt"    # 204800 bytes (200 KiB)
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
	default_type application/octet-stream;
	server {
		listen $V4_S:80;
		listen [$V6_S]:80;
		root $work/www;
	}
}
EOF
ins nginx -c "$work/nginx.conf" -p "$work"

# --- server: dnsmasq answering from a hosts file -------------------------------
cat >"$work/hosts" <<EOF
$V4_S www.flowproof.test
$V6_S www.flowproof.test
10.77.0.10 a.flowproof.test
fd77::10 aaaa.flowproof.test
EOF
ins dnsmasq --conf-file=/dev/null --no-resolv --no-hosts --addn-hosts="$work/hosts" \
	--local=/flowproof.test/ --bind-interfaces --listen-address="$V4_S" --listen-address="$V6_S" \
	--except-interface=lo --port=53 --pid-file="$work/dnsmasq.pid" --user=nobody --group=nogroup \
	--log-facility="$work/dnsmasq.log"

for _ in $(seq 50); do
	inc curl -sf -o /dev/null "http://$V4_S/small.txt" && break
	sleep 0.1
done
sleep 1 # let the probe connection's TIME_WAIT and any neighbour traffic settle

# --- recording helpers ---------------------------------------------------------
# record OUT IFACE [tcpdump args...]: start tcpdump in the client namespace.
record() {
	local out=$1 ifc=$2
	shift 2
	rm -f "$out"
	# Not through inc: a backgrounded function is a subshell, and $! must be tcpdump
	# itself (ip netns exec execs it).
	ip netns exec "$NS_C" tcpdump -i "$ifc" -s 0 -U -Z root --time-stamp-precision=nano -w "$out" "$@" 2>"$work/tcpdump.err" &
	tcpdump_pid=$!
	pids+=("$tcpdump_pid")
	for _ in $(seq 100); do
		grep -q 'listening on' "$work/tcpdump.err" && break
		sleep 0.05
	done
	sleep 0.3
}
stop() {
	sleep 0.5
	kill -TERM "$tcpdump_pid" # background jobs ignore SIGINT; tcpdump flushes on TERM
	wait "$tcpdump_pid" || true
	grep -E 'captured|dropped' "$work/tcpdump.err" | sed 's/^/  /' || true
}
step() { sleep 0.2; }

http_traffic() { # host-in-URL ([v6] or v4)
	local h=$1
	inc curl -s -o /dev/null "http://$h/small.txt"; step                                         # one request, client closes
	inc curl -s -o /dev/null -o /dev/null "http://$h/small.txt" "http://$h/medium.txt"; step      # keep-alive: 2 requests, 1 connection
	inc curl -s -o /dev/null -H 'Connection: close' "http://$h/medium.txt"; step                 # server closes first
	inc curl -s -o /dev/null "http://$h/big.txt"; step                                           # ~200 KB response
	inc ab -q -n 20 -c 2 "http://$h/small.txt" >/dev/null; step                                   # 20 short connections
	inc curl -s -o /dev/null --max-time 2 "http://$h:81/" || true; step                         # closed port: RST (REJ)
}

cd "$here"

echo "http-v4.pcap"
record http-v4.pcap veth-c
http_traffic "$V4_S"
stop

echo "http-v6.pcapng"
record "$work/http-v6.pcap" veth-c
http_traffic "[$V6_S]"
stop
editcap -F pcapng "$work/http-v6.pcap" http-v6.pcapng

echo "any-sll2.pcap"
record any-sll2.pcap any -y LINUX_SLL2
inc curl -s -o /dev/null "http://$V4_S/small.txt"; step
inc curl -s -o /dev/null "http://[$V6_S]/small.txt"; step
inc dig +notcp +tries=1 +time=2 @"$V4_S" www.flowproof.test A >/dev/null; step
inc dig +notcp +tries=1 +time=2 @"$V4_S" www.flowproof.test AAAA >/dev/null; step
inc dig +notcp +tries=1 +time=2 @"$V6_S" aaaa.flowproof.test AAAA >/dev/null; step
inc curl -s -o /dev/null --max-time 2 "http://127.0.0.1:9/" || true; step # loopback: RST from lo
stop

echo "dns-udp.pcap"
record dns-udp.pcap veth-c
inc dig +notcp +tries=1 +time=2 @"$V4_S" www.flowproof.test A >/dev/null; step
inc dig +notcp +tries=1 +time=2 @"$V4_S" www.flowproof.test AAAA >/dev/null; step
inc dig +notcp +tries=1 +time=2 @"$V4_S" a.flowproof.test A >/dev/null; step
inc dig +notcp +tries=1 +time=2 @"$V4_S" missing.flowproof.test A >/dev/null; step # NXDOMAIN
inc dig +notcp +tries=1 +time=2 @"$V6_S" aaaa.flowproof.test AAAA >/dev/null; step
inc dig +notcp +tries=1 +time=1 -p 5353 @"$V4_S" www.flowproof.test A >/dev/null || true; step # nothing listens: ICMP unreachable
stop

gzip -n -9 -c http-v4.pcap >http-v4.pcap.gz

# --- references ----------------------------------------------------------------
# conv_check FILE: every tshark -z conv,tcp / conv,udp line must match a row of the
# flows table (frames per direction; bytes too where tshark prints exact bytes).
# -z conv leaves out transport headers quoted in ICMP errors, so the table is
# rebuilt without them for the comparison, and their number is reported.
conv_check() {
	FLOWS_SKIP_ICMP_ERRORS=1 "$here/tshark-flows.sh" "$1" >"$work/noicmp.tsv"
	local quoted
	quoted=$(($(awk -F'\t' 'NR>1{s+=$7+$8}END{print s+0}' "$1.flows.tsv") - $(awk -F'\t' 'NR>1{s+=$7+$8}END{print s+0}' "$work/noicmp.tsv")))
	[ "$quoted" = 0 ] || echo "  $quoted frame(s) quoted in ICMP errors: counted in $1.flows.tsv, not by -z conv"
	tshark -r "$1" -q -z conv,tcp -z conv,udp 2>/dev/null | LC_ALL=C awk -v tsv="$work/noicmp.tsv" '
		BEGIN {
			FS = "\t"
			while ((getline line < tsv) > 0) {
				split(line, f, "\t")
				if (f[1] == "proto") continue
				a = f[3] ":" f[4]; b = f[5] ":" f[6]
				if (f[3] ~ /:/) { a = "[" f[3] "]:" f[4]; b = "[" f[5] "]:" f[6] }
				k = f[1] " " a " " b
				rows[k] = f[7] " " f[8] " " f[9] " " f[10]; nrows++
			}
			FS = " "
		}
		/^(TCP|UDP) Conversations/ { proto = tolower($1); next }
		$2 == "<->" {
			# A <-> B  <-frames bytes-unit  ->frames bytes-unit ...
			a = $1; b = $3; fba = $4; bba = $5; uba = $6; fab = $7; bab = $8; uab = $9
			k = proto " " a " " b
			# tshark prints IPv6 endpoints without brackets; normalise like the tsv keys.
			if (!(k in rows)) {
				n = split(a, x, ":"); pa = x[n]; ia = substr(a, 1, length(a) - length(pa) - 1)
				n = split(b, y, ":"); pb = y[n]; ib = substr(b, 1, length(b) - length(pb) - 1)
				k = proto " [" ia "]:" pa " [" ib "]:" pb
			}
			if (!(k in rows)) { print "conv_check: no flows.tsv row for " proto " " a " <-> " b; bad++; next }
			split(rows[k], r, " ")
			if (r[1] != fab || r[2] != fba) { print "conv_check: frames differ for " k ": tsv " r[1] "/" r[2] ", conv " fab "/" fba; bad++ }
			if (uab == "bytes" && r[3] != bab) { print "conv_check: A->B bytes differ for " k; bad++ }
			if (uba == "bytes" && r[4] != bba) { print "conv_check: B->A bytes differ for " k; bad++ }
			seen++
		}
		END {
			if (seen != nrows) { print "conv_check: " seen " conversations in tshark -z conv, " nrows " rows in " tsv; bad++ }
			if (bad) exit 1
			print "  conv check: " seen " conversations agree with tshark -z conv"
		}'
}

for f in http-v4.pcap http-v6.pcapng any-sll2.pcap dns-udp.pcap http-v4.pcap.gz; do
	"$here/tshark-flows.sh" "$f" >"$f.flows.tsv"
	echo "$f: $(capinfos -T -r -c -E "$f" | cut -f2-) $(stat -c %s "$f") bytes, $(($(wc -l <"$f.flows.tsv") - 1)) conversations"
	conv_check "$f"
done
sha256sum http-v4.pcap http-v6.pcapng any-sll2.pcap dns-udp.pcap http-v4.pcap.gz ./*.flows.tsv
