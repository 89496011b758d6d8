// Package dns parses DNS messages and pairs queries with responses, one
// [Query] row per query with Zeek dns.log meanings: trans_id, query (the
// first question's name), qtype and its name, rcode and its name (null
// unanswered), rtt_ns (query packet to response packet), answered, the
// AA, TC and RA flags of the response and RD of the query, and the answer
// section as text (A and AAAA addresses, NS/CNAME/PTR/MX/SRV names, "TXT
// <len> <text>", "<TYPE>" for other types) with its TTLs in seconds.
//
// A [Tracker] per flow pairs by transaction id and question: a response
// answers every waiting query with its id, type and name (case folded), so
// a retry is a row of its own (Retry set) with its own rtt_ns (from the
// retry), and both are answered. tshark gives the response's dns.time to
// the first query only. A response without question matches nothing.
// A response that answers nothing is a row with a null rtt_ns
// (Stats.Orphans). Over TCP ([TCPHalf]) messages carry a two-byte length
// (RFC 1035 4.2.2), several per stream; after a gap the direction waits for a segment that
// begins with a whole message.
//
// # Parsing untrusted messages
//
// [Parse] is a small bounded parser instead of golang.org/x/net's
// dnsmessage (not in the module graph, and it would parse more than rows
// need). It never reads past the message; names follow only compression
// pointers that point backwards (no loop is possible) and at most 64 of
// them; labels over 63 bytes, names over 255 wire bytes and reserved label
// types are errors; 64 answers are kept per message (more are counted).
// A malformed message is counted (Stats.Malformed) and skipped.
package dns
