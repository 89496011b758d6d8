package ingest_test

import (
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log"
	"os"
	"path/filepath"

	"github.com/flowproof/flowproof/ingest"
)

func Example() {
	// A little-endian µs pcap holding one 4-byte Ethernet frame.
	raw, _ := hex.DecodeString("d4c3b2a1020004000000000000000000ffff000001000000" +
		"00f1536540e20100040000003c000000deadbeef")
	dir, _ := os.MkdirTemp("", "ingest-example")
	defer os.RemoveAll(dir)
	os.WriteFile(filepath.Join(dir, "one.pcap"), raw, 0o644)

	files, err := ingest.Expand([]string{dir})
	if err != nil {
		log.Fatal(err)
	}
	for _, path := range files {
		c, err := ingest.Open(path, ingest.Options{})
		if err != nil {
			fmt.Println("skipped:", err) // ErrNotCapture and friends: report, go on
			continue
		}
		var p ingest.Packet
		for err = c.Next(&p); err == nil; err = c.Next(&p) {
			// p.Data is valid until the next call to Next.
			fmt.Printf("packet %d at offset %d: %d of %d bytes, %s, t=%d ns\n",
				p.Index, p.Offset, len(p.Data), p.OrigLen, p.LinkType, p.Timestamp)
		}
		if !errors.Is(err, io.EOF) {
			fmt.Println("partial:", err) // the packets above are still good
		}
		info, err := c.Finish()
		c.Close()
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("%s: %s, %d packets, sha256 %s…\n", info.Name, info.Format, info.Packets, info.SHA256[:16])
		for _, lt := range info.LinkTypes {
			fmt.Printf("  link type %d (%s): %d packets\n", lt.LinkType, lt.Name, lt.Packets)
		}
	}
	// Output:
	// packet 0 at offset 24: 4 of 60 bytes, Ethernet, t=1700000000123456000 ns
	// one.pcap: pcap, 1 packets, sha256 54a74f1b4e8f5a1f…
	//   link type 1 (Ethernet): 1 packets
}
