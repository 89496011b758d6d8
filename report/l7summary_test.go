package report

import (
	"strconv"
	"strings"
	"testing"
)

func TestPathTemplate(t *testing.T) {
	for _, tc := range []struct{ uri, want string }{
		{"/orders/1234", "/orders/{id}"},
		{"/orders/1234/items/7?x=1", "/orders/{id}/items/{id}"},
		{"/users/3f2504e0-4f89-11d3-9a0c-0305e82c3301/profile", "/users/{id}/profile"},
		{"/blobs/deadbeefdeadbeef0", "/blobs/{id}"},
		{"/blobs/deadbeef", "/blobs/deadbeef"}, // short hex: a word, not an id
		{"/v1/api", "/v1/api"},
		{"/", "/"},
		{"*", "*"},
		{"http://h/a/42", "http://h/a/{id}"},
		{"/a//9/", "/a//{id}/"},
	} {
		if got := PathTemplate(tc.uri); got != tc.want {
			t.Errorf("PathTemplate(%q) = %q, want %q", tc.uri, got, tc.want)
		}
	}
}

// TestL7SummaryBounded: the summary's maps stop at maxL7Groups and count
// the rest; its top lists keep the topN slowest in the statements' order.
func TestL7SummaryBounded(t *testing.T) {
	l := NewL7Summary(3, 0)
	i32 := func(v int32) *int32 { return &v }
	i64 := func(v int64) *int64 { return &v }
	for i := range maxL7Groups + 500 {
		code := int32(200)
		if i%3 == 0 {
			code = 503
		}
		l.AddHTTP(&HTTPRow{FlowID: "1-" + strings.Repeat("x", i%5), TransDepth: int32(i + 1), TsNs: 1e18 + int64(i)*1e6,
			SrcIP: "10.0.0.1", DstIP: "10.0.0.2", DstPort: 80, Method: "GET", URI: "/p" + strconv.Itoa(i),
			StatusCode: i32(code), LatencyNs: i64(int64(i % 1000)), DurationNs: i64(5)})
	}
	if len(l.groups) != maxL7Groups || l.groupsLost != 500 {
		t.Errorf("groups %d, lost %d; want %d, 500", len(l.groups), l.groupsLost, maxL7Groups)
	}
	if len(l.slowest) != 3 || l.slowest[0].latencyNs != 999 || l.slowest[2].latencyNs != 999 {
		t.Errorf("slowest %+v", l.slowest)
	}
	for j := 1; j < len(l.slowest); j++ {
		a, b := l.slowest[j-1], l.slowest[j]
		if a.flowID > b.flowID || a.flowID == b.flowID && a.depth > b.depth {
			t.Errorf("slowest out of order: %+v before %+v", a, b)
		}
	}
	if n := len(l.status.buckets); n > maxIntervals {
		t.Errorf("%d intervals", n)
	}
	var total int64
	for _, b := range l.status.buckets {
		total += b[4]
	}
	if want := int64((maxL7Groups + 500 + 2) / 3); total != want {
		t.Errorf("5xx %d, want %d", total, want)
	}
}

// TestL7SummaryGroups: the groups counted with the last group and template
// kept equal a plain count per (client, server, method, template), for rows
// that repeat their group, alternate, and come back to it, with a URI's
// template changing under the same string's neighbours.
func TestL7SummaryGroups(t *testing.T) {
	l := NewL7Summary(0, 0)
	want := map[httpGroupKey]httpGroup{}
	uris := []string{"/a/1", "/a/2", "/b", "/a/1?x", ""}
	clients := []string{"10.0.0.1", "10.0.0.2"}
	for i := range 5000 {
		r := HTTPRow{FlowID: "1-" + strconv.Itoa(i/3), TransDepth: int32(i%3 + 1), TsNs: 1e18 + int64(i)*1e6,
			SrcIP: clients[i/7%2], DstIP: "10.0.0.9", Method: []string{"GET", "POST"}[i/11%2], URI: uris[i/5%len(uris)]}
		code := int32(200 + 100*(i%4))
		if i%13 != 0 {
			r.StatusCode = &code
		}
		if i%17 == 0 {
			r.Identity.SrcPod, r.Identity.SrcNamespace = "web-0", "shop"
		}
		l.AddHTTP(&r)
		if r.Method == "" {
			continue
		}
		k := httpGroupKey{clientWorkload(&r.Identity, r.SrcIP), serverWorkload(&r.Identity, r.DstIP), r.Method, PathTemplate(r.URI)}
		g := want[k]
		g.requests++
		switch {
		case r.StatusCode == nil:
			g.none++
		case *r.StatusCode >= 500:
			g.s5xx++
		case *r.StatusCode >= 400:
			g.s4xx++
		}
		want[k] = g
	}
	if len(l.groups) != len(want) {
		t.Fatalf("%d groups, want %d", len(l.groups), len(want))
	}
	for k, w := range want {
		if g := l.groups[k]; g == nil || *g != w {
			t.Errorf("group %+v: %+v, want %+v", k, g, w)
		}
	}
}
