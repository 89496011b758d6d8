package standin

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"
)

// The cluster's HTTP: the frontend -> checkout:8080 connection carries
// three pipelined requests in its one 310-byte request segment and their
// three responses in its one 1200-byte response segment; the synthetic
// plaintext twin of frontend -> payments:443 carries one request (383
// bytes) and its response (1150 bytes). The lengths are those of the
// scripted segments, so the L4 numbers do not depend on the text.

// Exchange is one HTTP request of the cluster capture, with what the
// capture holds of it.
type Exchange struct {
	Client, Server netip.AddrPort
	Method, URI    string
	Status         int
	StatusText     string
	ReqBody        int // request body bytes
	RespBody       int
	// AtUs is when the request's first byte was sent (µs after Epoch);
	// LatencyUs from the packet completing the request headers to the one
	// completing the response headers.
	AtUs, LatencyUs int64
}

// Exchanges are the capture's HTTP requests, in capture order.
func Exchanges() []Exchange {
	ck := netip.AddrPortFrom(Frontend.IP, 51000)
	ckS := netip.AddrPortFrom(Checkout.IP, 8080)
	_, reqs, resps := CheckoutSegments()
	return []Exchange{
		{Client: ck, Server: ckS, Method: "GET", URI: "/api/cart?session=7f3a", Status: 200, StatusText: "OK", RespBody: resps[0], AtUs: 2000, LatencyUs: 12000},
		{Client: ck, Server: ckS, Method: "GET", URI: "/api/stock/42", Status: 503, StatusText: "Service Unavailable", RespBody: resps[1], AtUs: 2000, LatencyUs: 12000},
		{Client: ck, Server: ckS, Method: "POST", URI: "/api/checkout", Status: 200, StatusText: "OK", ReqBody: reqs[2], RespBody: resps[2], AtUs: 2000, LatencyUs: 12000},
		{Client: TLSClient, Server: TLSServer, Method: "POST", URI: "/v1/charges", Status: 201, StatusText: "Created", ReqBody: twinBodies()[0], RespBody: twinBodies()[1], AtUs: 5953, LatencyUs: 8990 - 5953},
	}
}

// padded returns head(n) + n body bytes, n chosen so that the whole is
// total bytes long (head's own length depends on n's digits).
func padded(total int, head func(n int) string) (string, int) {
	for n := total; n >= 0; n-- {
		if h := head(n); len(h)+n == total {
			return h + strings.Repeat("x", n), n
		}
	}
	panic(fmt.Sprintf("standin: no body makes %d bytes", total))
}

// CheckoutSegments builds the checkout connection's two data segments
// (the request and response bodies' lengths with them).
func CheckoutSegments() (seg [2][]byte, reqBodies, respBodies [3]int) {
	const host = "Host: checkout.shop.svc:8080\r\n"
	r1 := "GET /api/cart?session=7f3a HTTP/1.1\r\n" + host + "\r\n"
	r2 := "GET /api/stock/42 HTTP/1.1\r\n" + host + "\r\n"
	r3, n3 := padded(310-len(r1)-len(r2), func(n int) string {
		return "POST /api/checkout HTTP/1.1\r\n" + host + "Content-Type: application/json\r\nContent-Length: " + strconv.Itoa(n) + "\r\n\r\n"
	})
	seg[0] = []byte(r1 + r2 + r3)
	reqBodies = [3]int{0, 0, n3}
	s1 := "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 120\r\n\r\n" + strings.Repeat("c", 120)
	s2 := "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 19\r\n\r\nstock service down\n"
	s3, n := padded(1200-len(s1)-len(s2), func(n int) string {
		return "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: " + strconv.Itoa(n) + "\r\n\r\n"
	})
	seg[1] = []byte(s1 + s2 + s3)
	respBodies = [3]int{120, 19, n}
	return
}

// TwinSegments builds the twin's plaintext request (383 bytes) and
// response (1150 bytes).
func TwinSegments() (req, resp []byte, reqBody, respBody int) {
	r, a := padded(383, func(n int) string {
		return "POST /v1/charges HTTP/1.1\r\nHost: payments.payments.svc\r\nContent-Type: application/json\r\nContent-Length: " + strconv.Itoa(n) + "\r\n\r\n"
	})
	s, b := padded(1150, func(n int) string {
		return "HTTP/1.1 201 Created\r\nContent-Type: application/json\r\nContent-Length: " + strconv.Itoa(n) + "\r\n\r\n"
	})
	return []byte(r), []byte(s), a, b
}

func twinBodies() [2]int {
	_, _, a, b := TwinSegments()
	return [2]int{a, b}
}

// APICall is one call of list_api_calls (format full), in the shape
// kubeshark-mcp.md §2.2 gives.
type APICall struct {
	ID            string     `json:"id"`
	Ts            int64      `json:"ts"` // Unix ms
	Src           APIEnd     `json:"src"`
	Dst           APIEnd     `json:"dst"`
	Proto         string     `json:"proto"`
	Method        string     `json:"method"`
	Path          string     `json:"path"`
	Status        int        `json:"status"`
	LatencyMs     float64    `json:"latency_ms"`
	ReqSize       int        `json:"req_size"`
	RespSize      int        `json:"resp_size"`
	NodeID        string     `json:"node_id"`
	ConnID        string     `json:"conn_id"`
	CaptureSource string     `json:"capture_source,omitempty"`
	ReqHeaders    [][]string `json:"req_headers"`
}

// APIEnd is a call's src or dst.
type APIEnd struct {
	IP   string `json:"ip"`
	Port int    `json:"port"`
	Pod  string `json:"pod,omitempty"`
	NS   string `json:"ns,omitempty"`
	Svc  string `json:"svc,omitempty"`
	Node string `json:"node,omitempty"`
}

// L7Expect is the verdict the L7 cross-check must give one group.
type L7Expect struct {
	Client, Server string // namespace/pod
	Method, Path   string
	Status         int
	Verdict        string
	Outside        bool
}

// APICallsDisagreeing returns list_api_calls' calls for the cluster
// capture (a JSON array) with the known disagreements, and the verdicts
// the L7 cross-check must give:
//
//   - GET /api/cart 200: as captured (match);
//   - POST /api/checkout 200: Kubeshark counts it twice (count_mismatch);
//   - POST /v1/charges 201 (the TLS twin's plaintext): Kubeshark's latency
//     is 40 ms, the capture's 3.037 ms (latency_mismatch);
//   - GET /api/stock/42: Kubeshark says 500, the capture 503 (the 503
//     group is capture_only, the 500 one kubeshark_only);
//   - GET /healthz 200: a call the capture lacks (kubeshark_only);
//   - GET /api/cart 200 again, dated an hour after the capture
//     (outside_window).
func APICallsDisagreeing() ([]byte, []L7Expect) {
	var calls []APICall
	for i, x := range Exchanges() {
		calls = append(calls, callOf(i, x))
	}
	// calls: 0 cart, 1 stock, 2 checkout, 3 charges
	calls[1].Status = 500
	calls[3].LatencyMs = 40
	dup := calls[2]
	dup.ID, dup.Ts = "worker-2/90/0", dup.Ts+1
	extra := calls[0]
	extra.ID, extra.Path, extra.Ts, extra.ReqSize, extra.RespSize = "worker-2/91/0", "/healthz", extra.Ts+3, 0, 2
	late := calls[0]
	late.ID, late.Ts = "worker-2/92/0", late.Ts+time.Hour.Milliseconds()
	calls = append(calls, dup, extra, late)
	b, err := json.MarshalIndent(calls, "", "  ")
	if err != nil {
		panic(err)
	}
	fe, ck, pay := Frontend.Namespace+"/"+Frontend.Name, Checkout.Namespace+"/"+Checkout.Name, Payments.Namespace+"/"+Payments.Name
	return b, []L7Expect{
		{fe, ck, "GET", "/api/cart", 200, "match", false},
		{fe, ck, "GET", "/api/stock/42", 500, "kubeshark_only", false},
		{fe, ck, "POST", "/api/checkout", 200, "count_mismatch", false},
		{fe, pay, "POST", "/v1/charges", 201, "latency_mismatch", false},
		{fe, ck, "GET", "/healthz", 200, "kubeshark_only", false},
		{fe, ck, "GET", "/api/cart", 200, "outside_window", true},
		{fe, ck, "GET", "/api/stock/42", 503, "capture_only", false},
	}
}

func callOf(i int, x Exchange) APICall {
	end := func(a netip.AddrPort) APIEnd {
		e := APIEnd{IP: a.Addr().String(), Port: int(a.Port())}
		if p, ok := PodOf(a.Addr()); ok {
			e.Pod, e.NS, e.Svc, e.Node = p.Name, p.Namespace, p.Service, p.Node
		}
		return e
	}
	c := APICall{
		ID: fmt.Sprintf("%s/%d/0", end(x.Server).Node, 10+i), Ts: Epoch.Add(time.Duration(x.AtUs) * us).UnixMilli(),
		Src: end(x.Client), Dst: end(x.Server), Proto: "http", Method: x.Method, Path: x.URI, Status: x.Status,
		LatencyMs: math.Round(float64(x.LatencyUs)/1000*1000) / 1000, ReqSize: x.ReqBody, RespSize: x.RespBody,
		NodeID: end(x.Server).Node, ConnID: fmt.Sprintf("conn-%d", x.Client.Port()),
		ReqHeaders: [][]string{{"Host", x.Server.String()}},
	}
	c.Src.Port = int(x.Client.Port())
	if x.Client == TLSClient {
		c.CaptureSource = "ebpf_tls"
	}
	return c
}

// listAPICalls answers list_api_calls like the Hub: the calls whose ts is
// in [start, end] (Unix ms, both inclusive; absent: unbounded), newest
// first, at most limit (default 100, at most 1000), with the total that
// matched and truncated when more did. kfl is accepted and not applied
// (every call is HTTP).
func (h *Hub) listAPICalls(args map[string]any) Answer {
	if a := h.opts.Faults.Hostile.APICalls; a != "" {
		return h.hostileAPICalls(a, args)
	}
	h.callsOnce.Do(func() {
		d := json.NewDecoder(bytes.NewReader(h.opts.APICalls))
		d.UseNumber()
		h.callsErr = d.Decode(&h.apiCalls)
	})
	if h.callsErr != nil {
		return errAnswer(500, "stand-in: bad APICalls: "+h.callsErr.Error())
	}
	calls := h.apiCalls
	limit, ok := argInt(args, "limit")
	if !ok {
		limit = 100
	}
	if limit < 1 || limit > 1000 {
		return errAnswer(400, "limit must be between 1 and 1000")
	}
	start, okS := argInt(args, "start")
	end, okE := argInt(args, "end")
	var out []map[string]any
	for _, c := range calls {
		ts, _ := argInt(c, "ts")
		if okS && ts < start || okE && ts > end {
			continue
		}
		out = append(out, c)
	}
	slices.SortStableFunc(out, func(a, b map[string]any) int {
		ta, _ := argInt(a, "ts")
		tb, _ := argInt(b, "ts")
		return int(tb - ta)
	})
	total := len(out)
	if int64(total) > limit {
		out = out[:limit]
	}
	if out == nil {
		out = []map[string]any{}
	}
	return jsonAnswer(200, map[string]any{"calls": out, "total": total, "truncated": len(out) < total})
}

// Hostile list_api_calls answers (Hostile.APICalls).
const (
	APICallsEndless   = "endless"   // every page is full (limit calls) and truncated, whatever the window
	APICallsHuge      = "huge"      // one answer of about 3 MiB (above the cap a test sets)
	APICallsMalformed = "malformed" // JSON cut in the middle of a call
	APICallsAbsurd    = "absurd"    // negative, huge and non-numeric latencies, sizes and statuses
)

func (h *Hub) hostileAPICalls(mode string, args map[string]any) Answer {
	call := func(i int) map[string]any {
		return map[string]any{"id": fmt.Sprintf("x/%d", i), "ts": Epoch.UnixMilli(), "proto": "http", "method": "GET", "path": "/x",
			"src": map[string]any{"ip": Frontend.IP.String(), "port": 50000}, "dst": map[string]any{"ip": Checkout.IP.String(), "port": 8080},
			"status": 200, "latency_ms": 1}
	}
	switch mode {
	case APICallsEndless:
		n, ok := argInt(args, "limit")
		if !ok || n < 1 || n > 1000 {
			n = 1000
		}
		out := make([]map[string]any, n)
		for i := range out {
			out[i] = call(i)
		}
		return jsonAnswer(200, map[string]any{"calls": out, "total": int64(1) << 40, "truncated": true})
	case APICallsHuge:
		var b strings.Builder
		b.WriteString(`{"calls":[`)
		pad := strings.Repeat("p", 1<<20)
		for i := range 3 {
			if i > 0 {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, `{"id":"h/%d","proto":"http","method":"GET","path":"/%s","src":{"ip":"10.0.0.1"},"dst":{"ip":"10.0.0.2"}}`, i, pad)
		}
		b.WriteString(`],"total":3}`)
		return Answer{Status: 200, Body: []byte(b.String())}
	case APICallsMalformed:
		return Answer{Status: 200, Body: []byte(`{"calls":[{"id":"m/1","proto":"http","method":"GET","src":{"ip":"10.0.0.1"},"dst":{"ip":`)}
	case APICallsAbsurd:
		c := []map[string]any{call(1), call(2), call(3), call(4)}
		c[0]["latency_ms"], c[0]["status"] = -5, 99999
		c[1]["latency_ms"], c[1]["req_size"] = 1e300, -1
		c[2]["latency_ms"], c[2]["resp_size"] = "soon", 1e30
		c[3]["src"] = map[string]any{"ip": "not-an-ip"}
		return jsonAnswer(200, map[string]any{"calls": c, "total": -3})
	}
	return errAnswer(500, "stand-in: unknown hostile mode "+mode)
}
