package mcpserver_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/flowproof/flowproof/internal/capgen"
	"github.com/flowproof/flowproof/pipeline"
	"github.com/flowproof/flowproof/pipeline/mcpserver"
)

const genDir = "../../testdata/gen"

// copyDir copies the regular files of src into dst.
func copyDir(t *testing.T, src, dst string) {
	t.Helper()
	entries, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(dst, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, e.Name()), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// newRoot is a root holding gen/ (testdata/gen's captures).
func newRoot(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	copyDir(t, genDir, filepath.Join(root, "gen"))
	return root
}

var bulk = sync.OnceValues(func() ([]byte, error) { return capgen.Bulk(bulkPackets) })

// writeBulk writes a capture of bulkPackets packets into dir/big.pcap.
func writeBulk(t *testing.T, dir string) {
	t.Helper()
	b, err := bulk()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "big.pcap"), b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func newServer(t *testing.T, o mcpserver.Options) *mcpserver.Server {
	t.Helper()
	if o.Version == "" {
		o.Version = "test"
	}
	s, err := mcpserver.New(o)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// progressLog collects the progress notifications a client receives.
type progressLog struct {
	mu    sync.Mutex
	items []*sdk.ProgressNotificationParams
	seen  chan struct{} // closed at the first one
	once  sync.Once
}

func newProgressLog() *progressLog { return &progressLog{seen: make(chan struct{})} }

func (p *progressLog) handler(_ context.Context, req *sdk.ProgressNotificationClientRequest) {
	p.mu.Lock()
	p.items = append(p.items, req.Params)
	p.mu.Unlock()
	p.once.Do(func() { close(p.seen) })
}

func (p *progressLog) all() []*sdk.ProgressNotificationParams {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]*sdk.ProgressNotificationParams(nil), p.items...)
}

// transport connects a go-sdk client to the server one way.
type transport struct {
	name    string
	connect func(t *testing.T, s *mcpserver.Server, c *sdk.Client, version string) *sdk.ClientSession
}

var transports = []transport{{"stdio", connectStdio}, {"http", connectHTTP}}

// connectStdio serves s on pipes in this process, as "flowproof mcp" serves
// stdin and stdout, and connects c over them with the go-sdk's IOTransport.
func connectStdio(t *testing.T, s *mcpserver.Server, c *sdk.Client, version string) *sdk.ClientSession {
	t.Helper()
	cr, sw := io.Pipe() // server -> client
	sr, cw := io.Pipe() // client -> server
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- s.ServeStdio(ctx, sr, sw)
		sw.Close()
	}()
	t.Cleanup(func() {
		cw.Close()
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("ServeStdio: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Error("ServeStdio did not return after the client left")
		}
	})
	cs, err := c.Connect(context.Background(), &sdk.IOTransport{Reader: cr, Writer: cw}, &sdk.ClientSessionOptions{ProtocolVersion: version})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cs.Close() })
	return cs
}

// bearer adds a token to every request.
type bearer struct {
	token string
	next  http.RoundTripper
}

func (b bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+b.token)
	return b.next.RoundTrip(r)
}

const testToken = "s3cret-token-for-tests"

// connectHTTP serves s over streamable HTTP with a bearer token on an
// httptest server and connects c with the go-sdk's streamable transport.
func connectHTTP(t *testing.T, s *mcpserver.Server, c *sdk.Client, version string) *sdk.ClientSession {
	t.Helper()
	return dialHTTP(t, serveHTTP(t, s), c, version)
}

func serveHTTP(t *testing.T, s *mcpserver.Server) *httptest.Server {
	ts := httptest.NewServer(s.HTTPHandler(testToken))
	t.Cleanup(ts.Close)
	return ts
}

func dialHTTP(t *testing.T, ts *httptest.Server, c *sdk.Client, version string) *sdk.ClientSession {
	t.Helper()
	tr := &sdk.StreamableClientTransport{Endpoint: ts.URL + "/mcp", HTTPClient: &http.Client{Transport: bearer{testToken, http.DefaultTransport}}, MaxRetries: -1}
	cs, err := c.Connect(context.Background(), tr, &sdk.ClientSessionOptions{ProtocolVersion: version})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cs.Close() })
	return cs
}

func newClient(p *progressLog) *sdk.Client {
	o := &sdk.ClientOptions{}
	if p != nil {
		o.ProgressNotificationHandler = p.handler
	}
	return sdk.NewClient(&sdk.Implementation{Name: "go-sdk-test", Version: "1.8.0"}, o)
}

// callTool calls a tool and returns its text and isError.
func callTool(t *testing.T, ctx context.Context, cs *sdk.ClientSession, name string, args any, progressToken any) (string, bool) {
	t.Helper()
	p := &sdk.CallToolParams{Name: name, Arguments: args}
	if progressToken != nil {
		p.SetProgressToken(progressToken)
	}
	res, err := cs.CallTool(ctx, p)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return resultText(res), res.IsError
}

func resultText(res *sdk.CallToolResult) string {
	var b strings.Builder
	for _, c := range res.Content {
		if tc, ok := c.(*sdk.TextContent); ok {
			b.WriteString(tc.Text)
		}
	}
	return b.String()
}

// decodeAnswer parses a tool's JSON answer.
func decodeAnswer[T any](t *testing.T, text string) T {
	t.Helper()
	var v T
	if err := json.Unmarshal([]byte(text), &v); err != nil {
		t.Fatalf("answer is not JSON: %v\n%s", err, text)
	}
	return v
}

// pipelineOptions is an analysis template with a Progress of the test's.
func pipelineOptions(p pipeline.Progress) pipeline.Options {
	return pipeline.Options{Progress: p, Jobs: 1}
}
