package mcpserver

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/flowproof/flowproof/ingest/kubeshark"
	"github.com/flowproof/flowproof/pipeline"
	"github.com/flowproof/flowproof/provenance"
	"github.com/flowproof/flowproof/report"
)

// Limits of the answers (see the package documentation).
const (
	DefaultLimit          = 50        // query_flows rows when no limit is given
	DefaultMaxRows        = 500       // query_flows rows at most, whatever the limit
	DefaultMaxAnswerBytes = 256 << 10 // bytes of one tool answer at most
	DefaultMaxAnalyses    = 2         // analyses (and pulls) running at once
	maxAuditArgs          = 16 << 10  // arguments recorded in full up to this size, else their hash
)

// Options configure a Server.
type Options struct {
	// Roots are the directories the tools may read and write in; every path
	// a tool receives must resolve inside one. At least one is required.
	Roots []string
	// Analysis is the template of every analysis: flow table, Jobs,
	// cross-check tolerances. Out and Command are set per call; a Progress
	// given here is told of every analysis too (beside the client's
	// progress notifications), from several goroutines at once.
	Analysis pipeline.Options
	// Pull builds the Kubeshark request of pull_and_analyze from the
	// server's own configuration and the selection the agent asked for. The
	// connection (MCP command or URL, Hub URL, token) comes from here only,
	// never from the tool's arguments. Nil: the tool answers that the server
	// has no Kubeshark connection.
	Pull func(PullParams) (kubeshark.Request, error)
	// Version is flowproof's version, in the server info and audit entries.
	Version string
	// MaxRows caps query_flows (0: DefaultMaxRows); MaxAnswerBytes caps
	// every answer (0: DefaultMaxAnswerBytes); MaxAnalyses caps the analyses
	// and pulls running at once (0: DefaultMaxAnalyses), others wait.
	MaxRows, MaxAnswerBytes, MaxAnalyses int
	// ErrorLog receives the transport's errors; nil: log.Default().
	ErrorLog *log.Logger
}

// PullParams are what an agent may choose of a pull: the selection, the
// window and where the result goes.
type PullParams struct {
	Dir                     string // OUTPUT_DIR/evidence, resolved inside a root
	Namespace, Pod, Service string
	BPF, Since, From, To    string
	Command                 []string // what the agent asked, for the evidence manifest
}

// Server is flowproof's MCP server.
type Server struct {
	o        Options
	roots    roots
	mcp      *server.MCPServer
	analyses chan struct{}

	mu    sync.Mutex
	dirs  map[string]*sync.Mutex                  // per output directory: one writer of its files and audit trail at a time
	calls map[string]map[*call]context.CancelFunc // per session ID: the calls running
}

// New checks the options and builds the server with its tools and resources.
func New(o Options) (*Server, error) {
	rs, err := newRoots(o.Roots)
	if err != nil {
		return nil, err
	}
	if o.MaxRows <= 0 {
		o.MaxRows = DefaultMaxRows
	}
	if o.MaxAnswerBytes <= 0 {
		o.MaxAnswerBytes = DefaultMaxAnswerBytes
	}
	if o.MaxAnalyses <= 0 {
		o.MaxAnalyses = DefaultMaxAnalyses
	}
	if o.Version == "" {
		o.Version = "dev"
	}
	s := &Server{o: o, roots: rs, analyses: make(chan struct{}, o.MaxAnalyses), dirs: map[string]*sync.Mutex{},
		calls: map[string]map[*call]context.CancelFunc{}}
	hooks := &server.Hooks{}
	// mcp-go does not cancel the calls of a session that ends (an HTTP
	// client's DELETE, an idle session swept): they are canceled here.
	hooks.AddOnUnregisterSession(func(_ context.Context, sess server.ClientSession) { s.endSession(sess.SessionID()) })
	s.mcp = server.NewMCPServer("flowproof", o.Version,
		server.WithHooks(hooks),
		server.WithToolCapabilities(false),
		server.WithResourceCapabilities(false, true),
		server.WithInstructions(instructions),
	)
	s.addTools()
	s.addResources()
	return s, nil
}

const instructions = `flowproof turns packet captures into checked per-flow evidence. ` +
	`Run analyze (local captures) or pull_and_analyze (from Kubeshark) into an output_dir, ` +
	`then read it with findings, summary and query_flows; verify proves nothing changed. ` +
	`Every path must lie inside the server's roots. Every call is recorded in the output directory's audit.jsonl.`

// MCP is the underlying mcp-go server.
func (s *Server) MCP() *server.MCPServer { return s.mcp }

// ServeStdio serves one client over newline-delimited JSON-RPC on in and
// out until in ends or ctx is canceled. mcp-go keeps one stdio session per
// process: serve one stdio client at a time.
func (s *Server) ServeStdio(ctx context.Context, in io.Reader, out io.Writer) error {
	// mcp-go's Listen returns without waiting for the goroutine that writes
	// notifications and logs their errors (a write to out failing once the
	// caller closed it): gated, the log sees no write after ServeStdio
	// returned. out is not gated: a write blocked on it would hold the gate.
	l := s.errorLog()
	glog := &gatedWriter{w: l.Writer()}
	defer glog.close()
	st := server.NewStdioServer(s.mcp)
	st.SetErrorLogger(log.New(glog, l.Prefix(), l.Flags()))
	err := st.Listen(ctx, in, out)
	if errors.Is(err, io.EOF) || errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}

// gatedWriter passes writes to w until closed, then drops them.
type gatedWriter struct {
	mu     sync.Mutex
	w      io.Writer
	closed bool
}

func (g *gatedWriter) Write(p []byte) (int, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return len(p), nil
	}
	return g.w.Write(p)
}

func (g *gatedWriter) close() {
	g.mu.Lock()
	g.closed = true
	g.mu.Unlock()
}

func (s *Server) errorLog() *log.Logger {
	if s.o.ErrorLog != nil {
		return s.o.ErrorLog
	}
	return log.Default()
}

// maxRequestBody caps an HTTP request's body: mcp-go reads it whole.
const maxRequestBody = 4 << 20

// HTTPHandler serves streamable HTTP MCP at every path. With a token,
// every request must carry "Authorization: Bearer TOKEN" (compared in
// constant time); without one, none is asked. Request bodies over 4 MiB
// are refused.
func (s *Server) HTTPHandler(token string) http.Handler {
	h := server.NewStreamableHTTPServer(s.mcp)
	want := sha256.Sum256([]byte(token))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if token != "" {
			got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
			sum := sha256.Sum256([]byte(got))
			if !ok || subtle.ConstantTimeCompare(sum[:], want[:]) != 1 {
				w.Header().Set("WWW-Authenticate", `Bearer realm="flowproof"`)
				http.Error(w, "flowproof mcp: missing or wrong bearer token", http.StatusUnauthorized)
				return
			}
		}
		if r.ContentLength > maxRequestBody {
			http.Error(w, "flowproof mcp: request body over 4 MiB", http.StatusRequestEntityTooLarge)
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, maxRequestBody)
		h.ServeHTTP(w, r)
	})
}

// track records a running call of a session until the returned func is
// called.
func (s *Server) track(session string, c *call, cancel context.CancelFunc) func() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.calls[session] == nil {
		s.calls[session] = map[*call]context.CancelFunc{}
	}
	s.calls[session][c] = cancel
	return func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		delete(s.calls[session], c)
		if len(s.calls[session]) == 0 {
			delete(s.calls, session)
		}
	}
}

// endSession cancels the calls of a session that ended.
func (s *Server) endSession(session string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, cancel := range s.calls[session] {
		cancel()
	}
}

// dirLock is the lock of one output directory.
func (s *Server) dirLock(dir string) *sync.Mutex {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.dirs[dir]
	if m == nil {
		m = new(sync.Mutex)
		s.dirs[dir] = m
	}
	return m
}

// toolError is a tool's failure, shown to the agent as an isError result.
type toolError struct{ msg string }

func (e *toolError) Error() string { return e.msg }

func errorf(format string, args ...any) error { return &toolError{fmt.Sprintf(format, args...)} }

// call is one tool call as a handler sees it.
type call struct {
	ctx  context.Context
	req  mcp.CallToolRequest
	args map[string]any
	dir  string // the output directory the call is about (resolved), for the audit trail
	n    *notifier
}

// handler runs a tool: it decodes nothing itself but recovers panics,
// turns errors into isError results, caps the answer and appends the
// call to the output directory's audit trail.
func (s *Server) handler(name string, run func(c *call) (any, error)) server.ToolHandlerFunc {
	return func(ctx context.Context, req mcp.CallToolRequest) (res *mcp.CallToolResult, err error) {
		c := &call{req: req}
		var cancel context.CancelFunc
		c.ctx, cancel = context.WithCancel(ctx)
		defer cancel()
		if sess := server.ClientSessionFromContext(ctx); sess != nil && sess.SessionID() != "" {
			defer s.track(sess.SessionID(), c, cancel)()
		}
		ctx = c.ctx
		var answer any
		func() {
			defer func() {
				if r := recover(); r != nil {
					err = errorf("internal error in %s: %v (the server keeps running; please report it)", name, r)
				}
			}()
			c.args, err = rawArgs(req)
			if err == nil {
				answer, err = run(c)
			}
		}()
		var text string
		isError := err != nil
		if isError {
			text = "flowproof " + name + ": " + err.Error()
			if ctx.Err() != nil {
				text = "flowproof " + name + ": canceled: " + err.Error()
			}
		} else {
			b, merr := json.Marshal(answer)
			if merr != nil {
				isError, text = true, "flowproof "+name+": encode the answer: "+merr.Error()
			} else {
				text = string(b)
			}
		}
		if len(text) > s.o.MaxAnswerBytes {
			isError = true
			text = fmt.Sprintf("flowproof %s: the answer is %d bytes, over the %d-byte cap: narrow the request (a section, fewer rows, filters)", name, len(text), s.o.MaxAnswerBytes)
		}
		if aerr := s.audit(c, name, text, isError); aerr != nil {
			isError = true
			text += "\n(not recorded in the audit trail: " + aerr.Error() + ")"
		}
		if isError {
			return mcp.NewToolResultError(text), nil
		}
		return mcp.NewToolResultText(text), nil
	}
}

// audit appends the call to its output directory's audit trail, when the
// directory is an output (it has a manifest).
func (s *Server) audit(c *call, name, answer string, isError bool) error {
	if c.dir == "" {
		return nil
	}
	if _, err := os.Lstat(filepath.Join(c.dir, report.ManifestFile)); err != nil {
		return nil // not an output directory: nothing to append to
	}
	args := redactArgs(c.args)
	argsJSON, _ := json.Marshal(args)
	params := map[string]string{
		"result_sha256": provenance.SHA256Hex([]byte(answer)),
		"result_bytes":  strconv.Itoa(len(answer)),
		"is_error":      strconv.FormatBool(isError),
	}
	if len(argsJSON) > maxAuditArgs {
		params["arguments_sha256"] = provenance.SHA256Hex(argsJSON)
		params["arguments_bytes"] = strconv.Itoa(len(argsJSON))
	} else {
		params["arguments"] = string(argsJSON)
	}
	if sess := server.ClientSessionFromContext(c.ctx); sess != nil {
		if ci, ok := sess.(server.SessionWithClientInfo); ok {
			info := ci.GetClientInfo()
			if info.Name != "" {
				params["client"] = provenance.SafeText(info.Name + " " + info.Version)
			}
		}
	}
	lock := s.dirLock(c.dir)
	lock.Lock()
	defer lock.Unlock()
	_, err := provenance.AppendStep(c.dir, provenance.Step{
		Name:       "mcp:" + name,
		Time:       time.Now(),
		Tool:       provenance.Tool{Name: "flowproof", Version: s.o.Version},
		Command:    []string{"flowproof", "mcp", name},
		Parameters: params,
	})
	return err
}

// rawArgs returns the call's arguments as a JSON object (absent: empty).
func rawArgs(req mcp.CallToolRequest) (map[string]any, error) {
	raw, err := argsJSON(req)
	if err != nil {
		return nil, err
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, errorf("arguments must be a JSON object: %v", err)
	}
	if m == nil {
		m = map[string]any{}
	}
	return m, nil
}

func argsJSON(req mcp.CallToolRequest) ([]byte, error) {
	if len(req.Params.RawArguments) > 0 {
		return req.Params.RawArguments, nil
	}
	if req.Params.Arguments == nil {
		return []byte("{}"), nil
	}
	if raw, ok := req.Params.Arguments.(json.RawMessage); ok {
		return raw, nil
	}
	b, err := json.Marshal(req.Params.Arguments)
	if err != nil {
		return nil, errorf("arguments: %v", err)
	}
	return b, nil
}

// decode reads the call's arguments into v strictly: an unknown argument
// or a value of the wrong type is an error that names it.
func (c *call) decode(v any) error {
	raw, err := argsJSON(c.req)
	if err != nil {
		return err
	}
	if bytes.Equal(bytes.TrimSpace(raw), []byte("null")) {
		raw = []byte("{}")
	}
	d := json.NewDecoder(bytes.NewReader(raw))
	d.DisallowUnknownFields()
	if err := d.Decode(v); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && te.Field != "" {
			return errorf("argument %q: want %s, got JSON %s", te.Field, te.Type, te.Value)
		}
		return errorf("arguments: %s (see the tool's input schema)", strings.TrimPrefix(err.Error(), "json: "))
	}
	return nil
}

// redactArgs copies the arguments with secret-named values replaced and
// secrets in URLs removed, for the audit trail.
func redactArgs(m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		if provenance.IsSecretName(k) {
			out[k] = provenance.Redacted
			continue
		}
		out[k] = redactValue(v)
	}
	return out
}

func redactValue(v any) any {
	switch v := v.(type) {
	case string:
		return provenance.RedactURL(v)
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = redactValue(e)
		}
		return out
	case map[string]any:
		return redactArgs(v)
	}
	return v
}
