package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/flowproof/flowproof/ingest/objstore"
	"github.com/flowproof/flowproof/report"
)

const verifyUsage = `Usage: flowproof verify DIR

Re-checks an output or evidence directory: recomputes the SHA-256 of every
file manifest.json lists (and of the inputs inside DIR that the analysis
read), walks the hash chain of audit.jsonl, and checks that the last entry
recorded this manifest.json. Prints one line when all holds (exit 0), else
one line per file or audit entry that changed (exit 1).

Flags:
`

// errMismatch marks a verification that found changes (exit 1).
var errMismatch = errors.New("verification failed")

func runVerify(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("verify", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, verifyUsage)
		fs.PrintDefaults()
	}
	dirs, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(dirs) != 1 {
		return &usageError{fmt.Sprintf("verify takes one directory, got %d arguments", len(dirs))}
	}
	dir := dirs[0]
	if objstore.IsURL(dir) {
		return &usageError{"verify checks a local directory: download the prefix first (aws s3 cp --recursive " + dir + " DIR), then verify DIR"}
	}
	res, err := report.Verify(dir)
	if err != nil {
		return fmt.Errorf("%s: %w", dir, err)
	}
	if !res.OK() {
		for _, p := range res.Problems {
			fmt.Fprintln(stdout, p)
		}
		return fmt.Errorf("%w: %s in %s", errMismatch, plural(len(res.Problems), "problem", "problems"), dir)
	}
	fmt.Fprintf(stdout, "verified %s and %s in %s (audit head sha256 %s)\n",
		plural(res.Files, "file", "files"), plural(res.Entries, "audit entry", "audit entries"), dir, res.Head)
	return nil
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}
