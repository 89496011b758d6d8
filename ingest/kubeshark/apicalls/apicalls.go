package apicalls

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"math"
	"net/netip"
	"net/url"
	"os"
	"strings"

	"github.com/flowproof/flowproof/ingest/kubeshark/jsonv"
)

// Bounds on what one answer may make Parse keep.
const (
	// MaxText cuts every string kept (ids, names, paths).
	MaxText = 1024
	// MaxLatency is the largest latency believed: longer is absurd for one
	// call (a day).
	MaxLatency = 24 * 3600 * 1e9
	// MaxCalls is how many calls one Parse keeps; beyond it calls are
	// counted in Dropped.
	MaxCalls = 1 << 20
)

// Endpoint is the src or dst of a call.
type Endpoint struct {
	IP                            netip.Addr
	Port                          uint16 // 0 when absent
	Pod, Namespace, Service, Node string
}

// Call is one HTTP call of a list_api_calls answer.
type Call struct {
	ID       string
	TsNs     int64 // 0 when absent
	Src, Dst Endpoint
	Method   string
	Path     string // without the query string
	// Status is the HTTP status; 0 when absent (no response).
	Status int32
	// LatencyNs is latency_ms in ns; -1 when absent or absurd.
	LatencyNs int64
	// ReqSize and RespSize are the full format's sizes; -1 when absent or
	// absurd.
	ReqSize, RespSize int64
	// Source is capture_source ("ebpf_tls" for decrypted TLS), "" when
	// absent.
	Source string
}

// Calls is a parsed answer (or several pages, see Merge).
type Calls struct {
	Calls     []Call
	Total     int64 // the answer's total; len(Calls) when absent
	Truncated bool  // the answer said truncated
	// Skipped counts calls left out because an address does not parse
	// (FirstSkip says why for the first one); NotHTTP those of another
	// protocol; Invalid the absurd numbers ignored (FirstInvalid says which
	// first); Dropped the calls beyond MaxCalls; Duplicates those Merge
	// found twice.
	Skipped, NotHTTP, Invalid, Dropped, Duplicates int64
	FirstSkip, FirstInvalid                        string
	// MinTsNs and MaxTsNs are the earliest and latest ts of the calls kept
	// (0 when none has one).
	MinTsNs, MaxTsNs int64
	// Kept is how many calls were kept (given to Scan's fn, or in Calls).
	Kept int64

	fn func(*Call) // Scan's; nil: append to Calls
}

// ErrNotAnswer means the bytes are not a list_api_calls answer.
var ErrNotAnswer = errors.New(`not a list_api_calls answer (expected {"calls":[...]})`)

// maxAnswerFile caps an answer read back from a file.
const maxAnswerFile = 1 << 30

// Read reads a saved list_api_calls answer whole (tests, small answers;
// ScanFile streams).
func Read(path string) (*Calls, error) {
	c := &Calls{}
	if err := scanFile(path, c); err != nil {
		return nil, err
	}
	return c, nil
}

// ScanFile reads a saved list_api_calls answer, giving fn each HTTP call
// kept, one at a time: memory does not follow the answer's size. The
// *Call is reused: fn copies what it keeps. The result counts (Total,
// Skipped, ...) with Calls empty.
func ScanFile(path string, fn func(*Call)) (*Calls, error) {
	c := &Calls{fn: fn}
	if err := scanFile(path, c); err != nil {
		return nil, err
	}
	return c, nil
}

func scanFile(path string, c *Calls) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && st.Size() > maxAnswerFile {
		return fmt.Errorf("%s: larger than %d MiB: refusing to read it (not something flowproof wrote)", path, maxAnswerFile>>20)
	}
	if err := c.scan(bufio.NewReaderSize(io.LimitReader(f, maxAnswerFile), 64<<10)); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

// Parse parses one list_api_calls answer: {"calls":[...],"total",
// "truncated"} or a bare list of calls, keeping the calls in Calls.
func Parse(b []byte) (*Calls, error) {
	c := &Calls{}
	if err := c.scan(bytes.NewReader(b)); err != nil {
		return nil, err
	}
	return c, nil
}

// scan reads an answer from r, the calls one at a time.
func (out *Calls) scan(r io.Reader) error {
	out.Total = -1
	d := json.NewDecoder(r)
	d.UseNumber()
	tok, err := d.Token()
	if err != nil {
		return fmt.Errorf("%w: %v", ErrNotAnswer, err)
	}
	switch tok {
	case json.Delim('['):
		if err := out.readList(d); err != nil {
			return fmt.Errorf("list_api_calls answer at byte %d: %w", d.InputOffset(), err)
		}
	case json.Delim('{'):
		found := false
		for d.More() {
			kt, err := d.Token()
			if err != nil {
				return fmt.Errorf("list_api_calls answer at byte %d: %w", d.InputOffset(), err)
			}
			key, _ := kt.(string)
			var v any
			switch key {
			case "calls", "entries", "data":
				if found {
					err = skipValue(d)
					break
				}
				var t json.Token
				if t, err = d.Token(); err == nil && t != nil {
					if t != json.Delim('[') {
						err = fmt.Errorf("%q: a list was expected, got %v", key, t)
						break
					}
					found = true
					err = out.readList(d)
				} else if t == nil && err == nil {
					found = true
				}
			case "total":
				if err = d.Decode(&v); err == nil {
					if n, _, bad := jsonv.Count(v); bad == "" {
						out.Total = n
					} else {
						out.invalid("total: " + bad)
					}
				}
			case "truncated":
				if err = d.Decode(&v); err == nil {
					out.Truncated, _ = v.(bool)
				}
			default:
				err = skipValue(d)
			}
			if err != nil {
				return fmt.Errorf("list_api_calls answer at byte %d: %s: %w", d.InputOffset(), key, err)
			}
		}
		if !found {
			return ErrNotAnswer
		}
	default:
		return ErrNotAnswer
	}
	if out.Total < 0 {
		out.Total = out.Kept + out.Dropped
	}
	return nil
}

// skipValue reads past one value token by token, without keeping it (a
// json.RawMessage would hold all of it).
func skipValue(d *json.Decoder) error {
	depth := 0
	for {
		t, err := d.Token()
		if err != nil {
			return err
		}
		switch t {
		case json.Delim('['), json.Delim('{'):
			depth++
		case json.Delim(']'), json.Delim('}'):
			depth--
		}
		if depth == 0 {
			return nil
		}
	}
}

func (c *Calls) invalid(why string) {
	c.Invalid++
	if c.FirstInvalid == "" {
		c.FirstInvalid = why
	}
}

// rawCall is a call as decoded: numbers and strings as any (a number may
// come as text, a name as a number), unknown fields ignored.
type rawCall struct {
	ID            any     `json:"id"`
	Ts            any     `json:"ts"`
	Timestamp     any     `json:"timestamp"`
	Src           *rawEnd `json:"src"`
	Dst           *rawEnd `json:"dst"`
	Proto         any     `json:"proto"`
	Protocol      any     `json:"protocol"`
	Method        any     `json:"method"`
	Path          any     `json:"path"`
	URL           any     `json:"url"`
	Status        any     `json:"status"`
	StatusCode    any     `json:"status_code"`
	LatencyMs     any     `json:"latency_ms"`
	ElapsedTime   any     `json:"elapsed_time"`
	ReqSize       any     `json:"req_size"`
	RequestSize   any     `json:"request_size"`
	RespSize      any     `json:"resp_size"`
	ResponseSize  any     `json:"response_size"`
	CaptureSource any     `json:"capture_source"`
}

type rawEnd struct {
	IP        any `json:"ip"`
	Port      any `json:"port"`
	Pod       any `json:"pod"`
	NS        any `json:"ns"`
	Namespace any `json:"namespace"`
	Svc       any `json:"svc"`
	Service   any `json:"service"`
	Node      any `json:"node"`
}

// readList reads the elements of a list whose '[' was read, and its ']'.
func (c *Calls) readList(d *json.Decoder) error {
	var rc rawCall
	var k Call
	for i := 0; d.More(); i++ {
		rc = rawCall{}
		if err := d.Decode(&rc); err != nil {
			var te *json.UnmarshalTypeError
			if !errors.As(err, &te) {
				return err
			}
			if te.Field == "" { // the element itself: a number, a list, text
				c.skip(i, "not an object")
				continue
			}
			// A field of the wrong type is left empty; the rest is used.
		}
		if rc == (rawCall{}) {
			c.skip(i, "null or empty")
			continue
		}
		c.add(i, &rc, &k)
	}
	_, err := d.Token() // ]
	return err
}

func (c *Calls) skip(i int, why string) {
	c.Skipped++
	if c.FirstSkip == "" {
		c.FirstSkip = fmt.Sprintf("call %d: %s", i, why)
	}
}

func (c *Calls) add(i int, m *rawCall, k *Call) {
	proto := strings.ToLower(jsonv.First(jsonv.String(m.Proto), jsonv.String(m.Protocol)))
	method := cut(jsonv.String(m.Method))
	if !isHTTP1(proto, method) {
		c.NotHTTP++
		return
	}
	*k = Call{}
	var err error
	if k.Src, err = endpointOf(m.Src); err != nil {
		c.skip(i, "src: "+err.Error())
		return
	}
	if k.Dst, err = endpointOf(m.Dst); err != nil {
		c.skip(i, "dst: "+err.Error())
		return
	}
	if c.Kept >= MaxCalls {
		c.Dropped++
		return
	}
	k.ID = cut(jsonv.String(m.ID))
	k.Method = method
	k.Path = PathOf(jsonv.First(jsonv.String(m.Path), jsonv.String(m.URL)))
	k.Source = cut(jsonv.String(m.CaptureSource))
	if ts, ok := jsonv.TimeNs(m.Ts); ok {
		k.TsNs = ts
	} else if ts, ok := jsonv.TimeNs(m.Timestamp); ok {
		k.TsNs = ts
	}
	st := m.Status
	if st == nil {
		st = m.StatusCode
	}
	if n, present, bad := jsonv.Count(st); present && (bad != "" || n > 999) {
		c.invalid(fmt.Sprintf("call %d: status: %s", i, jsonv.First(bad, "not an HTTP status")))
	} else {
		k.Status = int32(n)
	}
	k.LatencyNs = -1
	if m.LatencyMs != nil {
		k.LatencyNs = c.duration(i, "latency_ms", m.LatencyMs, 1e6)
	} else if m.ElapsedTime != nil {
		k.LatencyNs = c.duration(i, "elapsed_time", m.ElapsedTime, 1e3)
	}
	k.ReqSize = c.size(i, "req_size", m.ReqSize, m.RequestSize)
	k.RespSize = c.size(i, "resp_size", m.RespSize, m.ResponseSize)
	c.keep(k)
}

// keep counts a call, and its time in the range, and gives it to fn (or
// Calls).
func (c *Calls) keep(k *Call) {
	if k.TsNs != 0 {
		if c.MinTsNs == 0 || k.TsNs < c.MinTsNs {
			c.MinTsNs = k.TsNs
		}
		c.MaxTsNs = max(c.MaxTsNs, k.TsNs)
	}
	c.Kept++
	if c.fn != nil {
		c.fn(k)
		return
	}
	c.Calls = append(c.Calls, *k)
}

// duration reads a non-negative number of units (a fraction allowed) as ns;
// -1 when it is absurd.
func (c *Calls) duration(i int, key string, v any, unit float64) int64 {
	var f float64
	var err error
	switch x := v.(type) {
	case json.Number:
		f, err = x.Float64()
	case string:
		f, err = json.Number(x).Float64()
	default:
		err = errors.New("not a number")
	}
	ns := f * unit
	if err != nil || math.IsNaN(ns) || ns < 0 || ns > MaxLatency {
		c.invalid(fmt.Sprintf("call %d: %s: %.40s", i, key, jsonv.String(v)))
		return -1
	}
	return int64(math.Round(ns))
}

// size reads a byte count from the first of vs present; -1 when absent
// or absurd.
func (c *Calls) size(i int, name string, vs ...any) int64 {
	for _, v := range vs {
		n, present, bad := jsonv.Count(v)
		if !present {
			continue
		}
		if bad != "" {
			c.invalid(fmt.Sprintf("call %d: %s: %s", i, name, bad))
			return -1
		}
		return n
	}
	return -1
}

// isHTTP1 says whether a call is one http.parquet can hold: HTTP/1.x, told
// by proto ("http", "https", "http/1.1", ...; empty with a method), not
// HTTP/2 or gRPC.
func isHTTP1(proto, method string) bool {
	switch proto {
	case "":
		return method != ""
	case "http", "https", "http/1.0", "http/1.1", "http1", "http/1":
		return true
	}
	return false
}

func endpointOf(m *rawEnd) (Endpoint, error) {
	var e Endpoint
	if m == nil {
		return e, errors.New("missing")
	}
	ip, err := netip.ParseAddr(cut(jsonv.String(m.IP)))
	if err != nil {
		return e, err
	}
	e.IP = ip.Unmap().WithZone("")
	if p, ok := jsonv.Int(m.Port); ok && p > 0 && p < 65536 {
		e.Port = uint16(p)
	}
	e.Pod = cut(jsonv.String(m.Pod))
	e.Namespace = cut(jsonv.First(jsonv.String(m.NS), jsonv.String(m.Namespace)))
	e.Service = cut(jsonv.First(jsonv.String(m.Svc), jsonv.String(m.Service)))
	e.Node = cut(jsonv.String(m.Node))
	return e, nil
}

// PathOf is a request target's path: the query string and fragment cut, an
// absolute URL reduced to its path ("" stays ""). It is the key both sides
// of the cross-check use.
func PathOf(target string) string {
	target = cut(target)
	if i := strings.IndexAny(target, "?#"); i >= 0 {
		target = target[:i]
	}
	if !strings.HasPrefix(target, "/") && strings.Contains(target, "://") {
		if u, err := url.Parse(target); err == nil {
			target = u.EscapedPath()
			if target == "" {
				target = "/"
			}
		}
	}
	return target
}

func cut(s string) string {
	if len(s) > MaxText {
		return s[:MaxText]
	}
	return s
}

// Seen tells calls apart across pages (paging by time windows that share
// a millisecond gives some calls twice): by id, or by all their fields when
// they have none. It keeps a 64-bit hash per call, not the call.
type Seen struct {
	seed maphash.Seed
	m    map[uint64]struct{}
}

// First reports whether k is seen for the first time.
func (s *Seen) First(k *Call) bool {
	if s.m == nil {
		s.seed, s.m = maphash.MakeSeed(), map[uint64]struct{}{}
	}
	var h maphash.Hash
	h.SetSeed(s.seed)
	if k.ID != "" {
		h.WriteString("id\x00" + k.ID)
	} else {
		fmt.Fprintf(&h, "%d\x00%v\x00%v\x00%s\x00%s\x00%d\x00%d\x00%d\x00%d", k.TsNs, k.Src, k.Dst, k.Method, k.Path, k.Status, k.LatencyNs, k.ReqSize, k.RespSize)
	}
	sum := h.Sum64()
	if _, ok := s.m[sum]; ok {
		return false
	}
	s.m[sum] = struct{}{}
	return true
}

// Merge joins pages into one set, each call once (Seen). Counts add up;
// Total is the calls kept.
func Merge(pages []*Calls) *Calls {
	out := &Calls{}
	var seen Seen
	for _, p := range pages {
		for i := range p.Calls {
			if !seen.First(&p.Calls[i]) {
				out.Duplicates++
				continue
			}
			out.keep(&p.Calls[i])
		}
		out.Add(p)
	}
	out.Total = out.Kept
	return out
}

// Add adds p's counts (not its calls) to c's.
func (c *Calls) Add(p *Calls) {
	c.Skipped += p.Skipped
	c.NotHTTP += p.NotHTTP
	c.Invalid += p.Invalid
	c.Dropped += p.Dropped
	c.Duplicates += p.Duplicates
	c.FirstSkip = jsonv.First(c.FirstSkip, p.FirstSkip)
	c.FirstInvalid = jsonv.First(c.FirstInvalid, p.FirstInvalid)
}
