#!/usr/bin/env bash
# check-corpus.sh [CORPUS_DIR]: run tshark-flows.sh on every capture of the shared
# public corpus that has a reference/<path>.flows.tsv and compare byte for byte.
# Reads the corpus only; nothing is copied. CORPUS_DIR defaults to ../shared/corpus/public
# beside the repository. Prints one line per mismatch and a summary; exit 1 on any.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
corpus=${1:-$here/../../../shared/corpus/public}
cd "$corpus"
ok=0 bad=0
while IFS= read -r ref; do
	f=${ref#reference/}
	f=${f%.flows.tsv}
	if "$here/tshark-flows.sh" "$f" | cmp -s - "$ref"; then
		ok=$((ok + 1))
	else
		bad=$((bad + 1))
		echo "DIFF $f"
	fi
done < <(find reference -name '*.flows.tsv' | LC_ALL=C sort)
echo "$ok identical, $bad different"
[ "$bad" = 0 ]
