package capgen_test

import (
	"fmt"
	"net/netip"

	"github.com/flowproof/flowproof/internal/capgen"
)

func ExampleNewTCP() {
	c := capgen.NewTCP(netip.MustParseAddrPort("192.0.2.1:40000"), netip.MustParseAddrPort("192.0.2.2:80"), capgen.Options{})
	c.SYN(0)
	c.SYNACK(1_000_000) // 1 ms after capgen.Epoch
	c.ACK(capgen.Orig, 2_000_000)
	c.Data(capgen.Orig, 3_000_000, 100)
	c.Data(capgen.Resp, 4_000_000, 1000)
	c.FIN(capgen.Orig, 5_000_000)
	c.FIN(capgen.Resp, 6_000_000)
	c.ACK(capgen.Orig, 7_000_000)
	for _, p := range c.Packets() {
		fmt.Println(p.Time.Sub(capgen.Epoch), p.Length, len(p.Data))
	}
	// Output:
	// 0s 60 60
	// 1ms 60 60
	// 2ms 60 60
	// 3ms 154 154
	// 4ms 1054 1054
	// 5ms 60 60
	// 6ms 60 60
	// 7ms 60 60
}
