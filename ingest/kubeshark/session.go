package kubeshark

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"regexp"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/flowproof/flowproof/provenance"
	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/client/transport"
	"github.com/mark3labs/mcp-go/mcp"
)

// Endpoint says how to reach an MCP server: exactly one of URL, Command and
// Serve is set.
type Endpoint struct {
	// URL is an MCP endpoint over streamable HTTP.
	URL string
	// Command is the argv of an MCP server that speaks stdio, such as
	// {"kubeshark", "mcp", "--url", "https://…"}. It is run directly, never
	// through a shell.
	Command []string
	// Serve runs an MCP server in this process on the other ends of a pair
	// of pipes, framed exactly as over a spawned process's stdio (the demo's
	// stand-in).
	Serve func(ctx context.Context, stdin io.Reader, stdout io.Writer) error
	// Token is the Hub token. Over HTTP it is sent as X-Kubeshark-Authorization;
	// a spawned server gets it in KUBESHARK_HUB_TOKEN (never on its command
	// line, which other users can read).
	Token string
}

// Transport names the kind of endpoint: "http", "stdio" or "in-process".
func (e Endpoint) Transport() string {
	switch {
	case e.URL != "":
		return "http"
	case len(e.Command) > 0:
		return "stdio"
	case e.Serve != nil:
		return "in-process"
	}
	return ""
}

// Describe names the endpoint for messages and manifests, with secrets
// removed.
func (e Endpoint) Describe() string {
	switch {
	case e.URL != "":
		return provenance.RedactURL(e.URL)
	case len(e.Command) > 0:
		return strings.Join(provenance.RedactArgs(e.Command), " ")
	case e.Serve != nil:
		return "built-in Kubeshark stand-in (in-process, stdio framing)"
	}
	return ""
}

// SessionOptions bound a session.
type SessionOptions struct {
	// CallTimeout bounds initialize, tools/list and each tools/call that is
	// not given its own timeout. Zero means 60 s.
	CallTimeout time.Duration
	// MaxResponseBytes caps every message from the server. Zero means 64 MiB.
	MaxResponseBytes int64
	// ClientName and ClientVersion identify flowproof in initialize.
	ClientName, ClientVersion string
	// StopGrace is how long Close waits for a spawned server to exit after
	// closing its stdin, and again after SIGTERM. Zero means 2 s.
	StopGrace time.Duration
}

func (o *SessionOptions) defaults() {
	if o.CallTimeout <= 0 {
		o.CallTimeout = 60 * time.Second
	}
	if o.MaxResponseBytes <= 0 {
		o.MaxResponseBytes = 64 << 20
	}
	if o.ClientName == "" {
		o.ClientName = "flowproof"
	}
	if o.ClientVersion == "" {
		o.ClientVersion = "dev"
	}
	if o.StopGrace <= 0 {
		o.StopGrace = 2 * time.Second
	}
}

// Session is an initialized MCP connection.
type Session struct {
	ep    Endpoint
	opts  SessionOptions
	red   *Redactor
	c     *client.Client
	rec   *recorder
	srv   *server     // stdio and in-process
	guard *frameGuard // stdio and in-process
	caps  *capTransport

	// ServerName and ServerVersion are the server's serverInfo;
	// ProtocolVersion is what it answered to initialize (Kubeshark answers
	// 2024-11-05 whatever is asked); Instructions its instructions text.
	ServerName, ServerVersion, ProtocolVersion, Instructions string
	// Tools is the server's catalogue, in the server's order.
	Tools []Tool
	// ToolsRaw holds the tools/list results, byte-exact, one per page.
	ToolsRaw [][]byte

	mu sync.Mutex
}

// Dial starts or connects to the MCP server, initializes the session and
// reads its tool catalogue.
func Dial(ctx context.Context, ep Endpoint, opts SessionOptions) (*Session, error) {
	opts.defaults()
	s := &Session{ep: ep, opts: opts, red: NewRedactor(append(secretsIn(ep.Command), ep.Token)...)}
	var tr transport.Interface
	switch ep.Transport() {
	case "http":
		t, err := s.httpTransport()
		if err != nil {
			return nil, err
		}
		tr = t
	case "stdio", "in-process":
		if ep.Serve != nil {
			s.srv = startInProcess(ctx, ep.Serve)
		} else {
			var env []string
			if ep.Token != "" {
				env = append(env, "KUBESHARK_HUB_TOKEN="+ep.Token)
			}
			srv, err := startProcess(ep.Command, env)
			if err != nil {
				return nil, s.startError(err)
			}
			s.srv = srv
		}
		s.guard = newFrameGuard(s.srv.stdout, opts.MaxResponseBytes)
		tr = transport.NewIO(s.guard, s.srv.stdin, nil)
	default:
		return nil, newErr(KindUsage, "connect to Kubeshark", errors.New("no MCP server given"),
			"give --mcp-command (e.g. \"kubeshark mcp --url http://127.0.0.1:8899\") or --mcp-url, or set KUBESHARK_MCP_COMMAND or KUBESHARK_MCP_URL")
	}
	if _, ok := tr.(transport.HTTPConnection); ok {
		s.rec = &recorder{Interface: tr}
		s.c = client.NewClient(&httpRecorder{s.rec}, client.WithProtocolVersion(mcp.LATEST_LEGACY_PROTOCOL_VERSION))
	} else {
		s.rec = &recorder{Interface: tr}
		s.c = client.NewClient(s.rec, client.WithProtocolVersion(mcp.LATEST_LEGACY_PROTOCOL_VERSION))
	}
	if err := s.c.Start(ctx); err != nil {
		s.Close()
		return nil, s.red.Error(newErr(KindConnect, "start the MCP session with "+ep.Describe(), err, fixRunning))
	}
	if err := s.initialize(ctx); err != nil {
		s.Close()
		return nil, s.red.Error(err)
	}
	if err := s.listTools(ctx); err != nil {
		s.Close()
		return nil, s.red.Error(err)
	}
	return s, nil
}

func (s *Session) httpTransport() (transport.Interface, error) {
	u, err := url.Parse(s.ep.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, newErr(KindUsage, "MCP URL "+provenance.RedactURL(s.ep.URL), errors.New("not an http(s) URL"),
			"give the MCP endpoint as http://HOST:PORT/PATH")
	}
	s.caps = &capTransport{base: http.DefaultTransport}
	s.caps.max.Store(s.opts.MaxResponseBytes)
	hc := &http.Client{
		Transport: s.caps,
		// A redirect from a gated Hub is a login page, not an answer
		// (Kubeshark's CLI treats 302/303 as "authentication required").
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	opts := []transport.StreamableHTTPCOption{
		transport.WithHTTPBasicClient(hc),
		transport.WithHTTPLogger(slog.New(slog.DiscardHandler)),
	}
	if s.ep.Token != "" {
		opts = append(opts, transport.WithHTTPHeaders(map[string]string{"X-Kubeshark-Authorization": s.ep.Token}))
	}
	t, err := transport.NewStreamableHTTP(s.ep.URL, opts...)
	if err != nil {
		return nil, newErr(KindUsage, "MCP URL "+provenance.RedactURL(s.ep.URL), err, "give the MCP endpoint as http://HOST:PORT/PATH")
	}
	return t, nil
}

func (s *Session) startError(err error) error {
	fix := "check --mcp-command / KUBESHARK_MCP_COMMAND"
	if errors.Is(err, exec.ErrNotFound) {
		fix = "install the Kubeshark CLI (https://docs.kubeshark.com/en/install) or give its full path in --mcp-command / KUBESHARK_MCP_COMMAND"
	}
	return s.red.Error(newErr(KindConnect, "start the MCP server "+s.ep.Describe(), err, fix))
}

func (s *Session) initialize(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, s.opts.CallTimeout)
	defer cancel()
	var req mcp.InitializeRequest
	req.Params.ClientInfo = mcp.Implementation{Name: s.opts.ClientName, Version: s.opts.ClientVersion}
	res, err := s.c.Initialize(ctx, req)
	if err != nil {
		var uv mcp.UnsupportedProtocolVersionError
		if errors.As(err, &uv) {
			return newErr(KindProtocol, "initialize", err, "the server answered a protocol version this client does not know; Kubeshark's server answers 2024-11-05")
		}
		return s.mapErr(ctx, "initialize", err)
	}
	s.ServerName, s.ServerVersion = res.ServerInfo.Name, res.ServerInfo.Version
	s.ProtocolVersion, s.Instructions = res.ProtocolVersion, res.Instructions
	return nil
}

// limit lowers the cap on the server's messages until the returned
// function puts it back.
func (s *Session) limit(max int64) func() {
	switch {
	case s.guard != nil:
		s.guard.max.Store(max)
		return func() { s.guard.max.Store(s.opts.MaxResponseBytes) }
	case s.caps != nil:
		s.caps.max.Store(max)
		return func() { s.caps.max.Store(s.opts.MaxResponseBytes) }
	}
	return func() {}
}

// maxToolsList caps the tools/list answer: a real catalogue is tens of KiB,
// and its schemas decode into maps that cost many times their size.
const maxToolsList = 4 << 20

func (s *Session) listTools(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, s.opts.CallTimeout)
	defer cancel()
	defer s.limit(min(s.opts.MaxResponseBytes, maxToolsList))()
	s.rec.start(true)
	res, err := s.c.ListTools(ctx, mcp.ListToolsRequest{})
	s.ToolsRaw = s.rec.all()
	if err != nil {
		return s.mapErr(ctx, "tools/list", err)
	}
	for _, t := range res.Tools {
		s.Tools = append(s.Tools, toolFromMCP(t))
	}
	return nil
}

// Tool returns the named tool of the catalogue.
func (s *Session) Tool(name string) (Tool, bool) {
	for _, t := range s.Tools {
		if t.Name == name {
			return t, true
		}
	}
	return Tool{}, false
}

// Has reports whether the server offers every named tool.
func (s *Session) Has(names ...string) bool {
	for _, n := range names {
		if _, ok := s.Tool(n); !ok {
			return false
		}
	}
	return true
}

// ToolNames returns the catalogue's tool names, sorted.
func (s *Session) ToolNames() []string {
	var names []string
	for _, t := range s.Tools {
		names = append(names, t.Name)
	}
	sort.Strings(names)
	return names
}

// Call runs one tool. timeout 0 means the session's CallTimeout. A result
// that says isError is returned with IsError set and a nil error: the caller
// decides what it means. A missing answer, a JSON-RPC error or a result that
// is not a tool result is an *Error.
func (s *Session) Call(ctx context.Context, name string, args map[string]any, timeout time.Duration) (*Result, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if timeout <= 0 {
		timeout = s.opts.CallTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	op := "tools/call " + name
	var req mcp.CallToolRequest
	req.Params.Name = name
	if args == nil {
		args = map[string]any{} // "arguments": {} rather than absent, for strict servers
	}
	req.Params.Arguments = args
	started := time.Now()
	s.rec.start(false)
	_, err := s.c.CallTool(ctx, req)
	raws := s.rec.all()
	resp := s.rec.lastResponse()
	if resp != nil && resp.Error == nil && len(raws) > 0 {
		// Parse the bytes ourselves: they are the evidence, and mcp-go's
		// parser rejects content types it does not know.
		r, perr := parseResult(raws[len(raws)-1])
		if perr != nil {
			return nil, s.red.Error(newErr(KindProtocol, op, perr, "the server's answer is not an MCP tool result"))
		}
		r.Tool, r.Args, r.Started, r.Duration = name, args, started, time.Since(started)
		return r, nil
	}
	if resp != nil && resp.Error != nil {
		return nil, s.red.Error(s.rpcError(op, resp.Error))
	}
	return nil, s.red.Error(s.mapErr(ctx, op, err, timeout))
}

func (s *Session) rpcError(op string, e *mcp.JSONRPCErrorDetails) error {
	err := fmt.Errorf("JSON-RPC error %d: %s", e.Code, excerpt(e.Message, 300))
	switch e.Code {
	case mcp.METHOD_NOT_FOUND:
		return newErr(KindToolMissing, op, err, "the server does not know this call; it offers: "+strings.Join(s.ToolNames(), ", "))
	case mcp.INVALID_PARAMS:
		return newErr(KindToolError, op, err, "the server rejected the arguments; its tools/list schema is recorded in kubeshark/tools.json")
	}
	return newErr(KindToolError, op, err, "see the server's logs")
}

// mapErr turns a failed call into an *Error with a fix.
func (s *Session) mapErr(ctx context.Context, op string, err error, timeout ...time.Duration) error {
	if s.guard != nil {
		if gerr := s.guard.Err(); gerr != nil {
			return gerr
		}
	}
	if s.caps != nil {
		if cerr := s.caps.Err(); cerr != nil {
			return newErr(KindTooLarge, op, cerr, "ask for less (a narrower window or a filter), or raise --max-response")
		}
	}
	// A server that exits at once (the CLI refusing a URL that wants a
	// token) fails the next write with EPIPE, or with os.ErrClosed once
	// exec.Cmd.Wait has closed our end of its stdin.
	gone := errors.Is(err, transport.ErrTransportClosed) || errors.Is(err, syscall.EPIPE) ||
		errors.Is(err, io.ErrClosedPipe) || errors.Is(err, os.ErrClosed)
	if s.srv != nil && (gone || s.srv.exited(0)) {
		if s.srv.exited(time.Second) {
			cause := errors.New("the MCP server ended during the call: " + s.srv.describeExit())
			if low := strings.ToLower(s.srv.stderr.lastLines(5)); reAuth.MatchString(low) {
				return newErr(KindAuth, op, cause, fixToken)
			}
			return newErr(KindServerExited, op, cause, fixRunning)
		}
		return newErr(KindServerExited, op, errors.New("the MCP server closed its stdout"), "see its logs; "+fixRunning)
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(ctx.Err(), context.DeadlineExceeded) {
		d := s.opts.CallTimeout
		if len(timeout) > 0 {
			d = timeout[0]
		}
		return newErr(KindTimeout, op, fmt.Errorf("no answer within %v", d),
			"the server or the Hub behind it is slow or stuck; check it ("+fixRunning+"), or raise --timeout (Kubeshark's CLI itself gives the Hub 30 s per call)")
	}
	if errors.Is(err, context.Canceled) {
		return newErr(KindTimeout, op, err, "interrupted")
	}
	var authErr *transport.AuthorizationRequiredError
	if errors.As(err, &authErr) || errors.Is(err, transport.ErrAuthorizationRequired) || errors.Is(err, transport.ErrUnauthorized) {
		fix := fixToken
		if s.ep.Token == "" {
			fix = "no token was given; " + fixToken
		}
		return newErr(KindAuth, op+" at "+provenance.RedactURL(s.ep.URL), errors.New("HTTP 401 Unauthorized"), fix)
	}
	if errors.Is(err, transport.ErrLegacySSEServer) {
		return newErr(KindConnect, op+" at "+provenance.RedactURL(s.ep.URL), errors.New("the URL answered initialize with an HTTP 4xx error: it is not a streamable HTTP MCP endpoint"),
			"check --mcp-url (the real Kubeshark serves MCP only over stdio: use --mcp-command \"kubeshark mcp --url <front URL>\")")
	}
	if errors.Is(err, transport.ErrSessionTerminated) {
		return newErr(KindServerExited, op, errors.New("the HTTP MCP server ended the session (404)"), "the server restarted or dropped the session; retry")
	}
	var opErr *net.OpError
	var dnsErr *net.DNSError
	if errors.Is(err, syscall.ECONNREFUSED) || errors.As(err, &dnsErr) || (errors.As(err, &opErr) && opErr.Op == "dial") {
		return newErr(KindConnect, op+" at "+provenance.RedactURL(s.ep.URL), rootCause(err), fixRunning)
	}
	if strings.Contains(err.Error(), "unexpected content type") {
		return newErr(KindProtocol, op+" at "+provenance.RedactURL(s.ep.URL), rootCause(err), "the URL did not answer as a streamable HTTP MCP endpoint; check --mcp-url")
	}
	var synErr *json.SyntaxError
	if errors.As(err, &synErr) || strings.Contains(err.Error(), "failed to decode response") || strings.Contains(err.Error(), "unmarshal") {
		return newErr(KindProtocol, op, fmt.Errorf("the answer is not valid JSON-RPC (malformed or cut off): %w", rootCause(err)), "check the server (or a proxy in front of it), then retry")
	}
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET) || strings.Contains(err.Error(), "connection reset") {
		return newErr(KindServerExited, op, errors.New("the server closed the connection without an answer"), "it may have crashed or restarted: check its logs, then retry; "+fixRunning)
	}
	return newErr(KindConnect, op, err, fixRunning)
}

// reAuth recognises authentication failures in a server's messages.
var reAuth = regexp.MustCompile(`\b(401|403)\b|unauthori[sz]ed|authentication|forbidden`)

// rootCause unwraps to the innermost error, whose message is the useful one.
func rootCause(err error) error {
	for {
		u := errors.Unwrap(err)
		if u == nil {
			return err
		}
		err = u
	}
}

// Close ends the session and stops a spawned server.
func (s *Session) Close() error {
	if s.c != nil {
		s.c.Close()
	}
	if s.srv != nil {
		s.srv.stop(s.opts.StopGrace)
	}
	return nil
}

// recorder keeps the raw result bytes of the responses to our requests, so
// that evidence is saved exactly as the server sent it.
type recorder struct {
	transport.Interface
	mu    sync.Mutex
	multi bool
	raws  [][]byte
	last  *transport.JSONRPCResponse
}

func (r *recorder) start(multi bool) {
	r.mu.Lock()
	r.multi, r.raws, r.last = multi, nil, nil
	r.mu.Unlock()
}

func (r *recorder) all() [][]byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.raws
}

func (r *recorder) lastResponse() *transport.JSONRPCResponse {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.last
}

func (r *recorder) SendRequest(ctx context.Context, req transport.JSONRPCRequest) (*transport.JSONRPCResponse, error) {
	resp, err := r.Interface.SendRequest(ctx, req)
	if err == nil && resp != nil && (req.Method == string(mcp.MethodToolsCall) || req.Method == string(mcp.MethodToolsList)) {
		r.mu.Lock()
		r.last = resp
		if resp.Error == nil {
			raw := append([]byte(nil), resp.Result...)
			if r.multi {
				r.raws = append(r.raws, raw)
			} else {
				r.raws = [][]byte{raw}
			}
		}
		r.mu.Unlock()
	}
	return resp, err
}

// SendNotification sends a notification. A server that answers a
// notification with an HTTP error status (as Kubeshark's server answers
// notifications other than initialized with an error reply) does not fail
// the session: notifications have no answer to wait for.
func (r *recorder) SendNotification(ctx context.Context, n mcp.JSONRPCNotification) error {
	err := r.Interface.SendNotification(ctx, n)
	if err != nil && strings.Contains(err.Error(), "notification failed with status") {
		return nil
	}
	return err
}

// SetRequestHandler lets mcp-go answer the server's own requests (ping).
func (r *recorder) SetRequestHandler(h transport.RequestHandler) {
	if b, ok := r.Interface.(transport.BidirectionalInterface); ok {
		b.SetRequestHandler(h)
	}
}

// httpRecorder is a recorder over HTTP: mcp-go tells an HTTP transport the
// negotiated protocol version, which it sends as a header.
type httpRecorder struct{ *recorder }

func (h *httpRecorder) SetProtocolVersion(v string) {
	if c, ok := h.Interface.(transport.HTTPConnection); ok {
		c.SetProtocolVersion(v)
	}
}

// capTransport caps every HTTP response body.
type capTransport struct {
	base http.RoundTripper
	max  atomic.Int64
	mu   sync.Mutex
	err  error
}

var errTooLarge = errors.New("response too large")

func (t *capTransport) Err() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.err
}

func (t *capTransport) exceeded(n int64) error {
	err := fmt.Errorf("%w: more than the %d-byte cap (%s)", errTooLarge, t.max.Load(), sizeText(n))
	t.mu.Lock()
	if t.err == nil {
		t.err = err
	}
	t.mu.Unlock()
	return err
}

func (t *capTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.base.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	max := t.max.Load()
	if resp.ContentLength > max {
		resp.Body.Close()
		return nil, t.exceeded(resp.ContentLength)
	}
	resp.Body = &capBody{rc: resp.Body, left: max, t: t}
	return resp, nil
}

type capBody struct {
	rc   io.ReadCloser
	left int64
	read int64
	t    *capTransport
}

func (b *capBody) Read(p []byte) (int, error) {
	if b.left <= 0 {
		var one [1]byte
		n, err := b.rc.Read(one[:])
		if n > 0 {
			return 0, b.t.exceeded(b.read + 1)
		}
		return 0, err
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.rc.Read(p)
	b.left -= int64(n)
	b.read += int64(n)
	return n, err
}

func (b *capBody) Close() error { return b.rc.Close() }

// sizeText formats a byte count for messages.
func sizeText(n int64) string {
	switch {
	case n < 0:
		return "unknown size"
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d bytes", n)
}

// secretsIn returns the values of secret flags in argv (--token X,
// --token=X, --license-key X, ...).
func secretsIn(argv []string) []string {
	var out []string
	for i, a := range argv {
		if !strings.HasPrefix(a, "-") {
			continue
		}
		name, val, hasValue := strings.Cut(a, "=")
		if !provenance.IsSecretName(name) {
			continue
		}
		if hasValue {
			out = append(out, val)
		} else if i+1 < len(argv) {
			out = append(out, argv[i+1])
		}
	}
	return out
}
