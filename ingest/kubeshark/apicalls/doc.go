// Package apicalls parses Kubeshark's list_api_calls answers: the API calls
// its dissectors saw (kubeshark-mcp.md §2.2), which the L7 cross-check
// compares with http.parquet. Like package l4 it has no MCP dependency: the
// answers come from an evidence directory (one file per page) or from a
// file named with --api-calls.
//
// # Format
//
// An answer is {"calls":[...],"total":N,"truncated":bool} (or a bare list of
// calls). A call, compact or full format:
//
//	{"id","ts","src":{ip,port,pod,ns},"dst":{ip,port,pod,ns,svc,node},
//	 "proto","method","path","status","latency_ms",
//	 full format adds "req_size","resp_size","node_id","conn_id", headers...}
//
// What is assumed where Kubeshark's schema is not public (the Hub is closed
// source):
//
//   - ts is Unix ms (or any timestamp jsonv.TimeNs reads); absent: 0.
//   - latency_ms is milliseconds and may carry a fraction; when absent,
//     elapsed_time (µs, the KFL field) is read instead. It is taken to be
//     the time from the request to the response, as Kubeshark's UI shows
//     it; the cross-check compares it with latency_ns (time to first byte).
//   - status is the HTTP status; status_code is read when it is absent.
//   - req_size and resp_size (also request_size/response_size) are bytes;
//     whether they count headers or only bodies is not documented: they are
//     recorded, and compared only as a warning, never as a verdict.
//   - path is the request path; a query string (after '?') is cut, and an
//     absolute URL in path keeps only its path.
//   - pod, ns, svc and node may be missing (null) on either side.
//   - Unknown fields are ignored; missing fields are left empty (null in
//     crosscheck_l7.parquet).
//
// # Bounds
//
// ScanFile reads an answer one call at a time (a json.Decoder over the
// list, each call decoded into a fixed struct, values skipped token by
// token), giving each call to a function: memory does not follow the
// answer's size. Parse and Read keep the calls (about 300 bytes each) for
// small answers and tests. Strings kept are cut at MaxText bytes; at most
// MaxCalls calls of one answer are given, the rest counted in Dropped.
// Seen tells calls of overlapping pages apart by a 64-bit hash of the id
// (or of every field without one). A call whose addresses do not
// parse is skipped and counted; a number that is absurd (negative, not
// finite, a latency over MaxLatency, a size over 2^53) leaves that field
// unknown and is counted in Invalid, never trusted. Calls whose proto is not
// HTTP (dns, grpc, redis, ...) are counted in NotHTTP and left out.
package apicalls
