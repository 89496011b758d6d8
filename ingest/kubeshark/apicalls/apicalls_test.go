package apicalls_test

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"testing"

	"github.com/flowproof/flowproof/ingest/kubeshark/apicalls"
)

func TestParse(t *testing.T) {
	cases := []struct {
		name  string
		in    string
		want  []apicalls.Call // compared field by field
		check func(t *testing.T, c *apicalls.Calls)
		err   error
	}{
		{
			name: "compact, as the docs show",
			in: `{"calls":[{"id":"node1/204/0","ts":1769998106100,"src":{"ip":"10.0.0.1","port":5000,"pod":"a","ns":"n"},
			"dst":{"ip":"10.0.0.2","port":80,"pod":"b","ns":"n","svc":"s","node":"w1"},"proto":"http","method":"GET","path":"/api/users?x=1","status":200,"latency_ms":45}],"total":150,"truncated":false}`,
			want: []apicalls.Call{{ID: "node1/204/0", TsNs: 1769998106100 * 1e6, Src: apicalls.Endpoint{IP: netip.MustParseAddr("10.0.0.1"), Port: 5000, Pod: "a", Namespace: "n"},
				Dst:    apicalls.Endpoint{IP: netip.MustParseAddr("10.0.0.2"), Port: 80, Pod: "b", Namespace: "n", Service: "s", Node: "w1"},
				Method: "GET", Path: "/api/users", Status: 200, LatencyNs: 45e6, ReqSize: -1, RespSize: -1}},
			check: func(t *testing.T, c *apicalls.Calls) {
				if c.Total != 150 || c.Truncated {
					t.Errorf("total %d truncated %v", c.Total, c.Truncated)
				}
			},
		},
		{
			name: "full format, fractional latency, sizes, unknown fields, a bare list",
			in: `[{"id":"x","ts":"2026-01-01T00:00:00.5Z","src":{"ip":"::ffff:10.0.0.1"},"dst":{"ip":"fe80::1%eth0","port":"8080"},"proto":"HTTP/1.1","method":"POST",
			"path":"http://h:8080/a/b?c#d","status_code":"503","latency_ms":1.2345,"req_size":10,"resp_size":"20","req_headers":{"h":"v"},"new_field":[1,2]}]`,
			want: []apicalls.Call{{ID: "x", TsNs: 1767225600500000000, Src: apicalls.Endpoint{IP: netip.MustParseAddr("10.0.0.1")},
				Dst: apicalls.Endpoint{IP: netip.MustParseAddr("fe80::1"), Port: 8080}, Method: "POST", Path: "/a/b", Status: 503, LatencyNs: 1234500, ReqSize: 10, RespSize: 20}},
		},
		{
			name: "elapsed_time in µs when latency_ms is absent; missing status",
			in:   `{"calls":[{"method":"GET","path":"/","src":{"ip":"1.1.1.1"},"dst":{"ip":"2.2.2.2"},"elapsed_time":1500}]}`,
			want: []apicalls.Call{{Src: apicalls.Endpoint{IP: netip.MustParseAddr("1.1.1.1")}, Dst: apicalls.Endpoint{IP: netip.MustParseAddr("2.2.2.2")},
				Method: "GET", Path: "/", LatencyNs: 1500000, ReqSize: -1, RespSize: -1}},
		},
		{
			name: "other protocols are counted, not kept",
			in:   `{"calls":[{"proto":"dns","src":{"ip":"1.1.1.1"},"dst":{"ip":"2.2.2.2"}},{"proto":"http2","method":"GET","src":{"ip":"1.1.1.1"},"dst":{"ip":"2.2.2.2"}},{"proto":"grpc","src":{"ip":"1.1.1.1"},"dst":{"ip":"2.2.2.2"}}],"total":3}`,
			check: func(t *testing.T, c *apicalls.Calls) {
				if c.NotHTTP != 3 || len(c.Calls) != 0 {
					t.Errorf("not HTTP %d, kept %d", c.NotHTTP, len(c.Calls))
				}
			},
		},
		{
			name: "absurd numbers are unknown and counted; a bad address skips the call",
			in: `{"calls":[{"method":"GET","src":{"ip":"1.1.1.1"},"dst":{"ip":"2.2.2.2"},"latency_ms":-1,"status":70000,"req_size":-4,"resp_size":1e300},
			{"method":"GET","src":{"ip":"1.1.1.1"},"dst":{"ip":"2.2.2.2"},"latency_ms":1e300,"status":"x"},
			{"method":"GET","src":{"ip":"nope"},"dst":{"ip":"2.2.2.2"}},{"method":"GET","src":"x","dst":{"ip":"2.2.2.2"}}, 7, null],"total":-1}`,
			check: func(t *testing.T, c *apicalls.Calls) {
				if len(c.Calls) != 2 || c.Invalid != 7 || c.Skipped != 4 {
					t.Errorf("kept %d, invalid %d (%s), skipped %d (%s)", len(c.Calls), c.Invalid, c.FirstInvalid, c.Skipped, c.FirstSkip)
				}
				for _, k := range c.Calls {
					if k.LatencyNs != -1 || k.Status != 0 {
						t.Errorf("absurd values kept: %+v", k)
					}
				}
			},
		},
		{
			name: "long strings are cut",
			in:   `{"calls":[{"method":"GET","path":"/` + strings.Repeat("a", 5000) + `","src":{"ip":"1.1.1.1"},"dst":{"ip":"2.2.2.2"}}]}`,
			check: func(t *testing.T, c *apicalls.Calls) {
				if len(c.Calls[0].Path) != apicalls.MaxText {
					t.Errorf("path of %d bytes", len(c.Calls[0].Path))
				}
			},
		},
		{name: "no calls list", in: `{"flows":[]}`, err: apicalls.ErrNotAnswer},
		{name: "not JSON", in: `Hub API error`, err: apicalls.ErrNotAnswer},
		{name: "a number", in: `42`, err: apicalls.ErrNotAnswer},
		{name: "calls is not a list", in: `{"calls":{}}`, err: errAny},
		{name: "cut short", in: `{"calls":[{"method":"GET","src":{"ip":`, err: errAny},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := apicalls.Parse([]byte(tc.in))
			switch {
			case tc.err == errAny:
				if err == nil {
					t.Fatalf("no error")
				}
				return
			case tc.err != nil:
				if !errors.Is(err, tc.err) {
					t.Fatalf("err %v, want %v", err, tc.err)
				}
				return
			case err != nil:
				t.Fatal(err)
			}
			if tc.want != nil && fmt.Sprintf("%+v", c.Calls) != fmt.Sprintf("%+v", tc.want) {
				t.Errorf("calls\n got %+v\nwant %+v", c.Calls, tc.want)
			}
			if tc.check != nil {
				tc.check(t, c)
			}
		})
	}
}

var errAny = errors.New("any error")

// TestMerge: pages that overlap (windows sharing a millisecond) give each
// call once: by id, or by all its fields without one.
func TestMerge(t *testing.T) {
	p1, _ := apicalls.Parse([]byte(`[{"id":"a","ts":1,"method":"GET","src":{"ip":"1.1.1.1"},"dst":{"ip":"2.2.2.2"}},{"ts":2,"method":"GET","src":{"ip":"1.1.1.1"},"dst":{"ip":"2.2.2.2"}}]`))
	p2, _ := apicalls.Parse([]byte(`[{"id":"a","ts":1,"method":"GET","src":{"ip":"1.1.1.1"},"dst":{"ip":"2.2.2.2"}},{"ts":2,"method":"GET","src":{"ip":"1.1.1.1"},"dst":{"ip":"2.2.2.2"}},{"id":"b","ts":3,"method":"PUT","src":{"ip":"1.1.1.1"},"dst":{"ip":"2.2.2.2"}}]`))
	m := apicalls.Merge([]*apicalls.Calls{p1, p2})
	if len(m.Calls) != 3 || m.Duplicates != 2 || m.MinTsNs != 1e9 || m.MaxTsNs != 3e9 {
		t.Errorf("merged %d calls, %d duplicates, ts %d .. %d", len(m.Calls), m.Duplicates, m.MinTsNs, m.MaxTsNs)
	}
}

func TestPathOf(t *testing.T) {
	for in, want := range map[string]string{"/a?b": "/a", "/a#f": "/a", "": "", "https://h/x/y?z": "/x/y", "https://h": "/", "*": "*", "/": "/"} {
		if got := apicalls.PathOf(in); got != want {
			t.Errorf("PathOf(%q) = %q, want %q", in, got, want)
		}
	}
}

func ExampleParse() {
	c, err := apicalls.Parse([]byte(`{"calls":[{"id":"w1/1/0","ts":1769998106100,"src":{"ip":"10.0.0.1","pod":"web","ns":"shop"},
		"dst":{"ip":"10.0.0.2","port":8080},"proto":"http","method":"GET","path":"/cart?id=3","status":200,"latency_ms":12}],"total":1}`))
	if err != nil {
		panic(err)
	}
	k := c.Calls[0]
	fmt.Println(k.Src.Namespace+"/"+k.Src.Pod, k.Dst.IP, k.Method, k.Path, k.Status, k.LatencyNs)
	// Output: shop/web 10.0.0.2 GET /cart 200 12000000
}

// FuzzParse: any answer parses or fails cleanly, and what it keeps is
// bounded: strings within MaxText, latencies within MaxLatency.
func FuzzParse(f *testing.F) {
	f.Add([]byte(`{"calls":[{"id":"a","ts":1769998106100,"src":{"ip":"10.0.0.1","port":1},"dst":{"ip":"10.0.0.2","port":80},"proto":"http","method":"GET","path":"/x?y","status":200,"latency_ms":4.5,"req_size":1,"resp_size":2}],"total":1,"truncated":false}`))
	f.Add([]byte(`[{"method":"GET","src":{"ip":"::1"},"dst":{"ip":"::2"},"elapsed_time":"12"}]`))
	f.Add([]byte(`{"calls":null,"total":"x"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := apicalls.Parse(b)
		if err != nil {
			return
		}
		for _, k := range c.Calls {
			if len(k.ID) > apicalls.MaxText || len(k.Path) > apicalls.MaxText || len(k.Src.Pod) > apicalls.MaxText || k.LatencyNs > apicalls.MaxLatency || k.LatencyNs < -1 {
				t.Fatalf("unbounded call %+v", k)
			}
		}
		apicalls.Merge([]*apicalls.Calls{c, c})
	})
}
