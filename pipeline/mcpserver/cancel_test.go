package mcpserver_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/flowproof/flowproof/analyze"
	"github.com/flowproof/flowproof/ingest"
	"github.com/flowproof/flowproof/pipeline/mcpserver"
)

// slowProgress slows every analysis down (1 ms every 100 packets) and
// counts the packets read, so that a test can cancel one in the middle of
// its capture and see where it stopped.
type slowProgress struct{ read atomic.Int64 }

func (*slowProgress) Run(int) {}
func (p *slowProgress) Start(_ int, _ string, c *ingest.Capture) analyze.PacketSource {
	return &slowSource{src: c, p: p}
}
func (*slowProgress) Finish(int)  {}
func (*slowProgress) Warn(string) {}
func (*slowProgress) Stop()       {}

type slowSource struct {
	src analyze.PacketSource
	p   *slowProgress
}

func (s *slowSource) Next(pk *ingest.Packet) error {
	if s.p.read.Add(1)%100 == 0 {
		time.Sleep(time.Millisecond)
	}
	return s.src.Next(pk)
}

const bulkPackets = 100_000 // about 1 s to read with slowProgress

// waitPackets waits for a progress notification that counts packets: the
// analysis is then inside its capture.
func waitPackets(t *testing.T, p *progressLog) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		for _, n := range p.all() {
			if strings.HasSuffix(n.Message, " packets") {
				return
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatal("no progress notification counting packets")
}

// assertNothingCommitted checks that a canceled analysis left no output
// that looks complete, nor a temporary file.
func assertNothingCommitted(t *testing.T, out string, slow *slowProgress) {
	t.Helper()
	if n := slow.read.Load(); n >= bulkPackets {
		t.Errorf("all %d packets were read: the cancel did not stop the analysis", n)
	}
	entries, _ := os.ReadDir(out)
	for _, e := range entries {
		t.Errorf("%s left in the canceled output", e.Name())
	}
}

// syncAnalysis runs a small analysis on a server that runs one at a time:
// when it returns, the analysis before it has ended.
func syncAnalysis(t *testing.T, cs *sdk.ClientSession, out string) {
	t.Helper()
	text, isErr := callTool(t, context.Background(), cs, "analyze", map[string]any{"inputs": []string{"gen"}, "output_dir": out}, nil)
	if isErr {
		t.Fatalf("analyze after the cancel: %s", text)
	}
}

// TestCancel cancels an analysis in the middle of its capture, over both
// transports and in both protocol eras (the go-sdk sends
// notifications/cancelled up to 2025-11-25, and closes the request's stream
// in 2026-07-28): the call ends with an error, the analysis stops within a
// few thousand packets, and the output directory holds nothing; the server
// goes on serving.
func TestCancel(t *testing.T) {
	for _, tr := range transports {
		for _, version := range []string{"2025-11-25", ""} {
			t.Run(tr.name+"-"+cmpOr(version, "latest"), func(t *testing.T) {
				root := newRoot(t)
				writeBulk(t, filepath.Join(root, "big"))
				slow := &slowProgress{}
				s := newServer(t, mcpserver.Options{Roots: []string{root}, MaxAnalyses: 1, Analysis: pipelineOptions(slow)})
				prog := newProgressLog()
				var ts *httptest.Server
				var cs *sdk.ClientSession
				if tr.name == "http" {
					ts = serveHTTP(t, s)
					cs = dialHTTP(t, ts, newClient(prog), version)
				} else {
					cs = connectStdio(t, s, newClient(prog), version)
				}
				ctx, cancel := context.WithCancel(context.Background())
				done := make(chan error, 1)
				go func() {
					p := &sdk.CallToolParams{Name: "analyze", Arguments: map[string]any{"inputs": []string{"big"}, "output_dir": "canceled"}}
					p.SetProgressToken("c")
					_, err := cs.CallTool(ctx, p)
					done <- err
				}()
				waitPackets(t, prog)
				cancel()
				if err := <-done; err == nil {
					t.Error("the canceled call succeeded")
				}
				if ts != nil {
					// In 2026-07-28 mcp-go answers the go-sdk's
					// notifications/cancelled with 400 Bad Request, and the
					// go-sdk fails the session's next call with it: a new
					// client does the next call.
					cs = dialHTTP(t, ts, newClient(nil), version)
				}
				syncAnalysis(t, cs, "after")
				assertNothingCommitted(t, filepath.Join(root, "canceled"), slow)
				t.Logf("protocol %s: %d of %d packets read", cs.InitializeResult().ProtocolVersion, slow.read.Load()-168, bulkPackets)
			})
		}
	}
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// TestDisconnect: a client that goes away in the middle of an analysis
// (stdio: its pipes close; HTTP: its connection closes) cancels it; nothing
// is committed and the server serves the next client.
func TestDisconnect(t *testing.T) {
	t.Run("stdio", func(t *testing.T) {
		root := newRoot(t)
		writeBulk(t, filepath.Join(root, "big"))
		slow := &slowProgress{}
		s := newServer(t, mcpserver.Options{Roots: []string{root}, MaxAnalyses: 1, Analysis: pipelineOptions(slow)})
		cr, sw := io.Pipe()
		sr, cw := io.Pipe()
		served := make(chan error, 1)
		go func() {
			served <- s.ServeStdio(context.Background(), sr, sw)
			sw.Close()
		}()
		prog := newProgressLog()
		cs, err := newClient(prog).Connect(context.Background(), &sdk.IOTransport{Reader: cr, Writer: cw}, nil)
		if err != nil {
			t.Fatal(err)
		}
		go func() {
			p := &sdk.CallToolParams{Name: "analyze", Arguments: map[string]any{"inputs": []string{"big"}, "output_dir": "gone"}}
			p.SetProgressToken(1)
			cs.CallTool(context.Background(), p)
		}()
		waitPackets(t, prog)
		cw.Close() // the host killed the client: stdin ends
		cr.Close()
		select {
		case err := <-served:
			if err != nil && !strings.Contains(err.Error(), "closed pipe") {
				t.Errorf("ServeStdio: %v", err)
			}
		case <-time.After(20 * time.Second):
			t.Fatal("ServeStdio still runs after its client went away")
		}
		assertNothingCommitted(t, filepath.Join(root, "gone"), slow)
		cs2 := connectStdio(t, s, newClient(nil), "")
		syncAnalysis(t, cs2, "after")
	})
	// The HTTP client ends its session (DELETE) or loses its connection,
	// in both protocol eras.
	for _, c := range []struct {
		name, version string
		leave         func(cs *sdk.ClientSession, ts *httptest.Server)
	}{
		// The go-sdk's Close waits for the calls in flight before it sends
		// its DELETE: send one as a client that quits would.
		{"http-delete", "2025-11-25", func(cs *sdk.ClientSession, ts *httptest.Server) {
			req, _ := http.NewRequest(http.MethodDelete, ts.URL+"/mcp", nil)
			req.Header.Set("Authorization", "Bearer "+testToken)
			req.Header.Set("Mcp-Session-Id", cs.ID())
			req.Header.Set("Mcp-Protocol-Version", "2025-11-25")
			resp, err := http.DefaultClient.Do(req)
			if err != nil || resp.StatusCode != http.StatusOK {
				t.Errorf("DELETE: %v %v", resp, err)
			}
		}},
		{"http-connection-lost", "2025-11-25", func(_ *sdk.ClientSession, ts *httptest.Server) { ts.CloseClientConnections() }},
		{"http-connection-lost-2026", "", func(_ *sdk.ClientSession, ts *httptest.Server) { ts.CloseClientConnections() }},
	} {
		t.Run(c.name, func(t *testing.T) {
			root := newRoot(t)
			writeBulk(t, filepath.Join(root, "big"))
			slow := &slowProgress{}
			s := newServer(t, mcpserver.Options{Roots: []string{root}, MaxAnalyses: 1, Analysis: pipelineOptions(slow)})
			prog := newProgressLog()
			ts := serveHTTP(t, s)
			cs := dialHTTP(t, ts, newClient(prog), c.version)
			go func() {
				p := &sdk.CallToolParams{Name: "analyze", Arguments: map[string]any{"inputs": []string{"big"}, "output_dir": "gone"}}
				p.SetProgressToken(1)
				cs.CallTool(context.Background(), p)
			}()
			waitPackets(t, prog)
			c.leave(cs, ts)
			syncAnalysis(t, dialHTTP(t, ts, newClient(nil), c.version), "after")
			assertNothingCommitted(t, filepath.Join(root, "gone"), slow)
		})
	}
}
