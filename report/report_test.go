package report_test

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/flowproof/flowproof/analyze"
	"github.com/flowproof/flowproof/provenance"
	"github.com/flowproof/flowproof/report"
)

// incidentRecords is a small deterministic incident: a database that starts
// rejecting connections, a slow API server, a bulk transfer with
// retransmissions and a full receiver, Kubernetes identities, cross-check
// verdicts and a synthetic TLS twin.
func incidentRecords() []analyze.Record {
	const t0 = int64(1_767_225_600_000_000_000) // 2026-01-01T00:00:00Z
	a := netip.MustParseAddr
	var recs []analyze.Record
	add := func(r analyze.Record) { recs = append(recs, r) }
	for i := range 40 {
		v := int64(i)
		r := analyze.Record{
			FlowID: fmt.Sprintf("1-%d", 1+i*7), Capture: "node-a.pcap", Proto: "tcp", IPVersion: 4,
			SrcIP: netip.AddrFrom4([4]byte{10, 0, 1, byte(10 + i%4)}), DstIP: a("10.0.2.20"),
			SrcPort: uint16(40000 + i), DstPort: 5432,
			TsNs: t0 + v*1_500_000_000, State: "SF", History: "ShADadFf",
			OrigPkts: 12, RespPkts: 10, OrigBytes: 900 + v, RespBytes: 12_000 + 10*v,
			OrigWireBytes: 900 + v + 12*66, RespWireBytes: 12_000 + 10*v + 10*66,
			SrcNamespace: "shop", SrcPod: fmt.Sprintf("web-%d", i%2), DstNamespace: "data", DstService: "postgres",
			CrossCheck: "match",
		}
		r.EndNs = r.TsNs + 40_000_000
		if i >= 30 { // the database starts refusing
			r.State, r.History = "REJ", "Sr"
			r.OrigPkts, r.RespPkts, r.OrigBytes, r.RespBytes = 1, 1, 0, 0
			r.OrigWireBytes, r.RespWireBytes = 74, 54
			r.RTTSynSynAck = analyze.Some(150_000)
		} else {
			r.RTTSynSynAck = analyze.Some(200_000 + v*10_000)
			r.RTTSynAckAck = analyze.Some(100_000 + v*1_000)
			r.RTTHandshake = analyze.Some(r.RTTSynSynAck.V + r.RTTSynAckAck.V)
		}
		if i == 35 {
			r.CrossCheck = "missing-in-kubeshark"
		}
		add(r)
	}
	for i := range 12 { // the slow API
		v := int64(i)
		r := analyze.Record{
			FlowID: fmt.Sprintf("2-%d", 3+i*11), Capture: "node-b.pcapng", Proto: "tcp", IPVersion: 6,
			SrcIP: a("fd00::1:5"), DstIP: a("fd00::2:80"), SrcPort: uint16(50000 + i), DstPort: 8443,
			TsNs: t0 + 5_000_000_000 + v*4_000_000_000, State: "SF", History: "ShADadFf",
			OrigPkts: 20, RespPkts: 30, OrigBytes: 2_000, RespBytes: 40_000,
			OrigWireBytes: 2_000 + 20*86, RespWireBytes: 40_000 + 30*86,
			RTTSynSynAck: analyze.Some(180_000_000 + v*20_000_000), RTTSynAckAck: analyze.Some(400_000),
			SrcNamespace: "shop", SrcPod: "api-gw-0", DstNamespace: "shop", DstPod: "api-7f9c",
		}
		r.RTTHandshake = analyze.Some(r.RTTSynSynAck.V + r.RTTSynAckAck.V)
		r.EndNs = r.TsNs + 900_000_000
		if i == 5 {
			r.State, r.History = "RSTR", "ShADadr"
		}
		add(r)
	}
	bulk := analyze.Record{ // a bulk transfer with loss and a full receiver
		FlowID: "2-1", Capture: "node-b.pcapng", Proto: "tcp", IPVersion: 4,
		SrcIP: a("10.0.3.7"), DstIP: a("10.0.4.9"), SrcPort: 33000, DstPort: 873,
		TsNs: t0 + 2_000_000_000, EndNs: t0 + 61_000_000_000, State: "SF", History: "ShADadWFf",
		OrigPkts: 7_000, RespPkts: 3_500, OrigBytes: 9_800_000, RespBytes: 1_200,
		OrigWireBytes: 9_800_000 + 7_000*66, RespWireBytes: 1_200 + 3_500*66,
		OrigRetransPkts: 600, OrigRetransBytes: 600 * 1448, OutOfOrder: 12, DupAcks: 95, ZeroWindows: 3, MissedBytes: 2896,
		RTTSynSynAck: analyze.Some(1_100_000), RTTSynAckAck: analyze.Some(90_000), RTTHandshake: analyze.Some(1_190_000),
	}
	add(bulk)
	twin := bulk
	twin.FlowID, twin.Synthetic = "2-2", true
	add(twin)
	add(analyze.Record{ // DNS, and a query nobody answered
		FlowID: "1-2", Capture: "node-a.pcap", Proto: "udp", IPVersion: 4,
		SrcIP: a("10.0.1.10"), DstIP: a("10.96.0.10"), SrcPort: 53000, DstPort: 53,
		TsNs: t0 + 1_000_000, EndNs: t0 + 1_400_000, State: "SF", History: "Dd",
		OrigPkts: 1, RespPkts: 1, OrigBytes: 40, RespBytes: 120, OrigWireBytes: 82, RespWireBytes: 162,
		RTTFirstReply: analyze.Some(400_000),
	})
	add(analyze.Record{
		FlowID: "1-5", Capture: "node-a.pcap", Proto: "udp", IPVersion: 4,
		SrcIP: a("10.0.1.11"), DstIP: a("10.96.0.10"), SrcPort: 53001, DstPort: 53,
		TsNs: t0 + 3_000_000, EndNs: t0 + 3_000_000, State: "S0", History: "D",
		OrigPkts: 1, OrigBytes: 40, OrigWireBytes: 82,
	})
	return recs
}

func incidentManifest() *report.Manifest {
	return &report.Manifest{
		Tool:     provenance.Tool{Name: "flowproof", Version: "v0.9.0"},
		Command:  provenance.RedactArgs([]string{"flowproof", "analyze", "--token", "s3cret", "-o", "out", "node-a.pcap", "node-b.pcapng", "notes|x.txt"}),
		Started:  provenance.Time{Time: time.Date(2026, 1, 2, 9, 0, 0, 0, time.UTC)},
		Finished: provenance.Time{Time: time.Date(2026, 1, 2, 9, 0, 1, 500_000_000, time.UTC)},
		Settings: map[string]string{"tcp_timeout": "5m0s", "udp_timeout": "1m0s", "tcp_closed_timeout": "5s", "max_flows": "1000000"},
		Inputs: []report.Input{
			{Path: "node-a.pcap", Name: "node-a.pcap", Source: "file", Size: 123_456, SHA256: strings.Repeat("a1", 32), Format: "pcap", Packets: 1_024,
				LinkTypes: []report.LinkTypeCount{{LinkType: 1, Name: "Ethernet", Packets: 1_024}},
				FirstNs:   1_767_225_600_000_000_000, LastNs: 1_767_225_660_000_000_000, First: "2026-01-01T00:00:00.000000000Z", Last: "2026-01-01T00:01:00.000000000Z", Status: report.StatusOK},
			{Path: "node-b.pcapng", Name: "node-b.pcapng", Source: "kubeshark hub https://ks.example snapshot 9b0d4b2b, bpf 'host 10.0.3.7', 2026-01-01T00:00:00Z..2026-01-01T00:05:00Z", Size: 9_876_543, SHA256: strings.Repeat("b2", 32), Format: "pcapng", Packets: 10_555,
				LinkTypes: []report.LinkTypeCount{{LinkType: 1, Name: "Ethernet", Packets: 10_000}, {LinkType: 276, Name: "Linux SLL2", Packets: 555}},
				FirstNs:   1_767_225_602_000_000_000, LastNs: 1_767_225_661_000_000_000, First: "2026-01-01T00:00:02.000000000Z", Last: "2026-01-01T00:01:01.000000000Z", Status: report.StatusPartial,
				Error: "node-b.pcapng: packet index 10555 (frame 10556) at byte offset 9876000: file ends in the middle of a record"},
			{Path: "notes|x.txt", Name: "notes|x.txt", Source: "file", Size: 30, SHA256: strings.Repeat("c3", 32), Status: report.StatusFailed, Error: "not a pcap or pcapng capture: looks like text"},
		},
		Decode:   map[string]int64{"tcp": 11_000, "udp": 4, "arp": 12, "icmp": 3, "other-ethertype:0x88cc": 2},
		Warnings: []string{"node-b.pcapng: packet index 10555 (frame 10556) at byte offset 9876000: file ends in the middle of a record", "notes|x.txt: not a pcap or pcapng capture"},
		Outputs:  []provenance.File{{Name: "flows.parquet", Size: 45_678, SHA256: strings.Repeat("d4", 32)}},
	}
}

func renderIncident(t *testing.T) map[string][]byte {
	t.Helper()
	s := report.NewSummary(report.SummaryOptions{})
	recs := incidentRecords()
	for i := range recs {
		s.Add(&recs[i])
	}
	return report.RenderReport(s, incidentManifest())
}

// TestReportGolden: report.md and its charts for a fixed incident, byte for
// byte. Run with -update to rewrite testdata/report/ after a deliberate
// change, and read the diff.
func TestReportGolden(t *testing.T) {
	files := renderIncident(t)
	for _, name := range []string{report.ReportFile, report.RTTChart, report.TimeChart, report.TalkerChart} {
		got, ok := files[name]
		if !ok {
			t.Errorf("%s not rendered", name)
			continue
		}
		golden := filepath.Join("testdata", "report", name)
		if *update {
			os.MkdirAll(filepath.Dir(golden), 0o755)
			if err := os.WriteFile(golden, got, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		want, err := os.ReadFile(golden)
		if err != nil {
			t.Fatalf("%v (run go test ./report -run TestReportGolden -update)", err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s differs from %s (go test ./report -run TestReportGolden -update, then review the diff)", name, golden)
		}
	}
	again := renderIncident(t)
	for name, b := range files {
		if !bytes.Equal(b, again[name]) {
			t.Errorf("%s differs between two renders of the same flows", name)
		}
	}
}

// TestReportContent checks what a reader relies on, independently of the
// golden file's exact wording.
func TestReportContent(t *testing.T) {
	md := string(renderIncident(t)[report.ReportFile])
	sections := []string{"## Evidence", "## Findings", "## Summary", "## Top talkers", "## Handshake RTT", "## TCP health", "## Cross-check", "## Method", "## Reproduce"}
	last := -1
	for _, s := range sections {
		i := strings.Index(md, "\n"+s+"\n")
		if i < 0 {
			t.Errorf("no section %q", s)
			continue
		}
		if i < last {
			t.Errorf("section %q out of order", s)
		}
		last = i
	}
	for _, want := range []string{
		strings.Repeat("a1", 32),                            // input hashes
		"kubeshark hub https://ks.example",                  // provenance
		"Linux SLL2 (276)",                                  // link types
		"partial",                                           // input status
		"**Connections rejected**: 10 of 53",                // a finding with its numbers
		"`1-211`",                                           // ... and its flow ids
		"**Slow handshakes**",                               // slow API
		"**Retransmission-heavy flows**",                    // the bulk transfer
		"**Cross-check disagreements**",                     // verdicts
		"**Evidence incomplete**",                           // the partial and failed inputs
		"--token REDACTED",                                  // command, redacted
		"| shop | web-0 | data | postgres |",                // workload table
		"notes\\|x.txt",                                     // escaped cell
		"flowproof verify .",                                // how to verify
		"<a id=\"m-percentile\" name=\"m-percentile\"></a>", // definitions
		"[p50 (ms)](#m-percentile)",                         // linked from the tables
		"quantile_disc(rtt_handshake_ns, 0.99)",             // the queries
		"1 is Kubeshark's plaintext twin",                   // twin left out, and said so
		"![Handshake RTT distribution",                      // charts
		"Numbers behind the chart",                          // ... with their numbers
		"no bound was reached, every number is exact",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("report does not contain %q", want)
		}
	}
	if strings.Contains(md, "s3cret") {
		t.Error("the report contains the token")
	}
	// Findings: evidence first, then by share: 11 of 43 handshakes slow
	// (25.6%) before 10 of 53 TCP connections rejected (18.9%).
	order := []string{"**Evidence incomplete**", "**Slow handshakes**", "**Connections rejected**"}
	prev := -1
	for _, o := range order {
		i := strings.Index(md, o)
		if i < prev {
			t.Errorf("finding %s out of rank order", o)
		}
		prev = i
	}
	// Every table with an id but the manifest's has its query.
	for _, m := range regexp.MustCompile(`<!-- table: ([a-z-]+)`).FindAllStringSubmatch(md, -1) {
		switch m[1] {
		case "inputs", "inputs-not-read", "outputs":
			continue
		}
		if !strings.Contains(md, "-- table: "+m[1]+"\n") || !strings.Contains(md, `<a id="q-`+m[1]+`" name="q-`+m[1]+`"></a>`) {
			t.Errorf("table %s has no query in Reproduce", m[1])
		}
	}
	// Every in-document link has its target.
	for _, m := range regexp.MustCompile(`\]\(#([a-z0-9-]+)\)`).FindAllStringSubmatch(md, -1) {
		id := m[1]
		if !strings.Contains(md, `id="`+id+`"`) && !hasHeading(md, id) {
			t.Errorf("link #%s has no target", id)
		}
	}
}

// hasHeading reports whether md has a heading whose GitHub anchor is id.
func hasHeading(md, id string) bool {
	for _, l := range strings.Split(md, "\n") {
		if !strings.HasPrefix(l, "#") {
			continue
		}
		h := strings.ToLower(strings.TrimSpace(strings.TrimLeft(l, "#")))
		var b strings.Builder
		for _, c := range h {
			switch {
			case c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '-', c == '_':
				b.WriteRune(c)
			case c == ' ':
				b.WriteByte('-')
			}
		}
		if b.String() == id {
			return true
		}
	}
	return false
}

// TestChartsAreValidSVG parses every chart, for the incident and for edge
// cases (one flow, no handshake, huge values).
func TestChartsAreValidSVG(t *testing.T) {
	cases := map[string][]analyze.Record{"incident": incidentRecords()}
	one := incidentRecords()[:1]
	cases["one flow"] = one
	huge := incidentRecords()[:3]
	huge[0].OrigBytes = 1 << 62
	huge[1].TsNs = 0 // a bogus timestamp far from the others
	huge[2].RTTHandshake = analyze.Some(1 << 62)
	cases["huge values"] = huge
	cases["udp only"] = incidentRecords()[len(incidentRecords())-2:]
	for name, recs := range cases {
		t.Run(name, func(t *testing.T) {
			s := report.NewSummary(report.SummaryOptions{})
			for i := range recs {
				s.Add(&recs[i])
			}
			files := report.RenderReport(s, incidentManifest())
			for fname, b := range files {
				if !strings.HasSuffix(fname, ".svg") {
					continue
				}
				d := xml.NewDecoder(bytes.NewReader(b))
				root := ""
				for {
					tok, err := d.Token()
					if err == io.EOF {
						break
					}
					if err != nil {
						t.Fatalf("%s: not well-formed XML: %v", fname, err)
					}
					if se, ok := tok.(xml.StartElement); ok && root == "" {
						root = se.Name.Space + " " + se.Name.Local
					}
				}
				if root != "http://www.w3.org/2000/svg svg" {
					t.Errorf("%s: root element %q", fname, root)
				}
				if bytes.Contains(b, []byte("NaN")) || bytes.Contains(b, []byte("Inf")) {
					t.Errorf("%s: has NaN or Inf coordinates", fname)
				}
			}
		})
	}
}

// TestReportEmpty: no flows at all still gives a readable report.
func TestReportEmpty(t *testing.T) {
	files := report.RenderReport(report.NewSummary(report.SummaryOptions{}), &report.Manifest{Tool: provenance.Tool{Name: "flowproof", Version: "x"}})
	md := string(files[report.ReportFile])
	if !strings.Contains(md, "no TCP or UDP flows") || !strings.Contains(md, "Nothing flagged") {
		t.Errorf("empty report:\n%s", md)
	}
	if len(files) != 1 {
		t.Errorf("empty report has %d files, want report.md only", len(files))
	}
}

// TestReportSizeFlat: a million flows give a report of about the same length
// as a hundred: every table is top-N.
func TestReportSizeFlat(t *testing.T) {
	sizes := map[int]int{}
	lines := map[int]int{}
	for _, n := range []int{100, 200_000} {
		s := report.NewSummary(report.SummaryOptions{})
		var rec analyze.Record
		for i := range n {
			synthRecord(i, &rec)
			rec.FlowID = fmt.Sprintf("%d-%d", 1+i%2, i+1)
			s.Add(&rec)
		}
		md := report.RenderReport(s, incidentManifest())[report.ReportFile]
		sizes[n], lines[n] = len(md), bytes.Count(md, []byte("\n"))
	}
	t.Logf("report.md: 100 flows %d bytes, %d lines; 200k flows %d bytes, %d lines", sizes[100], lines[100], sizes[200_000], lines[200_000])
	if lines[200_000] > lines[100]+40 || sizes[200_000] > sizes[100]*3/2 {
		t.Errorf("report grows with the flows: %d -> %d lines, %d -> %d bytes", lines[100], lines[200_000], sizes[100], sizes[200_000])
	}
}

// TestWriteReport writes the files atomically, returns their hashes and
// removes a chart a previous run left but this one does not have.
func TestWriteReport(t *testing.T) {
	dir := t.TempDir()
	stale := filepath.Join(dir, report.RTTChart)
	os.WriteFile(stale, []byte("old"), 0o644)
	s := report.NewSummary(report.SummaryOptions{})
	recs := incidentRecords()
	udp := recs[len(recs)-1] // no handshake: no RTT chart
	s.Add(&udp)
	outs, err := report.WriteReport(dir, s, incidentManifest())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Errorf("stale %s kept", report.RTTChart)
	}
	if len(outs) == 0 || outs[0].Name != report.ReportFile {
		t.Fatalf("outputs %+v", outs)
	}
	for _, o := range outs {
		h, err := provenance.HashFile(filepath.Join(dir, o.Name))
		if err != nil || h != o {
			t.Errorf("%s: %+v, file %+v (%v)", o.Name, o, h, err)
		}
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".") {
			t.Errorf("temporary file %s left behind", e.Name())
		}
	}
}
