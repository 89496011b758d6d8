package report

import (
	"errors"
	"fmt"
	"io"
	"net/netip"
	"strconv"

	"github.com/flowproof/flowproof/analyze"
	"github.com/parquet-go/parquet-go"
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

// Defaults for FlowWriterOptions.
const (
	DefaultRowGroupRows = 16 * 1024
	flowBatchRows       = 1024 // rows handed to parquet-go per Write call
)

// FlowRow is one row of flows.parquet schema v2. The field order is the column
// order. Optional integers are pointers (nil is null, a valid 0 stays 0);
// optional strings are null when empty.
type FlowRow struct {
	FlowID      string `parquet:"flow_id"`
	CommunityID string `parquet:"community_id"`
	Capture     string `parquet:"capture,dict"`
	Proto       string `parquet:"proto,dict"`
	IPVersion   int32  `parquet:"ip_version"`
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
	Vantages         int32  `parquet:"vantages"`
	OrigTransitP50Ns *int64 `parquet:"orig_transit_p50_ns,optional"`
	RespTransitP50Ns *int64 `parquet:"resp_transit_p50_ns,optional"`
	TLSSNI           string `parquet:"tls_sni,optional,dict"`
	TLSALPN          string `parquet:"tls_alpn,optional,dict"`
	TLSVersion       string `parquet:"tls_version,optional,dict"`
	// CrossCheck stays the last column: FlowWriter.CloseWithVerdicts
	// rewrites it after the row groups.
	CrossCheck string `parquet:"crosscheck,optional,dict"`
}

// rowNulls holds the values the optional pointers of one FlowRow point to,
// so a batch of rows is filled without allocating.
type rowNulls struct {
	vlan int32
	i64  [16]int64
}

// FlowRowOf converts a record to its row. The optional columns point into
// newly allocated memory; FlowWriter avoids that by reusing its own.
func FlowRowOf(rec *analyze.Record) (FlowRow, error) {
	var row FlowRow
	err := row.fill(rec, new(rowNulls), new(addrStrings))
	return row, err
}

func (r *FlowRow) fill(rec *analyze.Record, n *rowNulls, ips *addrStrings) error {
	if !rec.SrcIP.IsValid() || !rec.DstIP.IsValid() {
		return fmt.Errorf("flow %q: invalid src_ip or dst_ip", rec.FlowID)
	}
	*r = FlowRow{
		FlowID:            rec.FlowID,
		CommunityID:       rec.CommunityID,
		Capture:           rec.Capture,
		Proto:             rec.Proto,
		IPVersion:         rec.IPVersion,
		SrcIP:             ips.get(rec.SrcIP),
		DstIP:             ips.get(rec.DstIP),
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
// A FlowWriter is not safe for concurrent use.
type FlowWriter struct {
	ips          addrStrings
	pw           *parquet.GenericWriter[FlowRow]
	codec        *zstdCodec
	rows         []FlowRow
	nulls        []rowNulls
	rowGroupRows int
	inGroup      int // rows written to the current row group
	count        int64
	err          error // sticky: the first error ends the file
	closed       bool

	// For CloseWithVerdicts: where the bytes go, the options to write the
	// verdict column with, and each row's cross-check reference.
	out     *tailWriter
	options []parquet.WriterOption
	refs    []int32
}

// addrStrings remembers the text of recently written addresses: most flows
// share their addresses with many others, and formatting each anew was a
// large share of the writer's garbage.
type addrStrings struct {
	m map[netip.Addr]string
}

// maxAddrStrings bounds the cache; when full it starts again empty.
const maxAddrStrings = 4096

// get returns a's RFC 5952 text, without a zone (Parquet holds none).
func (c *addrStrings) get(a netip.Addr) string {
	if s, ok := c.m[a]; ok {
		return s
	}
	if c.m == nil || len(c.m) >= maxAddrStrings {
		c.m = make(map[netip.Addr]string)
	}
	s := a.WithZone("").String()
	c.m[a] = s
	return s
}

// ErrWriterClosed is returned by Write after Close.
var ErrWriterClosed = errors.New("report: flow writer is closed")

// NewFlowWriter returns a FlowWriter that writes to w. Output reaches w a row
// group at a time; Close writes the rest and the footer but does not close w.
// The same records and options always give the same bytes.
func NewFlowWriter(w io.Writer, opts FlowWriterOptions) (fw *FlowWriter, err error) {
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
	codec := new(zstdCodec)
	options := []parquet.WriterOption{
		parquet.Compression(codec),
		parquet.DataPageVersion(1),
		// 58 columns each buffer a page: small pages keep the writer's
		// memory small (README: Speed and memory).
		parquet.PageBufferSize(32 * 1024),
		&parquet.WriterConfig{CreatedBy: "flowproof version " + version},
	}
	for k, v := range opts.Metadata {
		if k == MetaSchema || k == MetaVersion {
			return nil, fmt.Errorf("report: metadata key %q is reserved", k)
		}
		options = append(options, parquet.KeyValueMetadata(k, v))
	}
	options = append(options,
		parquet.KeyValueMetadata(MetaSchema, strconv.Itoa(FlowSchemaVersion)),
		parquet.KeyValueMetadata(MetaVersion, version),
	)
	if _, err := parquet.NewWriterConfig(options...); err != nil {
		return nil, fmt.Errorf("report: parquet writer config: %w", err)
	}
	// parquet-go panics on a bad schema; with a fixed struct that is a bug
	// here, but it is still reported as an error rather than a crash.
	defer func() {
		if p := recover(); p != nil {
			fw, err = nil, fmt.Errorf("report: create parquet writer: %v", p)
		}
	}()
	batch := min(flowBatchRows, rowGroupRows)
	out := newTailWriter(w)
	options = append(options, parquet.WriteBufferSize(-1)) // out buffers
	return &FlowWriter{
		out:          out,
		options:      options,
		pw:           parquet.NewGenericWriter[FlowRow](out, options...),
		codec:        codec,
		rows:         make([]FlowRow, 0, batch),
		nulls:        make([]rowNulls, batch),
		rowGroupRows: rowGroupRows,
	}, nil
}

// Write adds one flow. Rows are buffered and written in batches; an error
// from the underlying writer may therefore surface on a later Write or on
// Close. After an error every call returns it.
func (fw *FlowWriter) Write(rec *analyze.Record) error {
	if fw.err != nil {
		return fw.err
	}
	if fw.closed {
		return ErrWriterClosed
	}
	i := len(fw.rows)
	fw.rows = fw.rows[:i+1]
	if err := fw.rows[i].fill(rec, &fw.nulls[i], &fw.ips); err != nil {
		fw.rows = fw.rows[:i] // a bad record is skipped; the file stays usable
		return fmt.Errorf("report: %w", err)
	}
	if len(fw.rows) == cap(fw.rows) {
		return fw.flushBatch()
	}
	return nil
}

// Count returns the number of flows accepted so far.
func (fw *FlowWriter) Count() int64 { return fw.count + int64(len(fw.rows)) }

// flushBatch hands the buffered rows to parquet-go, ending row groups at
// rowGroupRows.
func (fw *FlowWriter) flushBatch() error {
	rows := fw.rows
	for len(rows) > 0 {
		n := min(len(rows), fw.rowGroupRows-fw.inGroup)
		if _, err := fw.pw.Write(rows[:n]); err != nil {
			fw.err = fmt.Errorf("report: write flows: %w", err)
			return fw.err
		}
		rows = rows[n:]
		fw.inGroup += n
		fw.count += int64(n)
		if fw.inGroup == fw.rowGroupRows {
			if err := fw.pw.Flush(); err != nil {
				fw.err = fmt.Errorf("report: flush row group: %w", err)
				return fw.err
			}
			fw.inGroup = 0
		}
	}
	clear(fw.rows) // drop string references held by the batch
	fw.rows = fw.rows[:0]
	return nil
}

// Close writes the buffered rows, the last row group and the footer. It does
// not close the underlying io.Writer. Calling Close again returns the first
// Close's result.
func (fw *FlowWriter) Close() error {
	if fw.closed {
		return fw.err
	}
	fw.closed = true
	defer fw.codec.close()
	if fw.err != nil {
		return fw.err
	}
	if err := fw.flushBatch(); err != nil {
		return err
	}
	if err := fw.pw.Close(); err != nil {
		fw.err = fmt.Errorf("report: close parquet writer: %w", err)
	} else if fw.out.tail == nil {
		if err := fw.out.bw.Flush(); err != nil {
			fw.err = fmt.Errorf("report: write flows: %w", err)
		}
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
