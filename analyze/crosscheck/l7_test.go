package crosscheck_test

import (
	"fmt"
	"net/netip"
	"testing"

	"github.com/flowproof/flowproof/analyze/crosscheck"
	"github.com/flowproof/flowproof/ingest/kubeshark/apicalls"
)

// TestL7Verdicts: each group gets the verdict its numbers call for, worked
// out by hand: the key's naming (a workload for a known address, the
// calls' own pod name for an address only they name, else the IP), the
// path without its query, counts, latency medians with the tolerance, and
// the time window.
func TestL7Verdicts(t *testing.T) {
	const t0 = int64(1_700_000_000_000_000_000)
	a, b, c, x := netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("10.0.0.2"), netip.MustParseAddr("10.0.0.3"), netip.MustParseAddr("203.0.113.9")
	ep := func(ip netip.Addr, pod string) apicalls.Endpoint {
		return apicalls.Endpoint{IP: ip, Pod: pod, Namespace: "ns"}
	}
	call := func(src, dst apicalls.Endpoint, method, path string, status int32, ts, latMs int64) apicalls.Call {
		return apicalls.Call{Src: src, Dst: dst, Method: method, Path: path, Status: status, TsNs: ts, LatencyNs: latMs * 1e6, ReqSize: -1, RespSize: -1}
	}
	calls := []apicalls.Call{
		call(ep(a, "ks-name-ignored"), ep(b, "api"), "GET", "/a", 200, t0, 10),    // match: a named by the workloads, b by the calls
		call(ep(a, ""), ep(b, "api"), "GET", "/a", 200, t0+1e6, 11),               // same group
		call(ep(a, ""), ep(b, "api"), "GET", "/b", 200, t0, 10),                   // count_mismatch: 1 vs 2
		call(ep(a, ""), ep(b, "api"), "POST", "/c", 201, t0, 50),                  // latency_mismatch: 50 ms vs 20 ms
		call(ep(a, ""), ep(b, "api"), "POST", "/d", 201, t0, 13),                  // count_mismatch: 1 call, 3 requests (count comes before latency)
		call(ep(a, ""), ep(x, ""), "GET", "/e", 500, t0, 1),                       // kubeshark_only: the capture saw 502
		call(ep(a, ""), ep(b, "api"), "GET", "/a", 200, t0+int64(3600e9), 10),     // outside_window
		call(ep(c, "other"), ep(b, "api"), "GET", "/late", 200, t0+int64(4e9), 1), // inside the 5 s slack: kubeshark_only
	}
	name := func(ip netip.Addr, ts int64) crosscheck.Identity {
		if ip == a {
			return crosscheck.Identity{Pod: "web-1", Namespace: "shop"}
		}
		return crosscheck.Identity{}
	}
	chk := newL7(calls, name, crosscheck.DefaultL7Tolerances())
	txn := func(srv netip.Addr, method, uri string, status int32, latNs int64) {
		chk.Add(&crosscheck.L7Txn{Client: a, Server: srv, TsNs: t0, Method: method, URI: uri, Status: status, LatencyNs: latNs, ReqBody: 1, RespBody: 2})
	}
	txn(b, "GET", "/a?q=1", 200, 10_400_000)
	txn(b, "GET", "/a", 200, 10_600_000)
	txn(b, "GET", "/b", 200, 9e6)
	txn(b, "GET", "/b", 200, -1)
	txn(b, "POST", "/c", 201, 20e6)
	txn(b, "POST", "/d", 201, 10e6)
	txn(b, "POST", "/d", 201, 11e6)
	txn(b, "POST", "/d", 201, 12e6) // capture count 3 for /d
	txn(x, "GET", "/e", 502, 1e6)
	res := chk.Finish(t0, t0+1e9, true)
	got := map[string]string{}
	for _, r := range res {
		got[r.Key.String()+fmt.Sprintf(" outside=%v", r.Key.Outside)] = r.Verdict
	}
	want := map[string]string{
		"shop/web-1 -> ns/api GET /a 200 outside=false":      "match",
		"shop/web-1 -> ns/api GET /b 200 outside=false":      "count_mismatch",
		"shop/web-1 -> ns/api POST /c 201 outside=false":     "latency_mismatch",
		"shop/web-1 -> ns/api POST /d 201 outside=false":     "count_mismatch",
		"shop/web-1 -> 203.0.113.9 GET /e 500 outside=false": "kubeshark_only",
		"shop/web-1 -> 203.0.113.9 GET /e 502 outside=false": "capture_only",
		"shop/web-1 -> ns/api GET /a 200 outside=true":       "outside_window",
		"ns/other -> ns/api GET /late 200 outside=false":     "kubeshark_only",
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("verdicts\n got %v\nwant %v", got, want)
	}
	for _, r := range res {
		if r.Key.Path == "/a" && !r.Key.Outside {
			// Kubeshark 10, 11 ms: median (lower middle) 10 ms; capture
			// 10.4, 10.6 ms: 10.4 ms.
			if r.KsLatency.V != 10e6 || r.CapLatency.V != 10_400_000 || r.Capture.Count != 2 || r.Capture.ReqBytes != 2 {
				t.Errorf("/a: %+v", r)
			}
		}
	}
}

// TestL7Tolerance: the latency tolerance is max(rel x larger, abs); counts
// may differ by CountAbs.
func TestL7Tolerance(t *testing.T) {
	a, b := netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("10.0.0.2")
	for _, tc := range []struct {
		name       string
		ksMs       int64
		capNs      int64
		extraCalls int
		tol        crosscheck.L7Tolerances
		want       string
	}{
		{"1 ms slack covers ms truncation", 3, 3_999_999, 0, crosscheck.DefaultL7Tolerances(), "match"},
		{"just past the slack", 3, 4_000_001, 0, crosscheck.DefaultL7Tolerances(), "latency_mismatch"},
		{"25% of the larger", 100, 125_000_000, 0, crosscheck.DefaultL7Tolerances(), "match"},
		{"past 25%", 100, 134_000_000, 0, crosscheck.DefaultL7Tolerances(), "latency_mismatch"},
		{"count slack", 3, 3e6, 1, crosscheck.L7Tolerances{CountAbs: 1, LatencyRel: 0.25, LatencyAbsNs: 1e6}, "match"},
		{"no count slack", 3, 3e6, 1, crosscheck.DefaultL7Tolerances(), "count_mismatch"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var calls []apicalls.Call
			for range 1 + tc.extraCalls {
				calls = append(calls, apicalls.Call{Src: apicalls.Endpoint{IP: a}, Dst: apicalls.Endpoint{IP: b}, Method: "GET", Path: "/", Status: 200, LatencyNs: tc.ksMs * 1e6})
			}
			chk := newL7(calls, nil, tc.tol)
			chk.Add(&crosscheck.L7Txn{Client: a, Server: b, Method: "GET", URI: "/", Status: 200, LatencyNs: tc.capNs})
			if res := chk.Finish(0, 0, false); len(res) != 1 || res[0].Verdict != tc.want {
				t.Errorf("%+v, want %s", res, tc.want)
			}
		})
	}
}

// l7Bench is a checker with 200 groups of Kubeshark's calls and the
// capture's requests that fall in them.
func l7Bench() (*crosscheck.L7Checker, []crosscheck.L7Txn) {
	a := netip.MustParseAddr("10.0.0.1")
	var calls []apicalls.Call
	var txns []crosscheck.L7Txn
	for i := range 200 {
		b := netip.AddrFrom4([4]byte{10, 1, byte(i / 10), byte(i % 10)})
		path := fmt.Sprintf("/api/v1/items/%d", i%20)
		calls = append(calls, apicalls.Call{Src: apicalls.Endpoint{IP: a, Pod: "web", Namespace: "shop"}, Dst: apicalls.Endpoint{IP: b}, Method: "GET", Path: path, Status: 200, LatencyNs: 1e6})
		txns = append(txns, crosscheck.L7Txn{Client: a, Server: b, Method: "GET", URI: path + "?q=1", Status: 200, LatencyNs: 1e6})
	}
	return newL7(calls, func(netip.Addr, int64) crosscheck.Identity { return crosscheck.Identity{} }, crosscheck.DefaultL7Tolerances()), txns
}

// TestL7AddAllocs: counting a request of a known group allocates nothing
// (names are made once per workload and address; latency samples are
// kept only up to their bound).
func TestL7AddAllocs(t *testing.T) {
	chk, txns := l7Bench()
	for i := range 3000 { // past the 1024 samples kept per group
		chk.Add(&txns[i%len(txns)])
	}
	i := 0
	if n := testing.AllocsPerRun(1000, func() { chk.Add(&txns[i%len(txns)]); i++ }); n != 0 {
		t.Errorf("%v allocations per request", n)
	}
}

func BenchmarkL7Add(b *testing.B) {
	chk, txns := l7Bench()
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		chk.Add(&txns[i%len(txns)])
	}
}

func newL7(calls []apicalls.Call, name func(netip.Addr, int64) crosscheck.Identity, tol crosscheck.L7Tolerances) *crosscheck.L7Checker {
	chk := crosscheck.NewL7(name, tol)
	for i := range calls {
		chk.AddCall(&calls[i])
	}
	return chk
}

// TestL7MaxCalls: calls beyond MaxCalls are counted, not kept.
func TestL7MaxCalls(t *testing.T) {
	a, b := netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("10.0.0.2")
	tol := crosscheck.DefaultL7Tolerances()
	tol.MaxCalls = 2
	var calls []apicalls.Call
	for range 5 {
		calls = append(calls, apicalls.Call{Src: apicalls.Endpoint{IP: a}, Dst: apicalls.Endpoint{IP: b}, Method: "GET", Path: "/", LatencyNs: -1})
	}
	chk := newL7(calls, nil, tol)
	res := chk.Finish(0, 0, false)
	if chk.DroppedCalls() != 3 || len(res) != 1 || res[0].Kubeshark.Count != 2 {
		t.Errorf("dropped %d, results %+v", chk.DroppedCalls(), res)
	}
}
