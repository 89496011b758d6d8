#!/usr/bin/env bash
# compare.sh: time flowproof against argus, tcptrace and tshark on one capture,
# one after the other in the same run, and print wall-clock time, peak RSS and
# the ratios against flowproof. Then run flowproof on the same traffic twice
# as long (the capture followed by a copy of itself shifted 30 s later, made
# once with editcap and mergecap next to the capture) to show that its memory
# follows the live flows, not the length of the capture.
#
#   testdata/bench/compare.sh FLOWPROOF_BINARY CAPTURE
set -euo pipefail
bin=${1:?usage: compare.sh FLOWPROOF_BINARY CAPTURE}
capture=${2:?usage: compare.sh FLOWPROOF_BINARY CAPTURE}
export DEBIAN_FRONTEND=noninteractive
for pkg in argus:argus-server tcptrace:tcptrace tshark:tshark; do
	command -v "${pkg%%:*}" >/dev/null || apt-get install -y -qq "${pkg#*:}" >/dev/null
done
work=$(mktemp -d /tmp/flowproof-compare.XXXXXX)
trap 'rm -rf "$work"' EXIT

# measure NAME CMD...: run once, record "wall_seconds peak_rss_kib" in $work/NAME.
measure() {
	local name=$1
	shift
	/usr/bin/time -f "%e %M" -o "$work/$name" "$@" >/dev/null 2>"$work/$name.err" || {
		echo "compare.sh: $name failed:" >&2
		cat "$work/$name.err" >&2
		exit 1
	}
}

cat /dev/null "$capture" >/dev/null # warm the page cache for everyone alike
measure flowproof "$bin" analyze --quiet -o "$work/fp-out" "$capture"
measure argus argus -r "$capture" -w "$work/argus.out"
measure tcptrace tcptrace -n "$capture"
measure tshark tshark -q -z conv,tcp -r "$capture"

read -r fp_wall fp_rss <"$work/flowproof"
printf '%-10s %10s %12s %14s\n' tool wall_s peak_rss_MiB "flowproof_is_x"
for t in flowproof argus tcptrace tshark; do
	read -r wall rss <"$work/$t"
	printf '%-10s %10.2f %12.1f %14s\n' "$t" "$wall" "$(echo "$rss / 1024" | bc -l)" \
		"$(echo "scale=1; $wall / $fp_wall" | bc -l)x faster"
done
echo "capture: $capture ($(du -h "$capture" | cut -f1))"

double=${capture%.pcap}-2x.pcap
if [ ! -s "$double" ]; then
	shift_s=$(capinfos -u -T -r -M "$capture" | awk -F'\t' '{printf "%d", $2 + 5}')
	editcap -t "$shift_s" "$capture" "$work/shifted.pcap"
	mergecap -F pcap -a -w "$double" "$capture" "$work/shifted.pcap"
	rm -f "$work/shifted.pcap"
fi
measure flowproof-2x "$bin" analyze --quiet -o "$work/fp-out-2x" "$double"
read -r wall2 rss2 <"$work/flowproof-2x"
printf '%-14s %10.2f %12.1f   (memory: %s of the single capture)\n' flowproof-2x "$wall2" "$(echo "$rss2 / 1024" | bc -l)" \
	"$(echo "scale=2; $rss2 / $fp_rss" | bc -l)x"
echo "twice as long: $double ($(du -h "$double" | cut -f1))"
