package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/flowproof/flowproof/ingest/kubeshark"
	"github.com/flowproof/flowproof/pipeline"
	"github.com/flowproof/flowproof/pipeline/mcpserver"
)

const mcpUsage = `Usage: flowproof mcp --root DIR [--root DIR ...] [flags]

Serves flowproof to an AI agent over the Model Context Protocol: the tools
analyze, pull_and_analyze, findings, summary, query_flows and verify, and
each output directory's report.md and manifest.json as resources. Every path
a tool receives must lie inside a --root (symbolic links evaluated). Every
call is appended to the output directory's audit.jsonl.

Transports: stdio (the default: the agent host starts this command), or
streamable HTTP at http://ADDR/mcp with --listen ADDR. Over HTTP the bearer
token in ` + envMCPToken + ` is asked of every request; it is required
when ADDR is not a loopback address.

pull_and_analyze uses the Kubeshark connection given here (--mcp-command or
--mcp-url, --hub-url, KUBESHARK_* environment variables, as for pull); the
agent chooses only the selection and the window.

Flags:
`

// mcpPullFlags are pull's flags that configure the server's own Kubeshark
// connection and limits; the selection and window are the agent's.
var mcpPullFlags = []string{"mcp-url", "mcp-command", "hub-url", "token", "kfl", "nodes", "per-node", "dialect", "timeout", "snapshot-timeout",
	"download-timeout", "header-timeout", "idle-timeout", "trust-origin", "poll", "max-response", "max-capture", "group-readable"}

// mcpStdin is the stdio transport's input; tests replace it.
var mcpStdin io.Reader = os.Stdin

func runMCP(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("mcp", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var rootDirs stringList
	fs.Var(&rootDirs, "root", "`directory` the tools may read and write in (repeatable, required)")
	listen := fs.String("listen", "", "serve streamable HTTP MCP on `ADDR` (host:port) at /mcp instead of stdio")
	jobs := fs.Int("jobs", pipeline.DefaultJobs(), "captures analyzed at once in each analysis")
	maxRows := fs.Int("max-rows", mcpserver.DefaultMaxRows, "rows query_flows and query_l7 return at most")
	var withL7 bool
	registerL7(fs, &withL7, "analyses write flows only (analyze --no-l7): no http.parquet or dns.parquet for query_l7 and no L7 cross-check")
	maxAnswer := byteSize(mcpserver.DefaultMaxAnswerBytes)
	fs.Var(&maxAnswer, "max-answer", "cap on one tool answer (bytes, or with KiB/MiB)")
	maxAnalyses := fs.Int("max-analyses", mcpserver.DefaultMaxAnalyses, "analyses and pulls running at once; others wait")
	var po pullOptions
	pfs := flag.NewFlagSet("pull", flag.ContinueOnError)
	po.register(pfs, false)
	for _, name := range mcpPullFlags {
		f := pfs.Lookup(name)
		fs.Var(f.Value, name, f.Usage)
	}
	fs.Usage = func() {
		fmt.Fprint(stderr, mcpUsage)
		fs.PrintDefaults()
	}
	rest, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return &usageError{fmt.Sprintf("mcp takes no arguments, got %q (did you mean --root?)", rest)}
	}
	if len(rootDirs) == 0 {
		return &usageError{"no --root: name the directories the tools may use (captures in, outputs out)"}
	}
	if *jobs <= 0 || *maxRows <= 0 || *maxAnalyses <= 0 {
		return &usageError{"--jobs, --max-rows and --max-analyses must be positive"}
	}
	po.noteSet(fs)
	po.quiet = true
	env := readKubesharkEnv(nil)
	o := mcpserver.Options{
		Roots:          rootDirs,
		Analysis:       pipeline.Options{Jobs: *jobs, L7: withL7, Version: version()},
		Version:        version(),
		MaxRows:        *maxRows,
		MaxAnswerBytes: int(maxAnswer),
		MaxAnalyses:    *maxAnalyses,
		ErrorLog:       log.New(stderr, "flowproof mcp: ", 0),
	}
	if env.MCPURL != "" || env.MCPCommand != "" || po.set["mcp-url"] || po.set["mcp-command"] {
		// Check the connection settings now, not at the agent's first call.
		if _, err := po.request(env, "check", nil, io.Discard); err != nil {
			return err
		}
		o.Pull = func(p mcpserver.PullParams) (kubeshark.Request, error) {
			q := po
			q.ns, q.pod, q.svc, q.bpf = p.Namespace, p.Pod, p.Service, p.BPF
			q.since, q.from, q.to = p.Since, p.From, p.To
			return q.request(env, p.Dir, p.Command, io.Discard)
		}
	}
	srv, err := mcpserver.New(o)
	if err != nil {
		return &usageError{err.Error()}
	}
	if *listen == "" {
		return srv.ServeStdio(ctx, mcpStdin, stdout)
	}
	token := readMCPEnv(nil).Token
	if token == "" && !loopback(*listen) {
		return &usageError{fmt.Sprintf("--listen %s is reachable from other machines: set %s to a bearer token the clients must send (or listen on 127.0.0.1)", *listen, envMCPToken)}
	}
	return serveMCPHTTP(ctx, srv, *listen, token, stderr)
}

// loopback reports whether a listen address only accepts local clients.
func loopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// serveMCPHTTP serves until ctx is canceled.
func serveMCPHTTP(ctx context.Context, srv *mcpserver.Server, addr, token string, stderr io.Writer) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.Handle("/mcp", srv.HTTPHandler(token))
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, ErrorLog: log.New(stderr, "flowproof mcp: ", 0)}
	fmt.Fprintf(stderr, "flowproof mcp: serving streamable HTTP MCP on http://%s/mcp\n", ln.Addr())
	done := make(chan struct{})
	go func() {
		defer close(done)
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = hs.Shutdown(sctx)
	}()
	err = hs.Serve(ln)
	if errors.Is(err, http.ErrServerClosed) {
		<-done
		return nil
	}
	return err
}
