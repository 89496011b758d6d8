package kubeshark

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/flowproof/flowproof/ingest/kubeshark/apicalls"
	"github.com/flowproof/flowproof/ingest/kubeshark/evidence"
	"github.com/flowproof/flowproof/ingest/kubeshark/standin"
)

func limit100(r *Request) { r.APICallsLimit = 100 }

// manyCalls returns n calls, call i dated at (i*spreadMs/n) ms after the
// stand-in's first packet, as a list_api_calls JSON array.
func manyCalls(n int, spreadMs int64) []byte {
	first := standin.Epoch.UnixMilli()
	var calls []map[string]any
	for i := range n {
		calls = append(calls, map[string]any{"id": fmt.Sprintf("w/%d", i), "ts": first + int64(i)*spreadMs/int64(n), "proto": "http", "method": "GET", "path": "/p",
			"src": map[string]any{"ip": standin.Frontend.IP.String(), "port": 50000 + i%1000}, "dst": map[string]any{"ip": standin.Checkout.IP.String(), "port": 8080},
			"status": 200, "latency_ms": 1})
	}
	b, _ := json.Marshal(calls)
	return b
}

// pagesOf merges the list_api_calls pages an evidence directory holds.
func pagesOf(t *testing.T, dir string) *apicalls.Calls {
	t.Helper()
	ev, err := evidence.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	var pages []*apicalls.Calls
	for _, p := range ev.Files("list_api_calls") {
		c, err := apicalls.Read(p)
		if err != nil {
			t.Fatal(err)
		}
		pages = append(pages, c)
	}
	return apicalls.Merge(pages)
}

// TestPullAPICalls: list_api_calls is paged by halving full windows until
// no page is full; every call of the window is in the evidence once
// merged; a window that cannot be paged, a hostile Hub (endless full
// pages, a huge answer, broken JSON, absurd numbers) is bounded, and the
// pull says so (partial, api_calls.incomplete).
func TestPullAPICalls(t *testing.T) {
	cases := []struct {
		name      string
		opts      standin.Options
		mod       func(r *Request)
		partial   bool
		incompl   string // in api_calls.incomplete
		wantCalls int    // distinct HTTP calls in the merged pages; -1: not checked
		minPages  int
		maxPages  int
	}{
		{name: "the cluster's calls, one page", wantCalls: 6, minPages: 1, maxPages: 1},
		{name: "250 calls over the window, 100 a page", opts: standin.Options{APICalls: manyCalls(250, 48)}, mod: limit100, wantCalls: 250, minPages: 5, maxPages: 40},
		{name: "150 calls in one millisecond, 100 a page", opts: standin.Options{APICalls: manyCalls(150, 0)}, mod: limit100, partial: true, incompl: "cannot page finer", wantCalls: 100, minPages: 2},
		{name: "endless full pages", opts: standin.Options{Faults: standin.Faults{Hostile: standin.Hostile{APICalls: standin.APICallsEndless}}},
			mod: func(r *Request) { limit100(r); r.MaxAPICallPages = 3 }, partial: true, incompl: "cap of 3 pages", wantCalls: 100, minPages: 3, maxPages: 3},
		{name: "a byte cap", opts: standin.Options{Faults: standin.Faults{Hostile: standin.Hostile{APICalls: standin.APICallsEndless}}},
			mod: func(r *Request) { limit100(r); r.MaxAPICallBytes = 30 << 10 }, partial: true, incompl: "cap of", wantCalls: 100, minPages: 1, maxPages: 3},
		{name: "a huge answer", opts: standin.Options{Faults: standin.Faults{Hostile: standin.Hostile{APICalls: standin.APICallsHuge}}},
			mod: func(r *Request) { r.Session.MaxResponseBytes = 1 << 20 }, partial: true, incompl: "page 1 failed", wantCalls: 0},
		{name: "broken JSON", opts: standin.Options{Faults: standin.Faults{Hostile: standin.Hostile{APICalls: standin.APICallsMalformed}}},
			partial: true, incompl: "list_api_calls-0001", wantCalls: -1, minPages: 1, maxPages: 1},
		{name: "absurd numbers", opts: standin.Options{Faults: standin.Faults{Hostile: standin.Hostile{APICalls: standin.APICallsAbsurd}}},
			wantCalls: 3, minPages: 1, maxPages: 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, "http", tc.opts, "")
			r := f.request(t)
			r.Session.CallTimeout = time.Minute // the race detector on a loaded machine
			if tc.mod != nil {
				tc.mod(&r)
			}
			m, err := Pull(bg(), r)
			if tc.partial != errors.Is(err, ErrPartial) || (err != nil && !errors.Is(err, ErrPartial)) {
				t.Fatalf("err %v, partial wanted: %v", err, tc.partial)
			}
			a := m.Kubeshark.APICalls
			if a == nil {
				t.Fatal("no api_calls in the manifest")
			}
			if !strings.Contains(a.Incomplete, tc.incompl) || (tc.incompl == "") != (a.Incomplete == "") {
				t.Errorf("incomplete %q, want %q", a.Incomplete, tc.incompl)
			}
			if a.Pages < tc.minPages || (tc.maxPages > 0 && a.Pages > tc.maxPages) {
				t.Errorf("%d pages, want %d .. %d", a.Pages, tc.minPages, tc.maxPages)
			}
			checkEvidenceDir(t, r.Dir, m)
			if tc.wantCalls < 0 {
				return
			}
			got := pagesOf(t, r.Dir)
			if len(got.Calls) != tc.wantCalls {
				t.Errorf("%d distinct calls in the pages, want %d", len(got.Calls), tc.wantCalls)
			}
			if tc.name == "absurd numbers" && (got.Invalid < 5 || got.Skipped != 1) {
				t.Errorf("absurd numbers: %d invalid (%s), %d skipped; want at least 5 and 1", got.Invalid, got.FirstInvalid, got.Skipped)
			}
		})
	}
}

// TestPullAPICallsKFL: --kfl narrows list_api_calls (ANDed with http), and
// the pull still says that it did not filter the capture.
func TestPullAPICallsKFL(t *testing.T) {
	f := newFixture(t, "http", standin.Options{}, "")
	r := f.request(t)
	r.Selection = Selection{KFL: `dst.pod.namespace == "payments"`}
	m, err := Pull(bg(), r)
	if err != nil {
		t.Fatal(err)
	}
	var kfl any
	for _, e := range m.Kubeshark.Evidence {
		if e.Tool == "list_api_calls" {
			kfl = e.Arguments["kfl"]
		}
	}
	if kfl != `http && (dst.pod.namespace == "payments")` || m.Kubeshark.Selection.KFLUsed {
		t.Errorf("kfl %v, kfl_used %v", kfl, m.Kubeshark.Selection.KFLUsed)
	}
	if w := strings.Join(m.Warnings, "\n"); !strings.Contains(w, "did not filter the capture") || !strings.Contains(w, "only Kubeshark's API calls") {
		t.Errorf("warnings %q", w)
	}
}
