package kubeshark

import (
	"context"
	"fmt"
	"io"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/client/transport"
)

// TestMapErrServerGone: however the write to a stdio server that has
// just exited fails, the error is about the server, and about the token
// when its stderr says so. CI once saw "connect" instead: a write can fail
// with os.ErrClosed before the exit is reaped, and that was not recognised.
func TestMapErrServerGone(t *testing.T) {
	for name, cause := range map[string]error{
		"EPIPE":            &os.PathError{Op: "write", Path: "|1", Err: syscall.EPIPE},
		"closed by Wait":   &os.PathError{Op: "write", Path: "|1", Err: os.ErrClosed},
		"closed pipe":      io.ErrClosedPipe,
		"transport closed": transport.ErrTransportClosed,
	} {
		for _, stderr := range []string{"", "Error: Kubeshark at http://x requires authentication (HTTP 401): pass --token\n"} {
			srv := &server{stderr: newTail(1 << 10), done: make(chan struct{})}
			srv.stderr.Write([]byte(stderr))
			// The process has exited, but Wait has not returned yet: the
			// write failed first.
			time.AfterFunc(20*time.Millisecond, func() { close(srv.done) })
			s := &Session{srv: srv}
			err := s.mapErr(context.Background(), "initialize", transport.NewError(fmt.Errorf("failed to write request: %w", cause)))
			want := KindServerExited
			if stderr != "" {
				want = KindAuth
			}
			if k := KindOf(err); k != want {
				t.Errorf("%s, stderr %q: kind %q, want %q: %v", name, stderr, k, want, err)
			}
		}
	}
}
