package kubeshark

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/flowproof/flowproof/ingest"
	"github.com/flowproof/flowproof/ingest/kubeshark/jsonv"
	"github.com/flowproof/flowproof/provenance"
)

// partFile receives a capture as NAME.part, hashing while it is written. Only
// commit gives it its final name, after every check: a failed pull never
// leaves a file that looks complete.
type partFile struct {
	base     string // path without extension
	a        *provenance.AtomicFile
	mode     os.FileMode
	maxBytes int64 // --max-capture, which a gzip capture's expansion counts against
}

func (p *puller) createPart(base string) (*partFile, error) {
	a, err := provenance.CreatePart(base, p.fileMode())
	if err != nil {
		return nil, newErr(KindIO, "create "+base+".part", err, "check that the evidence directory is writable")
	}
	return &partFile{base: base, a: a, mode: p.fileMode(), maxBytes: p.req.MaxCaptureBytes}, nil
}

func (p *partFile) Write(b []byte) (int, error) { return p.a.Write(b) }

// abort removes the partial file.
func (p *partFile) abort() { p.a.Abort() }

// captured is a capture file that passed the checks.
type captured struct {
	path    string
	size    int64
	sha256  string
	format  string
	packets int64
	firstNs int64
	lastNs  int64
	note    string // e.g. the capture ends mid-packet
	// incomplete says why the capture lacks packets: it disagrees with a
	// size the server stated (checkComplete).
	incomplete string
}

// commit syncs the file, checks that it is a capture with packets, and
// renames it to base + "." + format. On failure the .part file is removed.
func (p *partFile) commit(what string) (*captured, error) {
	if err := p.a.Close(); err != nil {
		p.abort()
		return nil, newErr(KindIO, "write "+p.a.TempPath(), err, "check free space in the evidence directory")
	}
	c, err := checkCapture(p.a.TempPath(), what, p.maxBytes)
	if err != nil {
		p.abort()
		return nil, err
	}
	n, sum := p.a.Written()
	if c.size != n {
		p.abort()
		return nil, newErr(KindIO, "write "+p.a.TempPath(), fmt.Errorf("wrote %d bytes, the file has %d", n, c.size), "check the disk")
	}
	final := p.base + "." + c.format
	if _, err := p.a.Commit(final); err != nil {
		return nil, newErr(KindIO, "rename "+p.a.TempPath(), err, "check the evidence directory")
	}
	if p.mode&0o070 != 0 { // asked for: not narrowed by the umask
		if err := os.Chmod(final, p.mode); err != nil {
			return nil, newErr(KindIO, "chmod "+final, err, "")
		}
	}
	c.path, c.sha256 = final, sum
	return c, nil
}

// checkCapture reads the whole file as a capture: it must be pcap or pcapng
// (optionally gzipped) and hold at least one packet.
func checkCapture(path, what string, maxBytes int64) (*captured, error) {
	c, err := ingest.Open(path, ingest.Options{MaxGunzipBytes: maxBytes})
	if err != nil {
		fix := "the server sent something else than a capture"
		if errors.Is(err, ingest.ErrText) {
			fix = "it looks like text (an error or a login page?): " + fixToken
		}
		return nil, newErr(KindNotCapture, what, err, fix)
	}
	defer c.Close()
	var pkt ingest.Packet
	var readErr error
	for {
		if err := c.Next(&pkt); err != nil {
			if !errors.Is(err, io.EOF) {
				readErr = err
			}
			break
		}
	}
	if errors.Is(readErr, ingest.ErrTooLarge) && maxBytes > 0 {
		return nil, newErr(KindTooLarge, what, readErr, "a compressed capture counts by what it expands to: narrow the window or the selection, or raise --max-capture")
	}
	info, err := c.Finish()
	if err != nil {
		return nil, newErr(KindIO, what, err, "read it again")
	}
	out := &captured{size: info.Size, format: info.Format, packets: info.Packets, firstNs: info.FirstNs, lastNs: info.LastNs}
	if info.Packets == 0 {
		msg := "the capture holds no packets"
		if readErr != nil {
			msg += " (" + readErr.Error() + ")"
		}
		return nil, newErr(KindEmptyCapture, what, errors.New(msg),
			"check the window and retention: the window may be outside the raw capture Kubeshark still holds (get_data_boundaries; tap.capture.raw.storageSize), the filter may match nothing (see the selected IPs), or raw capture may have stopped writing (kubeshark#1874)")
	}
	if readErr != nil {
		out.note = "the capture as served ends in a damaged or cut record (" + readErr.Error() + "); analyze uses the packets before it"
	}
	return out, nil
}

// fetchHTTP streams url into base.part and commits it. token, when not
// empty, is sent as X-Kubeshark-Authorization. Redirects are never
// followed. The download ends with an error when the response headers take
// longer than HeaderTimeout, when no byte arrives for IdleTimeout, and after
// DownloadTimeout in all.
func (p *puller) fetchHTTP(ctx context.Context, rawURL, token, base string) (*captured, error) {
	op := "download " + provenance.RedactURL(rawURL)
	ctx, cancelAll := context.WithTimeoutCause(ctx, p.req.DownloadTimeout, errDownloadTimeout)
	defer cancelAll()
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var receiving atomic.Bool // past the headers: the timer is the idle one
	stall := time.AfterFunc(p.req.HeaderTimeout, func() {
		if receiving.Load() {
			cancel(errIdleTimeout)
		} else {
			cancel(errHeaderTimeout)
		}
	})
	defer stall.Stop()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return nil, newErr(KindUsage, op, err, "check --hub-url")
	}
	req.Header.Set("Accept", "application/vnd.tcpdump.pcap, application/octet-stream;q=0.9, */*;q=0.1")
	req.Header.Set("User-Agent", "flowproof/"+p.req.ToolVersion)
	if token != "" {
		req.Header.Set("X-Kubeshark-Authorization", token)
		p.warnExposure(req)
	}
	hc := &http.Client{
		Transport:     p.req.HTTPTransport,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, p.downloadErr(ctx, op, err, 0, -1)
	}
	defer resp.Body.Close()
	receiving.Store(true)
	stall.Reset(p.req.IdleTimeout)
	switch {
	case resp.StatusCode == http.StatusOK:
	case resp.StatusCode >= 300 && resp.StatusCode < 400:
		loc := resp.Header.Get("Location")
		if target, err := req.URL.Parse(loc); err == nil && originOf(target.String()) != originOf(rawURL) {
			return nil, newErr(KindDownload, op, fmt.Errorf("HTTP %d redirect to another origin (%s): %w", resp.StatusCode, provenance.RedactURL(target.String()), errCrossOrigin),
				"flowproof follows no redirect and downloads only from the Hub's origin; if the capture really lives there, give that origin with --trust-origin and its URL as --hub-url")
		}
		return nil, newErr(KindAuth, op, fmt.Errorf("HTTP %d redirect to %s: a gated Hub redirects to its login page", resp.StatusCode, provenance.RedactURL(loc)), tokenFix(token))
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
		return nil, newErr(KindAuth, op, fmt.Errorf("HTTP %d %s", resp.StatusCode, http.StatusText(resp.StatusCode)), tokenFix(token))
	case resp.StatusCode == http.StatusNotFound:
		return nil, newErr(KindDownload, op, fmt.Errorf("HTTP 404: %w", errNotFound), "the snapshot may have been deleted, or --hub-url may not be the Kubeshark front URL (the one given to kubeshark mcp --url); check with list_snapshots")
	default:
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return nil, newErr(KindDownload, op, fmt.Errorf("HTTP %d: %s", resp.StatusCode, excerpt(strings.TrimSpace(string(body)), 300)), "see the Hub's logs (kubectl logs deploy/kubeshark-hub); retry")
	}
	if mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); mt == "text/html" {
		return nil, newErr(KindNotCapture, op, errors.New("the answer is an HTML page, not a capture"), "probably a login page: "+tokenFix(token))
	}
	max := p.req.MaxCaptureBytes
	if resp.ContentLength > max {
		return nil, newErr(KindTooLarge, op, fmt.Errorf("the capture is %s, more than --max-capture (%s)", sizeText(resp.ContentLength), sizeText(max)),
			"narrow the window (--since/--from/--to) or the selection (--ns/--pod/--svc/--bpf), or raise --max-capture")
	}
	part, err := p.createPart(base)
	if err != nil {
		return nil, err
	}
	body := &idleReader{r: resp.Body, timer: stall, idle: p.req.IdleTimeout}
	n, err := io.Copy(part, io.LimitReader(body, max+1))
	if err != nil {
		part.abort()
		return nil, p.downloadErr(ctx, op, err, n, resp.ContentLength)
	}
	if n > max {
		part.abort()
		return nil, newErr(KindTooLarge, op, fmt.Errorf("the capture is larger than --max-capture (%s)", sizeText(max)),
			"narrow the window (--since/--from/--to) or the selection (--ns/--pod/--svc/--bpf), or raise --max-capture")
	}
	if resp.ContentLength >= 0 && n != resp.ContentLength {
		part.abort()
		return nil, newErr(KindDownload, op, fmt.Errorf("cut short: got %d of %d bytes", n, resp.ContentLength), p.cutShortFix())
	}
	return part.commit(op)
}

// warnExposure warns, once per origin, when the token leaves this host in
// the clear or through a proxy.
func (p *puller) warnExposure(req *http.Request) {
	why := tokenExposure(req)
	if why == "" || p.warned[why] {
		return
	}
	if p.warned == nil {
		p.warned = map[string]bool{}
	}
	p.warned[why] = true
	p.warn("the Hub token %s", why)
}

// tokenExposure says how a request carrying the token could be read on its
// way: plain HTTP to a host that is not this one, or an HTTP(S)_PROXY from
// the environment. "" when neither.
func tokenExposure(req *http.Request) string {
	if proxy, err := http.ProxyFromEnvironment(req); err == nil && proxy != nil {
		return "goes through the proxy " + provenance.RedactURL(proxy.String()) + " (HTTP_PROXY/HTTPS_PROXY): the proxy can read it when the Hub URL is plain http; unset the proxy variables for this host (NO_PROXY) if that is not intended"
	}
	if req.URL.Scheme == "http" && !isLoopback(req.URL.Hostname()) {
		return "travels in clear text (plain http) to " + req.URL.Host + ": anyone on the path can read it; use https or a port-forward to 127.0.0.1"
	}
	return ""
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Why a download's context ended.
var (
	errDownloadTimeout = errors.New("the download took longer than --download-timeout")
	errHeaderTimeout   = errors.New("no response headers within --header-timeout")
	errIdleTimeout     = errors.New("less than 16 KiB received in --idle-timeout")
	errCrossOrigin     = errors.New("not followed")
)

// downloadErr explains a failed request or body read: n bytes of want (-1:
// unknown) had arrived.
func (p *puller) downloadErr(ctx context.Context, op string, err error, n, want int64) error {
	switch cause := context.Cause(ctx); {
	case errors.Is(cause, errDownloadTimeout):
		return newErr(KindTimeout, op, fmt.Errorf("%w (%v; %s received)", cause, p.req.DownloadTimeout, sizeText(n)), "raise --download-timeout")
	case errors.Is(cause, errHeaderTimeout):
		return newErr(KindTimeout, op, fmt.Errorf("%w (%v)", cause, p.req.HeaderTimeout), "the Hub accepted the connection but does not answer: check it (kubectl logs deploy/kubeshark-hub), or raise --header-timeout")
	case errors.Is(cause, errIdleTimeout):
		return newErr(KindTimeout, op, fmt.Errorf("%w (%v; %s received)", cause, p.req.IdleTimeout, sizeText(n)), "the Hub stopped sending: retry, or raise --idle-timeout")
	}
	if n == 0 && want < 0 && isDialError(err) {
		return newErr(KindConnect, op, rootCause(err), fixRunning+" (or leave --hub-url out to let the MCP server's download_file fetch it)")
	}
	if n == 0 && want < 0 {
		return newErr(KindDownload, op, rootCause(err), fixRunning)
	}
	return newErr(KindDownload, op, fmt.Errorf("cut short after %s of %s: %v", sizeText(n), sizeText(want), rootCause(err)), p.cutShortFix())
}

// idleReader ends a download that stalls: the timer is pushed back by idle
// each time another minProgress bytes have arrived, so a server that drips
// a byte now and then is ended too (below 16 KiB per --idle-timeout, about
// 270 bytes a second with the default minute).
type idleReader struct {
	r       io.Reader
	timer   *time.Timer
	idle    time.Duration
	pending int64 // bytes since the last push
}

const minProgress = 16 << 10

func (r *idleReader) Read(b []byte) (int, error) {
	n, err := r.r.Read(b)
	if r.pending += int64(n); r.pending >= minProgress {
		r.pending = 0
		r.timer.Reset(r.idle)
	}
	return n, err
}

func (p *puller) cutShortFix() string {
	fix := "the connection dropped (large snapshot downloads can fail: kubeshark#1867); retry"
	if p.snapshot != nil {
		fix += ": the snapshot stays on the Hub, rerun with --snapshot-id " + p.snapshot.ID
	}
	return fix
}

func orText(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// errNotFound is a download answered 404.
var errNotFound = errors.New("the Hub has no such file")

func tokenFix(token string) string {
	if token == "" {
		return "no token was sent; " + fixToken
	}
	return "the token was refused (expired?); " + fixToken
}

func isDialError(err error) bool {
	var opErr *net.OpError
	var dnsErr *net.DNSError
	return errors.Is(err, syscall.ECONNREFUSED) || errors.As(err, &dnsErr) || (errors.As(err, &opErr) && opErr.Op == "dial")
}

// writeBytes commits capture bytes carried in an answer.
func (p *puller) writeBytes(data []byte, base, what string) (*captured, error) {
	if int64(len(data)) > p.req.MaxCaptureBytes {
		return nil, newErr(KindTooLarge, what, fmt.Errorf("the capture is %s, more than --max-capture (%s)", sizeText(int64(len(data))), sizeText(p.req.MaxCaptureBytes)),
			"narrow the window or the selection, or raise --max-capture")
	}
	part, err := p.createPart(base)
	if err != nil {
		return nil, err
	}
	if _, err := part.Write(data); err != nil {
		part.abort()
		return nil, newErr(KindIO, "write "+part.a.TempPath(), err, "check free space")
	}
	return part.commit(what)
}

// looksLikeCapture reports whether data starts like a pcap, pcapng or gzip
// file.
func looksLikeCapture(data []byte) bool {
	if len(data) < 4 {
		return false
	}
	switch string(data[:4]) {
	case "\xd4\xc3\xb2\xa1", "\xa1\xb2\xc3\xd4", "\x4d\x3c\xb2\xa1", "\xa1\xb2\x3c\x4d", "\x0a\x0d\x0d\x0a", "\x34\xcd\xb2\xa1", "\xa1\xb2\xcd\x34":
		return true
	}
	return data[0] == 0x1f && data[1] == 0x8b
}

// copyOwn copies the capture that download_file wrote where flowproof asked
// (path, inside the evidence directory) into base.part, hashing it, and
// commits it. path must be a regular file: a link is not followed.
func (p *puller) copyOwn(path, base, op string) (*captured, error) {
	f, err := openNoFollow(path)
	if err != nil {
		return nil, newErr(KindDownload, op, err, "")
	}
	defer f.Close()
	if st, err := f.Stat(); err != nil || !st.Mode().IsRegular() {
		return nil, newErr(KindDownload, op, fmt.Errorf("%s is not a regular file", path), "")
	}
	part, err := p.createPart(base)
	if err != nil {
		return nil, err
	}
	max := p.req.MaxCaptureBytes
	n, err := io.Copy(part, io.LimitReader(f, max+1))
	if err != nil {
		part.abort()
		return nil, newErr(KindIO, op, err, "")
	}
	if n > max {
		part.abort()
		return nil, newErr(KindTooLarge, op, fmt.Errorf("the capture is larger than --max-capture (%s)", sizeText(max)), "narrow the window or the selection, or raise --max-capture")
	}
	return part.commit(op)
}

// decodeBase64 accepts standard or URL-safe base64, padded or not, with
// whitespace.
func decodeBase64(s string) ([]byte, error) {
	s = strings.Map(func(r rune) rune {
		if r == ' ' || r == '\n' || r == '\r' || r == '\t' {
			return -1
		}
		return r
	}, s)
	enc := base64.StdEncoding
	if strings.ContainsAny(s, "-_") {
		enc = base64.URLEncoding
	}
	if !strings.HasSuffix(s, "=") && len(s)%4 != 0 {
		enc = enc.WithPadding(base64.NoPadding)
	}
	return enc.DecodeString(s)
}

// originOf returns an http(s) URL's origin, scheme://host:port with the
// default port filled in and the host in lower case; "" for anything else.
func originOf(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return ""
	}
	port := u.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[u.Scheme]
	}
	return u.Scheme + "://" + net.JoinHostPort(strings.ToLower(u.Hostname()), port)
}

// trusted reports whether a capture may be downloaded from raw, with the
// token: its origin is the Hub's (--hub-url), the MCP server's (--mcp-url,
// or the --url of the MCP command, which is the Kubeshark front the CLI
// talks to), or one the user named with --trust-origin. A server's answer
// never adds an origin.
func (p *puller) trusted(raw string) bool {
	o := originOf(raw)
	if o == "" {
		return false
	}
	r := p.req
	for _, t := range append([]string{r.HubURL, r.Endpoint.URL, commandURL(r.Endpoint.Command)}, r.TrustOrigins...) {
		if t != "" && originOf(t) == o {
			return true
		}
	}
	return false
}

// commandURL is the value of --url in an MCP command line ("" when none).
func commandURL(argv []string) string {
	for i, a := range argv {
		switch {
		case (a == "--url" || a == "-url") && i+1 < len(argv):
			return argv[i+1]
		case strings.HasPrefix(a, "--url="), strings.HasPrefix(a, "-url="):
			return a[strings.IndexByte(a, '=')+1:]
		}
	}
	return ""
}

// fetchWithTool asks the MCP server's download_file to fetch a relative Hub
// path into the evidence directory. That only works when the server runs on
// this machine (a spawned kubeshark mcp): the file is written on the
// server's host. flowproof names the destination and reads only that: a
// path the server answers with is never read, moved or deleted.
func (p *puller) fetchWithTool(ctx context.Context, path, base string) (*captured, error) {
	op := "download_file " + path
	dest, err := filepath.Abs(base + ".download")
	if err != nil {
		return nil, newErr(KindIO, op, err, "")
	}
	if _, err := os.Lstat(dest); err == nil {
		return nil, newErr(KindIO, op, fmt.Errorf("%s exists already", dest), "remove it; flowproof does not overwrite a file it did not create")
	}
	t, _ := p.s.Tool("download_file")
	a := newArgs(t)
	a.set(path, "path")
	a.set(dest, "dest", "destination", "output")
	res, _, err := p.call(ctx, "download_file", a.m, p.req.DownloadTimeout, "download_file.json")
	if err != nil {
		return nil, err
	}
	if res.IsError {
		return nil, p.toolFailed(res)
	}
	defer os.Remove(dest) // ours: flowproof named it
	st, err := os.Lstat(dest)
	if err != nil || !st.Mode().IsRegular() {
		what := "does not exist here"
		if err == nil {
			what = "is not a regular file (a link?)"
		}
		msg := fmt.Sprintf("download_file reported success but %s %s", dest, what)
		if written := jsonv.LookupString(res.Data, "path", "dest", "file", "file_path"); written != "" && written != dest {
			msg += fmt.Sprintf("; it says it wrote %s, which flowproof does not read (a server cannot make flowproof read, move or delete a local file)", provenance.SafeText(written))
		}
		return nil, newErr(KindDownload, op, errors.New(msg),
			"the MCP server wrote it on its own host or ignored dest; give --hub-url (the Kubeshark front URL) so flowproof fetches it over HTTP")
	}
	if want, ok := jsonv.LookupInt(res.Data, "size", "bytes", "size_bytes"); ok && want != st.Size() {
		return nil, newErr(KindDownload, op, fmt.Errorf("cut short: the file has %d bytes, download_file reported %d", st.Size(), want), p.cutShortFix())
	}
	if st.Size() > p.req.MaxCaptureBytes {
		return nil, newErr(KindTooLarge, op, fmt.Errorf("the capture is %s, more than --max-capture (%s)", sizeText(st.Size()), sizeText(p.req.MaxCaptureBytes)),
			"narrow the window or the selection, or raise --max-capture")
	}
	return p.copyOwn(dest, base, op)
}
