// Package kubeshark pulls captures and Kubeshark's own flow records out of a
// cluster through Kubeshark's MCP server, into an evidence directory that
// flowproof analyze reads. ../shared/docs/kubeshark-mcp.md is the reference
// for the real server's behaviour; package standin stands in for it.
//
// # Connecting
//
// [Dial] opens a [Session] on mcp-go over one of three [Endpoint]s: a spawned
// stdio server (Command, e.g. "kubeshark mcp --url http://127.0.0.1:8899",
// which is how the real Kubeshark serves MCP), streamable HTTP (URL), or an
// in-process server on pipes (Serve, for the demo). It copes with the real
// server's ways: initialize is asked for the newest pre-2026 revision and
// whatever version comes back (Kubeshark always answers 2024-11-05) is used;
// error replies with "id":null (Kubeshark's answer to notifications other than
// initialized) are ignored, and so are HTTP errors on notifications; each tool
// result is parsed from its raw bytes, which are kept byte-exact
// ([Result].Raw), its first text item parsed as JSON when it is JSON
// ([Result].Data). Every message is capped (SessionOptions.MaxResponseBytes):
// on stdio a guard between the process and mcp-go enforces the cap per line
// and fails fast on a line that is not JSON-RPC (a banner before the first
// message is tolerated); over HTTP a capped body does. The Hub token goes to a
// spawned server in KUBESHARK_HUB_TOKEN (never on its command line) and over
// HTTP as X-Kubeshark-Authorization.
//
// # Pulling
//
// [Pull] chooses the capture route from tools/list, never by assumption:
//
//   - snapshot (the real Kubeshark): create_snapshot for the window (or
//     --snapshot-id), get_snapshot polled until completed (bounded; failed is
//     an error), the workload selection turned into a BPF host list through
//     list_workloads or list_ips, export_snapshot_pcap (id, bpf_filter,
//     start/end in Unix ms), whose relative path is fetched from
//     <hub>/api<path> over HTTP, from the URL get_file_url builds, or, when no
//     Hub URL is reachable (or the Hub refuses our token), by the server's
//     download_file;
//   - export_pcap (what some documentation describes): one call with what its
//     schema takes of the selection and window; the answer may carry a path or
//     URL to download, base64 bytes (in JSON or as the whole text), an
//     embedded resource blob, a resource link, or the path of a file the
//     server wrote on this host.
//
// Arguments are always chosen from each tool's input schema (the Hub's
// schemas are not public), and answers are searched for the fields they may
// carry (an id, a status, a path) rather than read at fixed keys. Downloads
// stream to NAME.part, are hashed while streaming, checked against their
// length and the cap, read back as a capture (one packet at least), and only
// then renamed. A failed pull removes what it wrote; no manifest is written.
//
// list_l4_flows (format full), get_l4_flow_summary and list_workloads are
// kept as evidence for the cross-check; a tool the server lacks is a warning,
// a failing one makes the pull partial ([ErrPartial]). list_api_calls
// (format full, kfl http, limit 1000) is paged over the window: a full page's
// window is halved (the halves share their middle millisecond) until no page
// is full, each page saved as kubeshark/list_api_calls-NNNN.json, bounded by
// Request.MaxAPICallPages and MaxAPICallBytes; the manifest's api_calls says
// how it went, and why the pages may be incomplete (which makes the pull
// partial).
//
// # The evidence directory
//
//	manifest.json   kind "flowproof-evidence": provenance (transport, server,
//	                protocol, window, selection, chosen IPs, snapshot, every
//	                call with arguments, time, size and SHA-256), outputs
//	captures/       the capture
//	kubeshark/      each answer byte-exact: the text the server sent (the
//	                Hub's JSON) as TOOL.json, or TOOL.txt when it is not JSON
//
// [evidence.Open] reads it back; [evidence.Dir.Captures] gives the captures with
// their provenance line and pull-time SHA-256, [evidence.Dir.File] an answer.
//
// # Errors
//
// Every failure is an [*Error] with a [Kind] and a fix in its message, in the
// spirit of Kubeshark's troubleshooting (is Kubeshark running, is the
// port-forward active; which tools the server offers; how to mint a token;
// check the window and retention; --snapshot-id to come back to a snapshot).
// Secrets (the token, secret flags inside the command) are redacted from
// every error, log line and manifest ([Redactor]).
package kubeshark
