// Package standin is a stand-in for Kubeshark's MCP server and Hub,
// following what ../shared/docs/kubeshark-mcp.md establishes about the real
// ones, point by point, so that flowproof's pull can be tested and demonstrated
// without a cluster.
//
// # What it emulates
//
//   - [ServeCLI] is `kubeshark mcp --url URL`: newline-delimited JSON-RPC 2.0 on
//     stdio, a 1 MiB input line limit, one request at a time, an initialize
//     answer that always says protocol 2024-11-05 with serverInfo
//     kubeshark-mcp 1.0.0 and capabilities {tools:{}, prompts:{}}, no reply to
//     notifications/initialized but an error reply with "id":null to any other
//     notification, -32601/-32700/-32602 errors, tool results as one text item
//     holding the Hub's body re-indented with two spaces, isError only on
//     failure ("Hub API error (500): …"). It serves check_kubeshark_status,
//     get_file_url and download_file itself and proxies every other tool to
//     POST URL/api/mcp/tools/call {"name","arguments"} with
//     X-Kubeshark-Authorization; at start it checks GET URL/api/mcp and exits
//     1 when that fails (a gated Hub without a token, for example).
//     cmd/kubeshark-standin runs it as a process.
//   - [Hub] is the front plus Hub: the catalogue at /api/mcp, the tools
//     (get_data_boundaries, list_l4_flows, get_l4_flow_summary,
//     list_workloads with "snapshot_id is required for filtered listing",
//     list_ips, list_api_calls, the snapshot state machine create_snapshot ->
//     get_snapshot in_progress … completed -> export_snapshot_pcap returning
//     a relative path /mcp/snapshots/ID/pcap?bpf_filter=…), the merged
//     capture download at /api/mcp/snapshots/ID/pcap
//     (application/vnd.tcpdump.pcap, microsecond pcap, LINKTYPE_RAW), with a
//     small BPF evaluator applying bpf_filter and the time range.
//   - The Hub also serves its tools over streamable HTTP MCP at /mcp (mcp-go),
//     and, with Options.Dialect ExportPcap, the dialect some documentation
//     describes: capture_traffic, export_pcap and apply_filter, export_pcap
//     answering with a path, a URL, base64 bytes, an embedded resource blob
//     or a resource_link (Options.ExportResult).
//
// # The cluster
//
// The capture (testdata/cluster.pcap, written by package scenario: go test
// ./ingest/kubeshark/standin/scenario -run TestTestdata -update) is five conversations between the pods of [Pods], among them a
// TLS connection frontend -> payments:443 interleaved with its synthetic
// plaintext twin (same 5-tuple, fake handshake, ISN 0 so data starts at
// sequence 1), as Kubeshark's tracer writes decrypted TLS. testdata/l4flows.json
// holds the matching list_l4_flows records (format full), derived from the
// wire packets of each connection (the twin is not a socket). Its HTTP is
// real ([Exchanges]: three pipelined requests frontend -> checkout, one POST
// in the twin), and list_api_calls answers with calls made from those
// exchanges with one known disagreement per L7 verdict
// ([APICallsDisagreeing], testdata/api_calls.json), paged like the Hub
// (limit, start, end, total, truncated; Hostile.APICalls for the attacks).
//
// # Faults
//
// [Faults] and [MCPFaults] inject what the tests need: a snapshot stuck or
// failed, a tool failing with isError, a Hub answer that is not JSON, a slow
// Hub, a download cut short, without length, unauthorized or failing, an
// empty capture, and in the MCP front ends a server dying mid-call, a slow
// answer, malformed JSON and an oversize answer.
package standin
