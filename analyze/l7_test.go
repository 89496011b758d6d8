package analyze_test

import (
	"bytes"
	"hash/fnv"
	"net/netip"
	"path/filepath"
	"testing"

	"github.com/flowproof/flowproof/analyze"
	"github.com/flowproof/flowproof/ingest"
)

// recordingL7 takes every flow whose first payload starts with an HTTP
// method or version, and hashes what each direction delivered.
type recordingL7 struct {
	offers int
	flows  map[string]*recordingFlow
	ended  int
}

type recordingFlow struct {
	r       *recordingL7
	id      string
	info    analyze.L7Info
	sum     [2]uint64
	bytes   [2]int
	matched bool // its flow's record came, with the same flow_id and endpoints
}

func (r *recordingL7) Open(info *analyze.L7Info, dir int, d *analyze.Decoded, payload []byte) (analyze.L7Flow, bool) {
	r.offers++
	if !bytes.HasPrefix(payload, []byte("GET ")) && !bytes.HasPrefix(payload, []byte("HTTP/1.")) {
		return nil, false
	}
	f := &recordingFlow{r: r, id: info.FlowID(), info: *info}
	r.flows[f.id] = f
	return f, false
}

func (f *recordingFlow) Packet(dir int, d *analyze.Decoded, payload []byte) bool {
	h := fnv.New64a()
	h.Write(payload)
	f.sum[dir] = f.sum[dir]*31 + h.Sum64()
	f.bytes[dir] += len(payload)
	return false
}

func (f *recordingFlow) End() { f.r.ended++ }

// TestL7Hook: Run and RunConcurrent hand the hook the same payload bytes;
// flows are offered once when declined, and every taken flow ends.
func TestL7Hook(t *testing.T) {
	run := func(concurrent bool) *recordingL7 {
		c, err := ingest.Open(filepath.Join("..", "testdata", "rec", "http-v4.pcap"), ingest.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		r := &recordingL7{flows: map[string]*recordingFlow{}}
		tbl := analyze.NewTable(analyze.Config{L7: r}, "http-v4.pcap", 1, func(rec *analyze.Record) {
			// The flow's rows name it as its record does.
			if f := r.flows[rec.FlowID]; f != nil {
				if f.info.Orig != netip.AddrPortFrom(rec.SrcIP, rec.SrcPort) || f.info.Resp != netip.AddrPortFrom(rec.DstIP, rec.DstPort) {
					t.Errorf("flow %s: L7Info %v -> %v, record %v:%d -> %v:%d", rec.FlowID, f.info.Orig, f.info.Resp, rec.SrcIP, rec.SrcPort, rec.DstIP, rec.DstPort)
				}
				f.matched = true
			}
		})
		if concurrent {
			err = analyze.RunConcurrent(c, tbl)
		} else {
			err = analyze.Run(c, tbl)
		}
		if err != nil {
			t.Fatal(err)
		}
		tbl.Flush()
		return r
	}
	seq, conc := run(false), run(true)
	if len(seq.flows) != 24 { // 25 conversations, one a REJ without payload
		t.Errorf("flows taken = %d, want 24", len(seq.flows))
	}
	if seq.ended != len(seq.flows) {
		t.Errorf("ended %d of %d flows", seq.ended, len(seq.flows))
	}
	if seq.offers != len(seq.flows) {
		t.Errorf("offers = %d, want one per flow (%d)", seq.offers, len(seq.flows))
	}
	for id, f := range seq.flows {
		g := conc.flows[id]
		if g == nil || g.sum != f.sum || g.bytes != f.bytes {
			t.Errorf("flow %s: Run delivered %v bytes, RunConcurrent %+v", id, f.bytes, g)
		}
		if !f.matched {
			t.Errorf("flow %s: no record with its flow_id", id)
		}
		if f.bytes[0] == 0 || f.bytes[1] == 0 {
			t.Errorf("flow %s: bytes %v, want both directions", id, f.bytes)
		}
	}
}

// decliner declines every flow, asking again or not.
type decliner struct {
	again  bool
	offers map[string]int
}

func (d *decliner) Open(info *analyze.L7Info, dir int, _ *analyze.Decoded, _ []byte) (analyze.L7Flow, bool) {
	d.offers[info.FlowID()]++
	return nil, d.again
}

// TestL7HookOffers: a declined flow is not offered again; an undecided one
// at most eight times.
func TestL7HookOffers(t *testing.T) {
	for _, again := range []bool{false, true} {
		c, err := ingest.Open(filepath.Join("..", "testdata", "rec", "http-v4.pcap"), ingest.Options{})
		if err != nil {
			t.Fatal(err)
		}
		d := &decliner{again: again, offers: map[string]int{}}
		tbl := analyze.NewTable(analyze.Config{L7: d}, "http-v4.pcap", 1, func(*analyze.Record) {})
		if err := analyze.Run(c, tbl); err != nil {
			t.Fatal(err)
		}
		tbl.Flush()
		c.Close()
		most := 0
		for _, n := range d.offers {
			most = max(most, n)
		}
		if want := map[bool]int{false: 1, true: 8}[again]; most != want || len(d.offers) != 24 {
			t.Errorf("again=%t: %d flows offered, at most %d times each; want 24 and %d", again, len(d.offers), most, want)
		}
	}
}

// TestL7InfoFlowID: an L7Info names its flow as the flow's Record does, in
// one allocation.
func TestL7InfoFlowID(t *testing.T) {
	for _, c := range []struct {
		info analyze.L7Info
		want string
	}{
		{analyze.L7Info{Ordinal: 1, FirstIndex: 0}, "1-1"},
		{analyze.L7Info{Ordinal: 12, FirstIndex: 9_999_999_998}, "12-9999999999"},
		{analyze.L7Info{Ordinal: 0, FirstIndex: -1}, "0-0"},
	} {
		if got := c.info.FlowID(); got != c.want {
			t.Errorf("%+v: %q, want %q", c.info, got, c.want)
		}
	}
	info := analyze.L7Info{Ordinal: 3, FirstIndex: 123456}
	if n := testing.AllocsPerRun(100, func() { _ = info.FlowID() }); n > 1 {
		t.Errorf("%.1f allocations", n)
	}
}
