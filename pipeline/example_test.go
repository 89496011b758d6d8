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
