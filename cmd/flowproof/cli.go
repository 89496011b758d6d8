package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"runtime/debug"
)

// Version is set at build time with -ldflags "-X main.Version=..."; without
// it, the module version from the build info is used.
var Version = ""

func version() string {
	if Version != "" {
		return Version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "dev"
}

// Exit codes (design.md: CLI contract).
const (
	exitOK      = 0
	exitFailed  = 1 // the work failed, or verification found a mismatch
	exitUsage   = 2
	exitPartial = 3 // some input was bad; everything good was still written
)

// errPartial marks a run that wrote its outputs but skipped bad input.
var errPartial = errors.New("partial result: some input was bad (see the errors above and manifest.json)")

// usageError is a command-line mistake, with a hint on what to do.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

const usage = `flowproof: packet captures in, flow evidence out.

Usage:
  flowproof analyze [flags] CAPTURE|DIR ...   rebuild every TCP/UDP flow into OUT/flows.parquet (DIR may be pull's evidence)
  flowproof pull    [flags]                   pull a capture and Kubeshark's flow records into an evidence directory
  flowproof run     [flags]                   pull then analyze: OUT/evidence and the analysis in OUT
  flowproof demo    [flags]                   the whole pipeline against the built-in Kubeshark stand-in
  flowproof mcp     --root DIR [flags]        serve the tools to an agent over MCP (stdio, or HTTP with --listen)
  flowproof merge   OUT                       merge the shards of analyze --shard i/n in OUT into one manifest and report
  flowproof verify  DIR                       re-hash an output directory against its manifest and audit trail
  flowproof version                           print the version

Run "flowproof COMMAND -h" for a command's flags.
Exit codes: 0 ok, 1 failed, 2 usage error, 3 partial result (some input was bad).
`

// Main runs the command line args and returns the process exit code.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return exitUsage
	}
	var err error
	switch args[0] {
	case "analyze":
		err = runAnalyze(ctx, args[1:], stdout, stderr)
	case "demo":
		err = runDemo(ctx, args[1:], stdout, stderr)
	case "mcp":
		err = runMCP(ctx, args[1:], stdout, stderr)
	case "merge":
		err = runMerge(ctx, args[1:], stdout, stderr)
	case "pull":
		err = runPull(ctx, args[1:], stdout, stderr)
	case "run":
		err = runRun(ctx, args[1:], stdout, stderr)
	case "verify":
		err = runVerify(ctx, args[1:], stdout, stderr)
	case "version", "-version", "--version":
		fmt.Fprintln(stdout, "flowproof", version())
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
	default:
		fmt.Fprintf(stderr, "flowproof: unknown command %q\n\n%s", args[0], usage)
		return exitUsage
	}
	var ue *usageError
	switch {
	case err == nil:
		return exitOK
	case errors.Is(err, flag.ErrHelp):
		return exitOK
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "flowproof %s: %v\n", args[0], err)
		return exitUsage
	case errors.Is(err, errPartial):
		fmt.Fprintf(stderr, "flowproof %s: %v\n", args[0], err)
		return exitPartial
	default:
		fmt.Fprintf(stderr, "flowproof %s: %v\n", args[0], err)
		return exitFailed
	}
}
