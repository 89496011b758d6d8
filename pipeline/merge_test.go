package pipeline

import (
	"errors"
	"fmt"
	"io"
	"testing"

	"github.com/flowproof/flowproof/analyze"
	"github.com/flowproof/flowproof/ingest"
)

// fakeSource hands out packets with the given times, then err (io.EOF when
// nil); each packet's Data is reused, as a reader's buffer is.
type fakeSource struct {
	times []int64
	tag   byte
	err   error
	buf   [1]byte
	i     int
}

func (f *fakeSource) Next(p *ingest.Packet) error {
	if f.i == len(f.times) {
		if f.err != nil {
			return f.err
		}
		return io.EOF
	}
	f.buf[0] = f.tag + byte(f.i)
	*p = ingest.Packet{Data: f.buf[:], Timestamp: f.times[f.i], Index: int64(f.i)}
	f.i++
	return nil
}

// TestMergeSource: the merge hands out packets in time order, ties in
// input order, each input's own order kept (even out of time order), with
// Data valid until the next call and Index the merged position; an input
// that fails stops at its error, which it keeps, and the others go on.
func TestMergeSource(t *testing.T) {
	bad := errors.New("corrupt")
	a := &fakeSource{times: []int64{10, 20, 20, 15, 40}, tag: 'a'}
	b := &fakeSource{times: []int64{5, 20, 30}, tag: 'A', err: bad}
	c := &fakeSource{tag: '0'} // empty
	m := newMergeSource([]analyze.PacketSource{a, b, c})
	var got []string
	var p ingest.Packet
	for n := int64(0); ; n++ {
		err := m.Next(&p)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if p.Index != n {
			t.Errorf("packet %d has index %d", n, p.Index)
		}
		got = append(got, string(p.Data))
	}
	want := "[A a b c d B C e]"
	if s := fmt.Sprint(got); s != want {
		t.Errorf("merged %s, want %s", s, want)
	}
	if m.Err(0) != nil || !errors.Is(m.Err(1), bad) || m.Err(2) != nil {
		t.Errorf("errors %v %v %v", m.Err(0), m.Err(1), m.Err(2))
	}
}

// TestMergeSourceAllocs: merging allocates nothing per packet.
func TestMergeSourceAllocs(t *testing.T) {
	times := make([]int64, 1000)
	for i := range times {
		times[i] = int64(i)
	}
	var p ingest.Packet
	srcs := []*fakeSource{{times: times, tag: 'a'}, {times: times, tag: 'b'}, {times: times, tag: 'c'}}
	m := newMergeSource([]analyze.PacketSource{srcs[0], srcs[1], srcs[2]})
	if n := testing.AllocsPerRun(2000, func() { m.Next(&p) }); n != 0 {
		t.Errorf("%v allocations per packet", n)
	}
}
