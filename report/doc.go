// Package report writes flowproof's outputs: flows.parquet and manifest.json.
//
// # flows.parquet
//
// [FlowWriter] writes one row per flow with the schema v1 columns of
// design.md, in that order ([FlowRow] lists them). The footer carries the
// key-value metadata flowproof.schema=1 and flowproof.version=<version>.
//
// Layout:
//   - Compression: zstd (level 3, 1 MiB window) on every column.
//   - Data pages: version 1, which every reader supports (DuckDB 1.5.6 also
//     reads parquet-go's version 2 pages; v1 is the cautious choice). Low-cardinality
//     strings (capture, proto, state, history, tunnel, Kubernetes namespace,
//     service and node, crosscheck) are dictionary-encoded; everything else is
//     plain.
//   - Row groups: at most RowGroupRows rows (default 65,536). The writer holds
//     one row group's compressed pages plus one page buffer per column, so its
//     memory does not grow with the number of flows.
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
//   - command: the command line after [RedactArgs] (token, license, password
//     and secret values replaced by REDACTED)
//   - started, finished: RFC 3339 in UTC with nine fractional digits
//   - settings: effective settings, name to value
//   - inputs: per capture its path, name, source, size, sha256, format,
//     packets, link types with packet counts, first/last packet time (epoch
//     ns and RFC 3339), status (ok, partial, failed) and error
//   - decode: packets per kind ("tcp", "udp", "arp", "ipv4-fragment",
//     "unsupported-linktype:NNN", ...)
//   - warnings
//   - outputs: per file written its name, size and sha256 ([HashFile])
//   - flows: rows in flows.parquet
package report
