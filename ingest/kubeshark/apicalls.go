package kubeshark

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/flowproof/flowproof/ingest/kubeshark/apicalls"
	"github.com/flowproof/flowproof/ingest/kubeshark/evidence"
)

// Paging of list_api_calls (README: Cross-check at L7).
const (
	// DefaultAPICallsLimit is the limit asked per page: Kubeshark's
	// maximum.
	DefaultAPICallsLimit = 1000
	// DefaultMaxAPICallPages and DefaultMaxAPICallBytes bound the pages of
	// one pull, in number and in bytes saved (each answer is also capped by
	// SessionOptions.MaxResponseBytes).
	DefaultMaxAPICallPages = 256
	DefaultMaxAPICallBytes = int64(256) << 20
)

// msWindow is a time window in Unix ms, both ends given to the tool; zero
// when the pull has no window.
type msWindow struct{ from, to int64 }

// apiCalls saves Kubeshark's HTTP API calls for the window, format full,
// for the L7 cross-check. Kubeshark documents no cursor, only limit
// (1..1000) and start/end (Unix ms), and not whether end is inclusive nor
// which calls a full page keeps. So a page that is full (as many calls as
// the limit, truncated, or a total above what it holds) is split in two
// halves sharing their middle millisecond, [from, mid] and [mid, to], and
// each half is asked again: whatever the order of a page or the end's
// inclusiveness, every call of the window is in some page that is not
// full, and a call seen twice (the shared millisecond) is kept once by its
// id at analysis. Paging ends when no page is full, or at a cap: a
// one-millisecond window still full, MaxAPICallPages pages or
// MaxAPICallBytes bytes saved. A cap hit, a failing page or one that is
// not an answer makes the pull partial, with the reason in the manifest's
// api_calls.incomplete.
func (p *puller) apiCalls(ctx context.Context) {
	t, ok := p.s.Tool("list_api_calls")
	if !ok {
		p.warn("the server does not offer list_api_calls: there is nothing to cross-check http.parquet against (the L7 cross-check of analyze)")
		return
	}
	maxPages, maxBytes, limit := p.req.MaxAPICallPages, p.req.MaxAPICallBytes, p.req.APICallsLimit
	if limit <= 0 {
		limit = DefaultAPICallsLimit
	}
	if maxPages <= 0 {
		maxPages = DefaultMaxAPICallPages
	}
	if maxBytes <= 0 {
		maxBytes = DefaultMaxAPICallBytes
	}
	info := &evidence.APICallsInfo{}
	p.m.Kubeshark.APICalls = info
	var incomplete []string
	note := func(format string, args ...any) {
		if len(incomplete) < 8 {
			incomplete = append(incomplete, fmt.Sprintf(format, args...))
		}
	}
	queue := []msWindow{{}}
	if !p.window.IsZero() {
		queue[0] = msWindow{p.window.From.UnixMilli(), p.window.To.UnixMilli()}
	}
	for len(queue) > 0 {
		w := queue[0]
		if info.Pages >= maxPages || info.Bytes >= maxBytes {
			note("the cap of %d pages or %d bytes was reached with %d windows left unasked", maxPages, maxBytes, len(queue))
			break
		}
		queue = queue[1:]
		a := newArgs(t)
		a.set("full", "format")
		limited := a.set(limit, "limit")
		if w != (msWindow{}) {
			a.setTime(time.UnixMilli(w.from), "start", "start_time")
			a.setTime(time.UnixMilli(w.to), "end", "end_time")
		}
		if t.Has("kfl") {
			kfl := "http"
			if sel := p.req.Selection.KFL; sel != "" {
				kfl, p.kflCalls = "http && ("+sel+")", true
			}
			a.m["kfl"] = kfl
		}
		name := fmt.Sprintf("list_api_calls-%04d.json", info.Pages+1)
		res, f, err := p.call(ctx, "list_api_calls", a.m, 0, name)
		if err != nil {
			note("page %d failed: %v", info.Pages+1, err)
			if ctx.Err() != nil {
				break
			}
			continue
		}
		if res.IsError {
			note("page %d failed: %s", info.Pages+1, res.ErrorText())
			continue
		}
		info.Pages++
		info.Bytes += f.Size
		p.m.Kubeshark.Evidence = append(p.m.Kubeshark.Evidence, evidence.Answer{Tool: "list_api_calls", Arguments: res.Args, File: f.Name, Size: f.Size, SHA256: f.SHA256})
		page, err := apicalls.Parse([]byte(res.Text))
		if err != nil {
			note("%s: %v", f.Name, err)
			continue
		}
		held := int64(len(page.Calls)) + page.NotHTTP + page.Skipped + page.Dropped
		info.Calls += held
		full := page.Truncated || page.Total > held || (limited && held >= int64(limit))
		if !full {
			continue
		}
		switch {
		case w == (msWindow{}):
			note("%s is full (%d calls of %d) and there is no window to page by", f.Name, held, page.Total)
		case w.to-w.from < 2:
			note("more than %d calls within %d .. %d ms: Kubeshark cannot page finer", held, w.from, w.to)
		default:
			mid := w.from + (w.to-w.from)/2
			queue = append(queue, msWindow{w.from, mid}, msWindow{mid, w.to})
		}
	}
	if len(incomplete) > 0 {
		info.Incomplete = strings.Join(incomplete, "; ")
		p.partial = true
		p.warn("Kubeshark's API calls are incomplete: %s", info.Incomplete)
	}
	p.logf("saved %d pages of list_api_calls (%d calls, %s)", info.Pages, info.Calls, sizeText(info.Bytes))
}
