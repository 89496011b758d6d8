package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"path/filepath"

	"github.com/flowproof/flowproof/ingest/objstore"
)

const runUsage = `Usage: flowproof run [flags]

Pull then analyze in one go: pulls from Kubeshark into OUT/evidence (as
"flowproof pull -o OUT/evidence" would), then analyzes it into OUT (as
"flowproof analyze OUT/evidence -o OUT" would).

Flags (pull's and analyze's; flags override the KUBESHARK_* environment variables):
`

func runRun(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var ao analyzeOptions
	ao.register(fs)
	var po pullOptions
	po.register(fs, false)
	fs.Usage = func() {
		fmt.Fprint(stderr, runUsage)
		fs.PrintDefaults()
	}
	rest, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return &usageError{fmt.Sprintf("run takes no arguments, got %q", rest)}
	}
	if err := ao.validate(); err != nil {
		return err
	}
	if objstore.IsURL(ao.out) {
		return &usageError{"run keeps its evidence in OUT/evidence, on local disk: -o must be a directory (pull, then analyze the evidence with -o s3://...)"}
	}
	po.noteSet(fs)
	po.quiet = po.quiet || ao.quiet // --quiet silences the whole pipeline
	command := append([]string{"flowproof", "run"}, args...)
	evDir := filepath.Join(ao.out, "evidence")
	req, err := po.request(readKubesharkEnv(nil), evDir, command, stderr)
	if err != nil {
		return err
	}
	_, pullErr := doPull(ctx, req, stdout)
	if pullErr != nil && !errors.Is(pullErr, errPartial) {
		return pullErr
	}
	if pullErr != nil {
		fmt.Fprintf(stderr, "flowproof run: %v (analyzing what was pulled)\n", pullErr)
	}
	if err := analyzeRun(ctx, ao, []string{evDir}, command, stdout, stderr); err != nil {
		return err
	}
	return pullErr
}
