// Package prefetch starts loading memory that is about to be used, so that
// its cache misses overlap other work: the flow table's index slots and
// records (analyze), an L7 transaction about to be reused (analyze/l7/http).
// Prefetch instructions on amd64 and arm64; nothing on other
// architectures.
package prefetch
