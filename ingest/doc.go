// Package ingest reads packet captures: pcap and pcapng files, plain or
// gzip-compressed, one packet at a time, and hashes each file as it reads it.
//
// # Reading a file
//
// Expand turns command-line arguments into files; Open reads a file's header;
// Next fills a Packet until io.EOF; Finish returns the FileInfo (size,
// SHA-256, format, interfaces, link types, packet count, time range) that a
// manifest records; Close releases the file.
//
// # Formats
//
// The format comes from the first bytes, never from the file name:
//
//   - gzip (1f 8b): decompressed on the fly, then detected again. Several
//     gzip members in a row are read as one stream.
//   - pcap: magic a1b2c3d4 (µs timestamps), a1b23c4d (ns) and a1b2cd34
//     (Kuznetzov's modified format, whose records carry 8 more header
//     bytes), in either byte order. Only the low 16 bits of the link type
//     field are the link type; the rest are FCS flags.
//   - pcapng: every section (each may change byte order and starts with no
//     interfaces), Interface Description Blocks with their own link types,
//     Enhanced, Simple and obsolete Packet Blocks. Every other block is
//     skipped by its length. A Simple Packet Block has no timestamp: its
//     Timestamp is 0 and it is left out of FileInfo's time range.
//
// Timestamps are exact epoch nanoseconds in an int64: pcap µs times 1000;
// pcapng units at the interface's if_tsresol (10^-k or 2^-k seconds, 10^-6
// when absent) plus its if_tsoffset seconds. The conversion uses 128-bit
// intermediate products, so no timestamp a file can hold overflows on the
// way; resolutions finer than 1 ns round down. A pcapng timestamp after the
// year 2262, where int64 nanoseconds end, is ErrCorrupt.
//
// # Packet data belongs to the Capture
//
// Packet.Data aliases the Capture's read buffer and is overwritten by the
// next call to Next: copy what you keep. This is what makes Next allocate
// nothing: a record that fits a read chunk (256 KiB by default) is handed
// out from it without a copy; only a record cut by a chunk's end is moved to
// the start of the next chunk. A larger one is copied into a second buffer
// that grows up to the caps below.
//
// # Errors
//
// Next returns io.EOF only at a clean end of file, on a record boundary.
// Anything else is a *FormatError naming the file, the index of the packet
// being read (-1 for the file header) and the offset in the uncompressed
// stream of the record or block that is bad, wrapping one sentinel:
//
//   - ErrNotCapture: not a capture (from Open); the message says what the
//     file looks like (empty, text, zip, another capture format) and what to
//     do. Callers report it per file and go on with the others.
//   - ErrTruncated: the file, or its gzip stream, ends inside a record.
//   - ErrCorrupt: a structure that cannot be right: block lengths that are
//     not a multiple of 4 or disagree at both ends, a captured length larger
//     than its block, a packet on an undeclared interface, a bad gzip CRC.
//   - ErrTooLarge: a length above one of the caps below.
//   - ErrUnsupported: a variant this reader does not know, such as a pcapng
//     section of major version 2.
//   - ErrRead: the operating system failed to read the file; the cause is
//     wrapped too.
//
// Errors are sticky: after one, Next keeps returning it. The packets
// returned before it are good, so a caller keeps them as a partial result
// and reports the error; reading on after a structural error would only
// turn misaligned bytes into made-up packets.
//
// # Caps
//
// Lengths in a file are untrusted. Nothing is allocated from a header
// field before it is checked against a cap (Options, zero means default):
//
//   - MaxPacketBytes, 262144 (tcpdump's largest snaplen): a pcap record's
//     captured length. The header's snaplen is not used: writers get it
//     wrong.
//   - MaxBlockBytes, 16 MiB + 64 KiB: a pcapng block, and so any packet in
//     it.
//   - MaxInterfaces, 65536: Interface Description Blocks in one file.
//
// # Hashing and memory
//
// The SHA-256 covers the file's raw bytes (the compressed ones for gzip).
// The file is read into chunks of Options.ReadBufferBytes (256 KiB by
// default). A goroutine hashes each chunk while the parser reads the same
// chunk, so there is no second pass and no byte is copied after read(2);
// Finish reads whatever is left through the hash. A gzipped capture is
// decompressed on a goroutine of its own, three buffers ahead of the
// parser. A Capture holds five chunks, and for gzip four more buffers of
// that size for the decompressed bytes: 1.25 MiB (2.25 MiB for gzip) by
// default, which matters when many files are open at once. A consumer may
// keep packets' Data past the next read without copying it (Hold, for
// batches handed to another goroutine): the chunks it holds are not reused,
// and up to twelve exist then.
package ingest
