//go:build !nodemo

package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/flowproof/flowproof/ingest/kubeshark"
	"github.com/flowproof/flowproof/ingest/kubeshark/evidence"
	"github.com/flowproof/flowproof/ingest/kubeshark/standin"
)

const demoUsage = `Usage: flowproof demo [flags]

Runs the whole pipeline against the built-in Kubeshark stand-in, in this
process: a fake Hub (gated by a one-off token) on a loopback port serving a
cluster capture (five pods on three nodes, a TLS connection with Kubeshark's
synthetic plaintext twin; recorded as Kubeshark's eBPF capture records it,
the packets between two pods once at each end) and the matching
list_l4_flows records and list_api_calls (its HTTP calls, with known
disagreements for the L7 cross-check), behind an emulation
of "kubeshark mcp" spoken to over stdio framing. It pulls into OUT/evidence
(snapshot, list_workloads, export_snapshot_pcap, HTTP download), then
analyzes that into OUT, exactly as "flowproof run" does against a cluster.

Flags:
`

func runDemo(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o analyzeOptions
	o.register(fs)
	fs.Lookup("o").DefValue = "flowproof-demo"
	o.out = "flowproof-demo"
	fs.BoolVar(&o.quiet, "q", false, "short for --quiet")
	perNode := fs.Bool("per-node", false, "pull one capture per node (pull --per-node), which the analysis merges by time")
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
	evDir := filepath.Join(o.out, "evidence")
	if err := removeDemoEvidence(evDir); err != nil {
		return err
	}
	token, err := demoTokenFunc()
	if err != nil {
		return err
	}
	// The capture as Kubeshark records it with every pod targeted: the
	// packets between two pods twice, which the analysis folds.
	hub, err := standin.NewHub(standin.Options{Token: token, Doubled: true})
	if err != nil {
		return fmt.Errorf("start the Kubeshark stand-in: %w", err)
	}
	defer hub.Close()
	from, to := hub.Window()
	command := append([]string{"flowproof", "demo"}, args...)
	req := kubeshark.Request{
		Endpoint: kubeshark.Endpoint{
			Serve: func(ctx context.Context, stdin io.Reader, stdout io.Writer) error {
				return standin.ServeCLI(ctx, stdin, stdout, standin.CLIOptions{URL: hub.URL, Token: token})
			},
			Token: token,
		},
		HubURL:          hub.URL,
		Window:          kubeshark.Window{From: from, To: to},
		WindowText:      "the stand-in's capture",
		Dir:             evDir,
		Session:         kubeshark.SessionOptions{CallTimeout: 30 * time.Second},
		PollInterval:    10 * time.Millisecond,
		Command:         command,
		ToolName:        "flowproof",
		ToolVersion:     version(),
		SnapshotTimeout: time.Minute,
		PerNode:         *perNode,
	}
	if !o.quiet { // --quiet silences the whole pipeline
		req.Log = func(format string, args ...any) {
			fmt.Fprintf(stderr, "flowproof demo: "+format+"\n", args...)
		}
	}
	if _, err := doPull(ctx, req, stdout); err != nil {
		return err
	}
	return analyzeRun(ctx, o, []string{evDir}, command, stdout, stderr)
}

// demoTokenFunc makes the demo's token; tests replace it to look for it.
var demoTokenFunc = demoToken

// demoToken is a one-off Hub token: the demo shows that a gated Hub works
// and that the token is never written anywhere.
func demoToken() (string, error) {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return "demo-" + hex.EncodeToString(b), nil
}

// removeDemoEvidence clears the evidence an earlier demo pulled from the
// built-in stand-in, and refuses to touch anything else.
func removeDemoEvidence(dir string) error {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) || (err == nil && len(entries) == 0) {
		return nil
	}
	ev, err := evidence.Open(dir)
	if err != nil || ev.Manifest.Kubeshark.Transport != "in-process" {
		return fmt.Errorf("%s exists and is not the evidence of an earlier demo: remove it or choose another -o", dir)
	}
	return os.RemoveAll(dir)
}
