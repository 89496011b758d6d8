package pipeline_test

import (
	"context"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/flowproof/flowproof/ingest"
	"github.com/flowproof/flowproof/internal/capgen"
	"github.com/flowproof/flowproof/pipeline"
	"github.com/flowproof/flowproof/report"
)

// TestAnalyzeDoubledCapture: a recording doubled the way Kubeshark records
// it (every packet also at the receiver, 150 µs later on a node whose clock
// is 100 µs behind, bursts merged GSO-style) analyzes to the same flows as
// the single recording, packets, bytes, retransmissions and handshake RTT
// alike; the new columns and the manifest say what was folded, and the
// report says so in one sentence.
func TestAnalyzeDoubledCapture(t *testing.T) {
	link, pkts := recording(t, "../testdata/rec/http-v4.pcap")
	single, doubled, err := capgen.Double(link, pkts, capgen.Vantage{Local: []netip.Addr{netip.MustParseAddr("10.77.0.1")},
		Delay: 150 * time.Microsecond, Offset: -100 * time.Microsecond, GSO: 3})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	rows := map[string][]report.FlowRow{}
	var manifests []*report.Manifest
	for _, c := range []struct {
		name string
		pkts []capgen.Packet
	}{{"single.pcap", single}, {"doubled.pcap", doubled}} {
		path := filepath.Join(dir, c.name)
		f, err := os.Create(path)
		if err != nil {
			t.Fatal(err)
		}
		if err := capgen.WritePcap(f, capgen.RawIP.LinkType(), c.pkts); err != nil {
			t.Fatal(err)
		}
		f.Close()
		out := filepath.Join(dir, "out-"+c.name)
		res, err := pipeline.Analyze(context.Background(), []string{path}, pipeline.Options{Out: out})
		if err != nil {
			t.Fatal(err)
		}
		manifests = append(manifests, res.Manifest)
		if rows[c.name], err = report.ReadFlows(filepath.Join(out, "flows.parquet")); err != nil {
			t.Fatal(err)
		}
	}
	a, b := rows["single.pcap"], rows["doubled.pcap"]
	if len(a) != len(b) || len(a) == 0 {
		t.Fatalf("%d flows single, %d doubled", len(a), len(b))
	}
	key := func(r report.FlowRow) string {
		return r.SrcIP + " " + r.DstIP + " " + itoa(r.SrcPort) + " " + itoa(r.DstPort)
	}
	slices.SortFunc(a, func(x, y report.FlowRow) int { return strings.Compare(key(x), key(y)) })
	slices.SortFunc(b, func(x, y report.FlowRow) int { return strings.Compare(key(x), key(y)) })
	transits := 0
	for i := range a {
		x, y := a[i], b[i]
		if key(x) != key(y) || x.OrigPkts != y.OrigPkts || x.RespPkts != y.RespPkts || x.OrigBytes != y.OrigBytes || x.RespBytes != y.RespBytes ||
			x.OrigRetransPkts != y.OrigRetransPkts || x.RespRetransPkts != y.RespRetransPkts || !eqPtr(x.RTTHandshakeNs, y.RTTHandshakeNs) || x.State != y.State {
			t.Errorf("flow %s: single %+v\ndoubled %+v", key(x), x, y)
		}
		if y.Vantages != 2 || y.DupPkts == 0 {
			t.Errorf("flow %s: vantages %d dup_pkts %d", key(y), y.Vantages, y.DupPkts)
		}
		if y.OrigTransitP50Ns != nil && y.RespTransitP50Ns != nil {
			transits++
			// Each direction includes the clock offset; their sum does not.
			if sum := *y.OrigTransitP50Ns + *y.RespTransitP50Ns; sum != int64(300*time.Microsecond) {
				t.Errorf("flow %s: transits %d + %d, want a sum of 300 µs", key(y), *y.OrigTransitP50Ns, *y.RespTransitP50Ns)
			}
		}
	}
	if transits == 0 {
		t.Error("no flow has both transit columns")
	}
	if v := manifests[1].Inputs[0].Vantage; v == nil || v.DuplicatesFolded == 0 || v.GSOSplit == 0 {
		t.Errorf("doubled input's vantage counts %+v", v)
	}
	if manifests[0].Inputs[0].Vantage != nil {
		t.Errorf("single input's vantage counts %+v", manifests[0].Inputs[0].Vantage)
	}
	md, err := os.ReadFile(filepath.Join(dir, "out-doubled.pcap", report.ReportFile))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(md), "recorded packets at two vantage points") {
		t.Error("report.md does not say the capture held two vantage points")
	}
}

func eqPtr(a, b *int64) bool { return (a == nil) == (b == nil) && (a == nil || *a == *b) }

// recording returns a capture's packets (Ethernet frames) for capgen.
func recording(t *testing.T, path string) (capgen.Link, []capgen.Packet) {
	t.Helper()
	c, err := ingest.Open(path, ingest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var out []capgen.Packet
	var p ingest.Packet
	for {
		if err := c.Next(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		out = append(out, capgen.Packet{Time: time.Unix(0, p.Timestamp).UTC(), Data: slices.Clone(p.Data), Length: p.OrigLen})
	}
	return capgen.Ethernet, out
}

// TestCrossCheckDoubled: Kubeshark's socket counters agree with a doubled
// capture exactly as they do with the single one: the cross-check compares
// the folded numbers, so every aggregate gets the same verdict.
func TestCrossCheckDoubled(t *testing.T) {
	link, pkts := recording(t, "../testdata/rec/http-v4.pcap")
	single, doubled, err := capgen.Double(link, pkts, capgen.Vantage{Local: []netip.Addr{netip.MustParseAddr("10.77.0.1")}, Delay: 20 * time.Microsecond, GSO: 3})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	paths := map[string]string{}
	for name, p := range map[string][]capgen.Packet{"single.pcap": single, "doubled.pcap": doubled} {
		paths[name] = filepath.Join(dir, name)
		f, err := os.Create(paths[name])
		if err != nil {
			t.Fatal(err)
		}
		if err := capgen.WritePcap(f, capgen.RawIP.LinkType(), p); err != nil {
			t.Fatal(err)
		}
		f.Close()
	}
	// Kubeshark's records: the single capture's own sums per (client,
	// server, port), as a socket counts them (payload minus retransmissions),
	// one of them 10% off so that both verdicts occur.
	if _, err := pipeline.Analyze(context.Background(), []string{paths["single.pcap"]}, pipeline.Options{Out: filepath.Join(dir, "plain")}); err != nil {
		t.Fatal(err)
	}
	rows, err := report.ReadFlows(filepath.Join(dir, "plain", "flows.parquet"))
	if err != nil {
		t.Fatal(err)
	}
	type agg struct{ tx, rx int64 }
	sums := map[[3]string]*agg{}
	var order [][3]string
	for _, r := range rows {
		k := [3]string{r.SrcIP, r.DstIP, itoa(r.DstPort)}
		if sums[k] == nil {
			sums[k] = &agg{}
			order = append(order, k)
		}
		sums[k].tx += r.OrigBytes - r.OrigRetransBytes
		sums[k].rx += r.RespBytes - r.RespRetransBytes
	}
	var b strings.Builder
	b.WriteString(`{"flows":[`)
	for i, k := range order {
		s := sums[k]
		if i == 0 {
			s.tx += s.tx/10 + 100
		}
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"proto":"tcp","client":{"ip":%q},"server":{"ip":%q,"port":%s},"client_stats":{"tx_bytes":%d,"rx_bytes":%d,"tx_pkts":1}}`, k[0], k[1], k[2], s.tx, s.rx)
	}
	b.WriteString(`]}`)
	l4 := filepath.Join(dir, "l4.json")
	if err := os.WriteFile(l4, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	verdicts := map[string]map[string]string{}
	for _, name := range []string{"single.pcap", "doubled.pcap"} {
		out := filepath.Join(dir, "xc-"+name)
		if _, err := pipeline.Analyze(context.Background(), []string{paths[name]}, pipeline.Options{Out: out, L4Flows: l4}); err != nil {
			t.Fatal(err)
		}
		xc, err := report.ReadCrossCheck(filepath.Join(out, report.CrossCheckFile))
		if err != nil {
			t.Fatal(err)
		}
		verdicts[name] = map[string]string{}
		for _, x := range xc {
			verdicts[name][x.ClientIP+" "+x.ServerIP+" "+itoa(x.ServerPort)] = x.Verdict
		}
	}
	if fmt.Sprint(verdicts["single.pcap"]) != fmt.Sprint(verdicts["doubled.pcap"]) {
		t.Errorf("verdicts differ:\nsingle  %v\ndoubled %v", verdicts["single.pcap"], verdicts["doubled.pcap"])
	}
	kinds := map[string]int{}
	for _, v := range verdicts["doubled.pcap"] {
		kinds[v]++
	}
	if kinds["match"] == 0 || kinds["bytes_mismatch"] != 1 {
		t.Errorf("verdicts %v: want matches and one bytes_mismatch", kinds)
	}
}
