// Package tls reads the first handshake message of each direction of a TLS
// connection, from reassembled bytes: the ClientHello's server_name (SNI)
// and offered ALPN list, and the ServerHello's version, for the tls_sni,
// tls_alpn and tls_version columns of flows.parquet.
//
// The negotiated version is the ServerHello's supported_versions extension
// when present (TLS 1.3 puts 0x0303 in the legacy field), else its legacy
// version; it is named as Zeek's ssl.log names it (TLSv10 ... TLSv13).
// Handshake messages may span records; at most 32 KiB are read per
// direction, and after the first message the direction is ignored (the
// rest is encrypted or not needed). Records that are not handshake
// records, and hellos that do not parse, are counted as malformed.
package tls
