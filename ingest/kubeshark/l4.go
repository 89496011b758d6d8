package kubeshark

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// L4Endpoint is the client or server of a list_l4_flows record.
type L4Endpoint struct {
	IP                            netip.Addr
	Port                          uint16 // the server's only
	Pod, Namespace, Service, Node string
}

// L4Side is one side's socket counters; HandshakeUs is p50, p90, p99 (µs,
// 0 when absent). Present is false when the record has no such side, or
// only zeros in it.
type L4Side struct {
	Present                          bool
	TxPkts, RxPkts, TxBytes, RxBytes int64
	HandshakeUs                      [3]int64
}

// L4Flow is one list_l4_flows record (compact or full format).
type L4Flow struct {
	Proto                    string
	Client, Server           L4Endpoint
	ClientStats, ServerStats L4Side
	TimeNs                   int64 // format=full's timestamp; 0 when absent
}

// L4Flows is a parsed list_l4_flows answer.
type L4Flows struct {
	Flows     []L4Flow
	Total     int64
	Truncated bool
	// Skipped counts records left out because an address does not parse
	// (FirstSkip says why for the first one).
	Skipped   int
	FirstSkip string
}

// maxAnswerFile caps a saved Kubeshark answer read back (the pull itself caps
// answers at --max-response, 64 MiB by default).
const maxAnswerFile = 1 << 30

// ReadL4Flows reads a saved list_l4_flows answer: {"flows":[...],"total",
// "truncated"} as the tool answers, or a bare array of records.
func ReadL4Flows(path string) (*L4Flows, error) {
	b, err := readCapped(path, maxAnswerFile)
	if err != nil {
		return nil, err
	}
	out, err := ParseL4Flows(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return out, nil
}

// ParseL4Flows parses a list_l4_flows answer (see ReadL4Flows).
func ParseL4Flows(b []byte) (*L4Flows, error) {
	var raw []map[string]any
	out := &L4Flows{}
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '[' {
		if err := unmarshalNumbers(b, &raw); err != nil {
			return nil, fmt.Errorf("list_l4_flows answer: %w", err)
		}
	} else {
		var obj map[string]any
		if err := unmarshalNumbers(b, &obj); err != nil {
			return nil, fmt.Errorf("list_l4_flows answer: %w (expected {\"flows\":[...]})", err)
		}
		v, has := obj["flows"]
		list, ok := v.([]any)
		if has && v == nil {
			ok = true // "flows": null is an empty list
		}
		if !has { // another key: the first list of records with a client and a server
			for _, v := range obj {
				if l, isList := v.([]any); isList && len(l) > 0 {
					if m, isObj := l[0].(map[string]any); isObj && m["client"] != nil && m["server"] != nil {
						list, ok = l, true
						break
					}
				}
			}
		}
		if !ok {
			return nil, fmt.Errorf("list_l4_flows answer has no \"flows\" list")
		}
		for _, x := range list {
			if m, ok := x.(map[string]any); ok {
				raw = append(raw, m)
			}
		}
		out.Total, _ = l4Num(obj["total"])
		out.Truncated, _ = obj["truncated"].(bool)
	}
	for i, m := range raw {
		f, err := l4FlowOf(m)
		if err != nil {
			out.Skipped++
			if out.FirstSkip == "" {
				out.FirstSkip = fmt.Sprintf("record %d: %v", i, err)
			}
			continue
		}
		out.Flows = append(out.Flows, f)
	}
	if out.Total == 0 {
		out.Total = int64(len(out.Flows))
	}
	return out, nil
}

func unmarshalNumbers(b []byte, v any) error {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	return d.Decode(v)
}

func l4FlowOf(m map[string]any) (L4Flow, error) {
	f := L4Flow{Proto: strings.ToLower(l4Str(m["proto"]))}
	var err error
	if f.Client, err = l4EndpointOf(m["client"]); err != nil {
		return f, fmt.Errorf("client: %w", err)
	}
	if f.Server, err = l4EndpointOf(m["server"]); err != nil {
		return f, fmt.Errorf("server: %w", err)
	}
	f.ClientStats = l4SideOf(m["client_stats"])
	f.ServerStats = l4SideOf(m["server_stats"])
	if ts, ok := l4TimeNs(m["timestamp"]); ok {
		f.TimeNs = ts
	}
	return f, nil
}

func l4EndpointOf(v any) (L4Endpoint, error) {
	m, _ := v.(map[string]any)
	var e L4Endpoint
	ip, err := netip.ParseAddr(l4Str(m["ip"]))
	if err != nil {
		return e, err
	}
	e.IP = ip.Unmap()
	if p, ok := l4Num(m["port"]); ok && p > 0 && p < 65536 {
		e.Port = uint16(p)
	}
	e.Pod, e.Namespace, e.Service, e.Node = l4Str(m["pod"]), l4First(l4Str(m["ns"]), l4Str(m["namespace"])), l4First(l4Str(m["svc"]), l4Str(m["service"])), l4Str(m["node"])
	return e, nil
}

func l4SideOf(v any) L4Side {
	m, ok := v.(map[string]any)
	if !ok || len(m) == 0 {
		return L4Side{}
	}
	s := L4Side{Present: true}
	s.TxPkts, _ = l4Num(m["tx_pkts"])
	s.RxPkts, _ = l4Num(m["rx_pkts"])
	s.TxBytes, _ = l4Num(m["tx_bytes"])
	s.RxBytes, _ = l4Num(m["rx_bytes"])
	for i, k := range []string{"tcp_handshake_p50_us", "tcp_handshake_p90_us", "tcp_handshake_p99_us"} {
		s.HandshakeUs[i], _ = l4Num(m[k])
	}
	// A side whose counters are all zero was not observed (an address
	// outside the cluster has no socket Kubeshark traces).
	s.Present = s.TxPkts != 0 || s.RxPkts != 0 || s.TxBytes != 0 || s.RxBytes != 0 || s.HandshakeUs != [3]int64{}
	return s
}

// WorkloadIP says that from TimeNs on (0: unknown) IP belonged to the
// workload Name (Kind "pod" or "service") in Namespace.
type WorkloadIP struct {
	IP              netip.Addr
	TimeNs          int64
	Kind            string
	Name, Namespace string
	Node, Service   string // when the answer carries them (list_workloads does not document them)
}

// ReadWorkloads reads a saved list_workloads answer ({"workloads":[{name,
// namespace, kind, ips:[{ip, timestamp}]}]}) or list_ips answer ({"ips":[{ip,
// records:[{name, namespace, kind, timestamp}]}]}).
func ReadWorkloads(path string) ([]WorkloadIP, error) {
	b, err := readCapped(path, maxAnswerFile)
	if err != nil {
		return nil, err
	}
	out, err := ParseWorkloads(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return out, nil
}

// ParseWorkloads parses a list_workloads or list_ips answer.
func ParseWorkloads(b []byte) ([]WorkloadIP, error) {
	var obj map[string]any
	if err := unmarshalNumbers(bytes.TrimSpace(b), &obj); err != nil {
		return nil, fmt.Errorf("workloads answer: %w", err)
	}
	var out []WorkloadIP
	add := func(ipText string, ts any, kind, name, ns string, m map[string]any) {
		ip, err := netip.ParseAddr(ipText)
		if err != nil || name == "" {
			return
		}
		t, _ := l4TimeNs(ts)
		if kind == "" {
			kind = "pod"
		}
		out = append(out, WorkloadIP{IP: ip.Unmap(), TimeNs: t, Kind: strings.ToLower(kind), Name: name, Namespace: ns,
			Node:    l4First(l4Str(m["node"]), l4First(l4Str(m["node_name"]), l4Str(m["nodeName"]))),
			Service: l4First(l4Str(m["service"]), l4Str(m["svc"]))})
	}
	if ws, ok := obj["workloads"].([]any); ok {
		for _, w := range ws {
			m, _ := w.(map[string]any)
			for _, x := range l4List(m["ips"]) {
				if ip, isText := x.(string); isText { // a bare address: held since ever
					add(ip, nil, l4Str(m["kind"]), l4Str(m["name"]), l4Str(m["namespace"]), m)
					continue
				}
				ipm, _ := x.(map[string]any)
				add(l4Str(ipm["ip"]), ipm["timestamp"], l4Str(m["kind"]), l4Str(m["name"]), l4Str(m["namespace"]), m)
			}
			if ip := l4Str(m["ip"]); ip != "" { // one address on the workload itself
				add(ip, m["timestamp"], l4Str(m["kind"]), l4Str(m["name"]), l4Str(m["namespace"]), m)
			}
		}
		return out, nil
	}
	if ips, ok := obj["ips"].([]any); ok {
		for _, x := range ips {
			m, _ := x.(map[string]any)
			for _, r := range l4List(m["records"]) {
				rm, _ := r.(map[string]any)
				add(l4Str(m["ip"]), rm["timestamp"], l4Str(rm["kind"]), l4Str(rm["name"]), l4Str(rm["namespace"]), rm)
			}
		}
		return out, nil
	}
	return nil, fmt.Errorf("workloads answer has neither \"workloads\" nor \"ips\"")
}

func l4List(v any) []any { l, _ := v.([]any); return l }

func l4Str(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case json.Number:
		return x.String()
	}
	return ""
}

func l4First(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func l4Num(v any) (int64, bool) {
	switch x := v.(type) {
	case json.Number:
		if n, err := x.Int64(); err == nil {
			return n, true
		}
		if f, err := x.Float64(); err == nil {
			return int64(f), true
		}
	case string:
		if n, err := strconv.ParseInt(x, 10, 64); err == nil {
			return n, true
		}
	case float64:
		return int64(x), true
	}
	return 0, false
}

// timeNs reads a timestamp: RFC 3339 text, or a Unix number in s, ms, µs or
// ns (told apart by magnitude).
func l4TimeNs(v any) (int64, bool) {
	if s, ok := v.(string); ok {
		// RFC 3339, or ISO 8601 without a zone (taken as UTC).
		for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999", "2006-01-02 15:04:05.999999999Z07:00", "2006-01-02 15:04:05.999999999"} {
			if t, err := time.Parse(layout, s); err == nil {
				return t.UnixNano(), true
			}
		}
	}
	n, ok := l4Num(v)
	if !ok || n <= 0 {
		return 0, false
	}
	switch {
	case n < 1e11: // seconds
		return n * 1e9, true
	case n < 1e14: // ms
		return n * 1e6, true
	case n < 1e17: // µs
		return n * 1e3, true
	}
	return n, true
}
