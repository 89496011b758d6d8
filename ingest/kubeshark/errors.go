package kubeshark

import (
	"bytes"
	"errors"
	"strings"

	"github.com/flowproof/flowproof/provenance"
)

// Kind classifies why a pull failed. Every [Error] carries one, and its
// message ends with what to do about it.
type Kind string

// The kinds of failure, in the spirit of Kubeshark's own troubleshooting.
const (
	KindUsage          Kind = "usage"           // the request itself is wrong
	KindConnect        Kind = "connect"         // the MCP server or the Hub cannot be reached or started
	KindAuth           Kind = "auth"            // 401, 403 or a login redirect
	KindToolMissing    Kind = "tool-missing"    // the server does not offer a tool the route needs
	KindToolError      Kind = "tool-error"      // a tool answered isError, or a JSON-RPC error
	KindTimeout        Kind = "timeout"         // no answer in time
	KindServerExited   Kind = "server-exited"   // the stdio server died or the connection dropped mid-call
	KindProtocol       Kind = "protocol"        // malformed JSON-RPC, or an answer flowproof cannot read
	KindTooLarge       Kind = "too-large"       // a response or a capture beyond its size cap
	KindSnapshotFailed Kind = "snapshot-failed" // get_snapshot says failed
	KindSnapshotStuck  Kind = "snapshot-stuck"  // the snapshot did not complete in time
	KindDownload       Kind = "download"        // the capture download failed or was cut short
	KindNotCapture     Kind = "not-capture"     // the bytes are not a pcap or pcapng file
	KindEmptyCapture   Kind = "empty-capture"   // a capture with no packets
	KindNoMatch        Kind = "no-match"        // --ns/--pod/--svc matched no workload
	KindIO             Kind = "io"              // writing the evidence directory failed
)

// Error is a failed step of a pull: what was being done (Op), the cause
// (Err) and what to do about it (Fix).
type Error struct {
	Kind Kind
	Op   string
	Err  error
	Fix  string
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.Op)
	if e.Err != nil {
		if b.Len() > 0 {
			b.WriteString(": ")
		}
		b.WriteString(e.Err.Error())
	}
	if e.Fix != "" {
		b.WriteString(": ")
		b.WriteString(e.Fix)
	}
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// KindOf returns the Kind of the first *Error in err's chain, or "".
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return ""
}

func newErr(kind Kind, op string, err error, fix string) *Error {
	return &Error{Kind: kind, Op: op, Err: err, Fix: fix}
}

// Fixes shared by several errors.
const (
	fixRunning = "is Kubeshark running (kubectl get pods -l app.kubernetes.io/name=kubeshark), and is the port-forward active (kubeshark proxy, or kubectl port-forward svc/kubeshark-front 8899:80)?"
	fixToken   = "the Hub wants a valid token: mint one with `kubectl create token kubeshark-cli -n <kubeshark namespace> --audience kubeshark-hub` (it lasts about an hour) and pass it in KUBESHARK_HUB_TOKEN"
)

// Redactor hides secrets (the Hub token) in text that leaves flowproof.
type Redactor struct{ secrets []string }

// NewRedactor returns a Redactor for the non-empty secrets.
func NewRedactor(secrets ...string) *Redactor {
	r := &Redactor{}
	for _, s := range secrets {
		if s != "" {
			r.secrets = append(r.secrets, s)
		}
	}
	return r
}

// String returns s with every secret replaced by provenance.Redacted and
// its control characters escaped (provenance.SafeText): text from a server
// that reaches a terminal, a manifest or a report can neither leak the
// token nor drive the terminal.
func (r *Redactor) String(s string) string {
	if r != nil {
		for _, sec := range r.secrets {
			s = strings.ReplaceAll(s, sec, provenance.Redacted)
		}
	}
	return provenance.SafeText(s)
}

// Bytes returns b with every secret replaced by provenance.Redacted, and
// how many were replaced (b itself when none).
func (r *Redactor) Bytes(b []byte) ([]byte, int) {
	if r == nil {
		return b, 0
	}
	n := 0
	for _, sec := range r.secrets {
		if c := bytes.Count(b, []byte(sec)); c > 0 {
			n += c
			b = bytes.ReplaceAll(b, []byte(sec), []byte(provenance.Redacted))
		}
	}
	return b, n
}

// Error returns err with its message redacted; errors.Is and errors.As still
// see the original chain.
func (r *Redactor) Error(err error) error {
	if err == nil {
		return err
	}
	msg := err.Error()
	red := r.String(msg)
	if red == msg {
		return err
	}
	return &redactedError{msg: red, err: err}
}

type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }
