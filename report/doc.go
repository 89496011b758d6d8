// Package report writes flowproof's outputs: flows.parquet, report.md and its
// charts, manifest.json and audit.jsonl, and verifies them afterwards.
//
// # flows.parquet
//
// [FlowWriter] writes one row per flow with the schema v2 columns of
// design.md, in that order ([FlowRow] lists them). The footer carries the
// key-value metadata flowproof.schema=2 and flowproof.version=<version>.
//
// Layout:
//   - Compression: zstd (its fastest level, 1 MiB window), except on a
//     flows.parquet column whose first page zstd cannot shrink (the L7
//     tables, whose rows repeat their flows' values, keep zstd with entropy
//     coding on every page): a column whose first page
//     has at least 4 KiB and comes out of zstd less than 1/16 smaller is
//     stored uncompressed in the whole file (on the bench capture:
//     community_id, ts, ts_ns, end_ns, duration_ns, src_port and six RTT
//     columns; on the SYN flood, community_id: zstd cost them the time it
//     costs anywhere and saved little). The codec is per column, not per
//     chunk, because parquet-go reads every chunk of a column with the
//     codec of its first.
//     Dictionary columns and columns with a small first page stay zstd.
//     Pages of numbers (integers, booleans, levels, dictionary indexes) are
//     compressed without zstd's entropy coding of literals (Huffman tables
//     cost more time than they saved bytes on them); text (strings,
//     dictionary pages) keeps it. The frames are standard zstd either way.
//   - Data pages: version 1, which every reader supports (DuckDB 1.5.6 also
//     reads parquet-go's version 2 pages; v1 is the cautious choice).
//   - Encodings: strings that repeat (capture, proto, state, history, tunnel,
//     addresses, Kubernetes namespace, service and node, crosscheck) are
//     dictionary-encoded (a dictionary per row group). Integers are
//     DELTA_BINARY_PACKED: most counters are constant or nearly so, and delta
//     packing shrinks them before zstd sees them. That includes the optional
//     ones (RTTs, vlan, tunnel_id, transit), which used to be PLAIN: on the
//     bench capture delta-packed RTT columns make the file 15% larger (zstd
//     found repeats in PLAIN RTTs that it cannot find in packed deltas), but
//     the writer has a quarter of the bytes to compress (README: Speed and
//     memory). Other strings use DELTA_LENGTH_BYTE_ARRAY; booleans PLAIN.
//   - Row groups: at most RowGroupRows rows (default 16,384). The writer holds
//     one row group's compressed pages plus one page of values per column
//     (pages end at 32 KiB of values), so its memory does not grow with the
//     number of flows.
//   - Statistics: every column chunk has its null count, min and max, what
//     parquet-go computes for the same rows (TestFlowStatsAgainstParquetGo).
//     The column index has them per page (byte arrays cut to 16 bytes, the
//     max rounded up), except that a dictionary column's pages carry the
//     chunk's bounds (looser, still bounds, and free: every dictionary value
//     is used in the chunk); the offset index has each page's place.
//
// The writer (colwriter.go) encodes the columns itself, from the records,
// into typed per-column slices, using parquet-go's encoders (delta, RLE,
// plain) and its thrift types for the page headers and footer, and
// parquet-go's schema for FlowRow. parquet-go's row writer converted every
// value through reflection and boxed values; writing columns directly is
// several times faster (README: Speed and memory). FlowWriter appends records
// column by column, 64 at a time: each column's loop keeps its slices in
// registers and reads one field of every record of the batch (by the
// field's offset, unsafe.Offsetof, so the loop is one function and not a
// closure per value), instead of every row touching all 65 columns'
// state; 64 is also the interval of the page check, so pages end on the
// same rows. [FlowWriter.WriteBatch] reads the caller's records where they
// are (the pipeline hands over its batches of finished flows);
// [FlowWriter.Write] copies each record into a batch of its own first. Both
// write the same bytes for the same records (TestFlowWriteBatch). An
// optional column whose batch is all null costs one pass over the field's
// lengths (or flags) and a cleared run of levels. Page bounds of byte
// arrays are decided on the values' first 8 bytes as one integer when they
// differ (a value strictly between the bounds, or equal to one, changes
// nothing). The column index and offset index are written in thrift
// compact by hand (parquet-go's bytes, TestIndexThrift). An address column's dictionary is
// written as its page body while values come in (the text appended once
// per row group and address, no string, no map keyed by text), found by
// address in an open-addressing table whose IPv4 slots are 8 bytes; pages
// of zeros skip the delta encoder (same bytes, TestDeltaZeros).
// http.parquet and dns.parquet
// (TableWriter of HTTPRow and DNSRow) are written the same way; their LIST
// columns (tags, answers, ttls) are required lists of required values, one
// repetition and one definition level per value (an empty list is one
// entry at definition level 0), pages ending on row boundaries. Their
// integers are DELTA_BINARY_PACKED (DNS's trans_id and qtype PLAIN):
// ports, depths and body lengths, as PLAIN, were zstd's largest input
// after the Community IDs. http.parquet's flow_id is DELTA_BYTE_ARRAY (a
// row's flow_id shares most of its text with the row before's; zstd found
// those short repeats slowly), encoded here (deltaByteArray: parquet-go's
// bytes, TestDeltaByteArray). Only the DELTA_BINARY_PACKED columns may be
// stored uncompressed, by their first page as flows.parquet's. Its limits:
// flat columns and such lists only (no other nesting, no null lists), data
// pages v1, zstd, no bloom filters.
//
// Types:
//   - Strings are BYTE_ARRAY (STRING); ip_version, ports and vlan are INT32;
//     counters, times and durations are INT64 (nanoseconds unless named
//     otherwise); direction_inferred and synthetic are BOOLEAN.
//   - ts is INT64 TIMESTAMP(MICROS, isAdjustedToUTC=true): DuckDB reads it as
//     TIMESTAMPTZ, the type analysts filter and bucket by. DuckDB reads even a
//     NANOS UTC timestamp at µs, so ts keeps µs and ts_ns carries the exact
//     epoch nanoseconds; ts is ts_ns rounded down to the microsecond.
//   - Nullable columns are OPTIONAL. An optional integer is null only when the
//     record says unknown (analyze.Opt.Valid false); a known 0 is written as
//     0. An optional string is null when empty. The four orig_rtt_* (and
//     resp_rtt_*) columns are all null when the direction has no RTT samples.
//
// DuckDB reading every column back, with its types and values, is tested by
// the separate module report/duckdbtest, so the cgo driver never links into
// flowproof.
//
// # manifest.json
//
// [Manifest] is written by [WriteManifest] atomically (temporary file, sync,
// rename), as indented JSON whose field order is fixed and whose map keys are
// sorted:
//
//   - manifest_version: the layout version, 1
//   - tool: name and version
//   - command: the command line after [provenance.RedactArgs] (token, license, password
//     and secret values replaced by REDACTED)
//   - started, finished: RFC 3339 in UTC with nine fractional digits
//   - settings: effective settings, name to value
//   - inputs: per capture its path, name, source, size, sha256, format,
//     packets, link types with packet counts, first/last packet time (epoch
//     ns and RFC 3339), status (ok, partial, failed) and error
//   - decode: packets per kind ("tcp", "udp", "arp", "ipv4-fragment",
//     "unsupported-linktype:NNN", ...)
//   - warnings
//   - outputs: per file written its name, size and sha256 ([provenance.HashFile]):
//     flows.parquet, report.md and its charts
//   - flows: rows in flows.parquet
//   - audit_seq: the seq of the audit.jsonl entry that records this
//     manifest's own SHA-256 (a file cannot contain its own hash)
//   - attacks: the SYN floods ([FloodInfo]) and scans ([ScanInfo]) the
//     findings' rules found (absent when none)
//
// # report.md
//
// [Summary] accumulates, from the same emit callback that feeds the
// FlowWriter, everything the report shows, in memory that does not depend on
// the number of flows: counters, fixed-bucket histograms, top-N lists
// (ranked by value, ties by flow_id), a traffic timeline of at most 60
// intervals (widths from a fixed ladder, merged exactly as they grow), and
// maps capped by [SummaryOptions] (the first MaxServers TCP servers, the
// first MaxTalkers conversations and workload pairs; a table the untracked
// rest could change is marked Incomplete). Handshake RTT percentiles are
// DuckDB's quantile_disc exactly (the value at position ceil(n*q), computed
// with DuckDB's floating-point rule) while at most MaxExactRTT values are
// held; past that the largest distributions turn into log-linear histograms
// (16 buckets per power of two) and their percentiles are printed with ≈,
// within 1/32.
//
// Attacks are found in bounded memory too. A SYN flood is tracked per TCP
// server (the first MaxServers): its half-open connections, a 2 KiB
// HyperLogLog of their sources and a per-second rate. Scans are tracked per
// source with the Space-Saving algorithm over the MaxScanSources sources
// with the most failed attempts; a source enters at its second attempt (a
// 32,768-slot filter without Go pointers remembers first attempts), so a
// spoofed flood of one-attempt sources costs one slot write per flow and
// never churns the table (slots of 32 bytes, a 128 KiB array of tags read
// first). Add reuses the previous flow's aggregates (protocol, state,
// timeline interval, server) when the next flow shares them, as every
// flow of a flood does, instead of a map lookup each. Distinct targets are exact up to 32, then
// HyperLogLog estimates.
//
// [WriteReport] renders report.md (sections Evidence, Findings, Summary, Top
// talkers, Handshake RTT, TCP health, Cross-check when there is any,
// Method, Reproduce) and the SVG charts rtt.svg, traffic.svg and
// talkers.svg, hand-written SVG 1.1 whose numbers are also in tables. The
// output is deterministic: the only wall-clock times are the manifest's
// started and finished. Synthetic flows (Kubeshark's TLS twins) are counted
// but left out of every table. Each table is preceded by <!-- table: ID -->
// (with " incomplete" when a cap made it so), and the Reproduce section holds
// the DuckDB statement "-- table: ID" that regenerates it from
// flows.parquet; report/duckdbtest runs every statement and compares.
//
// # audit.jsonl
//
// One JSON object per line, appended ([AppendAudit]) and never rewritten,
// one line per pull or analyze step. Fields, in this order:
//
//   - seq: 1 for the first line, then +1
//   - time: when the step finished, RFC 3339 UTC with nine fractional digits
//   - step: "analyze", "pull", ...
//   - tool: name and version
//   - command: the command line after [provenance.RedactArgs]
//   - parameters: the step's settings, keys sorted
//   - inputs, outputs: [{path, in_dir, size, sha256}]; in_dir true means
//     path is slash-separated and relative to the directory holding
//     audit.jsonl (outputs always; inputs when they lie inside it, such as
//     the demo's input/ captures or an evidence directory), otherwise it is
//     the path as given. The analyze entry's outputs end with manifest.json.
//   - prev_sha256: lower-case hex SHA-256 of the previous line's bytes
//     (without its newline); for the first line 64 zeros ([provenance.GenesisSHA256])
//   - sha256: SHA-256 of this line's bytes with this value empty, that is
//     with the line ending in ,"sha256":""}
//
// Strings are JSON-escaped without HTML escaping; the line ends in "\n".
// The chain makes any change to a line other than the last visible at the
// next one; the last line's own sha256 shows an edit to it; and the head
// hash that verify prints pins the whole trail for anyone who records it.
//
// # Verify
//
// [Verify] recomputes the SHA-256 of manifest.json's outputs and of the
// in-directory inputs and outputs of the entry that recorded the manifest
// (so an evidence directory whose manifest has another layout is checked
// through its pull entry), walks the
// chain (seq gaps are removed entries, a prev_sha256 mismatch an altered
// line), and checks that the manifest is the one the last manifest-writing
// entry recorded. Each problem is one line naming the file or audit line:
// "report.md: sha256 mismatch (edited after analysis)", "flows.parquet:
// missing", "audit.jsonl line 3: altered (hash chain broken at line 4)",
// "audit.jsonl: entry 2 removed (before line 2)".
package report
