package kubeshark

import (
	"bytes"
	"errors"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/flowproof/flowproof/ingest/kubeshark/evidence"
	"github.com/flowproof/flowproof/ingest/kubeshark/standin"
)

// setup is what a hostile case works with.
type setup struct {
	s      *sentinel
	w      *witness
	dir    string // the evidence directory
	closed string // a URL where nothing listens
}

// hostileToken is the Hub token of the hostile tests: it must appear in no
// file, no error and no request to another origin.
const hostileToken = "tok-hostile-3f9a0c"

// witness is a server on another loopback port that records every request
// it gets: a download sent there, or the token, is a leak.
type witness struct {
	srv  *httptest.Server
	mu   sync.Mutex
	reqs []string
}

func newWitness(t *testing.T) *witness {
	w := &witness{}
	w.srv = httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		w.mu.Lock()
		w.reqs = append(w.reqs, r.Method+" "+r.URL.String()+" auth="+r.Header.Get("X-Kubeshark-Authorization"))
		w.mu.Unlock()
		rw.Write([]byte("\xd4\xc3\xb2\xa1")) // looks like a pcap
	}))
	t.Cleanup(w.srv.Close)
	return w
}

func (w *witness) requests() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]string(nil), w.reqs...)
}

// sentinel is a capture outside the evidence directory that an attack
// tries to have read, moved or deleted.
type sentinel struct {
	path string
	data []byte
	mod  time.Time
}

func newSentinel(t *testing.T) *sentinel {
	data, err := os.ReadFile("standin/testdata/cluster.pcap")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "private", "incident.pcap")
	os.MkdirAll(filepath.Dir(path), 0o700)
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	st, _ := os.Stat(path)
	return &sentinel{path: path, data: data, mod: st.ModTime()}
}

func (s *sentinel) check(t *testing.T) {
	t.Helper()
	b, err := os.ReadFile(s.path)
	st, serr := os.Stat(s.path)
	if err != nil || serr != nil || !bytes.Equal(b, s.data) || !st.ModTime().Equal(s.mod) {
		t.Errorf("the sentinel %s was touched: %v %v", s.path, err, serr)
	}
}

// TestHostileServer runs each attack of a hostile Kubeshark (the stand-in's
// hostile faults) over stdio and streamable HTTP. For each: the pull's
// outcome and error text, the sentinel file untouched, nothing sent to the
// witness on another origin, the token in no file of the evidence
// directory and no error, and the time bounded.
func TestHostileServer(t *testing.T) {
	cases := []struct {
		name  string
		opts  func(s setup) standin.Options
		mod   func(r *Request, s setup)
		trs   []string
		check func(t *testing.T, m *evidence.Manifest, err error, s setup)
	}{
		{
			name: "export answers a local path",
			opts: func(s setup) standin.Options {
				return standin.Options{Faults: standin.Faults{Hostile: standin.Hostile{ExportAnswer: `{"path":"` + s.s.path + `"}`}}}
			},
			check: wantErr(KindDownload, "HTTP 404"),
		},
		{
			name: "export answers a file URL",
			opts: func(s setup) standin.Options {
				return standin.Options{Faults: standin.Faults{Hostile: standin.Hostile{ExportAnswer: `{"url":"file://` + s.s.path + `"}`}}}
			},
			check: wantErr(KindProtocol, ""),
		},
		{
			name: "export answers a URL on another origin",
			opts: func(s setup) standin.Options {
				return standin.Options{Faults: standin.Faults{Hostile: standin.Hostile{ExportAnswer: `{"url":"` + s.w.srv.URL + `/capture.pcap"}`}}}
			},
			check: wantErr(KindDownload, "another origin"),
		},
		{
			name: "get_file_url answers another origin",
			opts: func(s setup) standin.Options {
				return standin.Options{Faults: standin.Faults{MCP: standin.MCPFaults{FileURL: s.w.srv.URL + "/api/capture.pcap"}}}
			},
			mod:   func(r *Request, s setup) { r.HubURL = "" },
			check: wantErr(KindDownload, "another origin"),
		},
		{
			name: "download redirected to another origin",
			opts: func(s setup) standin.Options {
				return standin.Options{Faults: standin.Faults{Hostile: standin.Hostile{RedirectTo: s.w.srv.URL + "/capture.pcap"}}}
			},
			check: wantErr(KindDownload, "redirect to another origin"),
		},
		{
			name: "download_file claims a local file",
			opts: func(s setup) standin.Options {
				return standin.Options{Faults: standin.Faults{MCP: standin.MCPFaults{DownloadClaims: s.s.path}}}
			},
			mod:   func(r *Request, s setup) { r.HubURL = s.closed },
			trs:   []string{"stdio"},
			check: wantErr(KindDownload, "does not read"),
		},
		{
			name: "download_file links to a local file",
			opts: func(s setup) standin.Options {
				return standin.Options{Faults: standin.Faults{MCP: standin.MCPFaults{DownloadLink: s.s.path}}}
			},
			mod:   func(r *Request, s setup) { r.HubURL = s.closed },
			trs:   []string{"stdio"},
			check: wantErr(KindDownload, "not a regular file"),
		},
		{
			name: "download drips a byte at a time",
			opts: func(s setup) standin.Options {
				return standin.Options{Faults: standin.Faults{Hostile: standin.Hostile{Drip: 20 * time.Millisecond}}}
			},
			mod:   func(r *Request, s setup) { r.IdleTimeout = 500 * time.Millisecond },
			check: wantErr(KindTimeout, "less than 16 KiB"),
		},
		{
			name: "download never sends headers",
			opts: func(s setup) standin.Options {
				return standin.Options{Faults: standin.Faults{Hostile: standin.Hostile{NoHeaders: true}}}
			},
			mod:   func(r *Request, s setup) { r.HeaderTimeout = 300 * time.Millisecond },
			check: wantErr(KindTimeout, "no response headers"),
		},
		{
			name: "download cut at a record boundary",
			opts: func(s setup) standin.Options {
				return standin.Options{Faults: standin.Faults{Hostile: standin.Hostile{CutAtRecord: true}}}
			},
			check: func(t *testing.T, m *evidence.Manifest, err error, s setup) {
				if !errors.Is(err, ErrPartial) || m == nil {
					t.Fatalf("err %v", err)
				}
				c := m.Kubeshark.Captures[0]
				if !strings.HasSuffix(c.File, ".partial") || !strings.Contains(c.Incomplete, "export_snapshot_pcap's answer says") {
					t.Errorf("capture %+v", c)
				}
			},
		},
		{
			name: "answers echo the token",
			opts: func(s setup) standin.Options {
				return standin.Options{Faults: standin.Faults{Hostile: standin.Hostile{EchoToken: true}}}
			},
			trs: []string{"stdio"}, // the REST proxy carries the token to the Hub
			check: func(t *testing.T, m *evidence.Manifest, err error, s setup) {
				if err != nil && !errors.Is(err, ErrPartial) {
					t.Fatal(err)
				}
				if !strings.Contains(strings.Join(m.Warnings, "\n"), "held the Hub token") {
					t.Errorf("no warning of the echoed token: %q", m.Warnings)
				}
				b, _ := os.ReadFile(filepath.Join(s.dir, "kubeshark", "list_l4_flows.json"))
				if !bytes.Contains(b, []byte(`"debug_request_auth": "REDACTED"`)) && !bytes.Contains(b, []byte(`"debug_request_auth":"REDACTED"`)) {
					t.Errorf("list_l4_flows.json: %.300s", b)
				}
			},
		},
		{
			name: "names carry terminal escapes",
			opts: func(s setup) standin.Options {
				return standin.Options{Faults: standin.Faults{Hostile: standin.Hostile{Escapes: true, ExportAnswer: `{"path":"/x` + standin.EscapeText + `"}`}}}
			},
			check: func(t *testing.T, m *evidence.Manifest, err error, s setup) {
				if err == nil {
					t.Fatal("no error")
				}
				if strings.ContainsAny(err.Error(), "\x1b\x07\u009b") {
					t.Errorf("raw control characters in the error: %q", err)
				}
			},
		},
	}
	for _, tc := range cases {
		trs := tc.trs
		if trs == nil {
			// Each attack again on a per-node pull (over HTTP): one
			// export and download per node, the same rules for each.
			trs = append(slices.Clone(transports), "per-node")
		}
		for _, run := range trs {
			tr, perNode := run, false
			if run == "per-node" {
				tr, perNode = "http", true
			}
			t.Run(tc.name+"/"+run, func(t *testing.T) {
				s := setup{s: newSentinel(t), w: newWitness(t), closed: closedURL(t)}
				opts := tc.opts(s)
				opts.Token = hostileToken
				f := newFixture(t, tr, opts, hostileToken)
				req := f.request(t)
				req.IdleTimeout, req.HeaderTimeout, req.DownloadTimeout = 5*time.Second, 5*time.Second, 20*time.Second
				req.PerNode = perNode
				var logs bytes.Buffer
				req.Log = func(format string, args ...any) { logs.WriteString(sprintf(format, args...) + "\n") }
				s.dir = req.Dir
				if tc.mod != nil {
					tc.mod(&req, s)
				}
				start := time.Now()
				m, err := Pull(bg(), req)
				if d := time.Since(start); d > 15*time.Second {
					t.Errorf("took %v", d)
				}
				tc.check(t, m, err, s)
				s.s.check(t)
				if reqs := s.w.requests(); len(reqs) > 0 {
					t.Errorf("the witness on another origin got %q", reqs)
				}
				if err != nil && strings.Contains(err.Error(), hostileToken) {
					t.Errorf("the token in the error: %v", err)
				}
				if strings.Contains(logs.String(), hostileToken) || strings.ContainsAny(logs.String(), "\x1b\x07\u009b") {
					t.Errorf("the token or a raw control character in the log lines:\n%s", logs.String())
				}
				filepath.WalkDir(filepath.Dir(req.Dir), func(path string, d fs.DirEntry, err error) error {
					if err != nil || d.IsDir() {
						return nil
					}
					if b, _ := os.ReadFile(path); bytes.Contains(b, []byte(hostileToken)) {
						t.Errorf("the token is in %s", path)
					}
					return nil
				})
				if err != nil && !errors.Is(err, ErrPartial) {
					if _, serr := os.Stat(filepath.Join(req.Dir, evidence.ManifestFile)); serr == nil {
						t.Error("a failed pull wrote a manifest")
					}
					if perNode { // the nodes' captures fetched before the failure are gone
						noCompleteFiles(t, req.Dir)
					}
				}
			})
		}
	}
}

func wantErr(kind Kind, text string) func(t *testing.T, m *evidence.Manifest, err error, s setup) {
	return func(t *testing.T, m *evidence.Manifest, err error, s setup) {
		t.Helper()
		if err == nil || errors.Is(err, ErrPartial) {
			t.Fatalf("err %v, want a failure", err)
		}
		if KindOf(err) != kind || !strings.Contains(err.Error(), text) {
			t.Errorf("err %v (kind %v), want kind %v with %q", err, KindOf(err), kind, text)
		}
	}
}
