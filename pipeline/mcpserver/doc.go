// Package mcpserver serves flowproof over the Model Context Protocol, so
// that an agent (one that drives Kubeshark, for example) gets checked,
// context-sized answers instead of raw captures, while the evidence stays
// on disk, hashed and verifiable. It is built on mcp-go's server and calls
// the pipeline as a library, in process. "flowproof mcp" (cmd/flowproof)
// runs it over stdio or streamable HTTP.
//
// # Tools
//
//   - analyze: inputs (capture files, directories, evidence directories) and
//     output_dir; runs pipeline.Analyze and returns the counts (captures,
//     flows, packets, bad inputs), the findings and the cross-check verdict
//     counts.
//   - pull_and_analyze: a selection (namespace, pod regex, service, bpf) and a
//     window (since, or from/to) and output_dir; pulls from Kubeshark into
//     output_dir/evidence, then analyzes it into output_dir, as "flowproof
//     run" does. The Kubeshark connection is Options.Pull's, that is the
//     server's own flags and environment, never the agent's.
//   - findings, summary: structured JSON from an output directory: the
//     findings of report.md (title, text, flow ids, section), and from
//     manifest.json the inputs with status and SHA-256, flow and decode
//     counts, warnings, outputs, with the verdict counts of crosscheck.parquet
//     (flows) and crosscheck_l7.parquet (groups of API calls).
//     With "section", the Markdown of that report section instead.
//   - query_flows: rows of flows.parquet, filtered (exact or glob on the
//     string columns, ports, minimum handshake RTT and bytes, time range,
//     synthetic), sorted by one of a few numeric columns and limited. The
//     file is streamed in batches of 256 rows and only the best N rows are
//     kept (a heap), so memory does not grow with the file.
//   - query_l7: rows of http.parquet or dns.parquet (analyses with L7 on:
//     Options.Analysis.L7; "flowproof mcp" unless --no-l7), with query_flows' bounds:
//     filters (exact or glob on names, addresses, method, host, uri, query,
//     qtype and rcode names; status class or code, answered, synthetic,
//     minimum latency, time range), one sort key (ts, latency, and for http
//     duration or response_body_len), a limit and the byte cap. No SQL.
//   - verify: report.Verify of a directory; isError when anything changed.
//
// # Resources
//
// Each output directory's report.md and manifest.json are resources named
// flowproof://report?dir=DIR and flowproof://manifest?dir=DIR (templates
// with the same names), DIR query-escaped. Output directories found under
// the roots at start (three levels deep, at most 100) and those analyzed
// since are listed by resources/list.
//
// # Trust model
//
// The agent is not trusted with the file system or the network. Every path
// it gives resolves (relative to the first root, ".." cleaned, symbolic links
// evaluated) inside a root given to the server (--root); for an output
// directory that does not exist yet, its nearest existing ancestor must. An
// input that is a directory or an evidence directory is opened first and
// refused when any capture or answer it stands for leads outside the roots.
// An evidence directory is never an output_dir (its manifest would be
// replaced), nor is a directory inside an input directory (its outputs
// would be read as captures). Paths over 4096 bytes are refused before any look-up.
// Anything else is an isError result that says what to do, never a crash:
// handlers recover from panics. Arguments are decoded strictly (an unknown
// argument or a wrong type is an error naming it). pull_and_analyze takes no
// endpoint, command or token from the agent. Checks and use are not atomic:
// someone who can write inside a root while the server runs can still swap a
// directory for a link between the check and the use; roots are meant to be
// directories the agent's host controls.
//
// Over HTTP, a bearer token (compared in constant time, through SHA-256 so
// its length does not show) guards every request when one is configured;
// mcp-go's loopback protection refuses requests to a loopback listener that
// name another Host (DNS rebinding). Request bodies over 4 MiB are refused
// (mcp-go reads a body whole).
//
// # Audit
//
// Every tool call about an output directory (one that holds manifest.json)
// appends an entry to its audit.jsonl (provenance.AppendStep): step
// "mcp:TOOL", the arguments as JSON with secret-named values and URL
// credentials redacted (or their SHA-256 when over 16 KiB), the SHA-256 and
// size of the text returned, whether it was an error, and the client's name.
// These entries write no manifest, so "flowproof verify" still checks the
// manifest against the analyze entry that wrote it, and the chain covers the
// agent's session.
//
// # Limits
//
// query_flows returns 50 rows by default and at most Options.MaxRows (500);
// every answer is capped at Options.MaxAnswerBytes (256 KiB): query_flows
// drops rows to fit and says so, other tools answer with an error asking
// for a narrower request. At most Options.MaxAnalyses analyses or pulls run
// at once (2); others wait. One output directory is written by one analysis
// at a time. Resources are read up to 16 MiB.
//
// # Progress and cancellation
//
// When the client sends a progressToken, analyze and pull_and_analyze send
// notifications/progress: the pull's steps, each capture started and read,
// the packets read (at most every 200 ms) and the writing of the outputs.
// A canceled request (or a client gone) cancels the call's context:
// pipeline.Analyze stops within 4,096 packets and commits nothing, and a
// pull leaves no capture that looks complete.
package mcpserver
