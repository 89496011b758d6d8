//go:build !unix

package provenance

// oNoFollow is not available here: appends follow links.
const oNoFollow = 0
