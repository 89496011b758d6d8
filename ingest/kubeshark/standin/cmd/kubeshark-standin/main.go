// Command kubeshark-standin stands in for the Kubeshark CLI's MCP server in
// tests: "kubeshark-standin mcp --url URL" behaves like "kubeshark mcp --url
// URL" (stdio, proxying to a Hub), and "kubeshark-standin hub" serves a fake
// Hub on a loopback port and prints its URL.
//
//	kubeshark-standin mcp --url URL [--token T] [--exit-on TOOL] [--slow-on TOOL --slow 2s]
//	                      [--malformed-on TOOL] [--oversize-on TOOL --oversize-bytes N]
//	kubeshark-standin hub [--dialect snapshot|export_pcap] [--token T]
//
// The token may also come from KUBESHARK_HUB_TOKEN, as for the real CLI.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"

	"github.com/flowproof/flowproof/ingest/kubeshark/standin"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: kubeshark-standin mcp --url URL | hub")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	switch os.Args[1] {
	case "mcp":
		os.Exit(runMCP(ctx, os.Args[2:]))
	case "hub":
		os.Exit(runHub(ctx, os.Args[2:]))
	}
	fmt.Fprintf(os.Stderr, "kubeshark-standin: unknown command %q\n", os.Args[1])
	os.Exit(2)
}

func runMCP(ctx context.Context, args []string) int {
	fs := flag.NewFlagSet("mcp", flag.ContinueOnError)
	var o standin.CLIOptions
	fs.StringVar(&o.URL, "url", "", "Kubeshark front URL")
	fs.StringVar(&o.Token, "token", os.Getenv("KUBESHARK_HUB_TOKEN"), "Hub token")
	fs.StringVar(&o.Faults.ExitOn, "exit-on", "", "exit when this tool is called")
	fs.StringVar(&o.Faults.SlowOn, "slow-on", "", "answer this tool after --slow")
	fs.DurationVar(&o.Faults.Slow, "slow", 0, "delay for --slow-on")
	fs.StringVar(&o.Faults.MalformedOn, "malformed-on", "", "answer this tool with malformed JSON")
	fs.StringVar(&o.Faults.OversizeOn, "oversize-on", "", "pad this tool's answer to --oversize-bytes")
	fs.IntVar(&o.Faults.OversizeBytes, "oversize-bytes", 0, "size for --oversize-on")
	fs.StringVar(&o.Faults.FileURL, "file-url", "", "get_file_url answers this URL (hostile)")
	fs.StringVar(&o.Faults.DownloadClaims, "download-claims", "", "download_file writes nothing and claims it wrote this path (hostile)")
	fs.StringVar(&o.Faults.DownloadLink, "download-link", "", "download_file puts a link to this path where it was asked (hostile)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if o.URL == "" {
		fmt.Fprintln(os.Stderr, "[kubeshark-mcp] --url is required")
		return 1
	}
	o.Stderr = os.Stderr
	if err := standin.ServeCLI(ctx, os.Stdin, os.Stdout, o); err != nil {
		return 1 // ServeCLI has logged why
	}
	return 0
}

func runHub(ctx context.Context, args []string) int {
	fs := flag.NewFlagSet("hub", flag.ContinueOnError)
	var o standin.Options
	fs.StringVar(&o.Dialect, "dialect", standin.Snapshot, "snapshot or export_pcap")
	fs.StringVar(&o.Token, "token", os.Getenv("KUBESHARK_HUB_TOKEN"), "require this token")
	fs.BoolVar(&o.Doubled, "doubled", false, "serve the capture as Kubeshark records it with every pod targeted: packets between pods twice")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	h, err := standin.NewHub(o)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer h.Close()
	fmt.Printf("hub %s\nmcp %s\n", h.URL, h.MCPURL)
	<-ctx.Done()
	return 0
}
