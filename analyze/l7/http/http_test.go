package http

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"unsafe"

	"github.com/flowproof/flowproof/analyze"
)

// ev is one thing that happens to a connection: bytes from the client
// ('>') or the server ('<'), a gap in either (n bytes), at time ts.
type ev struct {
	dir  byte
	data string
	gap  int64
	ts   int64
}

func req(ts int64, s string) ev  { return ev{dir: '>', data: s, ts: ts} }
func resp(ts int64, s string) ev { return ev{dir: '<', data: s, ts: ts} }

// show renders a transaction compactly for the tests' tables.
func show(t *Transaction) string {
	o := func(v analyze.Opt) string {
		if !v.Valid {
			return "-"
		}
		return fmt.Sprint(v.V)
	}
	return fmt.Sprintf("%d %s %s %s %q body=%d/%d ts=%d req=%s lat=%s dur=%s [%s]", t.TransDepth, t.Method, t.URI, o(t.StatusCode),
		t.StatusMsg, t.RequestBodyLen, t.ResponseBodyLen, t.TsNs, o(t.RequestNs), o(t.LatencyNs), o(t.DurationNs), t.Tags)
}

func run(lim Limits, evs []ev) ([]string, Stats) { return runWith(nil, lim, evs) }

// runWith is run with the connection's strings (and last heads) in in.
func runWith(in *Interner, lim Limits, evs []ev) ([]string, Stats) {
	var out []string
	var st Stats
	c := NewConn(&analyze.L7Info{}, lim, &st, func(t *Transaction) { out = append(out, show(t)) })
	c.Strings = in
	for _, e := range evs {
		h := c.Requests()
		if e.dir == '<' {
			h = c.Responses()
		}
		if e.gap > 0 {
			h.Gap(e.gap, e.ts)
		} else {
			h.Data([]byte(e.data), e.ts)
		}
	}
	c.End()
	return out, st
}

const (
	get1   = "GET /a HTTP/1.1\r\nHost: h\r\nUser-Agent: t\r\n\r\n"
	ok5    = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"
	noBody = "HTTP/1.1 204 No Content\r\n\r\n"
)

// connTests are TestConn's connections.
var connTests = []struct {
	name string
	evs  []ev
	want []string
}{
	{"one request", []ev{req(10, get1), resp(20, ok5)},
		[]string{`1 GET /a 200 "OK" body=0/5 ts=10 req=10 lat=10 dur=10 []`}},
	{"split head: the completing packet times the request and the response", []ev{
		req(10, "GET /a HT"), req(11, "TP/1.1\r\nHost: h\r"), req(12, "\n\r\n"),
		resp(20, "HTTP/1.1 200 OK\r\nContent-"), resp(21, "Length: 5\r\n\r\nhe"), resp(25, "llo")},
		[]string{`1 GET /a 200 "OK" body=0/5 ts=10 req=12 lat=9 dur=15 []`}},
	{"keep-alive", []ev{req(10, get1), resp(20, ok5), req(30, "GET /b HTTP/1.1\r\n\r\n"), resp(40, noBody)},
		[]string{`1 GET /a 200 "OK" body=0/5 ts=10 req=10 lat=10 dur=10 []`, `2 GET /b 204 "No Content" body=0/0 ts=30 req=30 lat=10 dur=10 []`}},
	{"pipelined: responses pair in order", []ev{
		req(10, get1+"GET /b HTTP/1.1\r\n\r\nGET /c HTTP/1.1\r\n\r\n"),
		resp(20, ok5+"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"), resp(30, "HTTP/1.1 500 Oops\r\nContent-Length: 2\r\n\r\nxx")},
		[]string{`1 GET /a 200 "OK" body=0/5 ts=10 req=10 lat=10 dur=10 []`,
			`2 GET /b 404 "Not Found" body=0/0 ts=10 req=10 lat=10 dur=10 [pipelined]`,
			`3 GET /c 500 "Oops" body=0/2 ts=10 req=10 lat=20 dur=20 [pipelined]`}},
	{"chunked response, extensions and trailer", []ev{req(10, get1),
		resp(20, "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\nContent-Length: 99\r\n\r\n5;x=y\r\nhello\r\n1"),
		resp(21, "0\r\n0123456789abcdef\r\n0\r\nTrailer: v\r\n\r\n")},
		[]string{`1 GET /a 200 "OK" body=0/21 ts=10 req=10 lat=10 dur=11 []`}},
	{"chunked request body", []ev{req(10, "POST /up HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"), resp(20, noBody)},
		[]string{`1 POST /up 204 "No Content" body=3/0 ts=10 req=10 lat=10 dur=10 []`}},
	{"request body by length, response before its end", []ev{
		req(10, "PUT /x HTTP/1.1\r\nContent-Length: 10\r\n\r\n12345"),
		resp(20, "HTTP/1.1 413 Too Large\r\nContent-Length: 0\r\n\r\n"), req(30, "67890")},
		[]string{`1 PUT /x 413 "Too Large" body=10/0 ts=10 req=10 lat=10 dur=10 []`}},
	{"HEAD has no body whatever its length says", []ev{req(10, "HEAD / HTTP/1.1\r\n\r\n"),
		resp(20, "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n"), req(30, get1), resp(40, ok5)},
		[]string{`1 HEAD / 200 "OK" body=0/0 ts=10 req=10 lat=10 dur=10 []`, `2 GET /a 200 "OK" body=0/5 ts=30 req=30 lat=10 dur=10 []`}},
	{"304 has no body", []ev{req(10, get1), resp(20, "HTTP/1.1 304 Not Modified\r\nContent-Length: 50\r\n\r\n")},
		[]string{`1 GET /a 304 "Not Modified" body=0/0 ts=10 req=10 lat=10 dur=10 []`}},
	{"1xx is interim", []ev{req(10, "POST /u HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n"),
		resp(15, "HTTP/1.1 100 Continue\r\n\r\n"), req(16, "ok"), resp(20, ok5)},
		[]string{`1 POST /u 200 "OK" body=2/5 ts=10 req=10 lat=10 dur=10 []`}},
	{"101 ends HTTP on the connection", []ev{req(10, "GET /ws HTTP/1.1\r\nUpgrade: websocket\r\n\r\n"),
		resp(20, "HTTP/1.1 101 Switching Protocols\r\n\r\n\x81\x05hello"), req(30, "\x81\x85GET / HTTP/1.1\r\n\r\n")},
		[]string{`1 GET /ws 101 "Switching Protocols" body=0/0 ts=10 req=10 lat=10 dur=10 []`}},
	{"HTTP/1.0 body until close", []ev{req(10, "GET / HTTP/1.0\r\n\r\n"), resp(20, "HTTP/1.0 200 OK\r\n\r\nabc"), resp(30, "defg")},
		[]string{`1 GET / 200 "OK" body=0/7 ts=10 req=10 lat=10 dur=20 []`}},
	{"no response", []ev{req(10, get1)},
		[]string{`1 GET /a - "" body=0/0 ts=10 req=10 lat=- dur=- [no_response]`}},
	{"response without request", []ev{resp(20, ok5)},
		[]string{`1   200 "OK" body=0/5 ts=20 req=- lat=- dur=0 []`}},
	{"capture ends inside a body", []ev{req(10, get1), resp(20, "HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\nabc")},
		[]string{`1 GET /a 200 "OK" body=0/3 ts=10 req=10 lat=10 dur=10 [partial]`}},
	{"gap inside a body counts as body", []ev{req(10, get1), resp(20, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc"),
		{dir: '<', gap: 4, ts: 21}, resp(22, "hij"), req(30, get1), resp(40, ok5)},
		[]string{`1 GET /a 200 "OK" body=0/10 ts=10 req=10 lat=10 dur=12 [gap]`, `2 GET /a 200 "OK" body=0/5 ts=30 req=30 lat=10 dur=10 []`}},
	{"lost response head: the next response pairs with the next request", []ev{
		req(10, get1), req(11, "GET /b HTTP/1.1\r\n\r\n"), {dir: '<', gap: 40, ts: 20}, resp(20, "body bytes"), resp(30, ok5)},
		[]string{`1 GET /a - "" body=0/0 ts=10 req=10 lat=- dur=- [no_response,gap]`, `2 GET /b 200 "OK" body=0/5 ts=11 req=11 lat=19 dur=19 [pipelined]`}},
	{"lost request head: its response pairs with a stand-in", []ev{
		{dir: '>', gap: 30, ts: 10}, req(12, "GET /b HTTP/1.1\r\n\r\n"), resp(20, noBody), resp(30, ok5)},
		[]string{`1   204 "No Content" body=0/0 ts=10 req=- lat=- dur=10 [gap]`, `2 GET /b 200 "OK" body=0/5 ts=12 req=12 lat=18 dur=18 [pipelined]`}},
	{"malformed request line", []ev{req(10, "GARBAGE\r\n\r\n"), req(20, get1), resp(30, ok5)},
		[]string{`1 GET /a 200 "OK" body=0/5 ts=20 req=20 lat=10 dur=10 []`}},
}

func TestConn(t *testing.T) {
	for _, tt := range connTests {
		t.Run(tt.name, func(t *testing.T) {
			got, _ := run(Limits{}, tt.evs)
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("got\n\t%s\nwant\n\t%s", strings.Join(got, "\n\t"), strings.Join(tt.want, "\n\t"))
			}
		})
	}
}

// TestLastHead: connections sharing an Interner, each head seen again
// (taken from the last head instead of parsed), give the transactions and
// counts that parsing gives.
func TestLastHead(t *testing.T) {
	in := new(Interner)
	for round := range 2 {
		for _, tt := range connTests {
			_, want := run(Limits{}, tt.evs)
			got, st := runWith(in, Limits{}, tt.evs)
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") || st != want {
				t.Errorf("round %d, %s: got\n\t%s\n\t%+v\nwant\n\t%s\n\t%+v", round, tt.name, strings.Join(got, "\n\t"), st, strings.Join(tt.want, "\n\t"), want)
			}
			// The same connection again: its heads are the last ones.
			if got, _ := runWith(in, Limits{}, tt.evs); strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("round %d, %s again: got\n\t%s\nwant\n\t%s", round, tt.name, strings.Join(got, "\n\t"), strings.Join(tt.want, "\n\t"))
			}
		}
	}
	if len(in.heads[0].head) == 0 || len(in.heads[1].head) == 0 {
		t.Error("no last heads kept")
	}
	// Interner.LooksLikeRequest answers as LooksLikeRequest, from the last
	// request head or not.
	for _, tt := range connTests {
		for _, e := range tt.evs {
			b := []byte(e.data)
			want := LooksLikeRequest(b)
			runWith(in, Limits{}, []ev{e})
			if got := in.LooksLikeRequest(b); got != want {
				t.Errorf("%s: Interner.LooksLikeRequest(%q) = %v, want %v", tt.name, e.data, got, want)
			}
		}
	}
}

// TestOpened: the bytes Interner.LooksLikeRequest found to start with the
// last request head are that head for the next request head read from the
// same slice, once; any request head uses the match up.
func TestOpened(t *testing.T) {
	in := new(Interner)
	const get = "GET /a HTTP/1.1\r\nHost: h\r\n\r\n"
	runWith(in, Limits{}, []ev{req(10, get)})
	b := []byte(get + "body")
	if !in.LooksLikeRequest(b) || in.match == nil {
		t.Fatal("the last request head not matched")
	}
	if in.opened(true, b) || in.match == nil {
		t.Error("a response head took the match, or used it up")
	}
	if !in.opened(false, b) {
		t.Error("the matched bytes not taken")
	}
	if in.opened(false, b) {
		t.Error("the match taken twice")
	}
	for _, other := range [][]byte{[]byte(get + "body"), b[:len(b)-1], b[1:]} {
		in.LooksLikeRequest(b)
		if in.opened(false, other) || in.match != nil {
			t.Errorf("%q: taken as the matched bytes, or the match not used up", other)
		}
	}
	in.LooksLikeRequest(b)
	if in.LooksLikeRequest([]byte("GET /b HTTP/1.1\r\n\r\n")); in.match != nil {
		t.Error("a request without the last head kept the last match")
	}
}

// TestHostile: hostile input is bounded and counted, and never panics.
func TestHostile(t *testing.T) {
	t.Run("absurd content-length", func(t *testing.T) {
		got, st := run(Limits{}, []ev{req(1, get1), resp(2, "HTTP/1.1 200 OK\r\nContent-Length: 999999999999999999\r\n\r\nxyz")})
		if len(got) != 1 || !strings.Contains(got[0], "body=0/3") || !strings.Contains(got[0], "partial") {
			t.Errorf("got %q", got)
		}
		_, st = run(Limits{}, []ev{req(1, get1), resp(2, "HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999\r\n\r\n")})
		if st.Malformed != 1 {
			t.Errorf("a 20-digit length: malformed %d, want 1", st.Malformed)
		}
	})
	t.Run("endless chunked body", func(t *testing.T) {
		evs := []ev{req(1, get1), resp(2, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")}
		chunk := strings.Repeat("400\r\n"+strings.Repeat("x", 1024)+"\r\n", 64)
		for i := range 200 {
			evs = append(evs, resp(int64(3+i), chunk))
		}
		got, _ := run(Limits{}, evs)
		if len(got) != 1 || !strings.Contains(got[0], fmt.Sprintf("body=0/%d", 200*64*1024)) {
			t.Errorf("got %q", got)
		}
	})
	t.Run("megabyte header line", func(t *testing.T) {
		evs := []ev{req(1, "GET /a HTTP/1.1\r\nCookie: ")}
		for i := range 16 {
			evs = append(evs, req(int64(2+i), strings.Repeat("c", 64<<10)))
		}
		evs = append(evs, req(20, "\r\n\r\n"), req(30, get1), resp(40, ok5))
		var c *Conn
		var st Stats
		var got []string
		c = NewConn(&analyze.L7Info{}, Limits{}, &st, func(t *Transaction) { got = append(got, show(t)) })
		for _, e := range evs {
			h := c.Requests()
			if e.dir == '<' {
				h = c.Responses()
			}
			h.Data([]byte(e.data), e.ts)
			if n := cap(c.req.hdr); n > DefaultMaxHeaderBytes {
				t.Fatalf("head buffer grew to %d bytes", n)
			}
		}
		c.End()
		if st.HeaderTooLong != 1 || st.Resyncs != 1 || len(got) != 1 || !strings.HasPrefix(got[0], "1 GET /a 200") {
			t.Errorf("stats %+v, rows %q", st, got)
		}
	})
	t.Run("10,000 pipelined requests", func(t *testing.T) {
		evs := []ev{req(1, strings.Repeat("GET /p HTTP/1.1\r\n\r\n", 10000))}
		evs = append(evs, resp(2, strings.Repeat(noBody, 10000)))
		var n, noResp, ok int
		var st Stats
		c := NewConn(&analyze.L7Info{}, Limits{}, &st, func(t *Transaction) {
			n++
			if t.Tags&TagNoResponse != 0 {
				noResp++
			}
			if t.StatusCode.Valid {
				ok++
			}
		})
		c.Requests().Data([]byte(evs[0].data), 1)
		if len(c.pending) > DefaultMaxPending {
			t.Fatalf("%d requests waiting, limit %d", len(c.pending), DefaultMaxPending)
		}
		c.Responses().Data([]byte(evs[1].data), 2)
		c.End()
		if n != 10000 || noResp != 10000-DefaultMaxPending || ok != DefaultMaxPending || st.PendingDropped != 10000-DefaultMaxPending {
			t.Errorf("rows %d, no_response %d, answered %d, stats %+v", n, noResp, ok, st)
		}
	})
}

func BenchmarkConn(b *testing.B) {
	reqs := []byte("GET /index.html HTTP/1.1\r\nHost: example\r\nUser-Agent: bench\r\nAccept: */*\r\n\r\n")
	resps := []byte("HTTP/1.1 200 OK\r\nServer: x\r\nContent-Type: text/html\r\nContent-Length: 1000\r\n\r\n" + strings.Repeat("x", 1000))
	var st Stats
	b.ReportAllocs()
	for b.Loop() {
		c := NewConn(&analyze.L7Info{}, Limits{}, &st, func(*Transaction) {})
		c.Requests().Data(reqs, 1)
		c.Responses().Data(resps, 2)
		c.End()
	}
}

// TestInterner: equal values share one string; the table starts over when
// full and never keeps long values.
func TestInterner(t *testing.T) {
	var in Interner
	a, b := in.get([]byte("curl/7.88.1"), 100), in.get([]byte("curl/7.88.1"), 100)
	if a != b || unsafe.StringData(a) != unsafe.StringData(b) {
		t.Errorf("not shared")
	}
	if got := in.get([]byte("abcdef"), 3); got != "abc" {
		t.Errorf("cut: %q", got)
	}
	for i := range maxInterned + 10 {
		in.get([]byte(fmt.Sprint(i)), 100)
	}
	if len(in.table) != maxInterned {
		t.Errorf("%d slots, want %d: the table never grows", len(in.table), maxInterned)
	}
	long := strings.Repeat("u", maxInternedLen+1)
	in.get([]byte(long), 1<<20)
	if slices.ContainsFunc(in.table, func(e interned) bool { return e.s == long }) {
		t.Errorf("a long value was kept")
	}
	// A value seen again after others took its slot is still itself.
	for i := range 3 * maxInterned {
		if v := fmt.Sprint(i % (maxInterned + 7)); in.get([]byte(v), 100) != v {
			t.Fatalf("%q came back as another value", v)
		}
	}
	// Values of one length that differ in a byte or two, and ones that
	// take each other's slots, still come back as themselves.
	vals := []string{"/a/1/x", "/a/2/x", "/b/1/x", "/a/1/y", "", "/", "//"}
	for i := range 5 * maxInterned {
		v := vals[i%len(vals)]
		if i%3 == 0 {
			v = fmt.Sprintf("/orders/%d", i%977)
		}
		if got := in.get([]byte(v), 100); got != v {
			t.Fatalf("get(%q) = %q", v, got)
		}
	}
	var none *Interner
	if none.get([]byte("x"), 1) != "x" {
		t.Errorf("nil interner")
	}
}

// keepAliveStep returns a step that sends c one request and its response.
func keepAliveStep(c *Conn) func() {
	req := []byte("GET /a HTTP/1.1\r\nHost: x\r\n\r\n")
	resp := []byte("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
	ts := int64(0)
	return func() {
		ts++
		c.Requests().Data(req, ts)
		c.Responses().Data(resp, ts)
	}
}

// TestKeepAliveAllocs: requests answered one at a time on a keep-alive
// connection cost no allocation once warm (the pending queue starts again
// at its first array instead of growing a new one).
func TestKeepAliveAllocs(t *testing.T) {
	var st Stats
	c := NewConn(&analyze.L7Info{}, Limits{}, &st, func(t *Transaction) { Release(t) })
	c.Strings = new(Interner) // the URI and Host are shared, as the engine has them
	step := keepAliveStep(c)
	for range 10 {
		step()
	}
	if n := testing.AllocsPerRun(1000, step); n > 0.01 {
		t.Errorf("%.2f allocations per request and response", n)
	}
	if st.Requests < 1000 {
		t.Errorf("%d requests: the connection did not parse them", st.Requests)
	}
}

// TestRecycled: transactions put back come out again for the next
// requests, as new (only their Flow set, to the connection's own copy),
// without an allocation per request; the list keeps at most maxRecycled.
func TestRecycled(t *testing.T) {
	var st Stats
	var rec Recycled
	var back [1]*Transaction
	flow := &analyze.L7Info{Ordinal: 3, FirstIndex: 9}
	var got []Transaction
	c := NewConn(flow, Limits{}, &st, func(t *Transaction) {
		got = append(got[:0], *t)
		back[0] = t
		rec.Put(back[:])
	})
	c.Strings, c.Recycled = new(Interner), &rec
	step := keepAliveStep(c)
	step()
	first := back[0]
	step()
	if back[0] != first {
		t.Errorf("the transaction put back was not reused")
	}
	if g := got[0]; g.TransDepth != 2 || g.Flow == flow || *g.Flow != *flow || g.Tags != 0 || g.RequestBodyLen != 0 || g.URI != "/a" {
		t.Errorf("reused transaction: %+v (flow %+v)", g, *g.Flow)
	}
	if n := testing.AllocsPerRun(1000, step); n > 0.01 {
		t.Errorf("%.2f allocations per request and response", n)
	}
	many := make([]*Transaction, maxRecycled+10)
	for i := range many {
		many[i] = new(Transaction)
	}
	rec.Put(many)
	if len(rec.free) != maxRecycled {
		t.Errorf("%d transactions kept, limit %d", len(rec.free), maxRecycled)
	}
}
