package pipeline_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/flowproof/flowproof/ingest/kubeshark"
	"github.com/flowproof/flowproof/ingest/kubeshark/standin"
	"github.com/flowproof/flowproof/pipeline"
	"github.com/flowproof/flowproof/report"
)

// standinRun is what `flowproof run` gives against a stand-in: the pull's
// manifest, and the analysis' flows, cross-check verdicts and manifest.
type standinRun struct {
	rows     []report.FlowRow
	verdicts map[string]string // client server port -> verdict
	manifest *report.Manifest
}

// runStandin pulls the stand-in's whole window (per node with perNode) into
// a new evidence directory and analyzes it, in process.
func runStandin(t *testing.T, opts standin.Options, perNode bool) standinRun {
	t.Helper()
	hub, err := standin.NewHub(opts)
	if err != nil {
		t.Fatal(err)
	}
	defer hub.Close()
	from, to := hub.Window()
	dir := t.TempDir()
	ev := filepath.Join(dir, "evidence")
	_, err = kubeshark.Pull(context.Background(), kubeshark.Request{
		Endpoint: kubeshark.Endpoint{Serve: func(ctx context.Context, in io.Reader, out io.Writer) error {
			return standin.ServeCLI(ctx, in, out, standin.CLIOptions{URL: hub.URL})
		}},
		HubURL: hub.URL, Window: kubeshark.Window{From: from, To: to}, Dir: ev,
		Session: kubeshark.SessionOptions{CallTimeout: 30 * time.Second}, PollInterval: 10 * time.Millisecond, SnapshotTimeout: time.Minute,
		PerNode: perNode,
	})
	if err != nil && !errors.Is(err, kubeshark.ErrPartial) {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out")
	res, err := pipeline.Analyze(context.Background(), []string{ev}, pipeline.Options{Out: out, Version: "test"})
	if err != nil {
		t.Fatal(err)
	}
	rows, err := report.ReadFlows(filepath.Join(out, "flows.parquet"))
	if err != nil {
		t.Fatal(err)
	}
	key := func(r report.FlowRow) string { return flowKey(r) }
	slices.SortFunc(rows, func(x, y report.FlowRow) int { return strings.Compare(key(x), key(y)) })
	xc, err := report.ReadCrossCheck(filepath.Join(out, report.CrossCheckFile))
	if err != nil {
		t.Fatal(err)
	}
	v := map[string]string{}
	for _, x := range xc {
		v[x.ClientIP+" "+x.ServerIP+" "+itoa(x.ServerPort)] = x.Verdict
	}
	return standinRun{rows: rows, verdicts: v, manifest: res.Manifest}
}

func flowKey(r report.FlowRow) string {
	return fmt.Sprintf("%s %s:%d %s:%d synthetic=%v", r.Proto, r.SrcIP, r.SrcPort, r.DstIP, r.DstPort, r.Synthetic)
}

// sameFlows reports how b's flows differ from a's: rows, packets, bytes,
// retransmissions, handshake RTT, state.
func sameFlows(t *testing.T, what string, a, b []report.FlowRow) {
	t.Helper()
	if len(a) != len(b) || len(a) == 0 {
		t.Fatalf("%s: %d flows, want %d", what, len(b), len(a))
	}
	for i := range a {
		x, y := a[i], b[i]
		if flowKey(x) != flowKey(y) || x.OrigPkts != y.OrigPkts || x.RespPkts != y.RespPkts || x.OrigBytes != y.OrigBytes || x.RespBytes != y.RespBytes ||
			x.OrigIPBytes != y.OrigIPBytes || x.RespIPBytes != y.RespIPBytes ||
			x.OrigRetransPkts != y.OrigRetransPkts || x.RespRetransPkts != y.RespRetransPkts || x.OrigRetransBytes != y.OrigRetransBytes || x.RespRetransBytes != y.RespRetransBytes ||
			!eqPtr(x.RTTHandshakeNs, y.RTTHandshakeNs) || !eqPtr(x.RTTSynSynAckNs, y.RTTSynSynAckNs) || x.State != y.State {
			t.Errorf("%s: flow %s:\nwant %+v\ngot  %+v", what, flowKey(x), x, y)
		}
	}
}

// TestStandinDoubled: `flowproof run` against a stand-in serving its
// capture the way Kubeshark records it when every pod is targeted (the
// packets between two pods twice: same node 3 µs apart, across nodes 150 µs
// apart on clocks up to 110 µs off) gives the flows of the plain capture
// (rows, packets, bytes, retransmissions, iRTT to the ns), the same
// cross-check verdicts, and says what it folded.
func TestStandinDoubled(t *testing.T) {
	plain := runStandin(t, standin.Options{}, false)
	doubled := runStandin(t, standin.Options{Doubled: true}, false)
	sameFlows(t, "doubled", plain.rows, doubled.rows)
	if fmt.Sprint(plain.verdicts) != fmt.Sprint(doubled.verdicts) || len(plain.verdicts) == 0 {
		t.Errorf("verdicts differ:\nplain   %v\ndoubled %v", plain.verdicts, doubled.verdicts)
	}
	folded := int64(0)
	for _, in := range doubled.manifest.Inputs {
		if in.Vantage != nil {
			folded += in.Vantage.DuplicatesFolded
		}
	}
	if folded == 0 {
		t.Error("the doubled capture's manifest counts no folded copy")
	}
	twice := 0
	for _, r := range doubled.rows {
		if r.Vantages == 2 {
			twice++
		}
	}
	if twice < 3 { // dns, http, tls, redis: both ends are pods
		t.Errorf("%d flows seen from two vantage points", twice)
	}
}

// TestStandinPerNode: `pull --per-node` then analyze merges the nodes'
// captures by time into one stream: the flows (rows, packets, bytes,
// retransmissions, iRTT) and the cross-check verdicts are those of the
// merged export, for the plain and the doubled capture alike; each node's
// capture is an input of the manifest, hashed, its packets counted once.
func TestStandinPerNode(t *testing.T) {
	for _, doubled := range []bool{false, true} {
		t.Run(fmt.Sprintf("doubled=%v", doubled), func(t *testing.T) {
			merged := runStandin(t, standin.Options{Doubled: doubled}, false)
			perNode := runStandin(t, standin.Options{Doubled: doubled}, true)
			sameFlows(t, "per node", merged.rows, perNode.rows)
			if fmt.Sprint(merged.verdicts) != fmt.Sprint(perNode.verdicts) || len(merged.verdicts) == 0 {
				t.Errorf("verdicts differ:\nmerged   %v\nper node %v", merged.verdicts, perNode.verdicts)
			}
			for i := range merged.rows {
				if x, y := merged.rows[i], perNode.rows[i]; x.Vantages != y.Vantages || x.DupPkts != y.DupPkts || !eqPtr(x.OrigTransitP50Ns, y.OrigTransitP50Ns) || !eqPtr(x.RespTransitP50Ns, y.RespTransitP50Ns) {
					t.Errorf("flow %s: vantage columns differ:\nmerged   %+v\nper node %+v", flowKey(x), x, y)
				}
			}
			ids := map[string]bool{}
			for _, r := range perNode.rows {
				if ids[r.FlowID] {
					t.Errorf("flow_id %s twice", r.FlowID)
				}
				ids[r.FlowID] = true
			}
			ins := perNode.manifest.Inputs
			if len(ins) != len(standin.Nodes) {
				t.Fatalf("%d inputs, want one per node", len(ins))
			}
			var pkts int64
			for i, in := range ins {
				if !strings.HasPrefix(in.Name, standin.Nodes[i]+"-snapshot-") || in.SHA256 == "" || in.Packets == 0 || in.Status != report.StatusOK {
					t.Errorf("input %d: %+v", i, in)
				}
				pkts += in.Packets
			}
			if want := merged.manifest.Inputs[0].Packets; pkts != want {
				t.Errorf("the nodes' inputs count %d packets, the merged capture %d", pkts, want)
			}
		})
	}
}
