package pipeline_test

import (
	"context"
	"fmt"
	"os"

	"github.com/flowproof/flowproof/pipeline"
)

// A whole analysis in one call: one generated capture in, flows.parquet,
// report.md, manifest.json and audit.jsonl out.
func ExampleAnalyze() {
	out, err := os.MkdirTemp("", "flowproof-example-")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(out)
	res, err := pipeline.Analyze(context.Background(), []string{"../testdata/gen/tcp-sf.pcap"}, pipeline.Options{Out: out, Version: "example"})
	if err != nil {
		panic(err)
	}
	fmt.Printf("%d flow from %d capture (%d packets)\n", res.Flows, res.Captures, res.Packets)
	for _, o := range res.Manifest.Outputs {
		fmt.Println(o.Name)
	}
	// Output:
	// 1 flow from 1 capture (11 packets)
	// flows.parquet
	// report.md
	// rtt.svg
	// talkers.svg
	// traffic.svg
}

// Every kind of argument opens to the same shape: captures and answers.
func ExampleOpen() {
	in, err := pipeline.Open("../testdata/gen/tcp-sf.pcap")
	if err != nil {
		panic(err)
	}
	fmt.Println(len(in.Captures), in.Captures[0].Source, in.L4Flows == "")
	// Output: 1 file true
}

// Which shard a unit belongs to depends on its key and the number of shards
// alone, so adding inputs never moves one.
func ExampleShardOf() {
	sh, err := pipeline.ParseShard("1/4")
	if err != nil {
		panic(err)
	}
	for _, key := range []string{"a.pcap", "captures/2026-12-03/node-1.pcap.gz", "tcp-sf.pcap"} {
		fmt.Println(key, pipeline.ShardOf(key, sh.Count) == sh.Index)
	}
	// Output:
	// a.pcap true
	// captures/2026-12-03/node-1.pcap.gz false
	// tcp-sf.pcap false
}

// A sharded run and its merge, through the store OpenStore gives for OUT:
// a local directory here; an s3://bucket/prefix (with Options.S3's
// endpoint and credentials) is used the same way.
func ExampleOpenStore() {
	out, err := os.MkdirTemp("", "flowproof-example-")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(out)
	ctx := context.Background()
	opts := pipeline.Options{Version: "example"}
	st, closeStore, err := pipeline.OpenStore(ctx, out, opts.S3)
	if err != nil {
		panic(err)
	}
	defer closeStore()
	for i := range 2 {
		if _, err := pipeline.AnalyzeShard(ctx, []string{"../testdata/gen"}, opts, pipeline.Shard{Index: i, Count: 2}, st); err != nil {
			panic(err)
		}
	}
	res, err := pipeline.MergeShards(ctx, st, pipeline.MergeOptions{Version: "example"})
	if err != nil {
		panic(err)
	}
	fmt.Printf("%d shards, %d flows\n", res.Shards, res.Flows)
	// Output: 2 shards, 22 flows
}
