// Package http parses HTTP/1.0 and HTTP/1.1 connections from their
// reassembled byte streams into transactions with Zeek http.log meanings.
//
// # Transactions
//
// One [Transaction] per request, and one for a response that had no
// request (a capture that began mid-connection). Responses pair with
// requests in order (RFC 9112 9.3.2), so pipelined requests get their own
// responses; interim 1xx responses (but 101) pair with nothing.
//
//   - trans_depth: the transaction's 1-based position on its connection.
//   - request_ns: capture time of the packet that completes the request
//     head. latency_ns: from it to the packet that completes the response
//     head: tshark's http.time with body reassembly off
//     (http.desegment_body:FALSE), i.e. time to first byte of the
//     response as the capture saw it. duration_ns: from the request's first
//     byte to the response's last.
//   - request_body_len, response_body_len: decoded body lengths (chunked
//     framing removed), by RFC 9112 6.3: no body for HEAD, 1xx, 204 and 304
//     responses; Transfer-Encoding chunked over Content-Length; a response
//     with neither ends when the connection does; a request with neither
//     has none.
//   - tags: pipelined (sent while an earlier response on the connection
//     was not complete), no_response, partial (the capture or a limit cut
//     a message), gap (capture loss inside a message; lost body bytes are
//     still counted as body when the framing says how many there were).
//
// # Bounds and hostile input
//
// Bodies are counted, never stored. A head (start line and fields) is kept
// up to MaxHeaderBytes (64 KiB): a longer one is counted in
// Stats.HeaderTooLong and the direction waits for a segment that starts a
// message. Content-Length takes at most 18 digits (a larger or repeated
// conflicting value is malformed); chunk sizes at most 15 hex digits, and
// chunk-size and trailer lines are bounded, so endless chunked bodies cost
// counting only. At most MaxPending (1024) requests wait for responses per
// connection; beyond, the oldest is emitted tagged no_response and partial,
// and the response that would have answered it is read without a row, so
// the rest still pair in order. Strings are cut: URI at 8 KiB, Host,
// User-Agent and the reason phrase at 1 KiB.
//
// After a 101 (Switching Protocols) or a 2xx answer to CONNECT the
// connection carries another protocol: parsing stops.
package http
