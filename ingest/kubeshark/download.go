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
	"syscall"

	"github.com/flowproof/flowproof/ingest"
	"github.com/flowproof/flowproof/ingest/kubeshark/jsonv"
	"github.com/flowproof/flowproof/provenance"
)

// partFile receives a capture as NAME.part, hashing while it is written. Only
// commit gives it its final name, after every check: a failed pull never
// leaves a file that looks complete.
type partFile struct {
	base string // path without extension
	a    *provenance.AtomicFile
}

func createPart(base string) (*partFile, error) {
	a, err := provenance.CreatePart(base)
	if err != nil {
		return nil, newErr(KindIO, "create "+base+".part", err, "check that the evidence directory is writable")
	}
	return &partFile{base: base, a: a}, nil
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
}

// commit syncs the file, checks that it is a capture with packets, and
// renames it to base + "." + format. On failure the .part file is removed.
func (p *partFile) commit(what string) (*captured, error) {
	if err := p.a.Close(); err != nil {
		p.abort()
		return nil, newErr(KindIO, "write "+p.a.TempPath(), err, "check free space in the evidence directory")
	}
	c, err := checkCapture(p.a.TempPath(), what)
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
	c.path, c.sha256 = final, sum
	return c, nil
}

// checkCapture reads the whole file as a capture: it must be pcap or pcapng
// (optionally gzipped) and hold at least one packet.
func checkCapture(path, what string) (*captured, error) {
	c, err := ingest.Open(path, ingest.Options{})
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
// empty, is sent as X-Kubeshark-Authorization.
func (p *puller) fetchHTTP(ctx context.Context, rawURL, token, base string) (*captured, error) {
	op := "download " + provenance.RedactURL(rawURL)
	if p.req.DownloadTimeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, p.req.DownloadTimeout)
		defer cancel()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return nil, newErr(KindUsage, op, err, "check --hub-url")
	}
	req.Header.Set("Accept", "application/vnd.tcpdump.pcap, application/octet-stream;q=0.9, */*;q=0.1")
	req.Header.Set("User-Agent", "flowproof/"+p.req.ToolVersion)
	if token != "" {
		req.Header.Set("X-Kubeshark-Authorization", token)
	}
	hc := &http.Client{
		Transport:     p.req.HTTPTransport,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	resp, err := hc.Do(req)
	if err != nil {
		if isDialError(err) {
			return nil, newErr(KindConnect, op, rootCause(err), fixRunning+" (or leave --hub-url out to let the MCP server's download_file fetch it)")
		}
		if errors.Is(err, context.DeadlineExceeded) {
			return nil, newErr(KindTimeout, op, fmt.Errorf("no answer within %v", p.req.DownloadTimeout), "raise --download-timeout")
		}
		return nil, newErr(KindDownload, op, rootCause(err), fixRunning)
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusOK:
	case resp.StatusCode >= 300 && resp.StatusCode < 400:
		return nil, newErr(KindAuth, op, fmt.Errorf("HTTP %d redirect to %s: a gated Hub redirects to its login page", resp.StatusCode, provenance.RedactURL(resp.Header.Get("Location"))), tokenFix(token))
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
	part, err := createPart(base)
	if err != nil {
		return nil, err
	}
	n, err := io.Copy(part, io.LimitReader(resp.Body, max+1))
	if err != nil {
		part.abort()
		if errors.Is(err, context.DeadlineExceeded) {
			return nil, newErr(KindTimeout, op, fmt.Errorf("not finished within --download-timeout %v (%s received)", p.req.DownloadTimeout, sizeText(n)), "raise --download-timeout")
		}
		return nil, newErr(KindDownload, op, fmt.Errorf("cut short after %s of %s: %v", sizeText(n), sizeText(resp.ContentLength), rootCause(err)), p.cutShortFix())
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
	part, err := createPart(base)
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

// localFile reports whether path names a regular file on this host.
func localFile(path string) bool {
	st, err := os.Stat(path)
	return err == nil && st.Mode().IsRegular()
}

// fetchLocal copies a capture a local server wrote into base.part, hashing
// it, and commits it.
func (p *puller) fetchLocal(path, base string) (*captured, error) {
	op := "copy " + path
	f, err := os.Open(path)
	if err != nil {
		return nil, newErr(KindDownload, op, err, "")
	}
	defer f.Close()
	part, err := createPart(base)
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

// sameHost reports whether two URLs name the same scheme, host and port.
func sameHost(a, b string) bool {
	ua, err1 := url.Parse(a)
	ub, err2 := url.Parse(b)
	if err1 != nil || err2 != nil || ua.Host == "" {
		return false
	}
	return ua.Scheme == ub.Scheme && strings.EqualFold(ua.Host, ub.Host)
}

// fetchWithTool asks the MCP server's download_file to fetch a relative Hub
// path into base.part. That only works when the server runs on this machine
// (a spawned kubeshark mcp): the file is written on the server's host.
func (p *puller) fetchWithTool(ctx context.Context, path, base string) (*captured, error) {
	op := "download_file " + path
	dest, err := filepath.Abs(base + ".download")
	if err != nil {
		return nil, newErr(KindIO, op, err, "")
	}
	t, _ := p.s.Tool("download_file")
	a := newArgs(t)
	a.set(path, "path")
	a.set(dest, "dest", "destination", "output")
	os.Remove(dest)
	timeout := p.req.DownloadTimeout
	if timeout <= 0 {
		timeout = defaultToolDownloadTimeout
	}
	res, _, err := p.call(ctx, "download_file", a.m, timeout, "download_file.json")
	if err != nil {
		os.Remove(dest)
		return nil, err
	}
	if res.IsError {
		os.Remove(dest)
		return nil, p.toolFailed(res)
	}
	st, err := os.Stat(dest)
	if err != nil {
		// A server that does not take dest writes where it likes and says
		// where; take the file from there when it is on this host.
		written := jsonv.LookupString(res.Data, "path", "dest", "file", "file_path")
		if written == "" || written == dest || os.Rename(written, dest) != nil {
			return nil, newErr(KindDownload, op, fmt.Errorf("download_file reported success but %s does not exist here", orText(written, dest)),
				"the MCP server wrote it on its own host; give --hub-url (the Kubeshark front URL) so flowproof fetches it over HTTP")
		}
		if st, err = os.Stat(dest); err != nil {
			return nil, newErr(KindIO, op, err, "")
		}
		p.warn("download_file wrote %s (it takes no destination); moved into the evidence directory", written)
	}
	if want, ok := jsonv.LookupInt(res.Data, "size", "bytes", "size_bytes"); ok && want != st.Size() {
		os.Remove(dest)
		return nil, newErr(KindDownload, op, fmt.Errorf("cut short: the file has %d bytes, download_file reported %d", st.Size(), want), p.cutShortFix())
	}
	if st.Size() > p.req.MaxCaptureBytes {
		os.Remove(dest)
		return nil, newErr(KindTooLarge, op, fmt.Errorf("the capture is %s, more than --max-capture (%s)", sizeText(st.Size()), sizeText(p.req.MaxCaptureBytes)),
			"narrow the window or the selection, or raise --max-capture")
	}
	// Copy it through a partFile, so that the hashing, the checks and the
	// rename are those of an HTTP download.
	defer os.Remove(dest)
	return p.fetchLocal(dest, base)
}
