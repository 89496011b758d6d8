package report

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unsafe"

	"github.com/flowproof/flowproof/analyze"
	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/format"
)

// Key-value metadata written to every flows.parquet footer.
const (
	MetaSchema  = "flowproof.schema"  // schema version of the file: FlowSchemaVersion
	MetaVersion = "flowproof.version" // flowproof version that wrote the file

	// FlowSchemaVersion is the flows.parquet schema version. Adding a column
	// keeps it; renaming or re-typing one bumps it, and so does a change of
	// what a column counts. 2: packets, bytes and retransmissions count each
	// packet once when a capture recorded it at two vantage points (and
	// dup_pkts, vantages, the transit and TLS columns were added).
	FlowSchemaVersion = 2
)

// DefaultRowGroupRows is FlowWriterOptions.RowGroupRows's default.
const DefaultRowGroupRows = 16 * 1024

// FlowRow is one row of flows.parquet schema v2. The field order is the column
// order. Optional integers are pointers (nil is null, a valid 0 stays 0);
// optional strings are null when empty.
type FlowRow struct {
	FlowID      string `parquet:"flow_id"`
	CommunityID string `parquet:"community_id"`
	Capture     string `parquet:"capture,dict"`
	Proto       string `parquet:"proto,dict"`
	IPVersion   int32  `parquet:"ip_version,delta"`
	SrcIP       string `parquet:"src_ip,dict"`
	DstIP       string `parquet:"dst_ip,dict"`
	SrcPort     int32  `parquet:"src_port,delta"`
	DstPort     int32  `parquet:"dst_port,delta"`
	VLAN        *int32 `parquet:"vlan,optional"`
	Tunnel      string `parquet:"tunnel,optional,dict"`
	TunnelID    *int64 `parquet:"tunnel_id,optional"`

	Ts         int64 `parquet:"ts,timestamp(microsecond:utc),delta"` // TsNs floored to µs
	TsNs       int64 `parquet:"ts_ns,delta"`
	EndNs      int64 `parquet:"end_ns,delta"`
	DurationNs int64 `parquet:"duration_ns,delta"`

	State             string `parquet:"state,dict"`
	History           string `parquet:"history,dict"`
	DirectionInferred bool   `parquet:"direction_inferred"`
	Synthetic         bool   `parquet:"synthetic"`

	OrigPkts         int64 `parquet:"orig_pkts,delta"`
	RespPkts         int64 `parquet:"resp_pkts,delta"`
	OrigBytes        int64 `parquet:"orig_bytes,delta"`
	RespBytes        int64 `parquet:"resp_bytes,delta"`
	OrigIPBytes      int64 `parquet:"orig_ip_bytes,delta"`
	RespIPBytes      int64 `parquet:"resp_ip_bytes,delta"`
	OrigWireBytes    int64 `parquet:"orig_wire_bytes,delta"`
	RespWireBytes    int64 `parquet:"resp_wire_bytes,delta"`
	OrigRetransPkts  int64 `parquet:"orig_retrans_pkts,delta"`
	RespRetransPkts  int64 `parquet:"resp_retrans_pkts,delta"`
	OrigRetransBytes int64 `parquet:"orig_retrans_bytes,delta"`
	RespRetransBytes int64 `parquet:"resp_retrans_bytes,delta"`
	MissedBytes      int64 `parquet:"missed_bytes,delta"`
	OutOfOrder       int64 `parquet:"out_of_order,delta"`
	DupAcks          int64 `parquet:"dup_acks,delta"`
	ZeroWindows      int64 `parquet:"zero_windows,delta"`

	RTTSynSynAckNs  *int64 `parquet:"rtt_syn_synack_ns,optional"`
	RTTSynAckAckNs  *int64 `parquet:"rtt_synack_ack_ns,optional"`
	RTTHandshakeNs  *int64 `parquet:"rtt_handshake_ns,optional"`
	RTTFirstReplyNs *int64 `parquet:"rtt_first_reply_ns,optional"`

	OrigRTTSamples *int64 `parquet:"orig_rtt_samples,optional"`
	OrigRTTMinNs   *int64 `parquet:"orig_rtt_min_ns,optional"`
	OrigRTTP50Ns   *int64 `parquet:"orig_rtt_p50_ns,optional"`
	OrigRTTMaxNs   *int64 `parquet:"orig_rtt_max_ns,optional"`
	RespRTTSamples *int64 `parquet:"resp_rtt_samples,optional"`
	RespRTTMinNs   *int64 `parquet:"resp_rtt_min_ns,optional"`
	RespRTTP50Ns   *int64 `parquet:"resp_rtt_p50_ns,optional"`
	RespRTTMaxNs   *int64 `parquet:"resp_rtt_max_ns,optional"`

	SrcPod           string `parquet:"src_pod,optional"`
	SrcNamespace     string `parquet:"src_namespace,optional,dict"`
	SrcService       string `parquet:"src_service,optional,dict"`
	SrcNode          string `parquet:"src_node,optional,dict"`
	DstPod           string `parquet:"dst_pod,optional"`
	DstNamespace     string `parquet:"dst_namespace,optional,dict"`
	DstService       string `parquet:"dst_service,optional,dict"`
	DstNode          string `parquet:"dst_node,optional,dict"`
	DupPkts          int64  `parquet:"dup_pkts,delta"`
	Vantages         int32  `parquet:"vantages,delta"`
	OrigTransitP50Ns *int64 `parquet:"orig_transit_p50_ns,optional"`
	RespTransitP50Ns *int64 `parquet:"resp_transit_p50_ns,optional"`
	TLSSNI           string `parquet:"tls_sni,optional,dict"`
	TLSALPN          string `parquet:"tls_alpn,optional,dict"`
	TLSVersion       string `parquet:"tls_version,optional,dict"`
	CaptureNodes     string `parquet:"capture_nodes,optional,dict"`
	// CrossCheck stays the last column: FlowWriter.CloseWithVerdicts
	// rewrites it after the row groups.
	CrossCheck string `parquet:"crosscheck,optional,dict"`
}

// rowNulls holds the values the optional pointers of one FlowRow point to.
type rowNulls struct {
	vlan int32
	i64  [16]int64
}

// FlowRowOf converts a record to its row, the row FlowWriter writes for it.
// The optional columns point into newly allocated memory.
func FlowRowOf(rec *analyze.Record) (FlowRow, error) {
	var row FlowRow
	err := row.fill(rec, new(rowNulls))
	return row, err
}

func (r *FlowRow) fill(rec *analyze.Record, n *rowNulls) error {
	if !rec.SrcIP.IsValid() || !rec.DstIP.IsValid() {
		return fmt.Errorf("flow %q: invalid src_ip or dst_ip", rec.FlowID)
	}
	*r = FlowRow{
		FlowID:            rec.FlowID,
		CommunityID:       rec.CommunityID,
		Capture:           rec.Capture,
		Proto:             rec.Proto,
		IPVersion:         rec.IPVersion,
		SrcIP:             rec.SrcIP.WithZone("").String(),
		DstIP:             rec.DstIP.WithZone("").String(),
		SrcPort:           int32(rec.SrcPort),
		DstPort:           int32(rec.DstPort),
		Tunnel:            rec.Tunnel,
		Ts:                floorDiv(rec.TsNs, 1000),
		TsNs:              rec.TsNs,
		EndNs:             rec.EndNs,
		DurationNs:        rec.EndNs - rec.TsNs,
		State:             rec.State,
		History:           rec.History,
		DirectionInferred: rec.DirectionInferred,
		Synthetic:         rec.Synthetic,
		OrigPkts:          rec.OrigPkts,
		RespPkts:          rec.RespPkts,
		OrigBytes:         rec.OrigBytes,
		RespBytes:         rec.RespBytes,
		OrigIPBytes:       rec.OrigIPBytes,
		RespIPBytes:       rec.RespIPBytes,
		OrigWireBytes:     rec.OrigWireBytes,
		RespWireBytes:     rec.RespWireBytes,
		OrigRetransPkts:   rec.OrigRetransPkts,
		RespRetransPkts:   rec.RespRetransPkts,
		OrigRetransBytes:  rec.OrigRetransBytes,
		RespRetransBytes:  rec.RespRetransBytes,
		MissedBytes:       rec.MissedBytes,
		OutOfOrder:        rec.OutOfOrder,
		DupAcks:           rec.DupAcks,
		ZeroWindows:       rec.ZeroWindows,
		SrcPod:            rec.SrcPod,
		SrcNamespace:      rec.SrcNamespace,
		SrcService:        rec.SrcService,
		SrcNode:           rec.SrcNode,
		DstPod:            rec.DstPod,
		DstNamespace:      rec.DstNamespace,
		DstService:        rec.DstService,
		DstNode:           rec.DstNode,
		DupPkts:           rec.DupPkts,
		Vantages:          rec.Vantages,
		TLSSNI:            rec.TLSSNI,
		TLSALPN:           rec.TLSALPN,
		TLSVersion:        rec.TLSVersion,
		CaptureNodes:      rec.CaptureNodes,
		CrossCheck:        rec.CrossCheck,
	}
	if rec.VLAN.Valid {
		n.vlan = int32(rec.VLAN.V)
		r.VLAN = &n.vlan
	}
	i := 0
	opt := func(dst **int64, o analyze.Opt) {
		if o.Valid {
			n.i64[i] = o.V
			*dst = &n.i64[i]
		}
		i++
	}
	opt(&r.TunnelID, rec.TunnelID)
	opt(&r.RTTSynSynAckNs, rec.RTTSynSynAck)
	opt(&r.RTTSynAckAckNs, rec.RTTSynAckAck)
	opt(&r.RTTHandshakeNs, rec.RTTHandshake)
	opt(&r.RTTFirstReplyNs, rec.RTTFirstReply)
	for _, s := range []struct {
		st                    analyze.RTTStats
		samples, lo, p50, max **int64
	}{
		{rec.OrigRTT, &r.OrigRTTSamples, &r.OrigRTTMinNs, &r.OrigRTTP50Ns, &r.OrigRTTMaxNs},
		{rec.RespRTT, &r.RespRTTSamples, &r.RespRTTMinNs, &r.RespRTTP50Ns, &r.RespRTTMaxNs},
	} {
		valid := s.st.Samples != 0 // all four columns are null without samples
		opt(s.samples, analyze.Opt{V: s.st.Samples, Valid: valid})
		opt(s.lo, analyze.Opt{V: s.st.MinNs, Valid: valid})
		opt(s.p50, analyze.Opt{V: s.st.P50Ns, Valid: valid})
		opt(s.max, analyze.Opt{V: s.st.MaxNs, Valid: valid})
	}
	opt(&r.OrigTransitP50Ns, rec.OrigTransitP50Ns)
	opt(&r.RespTransitP50Ns, rec.RespTransitP50Ns)
	return nil
}

// Record converts a row back to a flow record. It fails only if an address
// column does not parse.
func (r *FlowRow) Record() (analyze.Record, error) {
	src, err := netip.ParseAddr(r.SrcIP)
	if err != nil {
		return analyze.Record{}, fmt.Errorf("flow %q: src_ip: %w", r.FlowID, err)
	}
	dst, err := netip.ParseAddr(r.DstIP)
	if err != nil {
		return analyze.Record{}, fmt.Errorf("flow %q: dst_ip: %w", r.FlowID, err)
	}
	opt := func(p *int64) analyze.Opt {
		if p == nil {
			return analyze.Opt{}
		}
		return analyze.Some(*p)
	}
	val := func(p *int64) int64 {
		if p == nil {
			return 0
		}
		return *p
	}
	rec := analyze.Record{
		FlowID:            r.FlowID,
		CommunityID:       r.CommunityID,
		Capture:           r.Capture,
		Proto:             r.Proto,
		IPVersion:         r.IPVersion,
		SrcIP:             src,
		DstIP:             dst,
		SrcPort:           uint16(r.SrcPort),
		DstPort:           uint16(r.DstPort),
		Tunnel:            r.Tunnel,
		TunnelID:          opt(r.TunnelID),
		TsNs:              r.TsNs,
		EndNs:             r.EndNs,
		State:             r.State,
		History:           r.History,
		DirectionInferred: r.DirectionInferred,
		Synthetic:         r.Synthetic,
		OrigPkts:          r.OrigPkts,
		RespPkts:          r.RespPkts,
		OrigBytes:         r.OrigBytes,
		RespBytes:         r.RespBytes,
		OrigIPBytes:       r.OrigIPBytes,
		RespIPBytes:       r.RespIPBytes,
		OrigWireBytes:     r.OrigWireBytes,
		RespWireBytes:     r.RespWireBytes,
		OrigRetransPkts:   r.OrigRetransPkts,
		RespRetransPkts:   r.RespRetransPkts,
		OrigRetransBytes:  r.OrigRetransBytes,
		RespRetransBytes:  r.RespRetransBytes,
		MissedBytes:       r.MissedBytes,
		OutOfOrder:        r.OutOfOrder,
		DupAcks:           r.DupAcks,
		ZeroWindows:       r.ZeroWindows,
		RTTSynSynAck:      opt(r.RTTSynSynAckNs),
		RTTSynAckAck:      opt(r.RTTSynAckAckNs),
		RTTHandshake:      opt(r.RTTHandshakeNs),
		RTTFirstReply:     opt(r.RTTFirstReplyNs),
		OrigRTT:           analyze.RTTStats{Samples: val(r.OrigRTTSamples), MinNs: val(r.OrigRTTMinNs), P50Ns: val(r.OrigRTTP50Ns), MaxNs: val(r.OrigRTTMaxNs)},
		RespRTT:           analyze.RTTStats{Samples: val(r.RespRTTSamples), MinNs: val(r.RespRTTMinNs), P50Ns: val(r.RespRTTP50Ns), MaxNs: val(r.RespRTTMaxNs)},
		SrcPod:            r.SrcPod,
		SrcNamespace:      r.SrcNamespace,
		SrcService:        r.SrcService,
		SrcNode:           r.SrcNode,
		DstPod:            r.DstPod,
		DstNamespace:      r.DstNamespace,
		DstService:        r.DstService,
		DstNode:           r.DstNode,
		DupPkts:           r.DupPkts,
		Vantages:          r.Vantages,
		OrigTransitP50Ns:  opt(r.OrigTransitP50Ns),
		RespTransitP50Ns:  opt(r.RespTransitP50Ns),
		TLSSNI:            r.TLSSNI,
		TLSALPN:           r.TLSALPN,
		TLSVersion:        r.TLSVersion,
		CaptureNodes:      r.CaptureNodes,
		CrossCheck:        r.CrossCheck,
	}
	if r.VLAN != nil {
		rec.VLAN = analyze.Some(int64(*r.VLAN))
	}
	return rec, nil
}

// floorDiv divides rounding towards negative infinity, so that ts is the
// µs-truncation of ts_ns also before 1970.
func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

// FlowWriterOptions configures a FlowWriter. The zero value is valid.
type FlowWriterOptions struct {
	// Version is the flowproof version, written as flowproof.version and in
	// the file's created_by. Empty means "devel".
	Version string

	// RowGroupRows bounds the rows per row group, and with it the writer's
	// memory. Zero means DefaultRowGroupRows.
	RowGroupRows int

	// Metadata holds extra footer key-value pairs. The keys MetaSchema and
	// MetaVersion are reserved.
	Metadata map[string]string
}

// FlowWriter writes flows.parquet (schema v2) to an io.Writer: zstd pages,
// row groups of at most RowGroupRows rows, and the footer on Close.
// It encodes the columns itself (colWriter), straight from the records, with
// FlowRow's schema. A FlowWriter is not safe for concurrent use.
type FlowWriter struct {
	cw           *colWriter
	bw           *bufio.Writer
	codec        *zstdCodec
	kv           []format.KeyValue
	createdBy    string
	rowGroupRows int
	count        int64
	err          error // sticky: the first error ends the file
	closed       bool

	// For WriteDeferred: each row's cross-check reference. The crosscheck
	// column's chunks are written after the row groups, on
	// CloseWithVerdicts.
	deferred bool
	refs     []int32

	// Rows written but not yet appended to the columns (appendFlows).
	batch []analyze.Record
}

// crossCheckCol is the crosscheck column's index: the last.
const crossCheckCol = nFlowCols - 1

// nFlowCols is the number of flows.parquet columns.
const nFlowCols = 65

// flowSchema is FlowRow's schema as parquet-go writes it, and the data
// encoding of each column from its struct tag.
var flowSchema = sync.OnceValues(func() (*format.FileMetaData, error) {
	md, err := schemaOf[FlowRow]()
	if err != nil {
		return nil, err
	}
	if n := len(md.Schema) - 1; n != nFlowCols {
		return nil, fmt.Errorf("FlowRow has %d columns, the writer %d", n, nFlowCols)
	}
	return md, nil
})

// schemaOf returns the footer of an empty file parquet-go writes for the
// row struct T: its schema elements and column orders.
func schemaOf[T any]() (md *format.FileMetaData, err error) {
	// parquet-go panics on a bad schema; with a fixed struct that is a bug
	// here, but it is still reported as an error rather than a crash.
	defer func() {
		if p := recover(); p != nil {
			md, err = nil, fmt.Errorf("parquet schema: %v", p)
		}
	}()
	var buf bytes.Buffer
	w := parquet.NewGenericWriter[T](&buf)
	if err := w.Close(); err != nil {
		return nil, err
	}
	md, _, err = decodeFooter(buf.Bytes())
	return md, err
}

// columnEncodings returns the data encoding of each field of a row struct
// (embedded structs flattened, as parquet-go does) from its parquet tag:
// dict, delta, else PLAIN (DELTA_LENGTH_BYTE_ARRAY for strings, as
// parquet-go writes them). Optional integers (pointers, which parquet-go's
// tags cannot mark delta) and lists of integers are DELTA_BINARY_PACKED too:
// it makes the writer much faster, at some cost in file size (README: Speed
// and memory); lists of strings are DELTA_LENGTH_BYTE_ARRAY.
func columnEncodings(t reflect.Type) []format.Encoding {
	var encs []format.Encoding
	for f := range t.Fields() {
		tag := f.Tag.Get("parquet")
		if f.Anonymous && tag == "" && f.Type.Kind() == reflect.Struct {
			encs = append(encs, columnEncodings(f.Type)...)
			continue
		}
		if tag == "" || tag == "-" {
			continue
		}
		if f.Type.Kind() == reflect.Slice {
			e := encDelta
			if f.Type.Elem().Kind() == reflect.String {
				e = encDeltaBytes
			}
			encs = append(encs, e)
			continue
		}
		opts := strings.Split(tag, ",")[1:]
		e := encPlain
		switch {
		case slices.Contains(opts, "dict"):
			e = encDict
		case slices.Contains(opts, "delta") && f.Type.Kind() == reflect.String:
			e = encPrefix
		case slices.Contains(opts, "delta"):
			e = encDelta
		case f.Type.Kind() == reflect.Pointer && f.Type.Elem().Kind() != reflect.String:
			e = encDelta
		case f.Type.Kind() == reflect.String:
			e = encDeltaBytes
		}
		encs = append(encs, e)
	}
	return encs
}

// ErrWriterClosed is returned by Write after Close.
var ErrWriterClosed = errors.New("report: flow writer is closed")

// NewFlowWriter returns a FlowWriter that writes to w. Output reaches w a row
// group at a time; Close writes the rest and the footer but does not close w.
// The same records and options always give the same bytes.
func NewFlowWriter(w io.Writer, opts FlowWriterOptions) (*FlowWriter, error) {
	if w == nil {
		return nil, errors.New("report: nil io.Writer")
	}
	if opts.RowGroupRows < 0 {
		return nil, fmt.Errorf("report: negative RowGroupRows %d", opts.RowGroupRows)
	}
	rowGroupRows := opts.RowGroupRows
	if rowGroupRows == 0 {
		rowGroupRows = DefaultRowGroupRows
	}
	version := opts.Version
	if version == "" {
		version = "devel"
	}
	kv := make([]format.KeyValue, 0, len(opts.Metadata)+2)
	for k, v := range opts.Metadata {
		if k == MetaSchema || k == MetaVersion {
			return nil, fmt.Errorf("report: metadata key %q is reserved", k)
		}
		kv = append(kv, format.KeyValue{Key: k, Value: v})
	}
	slices.SortFunc(kv, func(a, b format.KeyValue) int { return strings.Compare(a.Key, b.Key) })
	kv = append(kv,
		format.KeyValue{Key: MetaSchema, Value: strconv.Itoa(FlowSchemaVersion)},
		format.KeyValue{Key: MetaVersion, Value: version},
	)
	schema, err := flowSchema()
	if err != nil {
		return nil, fmt.Errorf("report: flows schema: %w", err)
	}
	codec := new(zstdCodec)
	bw := bufio.NewWriterSize(w, 32<<10)
	cw, err := newColWriter(bw, codec, schema, columnEncodings(reflect.TypeFor[FlowRow]()))
	if err != nil {
		return nil, fmt.Errorf("report: flows writer: %w", err)
	}
	cw.codecPerColumn = true
	return &FlowWriter{
		cw:           cw,
		bw:           bw,
		codec:        codec,
		kv:           kv,
		createdBy:    "flowproof version " + version,
		rowGroupRows: rowGroupRows,
		batch:        make([]analyze.Record, 0, flowBatch),
	}, nil
}

// Write adds one flow. An error from the underlying writer may surface on a
// later Write or on Close. After such an error every call returns it; a
// record that cannot be written (invalid address) is skipped with an error,
// and the file stays usable.
func (fw *FlowWriter) Write(rec *analyze.Record) error {
	if fw.deferred {
		return errors.New("report: Write after WriteDeferred")
	}
	return fw.write(rec)
}

func (fw *FlowWriter) write(rec *analyze.Record) error {
	if fw.err != nil {
		return fw.err
	}
	if fw.closed {
		return ErrWriterClosed
	}
	if !rec.SrcIP.IsValid() || !rec.DstIP.IsValid() {
		return fmt.Errorf("report: flow %q: invalid src_ip or dst_ip", rec.FlowID)
	}
	// One copy, straight into the batch (append(fw.batch, *rec) copied
	// the record twice, through a temporary).
	n := len(fw.batch)
	fw.batch = fw.batch[:n+1]
	fw.batch[n] = *rec
	fw.count++
	fw.cw.rows++
	fw.rowsAdded(false)
	return fw.err
}

// rowsAdded is called after rows are counted in cw.rows: at a multiple of
// flowBatch rows, or at the row group's end, the staged rows are appended
// (appended says they already are), the full pages encoded, and the row
// group ended.
func (fw *FlowWriter) rowsAdded(appended bool) {
	cw := fw.cw
	if cw.rows%flowBatch == 0 || cw.rows == int64(fw.rowGroupRows) {
		if !appended {
			fw.appendBatch()
		}
		if cw.rows%flowBatch == 0 {
			cw.flushFullPages()
		}
		if cw.rows == int64(fw.rowGroupRows) {
			fw.endRowGroup()
		}
	}
	if cw.err != nil {
		fw.err = fmt.Errorf("report: write flows: %w", cw.err)
	}
}

// WriteBatch adds flows, in order, as Write does for each, but reads them
// where they are instead of copying each into the writer's batch (the
// pipeline hands over its own batches of finished flows). The records are
// not kept after WriteBatch returns. A record that cannot be written
// (invalid address) is skipped and the rest still written; the first such
// error is returned.
func (fw *FlowWriter) WriteBatch(recs []analyze.Record) error {
	if fw.deferred {
		return errors.New("report: WriteBatch after WriteDeferred")
	}
	var bad error
	for len(recs) > 0 {
		if fw.err != nil {
			return fw.err
		}
		if fw.closed {
			return ErrWriterClosed
		}
		cw := fw.cw
		// Up to the next page check or the row group's end, so that pages
		// and row groups end on the same rows as with Write.
		n := min(len(recs), flowBatch-int(cw.rows%flowBatch), fw.rowGroupRows-int(cw.rows))
		for k := range n {
			if r := &recs[k]; !r.SrcIP.IsValid() || !r.DstIP.IsValid() {
				n = k
				break
			}
		}
		if n == 0 {
			if bad == nil {
				bad = fmt.Errorf("report: flow %q: invalid src_ip or dst_ip", recs[0].FlowID)
			}
			recs = recs[1:]
			continue
		}
		fw.appendBatch() // rows staged by Write come first
		cw.appendFlows(recs[:n], true)
		fw.count += int64(n)
		cw.rows += int64(n)
		fw.rowsAdded(true)
		recs = recs[n:]
	}
	if fw.err != nil {
		return fw.err
	}
	return bad
}

// appendBatch appends the staged rows to the columns.
func (fw *FlowWriter) appendBatch() {
	if len(fw.batch) == 0 {
		return
	}
	fw.cw.appendFlows(fw.batch, !fw.deferred)
	fw.batch = fw.batch[:0]
}

func (fw *FlowWriter) endRowGroup() {
	fw.appendBatch()
	skip := -1
	if fw.deferred {
		skip = crossCheckCol
	}
	fw.cw.endRowGroup(skip)
}

// flowBatch is the rows staged before their values are appended column by
// column: each column's append loop then runs over the batch with its state
// in registers, instead of touching all 65 columns for every row (README:
// Speed and memory). It equals endRow's page check interval, so pages end
// on the same rows as when values are appended row by row.
const flowBatch = 64

// appendFlows adds the records' values to the columns, in FlowRow's order;
// withVerdict false leaves the crosscheck column alone.
func (cw *colWriter) appendFlows(b []analyze.Record, withVerdict bool) {
	type rec = analyze.Record
	c := cw.cols[:nFlowCols:nFlowCols]
	var z rec // for the fields' offsets
	c[0].stringsAt(b, unsafe.Offsetof(z.FlowID))
	c[1].stringsAt(b, unsafe.Offsetof(z.CommunityID))
	c[2].stringsAt(b, unsafe.Offsetof(z.Capture))
	c[3].stringsAt(b, unsafe.Offsetof(z.Proto))
	batchInt32(&c[4], b, func(r *rec) int32 { return r.IPVersion })
	c[5].addrsAt(b, unsafe.Offsetof(z.SrcIP))
	c[6].addrsAt(b, unsafe.Offsetof(z.DstIP))
	batchInt32(&c[7], b, func(r *rec) int32 { return int32(r.SrcPort) })
	batchInt32(&c[8], b, func(r *rec) int32 { return int32(r.DstPort) })
	optsAt[int32, bool](&c[9], &c[9].i32, b, unsafe.Offsetof(z.VLAN)+optV, unsafe.Offsetof(z.VLAN)+optValid)
	c[10].stringsAt(b, unsafe.Offsetof(z.Tunnel))
	c[11].optAt(b, unsafe.Offsetof(z.TunnelID))
	batchInt64(&c[12], b, func(r *rec) int64 { return floorDiv(r.TsNs, 1000) })
	batchInt64(&c[13], b, func(r *rec) int64 { return r.TsNs })
	batchInt64(&c[14], b, func(r *rec) int64 { return r.EndNs })
	batchInt64(&c[15], b, func(r *rec) int64 { return r.EndNs - r.TsNs })
	c[16].stringsAt(b, unsafe.Offsetof(z.State))
	c[17].stringsAt(b, unsafe.Offsetof(z.History))
	batchBool(&c[18], b, func(r *rec) bool { return r.DirectionInferred })
	batchBool(&c[19], b, func(r *rec) bool { return r.Synthetic })
	batchInt64(&c[20], b, func(r *rec) int64 { return r.OrigPkts })
	batchInt64(&c[21], b, func(r *rec) int64 { return r.RespPkts })
	batchInt64(&c[22], b, func(r *rec) int64 { return r.OrigBytes })
	batchInt64(&c[23], b, func(r *rec) int64 { return r.RespBytes })
	batchInt64(&c[24], b, func(r *rec) int64 { return r.OrigIPBytes })
	batchInt64(&c[25], b, func(r *rec) int64 { return r.RespIPBytes })
	batchInt64(&c[26], b, func(r *rec) int64 { return r.OrigWireBytes })
	batchInt64(&c[27], b, func(r *rec) int64 { return r.RespWireBytes })
	batchInt64(&c[28], b, func(r *rec) int64 { return r.OrigRetransPkts })
	batchInt64(&c[29], b, func(r *rec) int64 { return r.RespRetransPkts })
	batchInt64(&c[30], b, func(r *rec) int64 { return r.OrigRetransBytes })
	batchInt64(&c[31], b, func(r *rec) int64 { return r.RespRetransBytes })
	batchInt64(&c[32], b, func(r *rec) int64 { return r.MissedBytes })
	batchInt64(&c[33], b, func(r *rec) int64 { return r.OutOfOrder })
	batchInt64(&c[34], b, func(r *rec) int64 { return r.DupAcks })
	batchInt64(&c[35], b, func(r *rec) int64 { return r.ZeroWindows })
	c[36].optAt(b, unsafe.Offsetof(z.RTTSynSynAck))
	c[37].optAt(b, unsafe.Offsetof(z.RTTSynAckAck))
	c[38].optAt(b, unsafe.Offsetof(z.RTTHandshake))
	c[39].optAt(b, unsafe.Offsetof(z.RTTFirstReply))
	// All four RTT columns of a direction are null without samples.
	rttsAt(c[40:44], b, unsafe.Offsetof(z.OrigRTT))
	rttsAt(c[44:48], b, unsafe.Offsetof(z.RespRTT))
	c[48].stringsAt(b, unsafe.Offsetof(z.SrcPod))
	c[49].stringsAt(b, unsafe.Offsetof(z.SrcNamespace))
	c[50].stringsAt(b, unsafe.Offsetof(z.SrcService))
	c[51].stringsAt(b, unsafe.Offsetof(z.SrcNode))
	c[52].stringsAt(b, unsafe.Offsetof(z.DstPod))
	c[53].stringsAt(b, unsafe.Offsetof(z.DstNamespace))
	c[54].stringsAt(b, unsafe.Offsetof(z.DstService))
	c[55].stringsAt(b, unsafe.Offsetof(z.DstNode))
	batchInt64(&c[56], b, func(r *rec) int64 { return r.DupPkts })
	batchInt32(&c[57], b, func(r *rec) int32 { return r.Vantages })
	c[58].optAt(b, unsafe.Offsetof(z.OrigTransitP50Ns))
	c[59].optAt(b, unsafe.Offsetof(z.RespTransitP50Ns))
	c[60].stringsAt(b, unsafe.Offsetof(z.TLSSNI))
	c[61].stringsAt(b, unsafe.Offsetof(z.TLSALPN))
	c[62].stringsAt(b, unsafe.Offsetof(z.TLSVersion))
	c[63].stringsAt(b, unsafe.Offsetof(z.CaptureNodes))
	if withVerdict {
		c[64].stringsAt(b, unsafe.Offsetof(z.CrossCheck))
	}
}

// Count returns the number of flows accepted so far.
func (fw *FlowWriter) Count() int64 { return fw.count }

// Close writes the last row group and the footer. It does not close the
// underlying io.Writer. Calling Close again returns the first Close's
// result. A writer fed with WriteDeferred gets a null crosscheck column.
func (fw *FlowWriter) Close() error {
	if fw.deferred && !fw.closed {
		return fw.CloseWithVerdicts(func(int32) string { return "" })
	}
	return fw.close()
}

func (fw *FlowWriter) close() error {
	if fw.closed {
		return fw.err
	}
	fw.closed = true
	defer fw.codec.close()
	if fw.err != nil {
		return fw.err
	}
	fw.endRowGroup()
	if err := fw.cw.close(fw.kv, fw.createdBy); err != nil {
		fw.err = fmt.Errorf("report: write flows: %w", err)
		return fw.err
	}
	if err := fw.bw.Flush(); err != nil {
		fw.err = fmt.Errorf("report: write flows: %w", err)
	}
	return fw.err
}

// ReadFlows reads a whole flows.parquet file. It checks that the file says
// flowproof.schema=2 (FlowSchemaVersion) and returns the rows in file order. It loads every row
// into memory: use it in tests and for small files.
func ReadFlows(path string) ([]FlowRow, error) {
	return readAll[FlowRow](path, func(pf *parquet.File) error {
		if v, ok := pf.Lookup(MetaSchema); !ok || v != strconv.Itoa(FlowSchemaVersion) {
			return fmt.Errorf("%s is %q, want %d", MetaSchema, v, FlowSchemaVersion)
		}
		return nil
	})
}
