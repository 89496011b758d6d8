// Command capgen writes the capgen edge-case captures.
//
//	go run ./internal/capgen/cmd/capgen [-o testdata/gen]
//
// Run it from the module root. The output is deterministic: running it twice
// gives byte-identical files.
package main

import (
	"crypto/sha256"
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/flowproof/flowproof/internal/capgen"
)

func main() {
	out := flag.String("o", filepath.Join("testdata", "gen"), "output directory")
	flag.Parse()
	if flag.NArg() != 0 {
		fmt.Fprintln(os.Stderr, "usage: capgen [-o DIR]")
		os.Exit(2)
	}
	names, err := capgen.WriteAll(*out)
	if err != nil {
		fmt.Fprintln(os.Stderr, "capgen:", err)
		os.Exit(1)
	}
	for _, name := range names {
		b, err := os.ReadFile(filepath.Join(*out, name))
		if err != nil {
			fmt.Fprintln(os.Stderr, "capgen:", err)
			os.Exit(1)
		}
		fmt.Printf("%x  %s\n", sha256.Sum256(b), filepath.Join(*out, name))
	}
}
