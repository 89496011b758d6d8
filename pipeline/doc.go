// Package pipeline is flowproof as a library: one call runs what the
// analyze, pull and run commands run. The CLI (cmd/flowproof) parses flags
// into Options and calls Analyze or Pull; so can an MCP server, a batch job
// or a test.
//
// # A run, step by step
//
//  1. Inputs. Each argument is opened with [Open]: a capture file, a
//     directory (walked in sorted order) or an evidence directory written by
//     Pull. Whatever it is, it becomes an [Input]: the captures to read, in
//     order, with their provenance (and the SHA-256 recorded at pull time),
//     and the Kubeshark answers that came with them (list_l4_flows,
//     list_workloads). An s3://bucket/key argument is listed in object
//     storage (Options.S3, package ingest/objstore): the object, or every
//     object under the prefix; each is streamed when its turn comes, pinned
//     to the listed version, never staged. An argument that cannot be
//     opened is a warning; the others are still read.
//  2. Cross-check setup. The answers (or those Options.L4Flows and
//     Options.Workloads name) are parsed (ingest/kubeshark/l4) into a
//     crosscheck.Checker. Without answers there is no cross-check.
//  3. Flows. Up to Options.Jobs captures are read at once (ingest), each
//     into its own flow table (analyze.Table, fed by analyze.RunConcurrent on
//     two goroutines). Finished flows travel in batches to one writer
//     goroutine (the table builds each record in its batch slot:
//     analyze.Table.SetRecordSlot), which receives every flow of the first capture, then every
//     flow of the second, and so on, so the outputs do not depend on Jobs.
//     There each flow gets its Kubernetes identity, is added to its
//     cross-check aggregate, to the report's summary (report.Summary), and is
//     written once to flows.parquet (report.FlowWriter; without a
//     cross-check a batch goes to FlowWriter.WriteBatch as it is, read in
//     place rather than copied record by record). With L7 the same
//     batches carry the engine's HTTP transactions and DNS queries to rows
//     of http.parquet and dns.parquet (report.TableWriter, each row filled
//     in place), and bring the written transactions back to the worker,
//     whose engine reuses them (http.Recycled). Once every capture is
//     read, the ends of http.parquet and dns.parquet are written and synced
//     on a goroutine of their own while flows.parquet is finished; they are
//     renamed after it.
//  4. Verdicts. A flow's cross-check verdict depends on every flow of its
//     aggregate, so it is known only now: the checker judges every aggregate
//     over the capture's time range, the summary learns the verdicts of the
//     flows it was given, and the writer adds the crosscheck column after the
//     row groups (FlowWriter.CloseWithVerdicts), without encoding any flow
//     again. crosscheck.parquet gets one row per aggregate.
//  5. Provenance. report.md and its charts are written from the summary,
//     then manifest.json (every input with its SHA-256, packets, link types
//     and time range; every output with its SHA-256; settings; warnings),
//     then an entry is appended to audit.jsonl that records the manifest's
//     own SHA-256 (provenance.AppendStep). Every file is written under a
//     temporary name and renamed when complete.
//
// An s3://bucket/prefix Options.Out is a local staging directory for the
// run, uploaded when it is complete (objstore.go): the outputs, then
// manifest.json, then audit.jsonl, the stored trail appended to under a
// condition that nobody wrote it meanwhile; each object appears only when
// complete, and a failed upload fails the run.
//
// A bad capture (truncated, corrupt, not a capture) is reported through
// Progress.Warn and in the manifest; what it held before the damage is used,
// and Analyze returns [ErrPartial] with the Result. Analyze fails without
// outputs only when nothing could be read.
//
// # Sharded runs
//
// [AnalyzeShard] analyzes one shard's share of the inputs ([ShardOf]: the
// SHA-256 of each unit's key modulo the number of shards; a unit is a
// capture or an evidence directory) with Analyze into a local staging
// directory, then splits the tables by the UTC day a row starts into the
// hive layout TABLE/date=D/shard=NNNN/part-0.parquet, with flow_id
// renumbered to the whole input list, and writes the shard's manifest,
// report and audit entry under shards/shard=NNNN/. [MergeShards] checks
// every shard's manifest and file, then replays every flow through one
// report.Summary in a single run's order and writes the merged report,
// manifest and audit entry. Both reach storage only through a [Store]
// (list, open, create-and-commit, remove): [DirStore] is a local
// directory; [OpenStore] gives it, or, for an s3:// prefix, a store of
// objects (store_s3.go): a file is written locally and uploaded at Commit
// (visible only when complete), read by downloading it once into a local
// directory (Parquet needs ReadAt; merge hashes and then reads the same
// copy), and a file read and then rewritten (an audit trail) is uploaded on
// condition that it did not change in between. A shard's s3:// captures
// are keyed by their key below the prefix given, and streamed as Analyze
// streams them, pinned to the version listed when the shards were cut.
// The trade-offs (staging costs a second encoding of the
// tables; exactness; cross-check per shard) are in the README, Sharded
// batch runs.
//
// # What stays with the caller
//
// The process-wide settings are the caller's: the Go memory limit (the CLI
// keeps the heap near the live flows), profiles, signal handling, and how
// progress is shown (Options.Progress).
package pipeline
