package report

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"reflect"
	"strconv"
	"sync"
	"unsafe"

	"github.com/flowproof/flowproof/analyze"
	"github.com/flowproof/flowproof/analyze/communityid"
	"github.com/flowproof/flowproof/analyze/l7/dns"
	"github.com/flowproof/flowproof/analyze/l7/http"
	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/format"
)

// The L7 tables, beside flows.parquet.
const (
	HTTPFile = "http.parquet"
	DNSFile  = "dns.parquet"
)

// Identity is a row's Kubernetes identity columns (src_* the client or
// querier, dst_* the server), as on flows.parquet.
type Identity struct {
	SrcPod       string `parquet:"src_pod,optional"`
	SrcNamespace string `parquet:"src_namespace,optional,dict"`
	SrcService   string `parquet:"src_service,optional,dict"`
	SrcNode      string `parquet:"src_node,optional,dict"`
	DstPod       string `parquet:"dst_pod,optional"`
	DstNamespace string `parquet:"dst_namespace,optional,dict"`
	DstService   string `parquet:"dst_service,optional,dict"`
	DstNode      string `parquet:"dst_node,optional,dict"`
}

// HTTPRow is one row of http.parquet: one HTTP/1.x request with its
// response (or a response without its request), Zeek http.log meanings.
// src is the client, dst the server. Times are epoch ns; ts is ts_ns in µs.
type HTTPRow struct {
	FlowID          string   `parquet:"flow_id,delta"`
	CommunityID     string   `parquet:"community_id"`
	Ts              int64    `parquet:"ts,timestamp(microsecond:utc),delta"`
	TsNs            int64    `parquet:"ts_ns,delta"`
	SrcIP           string   `parquet:"src_ip,dict"`
	SrcPort         int32    `parquet:"src_port,delta"`
	DstIP           string   `parquet:"dst_ip,dict"`
	DstPort         int32    `parquet:"dst_port,delta"`
	TransDepth      int32    `parquet:"trans_depth,delta"`
	Method          string   `parquet:"method,optional,dict"`
	Host            string   `parquet:"host,optional,dict"`
	URI             string   `parquet:"uri,optional"`
	Version         string   `parquet:"version,optional,dict"`
	UserAgent       string   `parquet:"user_agent,optional,dict"`
	StatusCode      *int32   `parquet:"status_code,optional"`
	StatusMsg       string   `parquet:"status_msg,optional,dict"`
	RequestBodyLen  int64    `parquet:"request_body_len,delta"`
	ResponseBodyLen int64    `parquet:"response_body_len,delta"`
	RequestNs       *int64   `parquet:"request_ns,optional"`
	LatencyNs       *int64   `parquet:"latency_ns,optional"`
	DurationNs      *int64   `parquet:"duration_ns,optional"`
	Tags            []string `parquet:"tags,list"`
	// Synthetic: the request is on Kubeshark's rebuilt TLS plaintext (the
	// flow's synthetic in flows.parquet), not on the wire.
	Synthetic bool `parquet:"synthetic"`
	Identity
}

// DNSRow is one row of dns.parquet: one DNS query with its response (or a
// response without its query), Zeek dns.log meanings. src is the querier.
type DNSRow struct {
	FlowID    string   `parquet:"flow_id"`
	Ts        int64    `parquet:"ts,timestamp(microsecond:utc),delta"`
	TsNs      int64    `parquet:"ts_ns,delta"`
	SrcIP     string   `parquet:"src_ip,dict"`
	SrcPort   int32    `parquet:"src_port,delta"`
	DstIP     string   `parquet:"dst_ip,dict"`
	DstPort   int32    `parquet:"dst_port,delta"`
	Proto     string   `parquet:"proto,dict"`
	TransID   int32    `parquet:"trans_id"`
	Query     string   `parquet:"query,optional"`
	QType     int32    `parquet:"qtype"`
	QTypeName string   `parquet:"qtype_name,optional,dict"`
	Rcode     *int32   `parquet:"rcode,optional"`
	RcodeName string   `parquet:"rcode_name,optional,dict"`
	RTTNs     *int64   `parquet:"rtt_ns,optional"`
	Answered  bool     `parquet:"answered"`
	AA        bool     `parquet:"aa"`
	TC        bool     `parquet:"tc"`
	RD        bool     `parquet:"rd"`
	RA        bool     `parquet:"ra"`
	Retry     bool     `parquet:"retry"`
	Answers   []string `parquet:"answers,list"`
	TTLs      []int64  `parquet:"ttls,list"`
	Identity
}

// endpoints orients a flow's endpoints: client first, unless fromResp.
func endpoints(f *analyze.L7Info, fromResp bool) (src, dst netip.AddrPort) {
	if fromResp {
		return f.Resp, f.Orig
	}
	return f.Orig, f.Resp
}

func optInt32(o analyze.Opt) *int32 {
	if !o.Valid {
		return nil
	}
	v := int32(o.V)
	return &v
}

func optInt64(o analyze.Opt) *int64 {
	if !o.Valid {
		return nil
	}
	v := o.V
	return &v
}

// HTTPRows converts transactions into rows without allocating per row in
// the common case: a connection's flow_id and community_id texts are made
// once, in place, and kept for its next transactions (a direct-mapped cache
// keyed by the flow's capture and first packet, which name it), address
// strings are kept the same way by address, the optional integers point
// into the converter, and the tags LIST of each tag set is one shared
// slice. A row it returns is for reading only (the writer copies it), until
// the next Row: its pointers, FlowID and CommunityID included (they are
// the cache's bytes; strings.Clone what is kept). No string per connection
// is allocated: they were most of what --l7 made for the collector.
type HTTPRows struct {
	keys  []flowKey     // the cache's keys, apart: a new connection's lookup reads 24 bytes
	flows []flowStrings // and its strings
	new   flowStrings   // a new connection's strings, made here (in cache) and copied into flows
	addrs []addrString
	// The optional integers of the last row.
	status                 int32
	request, lat, duration int64
	touched                uint64 // what Prefetch read, so that its loads are kept
}

// flowKey names a connection of the cache, oriented client first.
type flowKey struct {
	ordinal      int
	first        int64
	fromResp, ok bool
}

// flowStrings are one connection's strings; its flow_id and community_id
// are texts in the entry itself.
type flowStrings struct {
	nID, nCID    uint8
	id           [40]byte
	cid          [communityid.Len]byte
	srcIP, dstIP string
}

func (s *flowStrings) flowID() string { return unsafe.String(&s.id[0], s.nID) }

func (s *flowStrings) communityID() string { return unsafe.String(&s.cid[0], s.nCID) }

// addrString is an address's text, without a zone.
type addrString struct {
	hi, lo uint64
	is4    bool
	s      string
}

// The caches hold 1<<httpRowsFlowBits connections and 1<<httpRowsAddrBits
// addresses. A connection's transactions arrive close together, so a small
// cache catches most.
const (
	httpRowsFlowBits = 12
	httpRowsAddrBits = 10
)

// tagLists is the tags LIST of each tag set.
var tagLists = func() (l [256][]string) {
	for i := range l {
		if s := http.Tag(i).Strings(); s != nil {
			l[i] = s
		}
	}
	return l
}()

func (c *HTTPRows) init() {
	c.keys = make([]flowKey, 1<<httpRowsFlowBits)
	c.flows = make([]flowStrings, 1<<httpRowsFlowBits)
	c.addrs = make([]addrString, 1<<httpRowsAddrBits)
}

// flowSlot is the cache entry of a connection.
func flowSlot(f *analyze.L7Info) uint64 {
	return ((uint64(f.FirstIndex) ^ uint64(f.Ordinal)<<48) * 0x9e3779b97f4a7c15) >> (64 - httpRowsFlowBits)
}

// Prefetch reads ahead what Fill will read of ts, before Fill goes through
// them one by one: each transaction's lines, which the engine wrote on
// another core, and its connection's cache key. The loads of different
// transactions do not wait for each other here, where Fill would wait for
// each transaction's in turn (they were most of its time).
func (c *HTTPRows) Prefetch(ts []*http.Transaction) {
	if c.flows == nil {
		c.init()
	}
	var x uint64
	for _, t := range ts {
		// Fields at most 64 bytes apart, from the first to the last: every
		// line of the transaction (its Flow is its own copy, at its end).
		x += uint64(t.TsNs) + uint64(len(t.URI)) + uint64(len(t.UserAgent)) + uint64(t.ResponseBodyLen) + uint64(t.Tags)
		f := t.Flow
		x += uint64(f.Orig.Port()) + uint64(c.keys[flowSlot(f)].first) + uint64(b2u(f.Synthetic))
	}
	c.touched += x
}

func (c *HTTPRows) strings(f *analyze.L7Info, fromResp bool) *flowStrings {
	if c.flows == nil {
		c.init()
	}
	h := flowSlot(f)
	k := flowKey{ordinal: f.Ordinal, first: f.FirstIndex, fromResp: fromResp, ok: true}
	if c.keys[h] == k {
		return &c.flows[h]
	}
	// A new connection (most of a capture of short ones): its strings are
	// made in c.new, then copied into the cache's entry, which is likely
	// not in the processor's cache; the row reads c.new.
	src, dst := endpoints(f, fromResp)
	s := &c.new
	s.nID = uint8(len(f.AppendFlowID(s.id[:0])))
	s.nCID = uint8(len(communityid.AppendID(s.cid[:0], 0, src.Addr(), dst.Addr(), f.IPProto, src.Port(), dst.Port())))
	s.srcIP, s.dstIP = c.addr(src.Addr()), c.addr(dst.Addr())
	c.keys[h], c.flows[h] = k, *s
	return s
}

// addr returns a's text without its zone.
func (c *HTTPRows) addr(a netip.Addr) string {
	hi, lo, is4 := addrKey(a)
	e := &c.addrs[((hi*0x9e3779b97f4a7c15^lo)*0xbf58476d1ce4e5b9)>>(64-httpRowsAddrBits)]
	if e.s == "" || e.hi != hi || e.lo != lo || e.is4 != is4 {
		*e = addrString{hi: hi, lo: lo, is4: is4, s: a.WithZone("").String()}
	}
	return e.s
}

// opt points v at o's value held in *at, or is nil when o is null.
func opt[T int32 | int64](at *T, o analyze.Opt) *T {
	if !o.Valid {
		return nil
	}
	*at = T(o.V)
	return at
}

// Row converts a transaction; id names its endpoints. The row's pointers
// are valid until the next call.
func (c *HTTPRows) Row(t *http.Transaction, id Identity) HTTPRow {
	var r HTTPRow
	c.Fill(&r, t, &id)
	return r
}

// Fill is Row into *r: a row is some 400 bytes, and the writer's loop
// fills one in place instead of copying it around.
func (c *HTTPRows) Fill(r *HTTPRow, t *http.Transaction, id *Identity) {
	fs := c.strings(t.Flow, t.FromResp)
	src, dst := endpoints(t.Flow, t.FromResp)
	// Field by field: a composite literal would be built aside and copied.
	r.FlowID = fs.flowID()
	r.CommunityID = fs.communityID()
	r.Ts = floorDiv(t.TsNs, 1000)
	r.TsNs = t.TsNs
	r.SrcIP = fs.srcIP
	r.SrcPort = int32(src.Port())
	r.DstIP = fs.dstIP
	r.DstPort = int32(dst.Port())
	r.TransDepth = int32(t.TransDepth)
	r.Method = t.Method
	r.Host = t.Host
	r.URI = t.URI
	r.Version = t.Version
	r.UserAgent = t.UserAgent
	r.StatusCode = opt(&c.status, t.StatusCode)
	r.StatusMsg = t.StatusMsg
	r.RequestBodyLen = t.RequestBodyLen
	r.ResponseBodyLen = t.ResponseBodyLen
	r.RequestNs = opt(&c.request, t.RequestNs)
	r.LatencyNs = opt(&c.lat, t.LatencyNs)
	r.DurationNs = opt(&c.duration, t.DurationNs)
	r.Tags = tagLists[t.Tags]
	r.Synthetic = t.Flow.Synthetic
	r.Identity = *id
}

// DNSRowOf converts a query; id names its endpoints.
func DNSRowOf(q *dns.Query, id Identity) DNSRow {
	src, dst := endpoints(q.Flow, q.FromResp)
	return DNSRow{
		FlowID:    q.Flow.FlowID(),
		Ts:        floorDiv(q.TsNs, 1000),
		TsNs:      q.TsNs,
		SrcIP:     src.Addr().WithZone("").String(),
		SrcPort:   int32(src.Port()),
		DstIP:     dst.Addr().WithZone("").String(),
		DstPort:   int32(dst.Port()),
		Proto:     q.Proto,
		TransID:   int32(q.TransID),
		Query:     q.Query,
		QType:     int32(q.QType),
		QTypeName: q.QTypeName,
		Rcode:     optInt32(q.Rcode),
		RcodeName: q.RcodeName,
		RTTNs:     optInt64(q.RTTNs),
		Answered:  q.Answered,
		AA:        q.AA,
		TC:        q.TC,
		RD:        q.RD,
		RA:        q.RA,
		Retry:     q.Retry,
		Answers:   q.Answers,
		TTLs:      q.TTLs,
		Identity:  id,
	}
}

// TableWriter writes one of the L7 tables: zstd pages, row groups of at
// most DefaultRowGroupRows rows, the footer on Close. http.parquet and
// dns.parquet are encoded column by column (colWriter, as flows.parquet);
// other row types are handed to parquet-go's row writer in batches. The
// same rows give the same bytes.
type TableWriter[T any] struct {
	pw      *parquet.GenericWriter[T]
	codec   *zstdCodec
	rows    []T
	inGroup int
	count   int64
	err     error
	closed  bool

	// The column writer's path.
	cw        *colWriter
	idNulls   int // rows whose null identity columns are still to add (addIDNulls)
	bw        *bufio.Writer
	kv        []format.KeyValue
	createdBy string
}

// A tableLayout is a row struct's schema, as parquet-go writes it, and its
// columns' encodings.
type tableLayout struct {
	md   *format.FileMetaData
	encs []format.Encoding
}

func layoutOf[T any]() (tableLayout, error) {
	md, err := schemaOf[T]()
	if err != nil {
		return tableLayout{}, err
	}
	return tableLayout{md, columnEncodings(reflect.TypeFor[T]())}, nil
}

var (
	httpLayout = sync.OnceValues(layoutOf[HTTPRow])
	dnsLayout  = sync.OnceValues(layoutOf[DNSRow])
)

// NewTableWriter returns a writer of an L7 table to w.
func NewTableWriter[T any](w io.Writer, version string) *TableWriter[T] {
	if version == "" {
		version = "devel"
	}
	codec := new(zstdCodec)
	t := &TableWriter[T]{codec: codec}
	var layout func() (tableLayout, error)
	switch any((*T)(nil)).(type) {
	case *HTTPRow:
		layout = httpLayout
	case *DNSRow:
		layout = dnsLayout
	}
	if layout != nil {
		l, err := layout()
		if err == nil {
			t.bw = bufio.NewWriterSize(w, 32<<10)
			t.cw, err = newColWriter(t.bw, codec, l.md, l.encs)
			if err == nil {
				t.cw.codecPerDeltaColumn = true
			}
		}
		if err != nil {
			t.err = fmt.Errorf("report: table writer: %w", err)
		}
		t.kv = []format.KeyValue{
			{Key: MetaSchema, Value: strconv.Itoa(FlowSchemaVersion)},
			{Key: MetaVersion, Value: version},
		}
		t.createdBy = "flowproof version " + version
		return t
	}
	t.pw = parquet.NewGenericWriter[T](w,
		parquet.Compression(codec),
		parquet.DataPageVersion(1),
		parquet.PageBufferSize(32*1024),
		&parquet.WriterConfig{CreatedBy: "flowproof version " + version},
		parquet.KeyValueMetadata(MetaSchema, strconv.Itoa(FlowSchemaVersion)),
		parquet.KeyValueMetadata(MetaVersion, version),
	)
	t.rows = make([]T, 0, tableBatchRows)
	return t
}

// tableBatchRows is the rows handed to parquet-go per Write call.
const tableBatchRows = 1024

// Write adds a row.
func (t *TableWriter[T]) Write(row T) error { return t.WriteRow(&row) }

// WriteRow is Write without copying the row; the writer does not keep row.
func (t *TableWriter[T]) WriteRow(row *T) error {
	if t.err != nil {
		return t.err
	}
	if t.closed {
		return errors.New("report: table writer is closed")
	}
	if t.cw != nil {
		var id *Identity
		switch r := any(row).(type) {
		case *HTTPRow:
			t.cw.appendHTTP(r)
			id = &r.Identity
		case *DNSRow:
			t.cw.appendDNS(r)
			id = &r.Identity
		}
		if id.empty() {
			t.idNulls++
		} else {
			t.addIDNulls()
			appendIdentity(t.cw.cols[identityCol:], id)
		}
		if (t.cw.rows+1)%64 == 0 || t.cw.rows+1 == DefaultRowGroupRows {
			t.addIDNulls() // endRow may encode pages
		}
		t.cw.endRow()
		t.count++
		if t.cw.rows == DefaultRowGroupRows {
			t.cw.endRowGroup(-1)
		}
		if t.cw.err != nil {
			t.err = fmt.Errorf("report: write rows: %w", t.cw.err)
		}
		return t.err
	}
	t.rows = append(t.rows, *row)
	if len(t.rows) == cap(t.rows) {
		return t.flush()
	}
	return nil
}

// Count is the rows written so far.
func (t *TableWriter[T]) Count() int64 { return t.count + int64(len(t.rows)) }

func (t *TableWriter[T]) flush() error {
	rows := t.rows
	for len(rows) > 0 && t.err == nil {
		n := min(len(rows), DefaultRowGroupRows-t.inGroup)
		if _, err := t.pw.Write(rows[:n]); err != nil {
			t.err = fmt.Errorf("report: write rows: %w", err)
			break
		}
		rows, t.inGroup, t.count = rows[n:], t.inGroup+n, t.count+int64(n)
		if t.inGroup == DefaultRowGroupRows {
			if err := t.pw.Flush(); err != nil {
				t.err = fmt.Errorf("report: flush row group: %w", err)
			}
			t.inGroup = 0
		}
	}
	clear(t.rows)
	t.rows = t.rows[:0]
	return t.err
}

// Close writes the rest and the footer; it does not close the io.Writer.
// Calling it again returns the first Close's result.
func (t *TableWriter[T]) Close() error {
	if t.closed {
		return t.err
	}
	t.closed = true
	defer t.codec.close()
	if t.cw != nil {
		if t.err != nil {
			return t.err
		}
		t.addIDNulls()
		t.cw.endRowGroup(-1)
		if err := t.cw.close(t.kv, t.createdBy); err != nil {
			t.err = fmt.Errorf("report: write rows: %w", err)
		} else if err := t.bw.Flush(); err != nil {
			t.err = fmt.Errorf("report: write rows: %w", err)
		}
		return t.err
	}
	if err := t.flush(); err != nil {
		return err
	}
	if err := t.pw.Close(); err != nil {
		t.err = fmt.Errorf("report: close writer: %w", err)
	}
	return t.err
}

// appendHTTP adds a row's values to the columns, in HTTPRow's order.
func (cw *colWriter) appendHTTP(r *HTTPRow) {
	const n = 31
	c := cw.cols[:n:n]
	c[0].string(r.FlowID)
	c[1].string(r.CommunityID)
	c[2].int64(r.Ts)
	c[3].int64(r.TsNs)
	if !c[4].repeat(r.SrcIP) {
		c[4].string(r.SrcIP)
	}
	c[5].int32(r.SrcPort)
	if !c[6].repeat(r.DstIP) {
		c[6].string(r.DstIP)
	}
	c[7].int32(r.DstPort)
	c[8].int32(r.TransDepth)
	if !c[9].repeat(r.Method) {
		c[9].string(r.Method)
	}
	if !c[10].repeat(r.Host) {
		c[10].string(r.Host)
	}
	c[11].string(r.URI)
	if !c[12].repeat(r.Version) {
		c[12].string(r.Version)
	}
	if !c[13].repeat(r.UserAgent) {
		c[13].string(r.UserAgent)
	}
	c[14].ptr32(r.StatusCode)
	if !c[15].repeat(r.StatusMsg) {
		c[15].string(r.StatusMsg)
	}
	c[16].int64(r.RequestBodyLen)
	c[17].int64(r.ResponseBodyLen)
	c[18].ptr64(r.RequestNs)
	c[19].ptr64(r.LatencyNs)
	c[20].ptr64(r.DurationNs)
	c[21].strList(r.Tags)
	c[22].bool(r.Synthetic)
}

// appendDNS adds a row's values to the columns, in DNSRow's order.
func (cw *colWriter) appendDNS(r *DNSRow) {
	const n = 31
	c := cw.cols[:n:n]
	c[0].string(r.FlowID)
	c[1].int64(r.Ts)
	c[2].int64(r.TsNs)
	c[3].string(r.SrcIP)
	c[4].int32(r.SrcPort)
	c[5].string(r.DstIP)
	c[6].int32(r.DstPort)
	c[7].string(r.Proto)
	c[8].int32(r.TransID)
	c[9].string(r.Query)
	c[10].int32(r.QType)
	c[11].string(r.QTypeName)
	c[12].ptr32(r.Rcode)
	c[13].string(r.RcodeName)
	c[14].ptr64(r.RTTNs)
	c[15].bool(r.Answered)
	c[16].bool(r.AA)
	c[17].bool(r.TC)
	c[18].bool(r.RD)
	c[19].bool(r.RA)
	c[20].bool(r.Retry)
	c[21].strList(r.Answers)
	c[22].int64List(r.TTLs)
}

// identityCol is the first identity column of either table.
const identityCol = 23

// addIDNulls adds the identity columns' nulls of the rows since the last
// call, in bulk: most runs have no identities, and a column of nulls is
// never full, so that its pages are the same as with a null per row.
func (t *TableWriter[T]) addIDNulls() {
	if t.idNulls == 0 {
		return
	}
	for k := range t.cw.cols[identityCol:] {
		clear(t.cw.cols[identityCol+k].moreDefs(t.idNulls))
	}
	t.idNulls = 0
}

// empty reports whether every column of id is null ("").
func (id *Identity) empty() bool {
	return len(id.SrcPod)|len(id.SrcNamespace)|len(id.SrcService)|len(id.SrcNode)|
		len(id.DstPod)|len(id.DstNamespace)|len(id.DstService)|len(id.DstNode) == 0
}

func appendIdentity(c []pcol, id *Identity) {
	c = c[:8:8]
	c[0].string(id.SrcPod)
	c[1].string(id.SrcNamespace)
	c[2].string(id.SrcService)
	c[3].string(id.SrcNode)
	c[4].string(id.DstPod)
	c[5].string(id.DstNamespace)
	c[6].string(id.DstService)
	c[7].string(id.DstNode)
}

// ptr32 adds an optional integer: null when p is nil (small enough to be
// inlined).
func (c *pcol) ptr32(p *int32) {
	if p == nil {
		c.defs = append(c.defs, 0)
		return
	}
	c.defs, c.i32 = append(c.defs, 1), append(c.i32, *p)
}

func (c *pcol) ptr64(p *int64) {
	if p == nil {
		c.defs = append(c.defs, 0)
		return
	}
	c.defs, c.i64 = append(c.defs, 1), append(c.i64, *p)
}

// ReadTable reads a whole L7 table (tests, small files).
func ReadTable[T any](path string) ([]T, error) { return readAll[T](path, nil) }

// readAll reads every row of a Parquet file written by this package, after
// check (when not nil) has accepted the file. It loads every row into
// memory: tests and small files.
func readAll[T any](path string, check func(*parquet.File) error) ([]T, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	pf, err := parquet.OpenFile(f, st.Size())
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if check != nil {
		if err := check(pf); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
	}
	r := parquet.NewGenericReader[T](pf)
	defer r.Close()
	rows := make([]T, pf.NumRows())
	n := 0
	for n < len(rows) {
		k, err := r.Read(rows[n:])
		n += k
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%s: read row %d: %w", path, n, err)
		}
	}
	return rows[:n], nil
}

// repeat adds s to a dictionary column when it is the column's last value,
// the same bytes in memory, and reports whether it did: the common case of
// an L7 row's strings (its connection's, interned or constants), small
// enough to be inlined, unlike string.
func (c *pcol) repeat(s string) bool {
	if len(s) == 0 || !c.lastOK || unsafe.StringData(s) != unsafe.StringData(c.last) || len(s) != len(c.last) {
		return false
	}
	if c.optional {
		c.defs = append(c.defs, 1)
	}
	c.idx = append(c.idx, c.lastIdx)
	return true
}
