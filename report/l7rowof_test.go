package report

import (
	"github.com/flowproof/flowproof/analyze/communityid"
	"github.com/flowproof/flowproof/analyze/l7/http"
)

// HTTPRowOf converts a transaction the plain way, one allocation per
// optional value and per flow string: the reference that HTTPRows.Row,
// which shares them, is checked against.
func HTTPRowOf(t *http.Transaction, id Identity) HTTPRow {
	src, dst := endpoints(t.Flow, t.FromResp)
	return HTTPRow{
		FlowID:          t.Flow.FlowID(),
		CommunityID:     communityid.ID(0, src.Addr(), dst.Addr(), t.Flow.IPProto, src.Port(), dst.Port()),
		Ts:              floorDiv(t.TsNs, 1000),
		TsNs:            t.TsNs,
		SrcIP:           src.Addr().WithZone("").String(),
		SrcPort:         int32(src.Port()),
		DstIP:           dst.Addr().WithZone("").String(),
		DstPort:         int32(dst.Port()),
		TransDepth:      int32(t.TransDepth),
		Method:          t.Method,
		Host:            t.Host,
		URI:             t.URI,
		Version:         t.Version,
		UserAgent:       t.UserAgent,
		StatusCode:      optInt32(t.StatusCode),
		StatusMsg:       t.StatusMsg,
		RequestBodyLen:  t.RequestBodyLen,
		ResponseBodyLen: t.ResponseBodyLen,
		RequestNs:       optInt64(t.RequestNs),
		LatencyNs:       optInt64(t.LatencyNs),
		DurationNs:      optInt64(t.DurationNs),
		Tags:            t.Tags.Strings(),
		Synthetic:       t.Flow.Synthetic,
		Identity:        id,
	}
}
