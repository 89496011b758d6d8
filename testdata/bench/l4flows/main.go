// Command l4flows writes a Kubeshark list_l4_flows answer for the flows of an
// analysis, so that `make bench` can time analyze with a cross-check on the
// bench capture: one record per (client, server, port), with the capture's
// own payload totals (minus retransmissions) as both sides' counters, every
// tenth record 5% off so that some verdicts disagree.
//
//	go run ./testdata/bench/l4flows OUT/flows.parquet > l4.json
package main

import (
	"cmp"
	"encoding/json"
	"fmt"
	"os"
	"slices"

	"github.com/flowproof/flowproof/report"
)

type key struct {
	proto, client, server string
	port                  int32
}

type side struct {
	TxPkts  int64 `json:"tx_pkts"`
	RxPkts  int64 `json:"rx_pkts"`
	TxBytes int64 `json:"tx_bytes"`
	RxBytes int64 `json:"rx_bytes"`
}

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: l4flows FLOWS.parquet > l4.json")
		os.Exit(2)
	}
	rows, err := report.ReadFlows(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, "l4flows:", err)
		os.Exit(1)
	}
	sums := map[key]*side{}
	var keys []key
	for _, r := range rows {
		if r.Synthetic {
			continue
		}
		k := key{r.Proto, r.SrcIP, r.DstIP, r.DstPort}
		s := sums[k]
		if s == nil {
			s = &side{}
			sums[k] = s
			keys = append(keys, k)
		}
		s.TxPkts += r.OrigPkts
		s.RxPkts += r.RespPkts
		s.TxBytes += r.OrigBytes - r.OrigRetransBytes
		s.RxBytes += r.RespBytes - r.RespRetransBytes
	}
	slices.SortFunc(keys, func(a, b key) int {
		return cmp.Or(cmp.Compare(a.proto, b.proto), cmp.Compare(a.client, b.client), cmp.Compare(a.server, b.server), cmp.Compare(a.port, b.port))
	})
	type endpoint struct {
		IP   string `json:"ip"`
		Port int32  `json:"port,omitempty"`
	}
	type record struct {
		Proto  string   `json:"proto"`
		Client endpoint `json:"client"`
		Server endpoint `json:"server"`
		Stats  side     `json:"client_stats"`
	}
	out := struct {
		Flows     []record `json:"flows"`
		Total     int      `json:"total"`
		Truncated bool     `json:"truncated"`
	}{Total: len(keys)}
	for i, k := range keys {
		s := *sums[k]
		if i%10 == 9 {
			s.TxBytes += s.TxBytes / 20
		}
		out.Flows = append(out.Flows, record{k.proto, endpoint{IP: k.client}, endpoint{IP: k.server, Port: k.port}, s})
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(out); err != nil {
		fmt.Fprintln(os.Stderr, "l4flows:", err)
		os.Exit(1)
	}
}
