package apicalls

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/netip"
	"net/url"
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
}

// ErrNotAnswer means the bytes are not a list_api_calls answer.
var ErrNotAnswer = errors.New(`not a list_api_calls answer (expected {"calls":[...]})`)

// maxAnswerFile caps an answer read back from a file.
const maxAnswerFile = 1 << 30

// Read reads a saved list_api_calls answer.
func Read(path string) (*Calls, error) {
	b, err := jsonv.ReadFile(path, maxAnswerFile)
	if err != nil {
		return nil, err
	}
	c, err := Parse(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}

// Parse parses one list_api_calls answer: {"calls":[...],"total",
// "truncated"} or a bare list of calls.
func Parse(b []byte) (*Calls, error) {
	out := &Calls{Total: -1}
	d := json.NewDecoder(bytes.NewReader(bytes.TrimSpace(b)))
	d.UseNumber()
	tok, err := d.Token()
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNotAnswer, err)
	}
	switch tok {
	case json.Delim('['):
		if err := out.readList(d); err != nil {
			return nil, fmt.Errorf("list_api_calls answer at byte %d: %w", d.InputOffset(), err)
		}
	case json.Delim('{'):
		found := false
		for d.More() {
			kt, err := d.Token()
			if err != nil {
				return nil, fmt.Errorf("list_api_calls answer at byte %d: %w", d.InputOffset(), err)
			}
			key, _ := kt.(string)
			var v any
			switch key {
			case "calls", "entries", "data":
				if found {
					err = d.Decode(new(json.RawMessage))
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
				err = d.Decode(new(json.RawMessage))
			}
			if err != nil {
				return nil, fmt.Errorf("list_api_calls answer at byte %d: %s: %w", d.InputOffset(), key, err)
			}
		}
		if !found {
			return nil, ErrNotAnswer
		}
	default:
		return nil, ErrNotAnswer
	}
	if out.Total < 0 {
		out.Total = int64(len(out.Calls)) + out.Dropped
	}
	return out, nil
}

func (c *Calls) invalid(why string) {
	c.Invalid++
	if c.FirstInvalid == "" {
		c.FirstInvalid = why
	}
}

// readList reads the elements of a list whose '[' was read, and its ']'.
func (c *Calls) readList(d *json.Decoder) error {
	for i := 0; d.More(); i++ {
		var m map[string]any
		if err := d.Decode(&m); err != nil {
			var te *json.UnmarshalTypeError
			if !errors.As(err, &te) {
				return err
			}
			c.skip(i, "not an object")
			continue
		}
		if m == nil {
			c.skip(i, "null")
			continue
		}
		c.add(i, m)
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

func (c *Calls) add(i int, m map[string]any) {
	proto := strings.ToLower(jsonv.String(m["proto"]))
	if proto == "" {
		proto = strings.ToLower(jsonv.String(m["protocol"]))
	}
	method := cut(jsonv.String(m["method"]))
	if !isHTTP1(proto, method) {
		c.NotHTTP++
		return
	}
	var k Call
	var err error
	if k.Src, err = endpointOf(m["src"]); err != nil {
		c.skip(i, "src: "+err.Error())
		return
	}
	if k.Dst, err = endpointOf(m["dst"]); err != nil {
		c.skip(i, "dst: "+err.Error())
		return
	}
	if len(c.Calls) >= MaxCalls {
		c.Dropped++
		return
	}
	k.ID = cut(jsonv.String(m["id"]))
	k.Method = method
	k.Path = PathOf(jsonv.First(jsonv.String(m["path"]), jsonv.String(m["url"])))
	k.Source = cut(jsonv.String(m["capture_source"]))
	if ts, ok := jsonv.TimeNs(m["ts"]); ok {
		k.TsNs = ts
	} else if ts, ok := jsonv.TimeNs(m["timestamp"]); ok {
		k.TsNs = ts
	}
	st := m["status"]
	if st == nil {
		st = m["status_code"]
	}
	if n, present, bad := jsonv.Count(st); present && (bad != "" || n > 999) {
		c.invalid(fmt.Sprintf("call %d: status: %s", i, jsonv.First(bad, "not an HTTP status")))
	} else {
		k.Status = int32(n)
	}
	k.LatencyNs = -1
	if v, ok := m["latency_ms"]; ok && v != nil {
		k.LatencyNs = c.duration(i, "latency_ms", v, 1e6)
	} else if v, ok := m["elapsed_time"]; ok && v != nil {
		k.LatencyNs = c.duration(i, "elapsed_time", v, 1e3)
	}
	k.ReqSize = c.size(i, m, "req_size", "request_size")
	k.RespSize = c.size(i, m, "resp_size", "response_size")
	c.keep(k)
}

// keep adds a call, and its time to the range.
func (c *Calls) keep(k Call) {
	if k.TsNs != 0 {
		if c.MinTsNs == 0 || k.TsNs < c.MinTsNs {
			c.MinTsNs = k.TsNs
		}
		c.MaxTsNs = max(c.MaxTsNs, k.TsNs)
	}
	c.Calls = append(c.Calls, k)
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

func (c *Calls) size(i int, m map[string]any, keys ...string) int64 {
	for _, key := range keys {
		n, present, bad := jsonv.Count(m[key])
		if !present {
			continue
		}
		if bad != "" {
			c.invalid(fmt.Sprintf("call %d: %s: %s", i, key, bad))
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

func endpointOf(v any) (Endpoint, error) {
	m, _ := v.(map[string]any)
	var e Endpoint
	if m == nil {
		return e, errors.New("missing")
	}
	ip, err := netip.ParseAddr(cut(jsonv.String(m["ip"])))
	if err != nil {
		return e, err
	}
	e.IP = ip.Unmap().WithZone("")
	if p, ok := jsonv.Int(m["port"]); ok && p > 0 && p < 65536 {
		e.Port = uint16(p)
	}
	e.Pod = cut(jsonv.String(m["pod"]))
	e.Namespace = cut(jsonv.First(jsonv.String(m["ns"]), jsonv.String(m["namespace"])))
	e.Service = cut(jsonv.First(jsonv.String(m["svc"]), jsonv.String(m["service"])))
	e.Node = cut(jsonv.String(m["node"]))
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

// Merge joins pages into one set: a call seen in several pages (paging by
// time windows that overlap) is kept once, told by its id, or by all its
// fields when it has none. Counts add up; Total is the calls kept.
func Merge(pages []*Calls) *Calls {
	out := &Calls{}
	seen := map[Call]bool{}
	for _, p := range pages {
		for _, k := range p.Calls {
			key := k
			if k.ID != "" {
				key = Call{ID: k.ID}
			}
			if seen[key] {
				out.Duplicates++
				continue
			}
			seen[key] = true
			out.keep(k)
		}
		out.Skipped += p.Skipped
		out.NotHTTP += p.NotHTTP
		out.Invalid += p.Invalid
		out.Dropped += p.Dropped
		out.Duplicates += p.Duplicates
		out.FirstSkip = jsonv.First(out.FirstSkip, p.FirstSkip)
		out.FirstInvalid = jsonv.First(out.FirstInvalid, p.FirstInvalid)
	}
	out.Total = int64(len(out.Calls))
	return out
}
