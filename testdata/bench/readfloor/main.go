// Command readfloor reads a capture the way `flowproof analyze` does, and does
// nothing else: the file is read, every byte is hashed with SHA-256 on a
// goroutine of its own, and every record is parsed (ingest.Capture), but no
// packet is decoded and no flow is made. Its time is the floor under
// analyze's on the same file: what reading and proving the input costs
// before any analysis. `make bench` prints it beside the other tools.
//
//	go run ./testdata/bench/readfloor CAPTURE
package main

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/flowproof/flowproof/ingest"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: readfloor CAPTURE")
		os.Exit(2)
	}
	if err := read(os.Args[1]); err != nil {
		fmt.Fprintln(os.Stderr, "readfloor:", err)
		os.Exit(1)
	}
}

func read(path string) error {
	c, err := ingest.Open(path, ingest.Options{})
	if err != nil {
		return err
	}
	defer c.Close()
	var p ingest.Packet
	for {
		if err := c.Next(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return err
		}
	}
	info, err := c.Finish()
	if err != nil {
		return err
	}
	fmt.Printf("%s  %d packets  sha256 %s\n", path, info.Packets, info.SHA256)
	return nil
}
