package l7_test

import (
	"fmt"

	"github.com/flowproof/flowproof/analyze"
	"github.com/flowproof/flowproof/analyze/l7"
	"github.com/flowproof/flowproof/analyze/l7/http"
	"github.com/flowproof/flowproof/ingest"
)

// An engine on a table: HTTP transactions of a recording, with the flow_id
// of their flows.parquet rows.
func Example() {
	c, err := ingest.Open("../../testdata/rec/http-v4.pcap", ingest.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()
	n := 0
	eng := l7.New(l7.Config{HTTP: func(t *http.Transaction) {
		if n++; n <= 3 {
			fmt.Println(t.Flow.FlowID(), t.TransDepth, t.Method, t.URI, t.StatusCode.V, t.ResponseBodyLen, t.LatencyNs.V)
		}
	}})
	tbl := analyze.NewTable(analyze.Config{L7: eng}, "http-v4.pcap", 1, func(*analyze.Record) {})
	if err := analyze.RunConcurrent(c, tbl); err != nil {
		fmt.Println(err)
		return
	}
	tbl.Flush()
	fmt.Println(n, "transactions")
	// Output:
	// 1-1 1 GET /small.txt 200 100 19508675
	// 1-11 1 GET /small.txt 200 100 76635
	// 1-11 2 GET /medium.txt 200 10000 47857
	// 25 transactions
}
