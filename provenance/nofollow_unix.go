//go:build unix

package provenance

import "syscall"

// oNoFollow makes an open fail on a symbolic link (a link planted where
// flowproof appends).
const oNoFollow = syscall.O_NOFOLLOW
