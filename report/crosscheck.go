package report

import (
	"fmt"
	"io"
	"strconv"

	"github.com/flowproof/flowproof/analyze"
	"github.com/flowproof/flowproof/analyze/crosscheck"
	"github.com/parquet-go/parquet-go"
)

// CrossCheckFile is the cross-check's output file.
const CrossCheckFile = "crosscheck.parquet"

// CrossCheckRow is one row of crosscheck.parquet: one Kubeshark L4 aggregate
// (proto, client ip, server ip, server port), or one aggregate of the capture
// Kubeshark has no record of (pcap_only). ks_* are Kubeshark's values, cap_*
// the capture's; bytes are application bytes (the capture's: payload minus
// retransmitted bytes), RTTs nanoseconds. delta = Kubeshark - capture.
// client_* and server_* name the endpoints as Kubeshark's record does, else
// by the workloads holding the IPs over the capture's flows (null when
// unknown or when the holder changed).
type CrossCheckRow struct {
	Proto      string `parquet:"proto,dict"`
	ClientIP   string `parquet:"client_ip"`
	ServerIP   string `parquet:"server_ip"`
	ServerPort int32  `parquet:"server_port"`
	Verdict    string `parquet:"verdict,dict"`
	Reason     string `parquet:"reason"`

	ClientPod       string `parquet:"client_pod,optional"`
	ClientNamespace string `parquet:"client_namespace,optional,dict"`
	ClientService   string `parquet:"client_service,optional,dict"`
	ClientNode      string `parquet:"client_node,optional,dict"`
	ServerPod       string `parquet:"server_pod,optional"`
	ServerNamespace string `parquet:"server_namespace,optional,dict"`
	ServerService   string `parquet:"server_service,optional,dict"`
	ServerNode      string `parquet:"server_node,optional,dict"`

	KsTs            *int64 `parquet:"ks_ts,optional,timestamp(microsecond:utc)"`
	KsClientTxBytes *int64 `parquet:"ks_client_tx_bytes,optional"`
	KsClientRxBytes *int64 `parquet:"ks_client_rx_bytes,optional"`
	KsServerTxBytes *int64 `parquet:"ks_server_tx_bytes,optional"`
	KsServerRxBytes *int64 `parquet:"ks_server_rx_bytes,optional"`
	KsClientTxPkts  *int64 `parquet:"ks_client_tx_pkts,optional"`
	KsClientRxPkts  *int64 `parquet:"ks_client_rx_pkts,optional"`
	KsServerTxPkts  *int64 `parquet:"ks_server_tx_pkts,optional"`
	KsServerRxPkts  *int64 `parquet:"ks_server_rx_pkts,optional"`

	CapFlows           int64  `parquet:"cap_flows"`
	CapFirstNs         *int64 `parquet:"cap_first_ns,optional"`
	CapLastNs          *int64 `parquet:"cap_last_ns,optional"`
	CapC2SBytes        int64  `parquet:"cap_c2s_bytes"`
	CapS2CBytes        int64  `parquet:"cap_s2c_bytes"`
	CapC2SPkts         int64  `parquet:"cap_c2s_pkts"`
	CapS2CPkts         int64  `parquet:"cap_s2c_pkts"`
	CapC2SRetransBytes int64  `parquet:"cap_c2s_retrans_bytes"`
	CapS2CRetransBytes int64  `parquet:"cap_s2c_retrans_bytes"`
	CapMissedBytes     int64  `parquet:"cap_missed_bytes"`

	KsC2SBytes    *int64   `parquet:"ks_c2s_bytes,optional"`
	KsS2CBytes    *int64   `parquet:"ks_s2c_bytes,optional"`
	DeltaC2SBytes *int64   `parquet:"delta_c2s_bytes,optional"`
	DeltaS2CBytes *int64   `parquet:"delta_s2c_bytes,optional"`
	PktRatioC2S   *float64 `parquet:"pkt_ratio_c2s,optional"` // Kubeshark client tx_pkts / capture packets (not judged)
	PktRatioS2C   *float64 `parquet:"pkt_ratio_s2c,optional"`

	KsClientRTTP50Ns  *int64  `parquet:"ks_client_rtt_p50_ns,optional"`
	KsClientRTTP90Ns  *int64  `parquet:"ks_client_rtt_p90_ns,optional"`
	KsClientRTTP99Ns  *int64  `parquet:"ks_client_rtt_p99_ns,optional"`
	KsServerRTTP50Ns  *int64  `parquet:"ks_server_rtt_p50_ns,optional"`
	KsServerRTTP90Ns  *int64  `parquet:"ks_server_rtt_p90_ns,optional"`
	KsServerRTTP99Ns  *int64  `parquet:"ks_server_rtt_p99_ns,optional"`
	CapClientRTTP50Ns *int64  `parquet:"cap_client_rtt_p50_ns,optional"` // SYN -> SYN/ACK
	CapClientRTTP90Ns *int64  `parquet:"cap_client_rtt_p90_ns,optional"`
	CapClientRTTP99Ns *int64  `parquet:"cap_client_rtt_p99_ns,optional"`
	CapServerRTTP50Ns *int64  `parquet:"cap_server_rtt_p50_ns,optional"` // the half compared (server_rtt_half)
	ServerRTTHalf     string  `parquet:"server_rtt_half,optional,dict"`  // synack_ack or syn_ack
	DeltaClientRTTNs  *int64  `parquet:"delta_client_rtt_ns,optional"`
	DeltaServerRTTNs  *int64  `parquet:"delta_server_rtt_ns,optional"`
	WorstRel          float64 `parquet:"worst_rel"` // largest relative disagreement judged (0..1)
}

func i64(v int64) *int64 { return &v }

func optPtr(o analyze.Opt) *int64 {
	if !o.Valid {
		return nil
	}
	return i64(o.V)
}

func nzPtr(v int64) *int64 {
	if v == 0 {
		return nil
	}
	return i64(v * 1000)
}

// CrossCheckRowOf converts a result; identity names the endpoints.
func CrossCheckRowOf(r *crosscheck.Result, client, server crosscheck.Identity) CrossCheckRow {
	c := r.Capture
	row := CrossCheckRow{
		Proto: r.Key.Proto, ClientIP: r.Key.Client.String(), ServerIP: r.Key.Server.String(), ServerPort: int32(r.Key.Port),
		Verdict: r.Verdict, Reason: r.Reason,
		ClientPod: client.Pod, ClientNamespace: client.Namespace, ClientService: client.Service, ClientNode: client.Node,
		ServerPod: server.Pod, ServerNamespace: server.Namespace, ServerService: server.Service, ServerNode: server.Node,
		CapFlows: c.Flows, CapC2SBytes: c.C2SBytes, CapS2CBytes: c.S2CBytes, CapC2SPkts: c.C2SPkts, CapS2CPkts: c.S2CPkts,
		CapC2SRetransBytes: c.C2SRetransBytes, CapS2CRetransBytes: c.S2CRetransBytes, CapMissedBytes: c.MissedBytes,
		KsC2SBytes: optPtr(r.KsC2SBytes), KsS2CBytes: optPtr(r.KsS2CBytes),
		DeltaC2SBytes: optPtr(r.DeltaC2SBytes), DeltaS2CBytes: optPtr(r.DeltaS2CBytes),
		CapServerRTTP50Ns: optPtr(r.CapServerRTT), ServerRTTHalf: r.ServerRTTHalf,
		WorstRel: r.WorstRel,
	}
	if c.Flows > 0 {
		row.CapFirstNs, row.CapLastNs = i64(c.FirstNs), i64(c.LastNs)
	}
	if p, ok := c.RTT("client"); ok {
		row.CapClientRTTP50Ns, row.CapClientRTTP90Ns, row.CapClientRTTP99Ns = i64(p[0]), i64(p[1]), i64(p[2])
	}
	if a := r.Kubeshark; a != nil {
		if a.TimeNs != 0 {
			row.KsTs = i64(floorDiv(a.TimeNs, 1000))
		}
		if s := a.ClientStats; s.Present {
			row.KsClientTxBytes, row.KsClientRxBytes, row.KsClientTxPkts, row.KsClientRxPkts = i64(s.TxBytes), i64(s.RxBytes), i64(s.TxPkts), i64(s.RxPkts)
			row.KsClientRTTP50Ns, row.KsClientRTTP90Ns, row.KsClientRTTP99Ns = nzPtr(s.HandshakeUs[0]), nzPtr(s.HandshakeUs[1]), nzPtr(s.HandshakeUs[2])
		}
		if s := a.ServerStats; s.Present {
			row.KsServerTxBytes, row.KsServerRxBytes, row.KsServerTxPkts, row.KsServerRxPkts = i64(s.TxBytes), i64(s.RxBytes), i64(s.TxPkts), i64(s.RxPkts)
			row.KsServerRTTP50Ns, row.KsServerRTTP90Ns, row.KsServerRTTP99Ns = nzPtr(s.HandshakeUs[0]), nzPtr(s.HandshakeUs[1]), nzPtr(s.HandshakeUs[2])
		}
		txP, rxP := a.ClientStats.TxPkts, a.ClientStats.RxPkts
		if !a.ClientStats.Present {
			txP, rxP = a.ServerStats.RxPkts, a.ServerStats.TxPkts
		}
		if (a.ClientStats.Present || a.ServerStats.Present) && c.C2SPkts > 0 {
			v := float64(txP) / float64(c.C2SPkts)
			row.PktRatioC2S = &v
		}
		if (a.ClientStats.Present || a.ServerStats.Present) && c.S2CPkts > 0 {
			v := float64(rxP) / float64(c.S2CPkts)
			row.PktRatioS2C = &v
		}
	}
	if r.KsClientRTT.Valid && r.CapClientRTT.Valid {
		row.DeltaClientRTTNs = i64(r.KsClientRTT.V - r.CapClientRTT.V)
	}
	if r.KsServerRTT.Valid && r.CapServerRTT.Valid {
		row.DeltaServerRTTNs = i64(r.KsServerRTT.V - r.CapServerRTT.V)
	}
	return row
}

// WriteCrossCheck writes crosscheck.parquet (zstd, flowproof.schema=2) to w.
func WriteCrossCheck(w io.Writer, rows []CrossCheckRow, version string) error {
	if version == "" {
		version = "devel"
	}
	codec := new(zstdCodec)
	defer codec.close()
	pw := parquet.NewGenericWriter[CrossCheckRow](w,
		parquet.Compression(codec),
		parquet.DataPageVersion(1),
		&parquet.WriterConfig{CreatedBy: "flowproof version " + version},
		parquet.KeyValueMetadata(MetaSchema, strconv.Itoa(FlowSchemaVersion)),
		parquet.KeyValueMetadata(MetaVersion, version),
	)
	if len(rows) > 0 {
		if _, err := pw.Write(rows); err != nil {
			return fmt.Errorf("report: write crosscheck: %w", err)
		}
	}
	if err := pw.Close(); err != nil {
		return fmt.Errorf("report: close crosscheck writer: %w", err)
	}
	return nil
}

// ReadCrossCheck reads a whole crosscheck.parquet (tests, small files).
func ReadCrossCheck(path string) ([]CrossCheckRow, error) { return readAll[CrossCheckRow](path, nil) }

// CrossCheckReport is what the report's Cross-check section says about the
// aggregates (the flow counts come from the flows themselves).
type CrossCheckReport struct {
	Source     string           // where Kubeshark's records came from
	Records    int              // Kubeshark records read
	Truncated  bool             // Kubeshark's list was truncated
	Verdicts   map[string]int64 // aggregates per verdict
	Worst      []CrossCheckRow  // the worst disagreements, worst first
	Tolerances crosscheck.Tolerances
	Dropped    int64 // flows of pcap_only aggregates beyond the limit, left out of crosscheck.parquet
}

// SetCrossCheck gives the report its Cross-check section.
func (s *Summary) SetCrossCheck(x *CrossCheckReport) { s.xc = x }
