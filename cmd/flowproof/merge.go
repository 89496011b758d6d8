package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/flowproof/flowproof/pipeline"
)

const mergeUsage = `Usage: flowproof merge [flags] OUT

Merges the shards of a sharded analysis (analyze --shard i/n -o OUT, run for
i = 0 to n-1) in OUT. It checks every shard's manifest (all n present, the
same n, inputs and settings; each the one its shard's audit trail recorded)
and every file they list (present, same size and SHA-256), and only then
writes OUT/report.md (and its charts) over all the flows, OUT/manifest.json
listing every part, and an entry in OUT/audit.jsonl whose inputs are the
shards' manifests. A problem names the file and writes nothing.
OUT may be s3://bucket/prefix (with the --s3-* flags and the AWS
credentials of analyze): every file is read from there (fetched once into a
temporary directory, which needs room for the table parts) and the merged
files are uploaded there, the audit trail on condition that no other run
wrote it meanwhile.

Flags:
`

func runMerge(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("merge", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, mergeUsage)
		fs.PrintDefaults()
	}
	var s3 s3Options
	s3.register(fs, readAWSEnv(nil))
	dirs, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(dirs) != 1 {
		return &usageError{fmt.Sprintf("merge takes one output directory, got %d arguments", len(dirs))}
	}
	if err := s3.validate(); err != nil {
		return err
	}
	st, closeStore, err := pipeline.OpenStore(ctx, dirs[0], s3.config(readAWSEnv(nil)))
	if err != nil {
		return err
	}
	defer closeStore()
	res, err := pipeline.MergeShards(ctx, st, pipeline.MergeOptions{Version: version(), Command: append([]string{"flowproof", "merge"}, args...)})
	if res != nil {
		fmt.Fprintf(stdout, "flowproof: merged %d shards, %d parts, %d flows -> %s\n", res.Shards, res.Parts, res.Flows, dirs[0])
	}
	if errors.Is(err, pipeline.ErrPartial) {
		return errPartial
	}
	return err
}
