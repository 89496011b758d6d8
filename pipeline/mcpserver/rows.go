package mcpserver

import (
	"container/heap"
	"encoding/json"
	"fmt"
	"path"
	"strconv"
	"strings"
	"time"
)

// What query_flows and query_l7 share: string patterns, the time range,
// limit and order, the best rows kept in a heap, the byte cap.

// strPattern is a string filter: exact, or a glob with * ? [.
type strPattern struct {
	pattern string
	glob    bool
}

func compilePattern(name, v string) (strPattern, error) {
	glob := strings.ContainsAny(v, "*?[")
	if glob {
		if _, err := path.Match(v, ""); err != nil {
			return strPattern{}, errorf("%s: bad pattern %q: %v", name, v, err)
		}
	}
	return strPattern{v, glob}, nil
}

func (p strPattern) match(v string) bool {
	if p.glob {
		ok, _ := path.Match(p.pattern, v)
		return ok
	}
	return v == p.pattern
}

// timeRange is since/until, RFC 3339.
type timeRange struct {
	sinceNs, untilNs   int64
	hasSince, hasUntil bool
}

func parseTimeRange(since, until string) (timeRange, error) {
	var r timeRange
	for _, t := range []struct {
		name, v string
		dst     *int64
		has     *bool
	}{{"since", since, &r.sinceNs, &r.hasSince}, {"until", until, &r.untilNs, &r.hasUntil}} {
		if t.v == "" {
			continue
		}
		tm, err := time.Parse(time.RFC3339Nano, t.v)
		if err != nil {
			return r, errorf("%s %q: want an RFC 3339 time such as 2024-01-01T00:00:00Z", t.name, t.v)
		}
		*t.dst, *t.has = tm.UnixNano(), true
	}
	return r, nil
}

// rowQuery is a query's limit, order and notes.
type rowQuery struct {
	limit int
	desc  bool
	notes []string
}

// newRowQuery checks limit (nil: DefaultLimit; above maxRows: lowered, with
// a note) and order ("" is ascending for ts, descending for other keys).
func newRowQuery(limit *int, maxRows int, order, sortBy string) (*rowQuery, error) {
	q := &rowQuery{limit: DefaultLimit, desc: sortBy != "ts"}
	if limit != nil {
		q.limit = *limit
	}
	if q.limit < 1 {
		return nil, errorf("limit %d: want at least 1", q.limit)
	}
	if q.limit > maxRows {
		q.notes = append(q.notes, fmt.Sprintf("limit %d lowered to the cap of %d rows", q.limit, maxRows))
		q.limit = maxRows
	}
	switch order {
	case "":
	case "asc", "desc":
		q.desc = order == "desc"
	default:
		return nil, errorf("order %q: use asc or desc", order)
	}
	return q, nil
}

// ranked is a kept row with its sort key and file position (ties).
type ranked[T any] struct {
	key int64
	pos int64
	row T
}

// topN keeps the n best rows seen: a heap whose root is the worst kept.
type topN[T any] struct {
	rows []ranked[T]
	desc bool
}

func (h *topN[T]) Len() int { return len(h.rows) }
func (h *topN[T]) better(a, b ranked[T]) bool {
	if a.key != b.key {
		return (a.key > b.key) == h.desc
	}
	return a.pos < b.pos
}
func (h *topN[T]) Less(i, j int) bool { return h.better(h.rows[j], h.rows[i]) } // worst at the root
func (h *topN[T]) Swap(i, j int)      { h.rows[i], h.rows[j] = h.rows[j], h.rows[i] }
func (h *topN[T]) Push(x any)         { h.rows = append(h.rows, x.(ranked[T])) }
func (h *topN[T]) Pop() any {
	x := h.rows[len(h.rows)-1]
	h.rows = h.rows[:len(h.rows)-1]
	return x
}

// offer keeps the row (made by row only when kept) if it is among the
// limit best so far.
func (h *topN[T]) offer(limit int, key, pos int64, row func() T) {
	rk := ranked[T]{key: key, pos: pos}
	switch {
	case h.Len() < limit:
		rk.row = row()
		heap.Push(h, rk)
	case h.better(rk, h.rows[0]):
		rk.row = row()
		h.rows[0] = rk
		heap.Fix(h, 0)
	}
}

// best empties the heap into its rows, best first.
func (h *topN[T]) best() []T {
	out := make([]T, h.Len())
	for i := len(out) - 1; i >= 0; i-- {
		out[i] = heap.Pop(h).(ranked[T]).row
	}
	return out
}

// fitRows returns the leading rows whose JSON stays under maxBytes (with
// room for the envelope) and the query's notes, among them rows cut and
// matched rows left out.
func fitRows[T any](q *rowQuery, rows []T, maxBytes int, matched int64) (kept []T, note string) {
	budget := maxBytes - 2048
	kept = []T{}
	for _, r := range rows {
		b, _ := json.Marshal(r)
		if budget -= len(b) + 1; budget < 0 {
			q.notes = append(q.notes, fmt.Sprintf("rows cut at %d to keep the answer under %d bytes", len(kept), maxBytes))
			break
		}
		kept = append(kept, r)
	}
	if more := matched - int64(len(kept)); more > 0 {
		q.notes = append(q.notes, strconv.FormatInt(more, 10)+" more rows: narrow the filters, sort differently or raise limit")
	}
	return kept, strings.Join(q.notes, "; ")
}
