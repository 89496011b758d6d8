package tls

import (
	"testing"

	"github.com/flowproof/flowproof/analyze"
)

// FuzzHello: any bytes in either direction, cut anywhere, never panic and
// keep at most maxHandshake bytes.
func FuzzHello(f *testing.F) {
	f.Add([]byte{22, 3, 1, 0, 9, 1, 0, 0, 5, 3, 3, 0, 0, 0}, uint8(3))
	f.Add([]byte{22, 3, 3, 0, 4, 2, 0, 0, 0}, uint8(1))
	f.Fuzz(func(t *testing.T, b []byte, piece uint8) {
		var st Stats
		c := NewConn(&analyze.L7Info{}, &st)
		size := int(piece)%32 + 1
		for i := 0; i < len(b); i += size {
			c.Half(i/size%2).Data(b[i:min(i+size, len(b))], 0)
			for d := range c.dirs {
				if cap(c.dirs[d].hs) > 2*maxHandshake {
					t.Fatalf("handshake buffer %d bytes", cap(c.dirs[d].hs))
				}
			}
		}
		_ = c.Hello.ALPNList()
		_ = c.Hello.Version()
	})
}
