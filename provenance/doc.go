// Package provenance is what makes flowproof's outputs evidence: the record
// of a file (name, size, SHA-256), hashing, atomic writes, the time layout
// of every manifest, and the hash-chained audit trail. It sits at the bottom
// of the import graph (standard library only) so that pull (ingest/kubeshark)
// and analyze (report, pipeline) write provenance the same way.
//
// # Files
//
// [File] is how every manifest lists a file: its path relative to the
// directory it lies in (forward slashes), its size, and its SHA-256 in
// lower-case hex. [HashFile] computes it for a file on disk.
//
// # Atomic writes
//
// A file a reader can see under its final name is complete. [WriteFile]
// writes a whole buffer; [CreateTemp] and [CreatePart] stream into a
// temporary file, hashing what is written, and [AtomicFile.Commit] syncs it,
// renames it to its final name and syncs the directory, so that the rename
// survives a crash (not every platform can sync a directory: a failure to
// open one is ignored, a failed sync is not). A temporary name starts with a
// dot (CreateTemp) or ends in .part (CreatePart, for downloads the user may
// watch grow); [AtomicFile.Abort] removes it.
//
// # Time
//
// Manifests and audit entries write instants with [TimeLayout]: RFC 3339 in
// UTC with exactly nine fractional digits, so that the strings sort and
// compare as the instants do. [Time] is a time.Time that marshals that way.
//
// # Audit trail
//
// audit.jsonl holds one JSON object per line, appended ([AppendAudit],
// [AppendStep]) and never rewritten. Each entry records a step (pull,
// analyze), its tool, redacted command ([RedactArgs]), parameters, the files
// it read and wrote with their SHA-256, the SHA-256 of the previous line
// (prev_sha256; [GenesisSHA256] for the first) and its own sha256, computed
// over the line with that value empty ([LineHashOK] checks it). Removing,
// reordering or editing a line breaks the chain. One process at a time may
// append to a trail.
package provenance
