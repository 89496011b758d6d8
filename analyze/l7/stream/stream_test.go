package stream

import (
	"fmt"
	"strings"
	"testing"
)

// recorder writes what a Dir delivers as text: data as is, a gap of n
// bytes as "<gap n>", each piece followed by "@ts".
type recorder struct{ b strings.Builder }

func (r *recorder) Data(b []byte, tsNs int64) { fmt.Fprintf(&r.b, "%s@%d ", b, tsNs) }
func (r *recorder) Gap(n int64, tsNs int64)   { fmt.Fprintf(&r.b, "<gap %d>@%d ", n, tsNs) }

// op is one call on a Dir: a segment (seq, data, segLen; segLen 0 means
// len(data)), an ACK from the peer, a FIN, or Close.
type op struct {
	kind   byte // 's' segment, 'a' ack, 'f' fin, 'c' close
	seq    uint32
	data   string
	segLen int
	ts     int64
}

func seg(seq uint32, data string, ts int64) op { return op{kind: 's', seq: seq, data: data, ts: ts} }

func TestDir(t *testing.T) {
	tests := []struct {
		name   string
		limits Limits
		ops    []op
		want   string
		stats  Stats
	}{
		{"in order", Limits{}, []op{seg(100, "GET ", 1), seg(104, "/ HTTP", 2), {kind: 'c', ts: 3}},
			"GET @1 / HTTP@2 ", Stats{Segments: 2, Bytes: 10}},
		{"retransmission dropped", Limits{}, []op{seg(100, "abc", 1), seg(100, "abc", 2), seg(103, "d", 3)},
			"abc@1 d@3 ", Stats{Segments: 3, Bytes: 4, Retransmitted: 3}},
		{"overlap delivers the new part", Limits{}, []op{seg(100, "abc", 1), seg(101, "bcde", 2)},
			"abc@1 de@2 ", Stats{Segments: 2, Bytes: 5, Retransmitted: 2}},
		{"out of order held until the hole fills", Limits{}, []op{seg(100, "ab", 1), seg(104, "ef", 2), seg(102, "cd", 3)},
			"ab@1 cd@3 ef@3 ", Stats{Segments: 3, Bytes: 6, OutOfOrder: 1}},
		{"two held, filled in reverse", Limits{}, []op{seg(100, "a", 1), seg(103, "d", 2), seg(102, "c", 3), seg(101, "b", 4)},
			"a@1 b@4 c@4 d@4 ", Stats{Segments: 4, Bytes: 4, OutOfOrder: 2}},
		{"ack past a hole before held data: gap", Limits{}, []op{seg(100, "ab", 1), seg(105, "fg", 2), {kind: 'a', seq: 107, ts: 3}},
			"ab@1 <gap 3>@2 fg@2 ", Stats{Segments: 2, Bytes: 4, OutOfOrder: 1, Gaps: 1, GapBytes: 3}},
		{"ack alone waits for close", Limits{}, []op{seg(100, "ab", 1), {kind: 'a', seq: 110, ts: 2}, seg(102, "cd", 3), {kind: 'c', ts: 4}},
			"ab@1 cd@3 <gap 6>@4 ", Stats{Segments: 2, Bytes: 4, Gaps: 1, GapBytes: 6}},
		{"fin is not a lost byte", Limits{}, []op{seg(100, "ab", 1), {kind: 'f', seq: 102}, {kind: 'a', seq: 103, ts: 2}, {kind: 'c', ts: 3}},
			"ab@1 ", Stats{Segments: 1, Bytes: 2}},
		{"close declares holes gaps", Limits{}, []op{seg(100, "ab", 1), seg(104, "ef", 2), {kind: 'c', ts: 9}},
			"ab@1 <gap 2>@2 ef@2 ", Stats{Segments: 2, Bytes: 4, OutOfOrder: 1, Gaps: 1, GapBytes: 2}},
		{"snaplen cut: the missing tail is a gap", Limits{}, []op{{kind: 's', seq: 100, data: "abc", segLen: 10, ts: 1}, seg(110, "z", 2)},
			"abc@1 <gap 7>@1 z@2 ", Stats{Segments: 2, Bytes: 4, Gaps: 1, GapBytes: 7}},
		{"far ahead: gap at once", Limits{}, []op{seg(100, "a", 1), seg(100+1+1<<25, "b", 2)},
			"a@1 <gap 33554432>@2 b@2 ", Stats{Segments: 2, Bytes: 2, Gaps: 1, GapBytes: 1 << 25}},
		{"segment cap: held data goes out with its gaps", Limits{MaxSegments: 2}, []op{seg(100, "a", 1), seg(102, "c", 2), seg(104, "e", 3), seg(106, "g", 4)},
			"a@1 <gap 1>@2 c@2 <gap 1>@3 e@3 <gap 1>@4 g@4 ", Stats{Segments: 4, Bytes: 4, OutOfOrder: 2, Gaps: 3, GapBytes: 3, CapHits: 1}},
		{"byte cap", Limits{MaxBytes: 3}, []op{seg(100, "a", 1), seg(102, "cd", 2), seg(105, "fg", 3)},
			"a@1 <gap 1>@2 cd@2 <gap 1>@3 fg@3 ", Stats{Segments: 3, Bytes: 5, OutOfOrder: 1, Gaps: 2, GapBytes: 2, CapHits: 1}},
		{"sequence wraps", Limits{}, []op{seg(0xfffffffe, "ab", 1), seg(0, "cd", 2)},
			"ab@1 cd@2 ", Stats{Segments: 2, Bytes: 4}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var r recorder
			b := NewBudget(tt.limits)
			d := NewDir(&r, b)
			for _, o := range tt.ops {
				switch o.kind {
				case 's':
					n := o.segLen
					if n == 0 {
						n = len(o.data)
					}
					d.Segment(o.seq, []byte(o.data), n, o.ts)
				case 'a':
					d.Ack(o.seq, o.ts)
				case 'f':
					d.Fin(o.seq)
				case 'c':
					d.Close(o.ts)
				}
			}
			if got := r.b.String(); got != tt.want {
				t.Errorf("delivered %q, want %q", got, tt.want)
			}
			if b.Stats != tt.stats {
				t.Errorf("stats %+v, want %+v", b.Stats, tt.stats)
			}
		})
	}
}

// TestBudgetTotal: held bytes across directions stay under MaxTotal, and
// are given back when delivered.
func TestBudgetTotal(t *testing.T) {
	b := NewBudget(Limits{MaxTotal: 10})
	var r1, r2 recorder
	d1, d2 := NewDir(&r1, b), NewDir(&r2, b)
	d1.Segment(0, []byte("x"), 1, 1)
	d2.Segment(0, []byte("x"), 1, 1)
	d1.Segment(2, []byte("123456"), 6, 2) // held: 6
	d2.Segment(2, []byte("abcdef"), 6, 3) // 12 > 10: d2 flushes
	if b.Held() != 6 || b.Stats.CapHits != 1 {
		t.Fatalf("held %d, cap hits %d; want 6 and 1", b.Held(), b.Stats.CapHits)
	}
	d1.Segment(1, []byte("-"), 1, 4)
	if b.Held() != 0 {
		t.Fatalf("held %d after the hole filled, want 0", b.Held())
	}
}

// TestSegmentDoesNotKeepInput: held bytes are a copy; the caller's buffer
// is reused by the next packet.
func TestSegmentDoesNotKeepInput(t *testing.T) {
	var r recorder
	d := NewDir(&r, NewBudget(Limits{}))
	d.Segment(0, []byte("a"), 1, 1)
	buf := []byte("cd")
	d.Segment(2, buf, 2, 2)
	copy(buf, "XX")
	d.Segment(1, []byte("b"), 1, 3)
	if got, want := r.b.String(), "a@1 b@3 cd@3 "; got != want {
		t.Errorf("delivered %q, want %q", got, want)
	}
}

func BenchmarkDirInOrder(b *testing.B) {
	d := NewDir(discard{}, NewBudget(Limits{}))
	payload := make([]byte, 1448)
	var seq uint32
	b.SetBytes(int64(len(payload)))
	b.ReportAllocs()
	for b.Loop() {
		d.Segment(seq, payload, len(payload), 1)
		seq += uint32(len(payload))
	}
}

type discard struct{}

func (discard) Data([]byte, int64) {}
func (discard) Gap(int64, int64)   {}

// FuzzDir drives a direction with arbitrary segments, ACKs and FINs: no
// panic, held state within its limits, and every byte delivered once.
func FuzzDir(f *testing.F) {
	f.Add([]byte{0, 5, 3, 0, 20, 4, 1, 10, 0, 0, 0, 2, 2, 30, 0})
	f.Fuzz(func(t *testing.T, ops []byte) {
		lim := Limits{MaxSegments: 4, MaxBytes: 64, MaxTotal: 96}
		b := NewBudget(lim)
		var r counter
		d := NewDir(&r, b)
		var seq uint32
		for i := 0; i+2 < len(ops); i += 3 {
			kind, delta, n := ops[i]%4, uint32(ops[i+1]), int(ops[i+2])
			switch kind {
			case 0:
				d.Segment(seq+delta, make([]byte, n), n, int64(i))
			case 1:
				d.Segment(seq-delta, make([]byte, n), n+int(delta%8), int64(i))
			case 2:
				d.Ack(seq+delta*8, int64(i))
			case 3:
				seq += delta * 3
			}
			if len(d.held) > lim.MaxSegments || d.heldLen > lim.MaxBytes || b.Held() > lim.MaxTotal || b.Held() < 0 {
				t.Fatalf("held %d segments, %d bytes, %d in total", len(d.held), d.heldLen, b.Held())
			}
		}
		d.Close(0)
		if b.Held() != 0 || r.bytes != b.Stats.Bytes {
			t.Fatalf("after close: held %d, delivered %d, counted %d", b.Held(), r.bytes, b.Stats.Bytes)
		}
	})
}

type counter struct{ bytes, gaps int64 }

func (c *counter) Data(b []byte, tsNs int64) { c.bytes += int64(len(b)) }
func (c *counter) Gap(n int64, tsNs int64)   { c.gaps += n }
