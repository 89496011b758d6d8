// Command flowproof turns packet captures into flow evidence: see the README.
package main

import (
	"context"
	"os"
	"os/signal"
	"runtime"
	"syscall"
)

func main() {
	// Heap profiling off unless --memprofile asks for it (startProfiles):
	// its sampling records cost about 1.5 MB on the bench capture.
	runtime.MemProfileRate = 0
	// SIGTERM (kill, a Kubernetes pod stopping) ends a run as SIGINT does:
	// partial downloads are removed and nothing that looks complete is left.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := Main(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
