#!/usr/bin/env bash
# ab.sh ROUNDS CAPTURE BIN1 "FLAGS1" BIN2 "FLAGS2": run `BINi analyze --quiet
# FLAGSi -o DIR CAPTURE` taking turns for ROUNDS rounds (the order alternates
# each round, so that neither side always follows the other), each timed by
# testdata/bench/timeit (CPU from wait4, to the µs), and print the medians of
# wall and CPU time per side, the largest peak RSS, and the median of the
# per-round ratios side 2 / side 1 with their range. Two builds of flowproof,
# or one build with two sets of flags (`--no-l7` against none, `--no-dedup`).
# A machine that drifts moves a median of per-round ratios less than the
# ratio of two medians.
set -euo pipefail
[ $# = 6 ] || { echo 'usage: ab.sh ROUNDS CAPTURE BIN1 "FLAGS1" BIN2 "FLAGS2"' >&2; exit 2; }
rounds=$1 cap=$2 b1=$3 f1=$4 b2=$5 f2=$6
w=$(mktemp -d /tmp/ab.XXXXXX)
trap 'rm -rf "$w"' EXIT
(cd "$(dirname "$0")" && go build -o "$w/timeit" ./timeit)
for ((r = 0; r < rounds; r++)); do
	for s in $([ $((r % 2)) = 0 ] && echo "1 2" || echo "2 1"); do
		if [ "$s" = 1 ]; then b=$b1 f=$f1; else b=$b2 f=$f2; fi
		rm -rf "$w/o$s"
		# shellcheck disable=SC2086 # FLAGS are words
		"$w/timeit" "$w/t$s" "$b" analyze --quiet $f -o "$w/o$s" "$cap" >/dev/null 2>&1 ||
			{ echo "ab.sh: run failed: $b $f" >&2; exit 1; }
	done
done
paste "$w/t1" "$w/t2" | awk '
function med(a, n,  i, j, t, b) {
	for (i = 1; i <= n; i++) b[i] = a[i]
	for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (b[j] < b[i]) { t = b[i]; b[i] = b[j]; b[j] = t }
	return n % 2 ? b[(n + 1) / 2] : (b[n / 2] + b[n / 2 + 1]) / 2
}
function lo(a, n,  i, m) { m = a[1]; for (i = 2; i <= n; i++) if (a[i] < m) m = a[i]; return m }
function hi(a, n,  i, m) { m = a[1]; for (i = 2; i <= n; i++) if (a[i] > m) m = a[i]; return m }
{ w1[NR] = $1; c1[NR] = $2; m1[NR] = $3; w2[NR] = $4; c2[NR] = $5; m2[NR] = $6; rw[NR] = $4 / $1; rc[NR] = $5 / $2 }
END {
	n = NR
	printf "side1 wall %.3f cpu %.3f rss %.1fMiB | side2 wall %.3f cpu %.3f rss %.1fMiB | ratio wall %.4f cpu %.4f (cpu rounds %.3f..%.3f, n=%d)\n",
		med(w1, n), med(c1, n), hi(m1, n) / 1024, med(w2, n), med(c2, n), hi(m2, n) / 1024, med(rw, n), med(rc, n), lo(rc, n), hi(rc, n), n
}'
