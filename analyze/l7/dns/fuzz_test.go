package dns

import (
	"testing"

	"github.com/flowproof/flowproof/analyze"
)

// FuzzParse: any bytes parse or fail with a FormatError, within bounds.
func FuzzParse(f *testing.F) {
	f.Add(msg(7, flagsResp, 1, 2, question("www.flowproof.test", 1), rr(5, 60, []byte{0xc0, 12}), rr(1, 0, []byte{10, 77, 0, 2})))
	f.Add(msg(1, 0, 1, 0, []byte{0xc0, 12, 0, 1, 0, 1}))
	f.Add(msg(1, 0, 2, 0, []byte{1, 'a', 0xc0, 18, 0, 1, 0, 1, 1, 'b', 0xc0, 12, 0, 1, 0, 1}))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := Parse(b)
		if err != nil {
			return
		}
		if len(m.Answers) > maxAnswers || len(m.Answers) != len(m.TTLs) || len(m.QName) > 4*maxName {
			t.Fatalf("out of bounds: %d answers, %d ttls, name %d bytes", len(m.Answers), len(m.TTLs), len(m.QName))
		}
		// Over TCP, the same bytes behind a length prefix.
		var st Stats
		tr := NewTracker(&analyze.L7Info{}, "tcp", Limits{MaxPending: 4}, &st, func(*Query) {})
		h := NewTCPHalf(tr, 0)
		h.Data([]byte{byte(len(b) >> 8), byte(len(b))}, 1)
		h.Data(b, 2)
		tr.End()
	})
}
