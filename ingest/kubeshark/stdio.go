package kubeshark

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// server is the other end of a stdio session: a spawned process, or an
// in-process server on a pair of pipes.
type server struct {
	cmd    *exec.Cmd // nil in process
	name   string    // the command's program name, for messages
	stdin  io.WriteCloser
	stdout io.Reader
	stderr *tail
	done   chan struct{} // closed when the process or in-process server ended
	err    error         // its exit error, valid after done
	cancel context.CancelFunc
}

// startProcess spawns argv with stdin and stdout as pipes and stderr kept in
// a bounded tail. The process gets its own process group, so that a wrapper
// script and what it starts are stopped together.
func startProcess(argv []string, env []string) (*server, error) {
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), env...)
	setProcessGroup(cmd)
	cmd.WaitDelay = 2 * time.Second // do not hang on a grandchild holding stderr
	s := &server{cmd: cmd, name: argv[0], stderr: newTail(16 << 10), done: make(chan struct{})}
	cmd.Stderr = s.stderr
	var err error
	if s.stdin, err = cmd.StdinPipe(); err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	s.stdout = stdout
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	go func() {
		s.err = cmd.Wait()
		close(s.done)
	}()
	return s, nil
}

// startInProcess runs serve on a pair of pipes.
func startInProcess(ctx context.Context, serve func(ctx context.Context, stdin io.Reader, stdout io.Writer) error) *server {
	ctx, cancel := context.WithCancel(ctx)
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	s := &server{name: "in-process server", stdin: inW, stdout: outR, stderr: newTail(16 << 10), done: make(chan struct{}), cancel: cancel}
	go func() {
		err := serve(ctx, inR, outW)
		inR.Close()
		if err == nil {
			err = io.EOF
		}
		outW.CloseWithError(err)
		if errors.Is(err, io.EOF) || errors.Is(err, context.Canceled) {
			err = nil
		}
		s.err = err
		close(s.done)
	}()
	return s
}

// exited reports whether the server has ended, waiting up to d for it.
func (s *server) exited(d time.Duration) bool {
	select {
	case <-s.done:
		return true
	case <-time.After(d):
		return false
	}
}

// describeExit says how the server ended, with the end of its stderr.
func (s *server) describeExit() string {
	var msg string
	switch {
	case s.err == nil:
		msg = "it exited (status 0)"
	default:
		msg = "it exited (" + s.err.Error() + ")"
	}
	if t := s.stderr.lastLines(5); t != "" {
		msg += "; its stderr ends with: " + t
	}
	return msg
}

// stop closes the server's stdin, waits for it to exit, then terminates and
// finally kills its process group.
func (s *server) stop(grace time.Duration) {
	s.stdin.Close()
	if s.cancel != nil {
		defer s.cancel()
	}
	if s.exited(grace) || s.cmd == nil {
		return
	}
	terminateGroup(s.cmd)
	if s.exited(grace) {
		return
	}
	killGroup(s.cmd)
	s.exited(grace)
}

// frameGuard sits between the server's stdout and mcp-go's stdio transport.
// It enforces the size cap on every line, skips blank lines (as Kubeshark's
// server does on its input), and stops the session on a line that is not a
// JSON object, so that garbage on stdout fails fast with a clear message
// instead of a timeout. Text before the first JSON-RPC message (a wrapper
// script's banner) is skipped, up to maxBanner lines. Good lines pass through
// a pipe unchanged.
type frameGuard struct {
	max atomic.Int64 // the cap on the next message; Session.limit lowers it for tools/list
	r   *io.PipeReader
	w   *io.PipeWriter

	mu  sync.Mutex
	err error // why the guard stopped the stream; nil for a clean EOF
}

func newFrameGuard(src io.Reader, max int64) *frameGuard {
	r, w := io.Pipe()
	g := &frameGuard{r: r, w: w}
	g.max.Store(max)
	go g.run(src)
	return g
}

// Read is what the transport reads. The guard ends the stream with io.EOF
// whatever the cause, so that the transport does not log it; Err says why.
func (g *frameGuard) Read(p []byte) (int, error) { return g.r.Read(p) }

func (g *frameGuard) Err() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.err
}

func (g *frameGuard) fail(err error) {
	g.mu.Lock()
	if g.err == nil {
		g.err = err
	}
	g.mu.Unlock()
	g.w.Close()
}

func (g *frameGuard) run(src io.Reader) {
	br := bufio.NewReaderSize(src, 64<<10)
	n := 0
	seenJSON := false
	for {
		max := g.max.Load()
		line, err := readLine(br, max)
		if err != nil {
			if errors.Is(err, errLineTooLong) {
				g.fail(newErr(KindTooLarge, fmt.Sprintf("stdio message %d", n+1), fmt.Errorf("longer than the %d-byte cap", max),
					"ask for less (a narrower --since/--from/--to window or a filter), or raise --max-response"))
				return
			}
			g.w.Close() // EOF or a read error: the server is gone
			return
		}
		n++
		t := bytes.TrimSpace(line)
		if len(t) == 0 {
			continue
		}
		if t[0] != '{' || !json.Valid(t) {
			if !seenJSON && n <= maxBanner {
				continue
			}
			g.fail(newErr(KindProtocol, fmt.Sprintf("stdio message %d", n), fmt.Errorf("not a JSON-RPC object: %q", excerpt(string(t), 120)),
				"a stdio MCP server must write only newline-delimited JSON-RPC on stdout; if --mcp-command runs a wrapper script, make it print its messages to stderr"))
			return
		}
		seenJSON = true
		if _, err := g.w.Write(append(t, '\n')); err != nil {
			return // the transport has closed
		}
	}
}

var errLineTooLong = errors.New("line too long")

// maxBanner is how many lines of text a server may write before its first
// JSON-RPC message.
const maxBanner = 20

// readLine returns the next line without its newline; at EOF a last line
// without a newline is returned before io.EOF.
func readLine(br *bufio.Reader, max int64) ([]byte, error) {
	var line []byte
	for {
		frag, err := br.ReadSlice('\n')
		if int64(len(line)+len(frag)) > max+1 {
			return nil, errLineTooLong
		}
		line = append(line, frag...)
		switch {
		case err == nil:
			return line[:len(line)-1], nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case len(line) > 0 && errors.Is(err, io.EOF):
			return line, nil
		default:
			return nil, err
		}
	}
}

// tail keeps the last bytes written to it (a process's stderr).
type tail struct {
	mu  sync.Mutex
	max int
	buf []byte
}

func newTail(max int) *tail { return &tail{max: max} }

func (t *tail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if over := len(t.buf) - t.max; over > 0 {
		t.buf = append(t.buf[:0], t.buf[over:]...)
	}
	return len(p), nil
}

// lastLines returns up to n last non-empty lines joined with " | ".
func (t *tail) lastLines(n int) string {
	t.mu.Lock()
	s := string(t.buf)
	t.mu.Unlock()
	var lines []string
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			lines = append(lines, l)
		}
	}
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return excerpt(strings.Join(lines, " | "), 600)
}

// excerpt shortens s to at most n bytes (on a rune boundary), marking the cut.
func excerpt(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && (s[cut]&0xC0) == 0x80 {
		cut--
	}
	return s[:cut] + "…"
}
