package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"path/filepath"

	"github.com/flowproof/flowproof/internal/capgen"
)

const demoUsage = `Usage: flowproof demo [flags]

Writes the built-in sample captures (generated deterministically: handshakes,
retransmissions, resets, port reuse, IPv6, VLAN, UDP, ...) to OUT/input/ and
analyzes them into OUT, exactly as "flowproof analyze OUT/input -o OUT" would.

Flags:
`

func runDemo(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o analyzeOptions
	o.register(fs)
	fs.Lookup("o").DefValue = "flowproof-demo"
	o.out = "flowproof-demo"
	fs.Usage = func() {
		fmt.Fprint(stderr, demoUsage)
		fs.PrintDefaults()
	}
	rest, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return &usageError{fmt.Sprintf("demo takes no inputs, got %q", rest)}
	}
	if err := o.validate(); err != nil {
		return err
	}
	inDir := filepath.Join(o.out, "input")
	if _, err := capgen.WriteAll(inDir); err != nil {
		return fmt.Errorf("write sample captures: %w", err)
	}
	command := append([]string{"flowproof", "demo"}, args...)
	return analyzeRun(ctx, o, []string{inDir}, command, stdout, stderr)
}
