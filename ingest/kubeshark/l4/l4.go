// Package l4 parses the Kubeshark answers the cross-check reads:
// list_l4_flows (socket-level flow counters per client, server and port) and
// list_workloads or list_ips (which pod or service held an address when).
// It has no MCP dependency: the answers come from an evidence directory or
// from files named on the command line.
package l4

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/netip"
	"strings"

	"github.com/flowproof/flowproof/ingest/kubeshark/jsonv"
)

// Endpoint is the client or server of a list_l4_flows record.
type Endpoint struct {
	IP                            netip.Addr
	Port                          uint16 // the server's only
	Pod, Namespace, Service, Node string
}

// Side is one side's socket counters; HandshakeUs is p50, p90, p99 (µs,
// 0 when absent). Present is false when the record has no such side, or
// only zeros in it.
type Side struct {
	Present                          bool
	TxPkts, RxPkts, TxBytes, RxBytes int64
	HandshakeUs                      [3]int64
}

// Flow is one list_l4_flows record (compact or full format).
type Flow struct {
	Proto                    string
	Client, Server           Endpoint
	ClientStats, ServerStats Side
	TimeNs                   int64 // format=full's timestamp; 0 when absent
	// Invalid says which counter is not an exact integer in 0 .. 2^53 (a
	// negative, fractional or too large value; jsonv.Count), "" when all
	// are: such a record is kept but never compared.
	Invalid string
}

// Flows is a parsed list_l4_flows answer.
type Flows struct {
	Flows     []Flow
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

// ReadFlows reads a saved list_l4_flows answer: {"flows":[...],"total",
// "truncated"} as the tool answers, or a bare array of records.
func ReadFlows(path string) (*Flows, error) {
	b, err := jsonv.ReadFile(path, maxAnswerFile)
	if err != nil {
		return nil, err
	}
	out, err := ParseFlows(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return out, nil
}

// ParseFlows parses a list_l4_flows answer (see ReadFlows). It reads the
// records one at a time: memory follows the records kept (a few hundred
// bytes each), not the size of the answer's JSON tree.
func ParseFlows(b []byte) (*Flows, error) {
	out := &Flows{}
	d := json.NewDecoder(bytes.NewReader(bytes.TrimSpace(b)))
	d.UseNumber()
	tok, err := d.Token()
	if err != nil {
		return nil, fmt.Errorf("list_l4_flows answer: %w (expected {\"flows\":[...]})", err)
	}
	switch tok {
	case json.Delim('['):
		var list recordList
		if err := list.read(d, false); err != nil {
			return nil, fmt.Errorf("list_l4_flows answer: %w", err)
		}
		list.into(out)
	case json.Delim('{'):
		var flows, alt recordList
		hasFlows, hasAlt := false, false
		for d.More() {
			kt, err := d.Token()
			if err != nil {
				return nil, fmt.Errorf("list_l4_flows answer: %w", err)
			}
			key, _ := kt.(string)
			var v any
			switch {
			case key == "flows":
				hasFlows = true
				err = flows.readList(d, false)
			case key == "total":
				if err = d.Decode(&v); err == nil {
					out.Total, _ = jsonv.Int(v)
				}
			case key == "truncated":
				if err = d.Decode(&v); err == nil {
					out.Truncated, _ = v.(bool)
				}
			case !hasAlt && d.More() && peekDelim(d, b) == '[':
				// Another key: the first list of records with a client and
				// a server stands for "flows" when there is none.
				err = alt.readList(d, true)
				hasAlt = !alt.notFlows && len(alt.flows)+alt.skipped > 0
			default:
				var skip json.RawMessage
				err = d.Decode(&skip)
			}
			if err != nil {
				return nil, fmt.Errorf("list_l4_flows answer: %s: %w", key, err)
			}
		}
		switch {
		case hasFlows:
			flows.into(out)
		case hasAlt:
			alt.into(out)
		default:
			return nil, fmt.Errorf("list_l4_flows answer has no \"flows\" list")
		}
	default:
		return nil, fmt.Errorf("list_l4_flows answer: expected {\"flows\":[...]}, got %v", tok)
	}
	if out.Total == 0 {
		out.Total = int64(len(out.Flows))
	}
	return out, nil
}

// peekDelim returns the first byte of the value the decoder reads next.
func peekDelim(d *json.Decoder, b []byte) byte {
	for i := int(d.InputOffset()); i < len(b); i++ {
		switch c := b[i]; c {
		case ' ', '\t', '\n', '\r', ':':
		default:
			return c
		}
	}
	return 0
}

// recordList collects the flow records of one JSON list.
type recordList struct {
	flows     []Flow
	skipped   int
	firstSkip string
	notFlows  bool // its first element has no client and server
}

// readList reads a list value (null is empty); with requireFlow, a list
// whose first element is not a flow record is skipped whole.
func (l *recordList) readList(d *json.Decoder, requireFlow bool) error {
	t, err := d.Token()
	if err != nil || t == nil {
		return err
	}
	if t != json.Delim('[') {
		return fmt.Errorf("a list was expected, got %v", t)
	}
	return l.read(d, requireFlow)
}

// read reads the elements of a list whose '[' was read, and its ']'.
func (l *recordList) read(d *json.Decoder, requireFlow bool) error {
	for i := 0; d.More(); i++ {
		var v any
		if err := d.Decode(&v); err != nil {
			return err
		}
		m, ok := v.(map[string]any)
		if i == 0 && requireFlow && (!ok || m["client"] == nil || m["server"] == nil) {
			l.notFlows = true
		}
		if !ok || l.notFlows {
			continue
		}
		f, err := flowOf(m)
		if err != nil {
			l.skipped++
			if l.firstSkip == "" {
				l.firstSkip = fmt.Sprintf("record %d: %v", i, err)
			}
			continue
		}
		l.flows = append(l.flows, f)
	}
	_, err := d.Token() // ]
	return err
}

func (l *recordList) into(out *Flows) {
	out.Flows, out.Skipped, out.FirstSkip = l.flows, l.skipped, l.firstSkip
}

func flowOf(m map[string]any) (Flow, error) {
	f := Flow{Proto: strings.ToLower(jsonv.String(m["proto"]))}
	var err error
	if f.Client, err = endpointOf(m["client"]); err != nil {
		return f, fmt.Errorf("client: %w", err)
	}
	if f.Server, err = endpointOf(m["server"]); err != nil {
		return f, fmt.Errorf("server: %w", err)
	}
	f.ClientStats = sideOf(m["client_stats"], "client_stats", &f.Invalid)
	f.ServerStats = sideOf(m["server_stats"], "server_stats", &f.Invalid)
	if ts, ok := jsonv.TimeNs(m["timestamp"]); ok {
		f.TimeNs = ts
	}
	return f, nil
}

func endpointOf(v any) (Endpoint, error) {
	m, _ := v.(map[string]any)
	var e Endpoint
	ip, err := netip.ParseAddr(jsonv.String(m["ip"]))
	if err != nil {
		return e, err
	}
	e.IP = ip.Unmap()
	if p, ok := jsonv.Int(m["port"]); ok && p > 0 && p < 65536 {
		e.Port = uint16(p)
	}
	e.Pod, e.Namespace, e.Service, e.Node = jsonv.String(m["pod"]), jsonv.First(jsonv.String(m["ns"]), jsonv.String(m["namespace"])), jsonv.First(jsonv.String(m["svc"]), jsonv.String(m["service"])), jsonv.String(m["node"])
	return e, nil
}

func sideOf(v any, name string, bad *string) Side {
	m, ok := v.(map[string]any)
	if !ok || len(m) == 0 {
		return Side{}
	}
	s := Side{Present: true}
	count := func(key string, dst *int64) {
		n, _, why := jsonv.Count(m[key])
		if why != "" && *bad == "" {
			*bad = name + "." + key + ": " + why
		}
		*dst = n
	}
	count("tx_pkts", &s.TxPkts)
	count("rx_pkts", &s.RxPkts)
	count("tx_bytes", &s.TxBytes)
	count("rx_bytes", &s.RxBytes)
	for i, k := range []string{"tcp_handshake_p50_us", "tcp_handshake_p90_us", "tcp_handshake_p99_us"} {
		count(k, &s.HandshakeUs[i])
	}
	// A side whose counters are all zero was not observed (an address
	// outside the cluster has no socket Kubeshark traces).
	s.Present = s.TxPkts != 0 || s.RxPkts != 0 || s.TxBytes != 0 || s.RxBytes != 0 || s.HandshakeUs != [3]int64{}
	return s
}

// Workload says that from TimeNs on (0: unknown) IP belonged to the
// workload Name (Kind "pod" or "service") in Namespace.
type Workload struct {
	IP              netip.Addr
	TimeNs          int64
	Kind            string
	Name, Namespace string
	Node, Service   string // when the answer carries them (list_workloads does not document them)
}

// ReadWorkloads reads a saved list_workloads answer ({"workloads":[{name,
// namespace, kind, ips:[{ip, timestamp}]}]}) or list_ips answer ({"ips":[{ip,
// records:[{name, namespace, kind, timestamp}]}]}).
func ReadWorkloads(path string) ([]Workload, error) {
	b, err := jsonv.ReadFile(path, maxAnswerFile)
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
func ParseWorkloads(b []byte) ([]Workload, error) {
	var obj map[string]any
	if err := jsonv.Decode(bytes.TrimSpace(b), &obj); err != nil {
		return nil, fmt.Errorf("workloads answer: %w", err)
	}
	var out []Workload
	add := func(ipText string, ts any, kind, name, ns string, m map[string]any) {
		ip, err := netip.ParseAddr(ipText)
		if err != nil || name == "" {
			return
		}
		t, _ := jsonv.TimeNs(ts)
		if kind == "" {
			kind = "pod"
		}
		out = append(out, Workload{IP: ip.Unmap(), TimeNs: t, Kind: strings.ToLower(kind), Name: name, Namespace: ns,
			Node:    jsonv.First(jsonv.String(m["node"]), jsonv.First(jsonv.String(m["node_name"]), jsonv.String(m["nodeName"]))),
			Service: jsonv.First(jsonv.String(m["service"]), jsonv.String(m["svc"]))})
	}
	if ws, ok := obj["workloads"].([]any); ok {
		for _, w := range ws {
			m, _ := w.(map[string]any)
			for _, x := range jsonv.List(m["ips"]) {
				if ip, isText := x.(string); isText { // a bare address: held since ever
					add(ip, nil, jsonv.String(m["kind"]), jsonv.String(m["name"]), jsonv.String(m["namespace"]), m)
					continue
				}
				ipm, _ := x.(map[string]any)
				add(jsonv.String(ipm["ip"]), ipm["timestamp"], jsonv.String(m["kind"]), jsonv.String(m["name"]), jsonv.String(m["namespace"]), m)
			}
			if ip := jsonv.String(m["ip"]); ip != "" { // one address on the workload itself
				add(ip, m["timestamp"], jsonv.String(m["kind"]), jsonv.String(m["name"]), jsonv.String(m["namespace"]), m)
			}
		}
		return out, nil
	}
	if ips, ok := obj["ips"].([]any); ok {
		for _, x := range ips {
			m, _ := x.(map[string]any)
			for _, r := range jsonv.List(m["records"]) {
				rm, _ := r.(map[string]any)
				add(jsonv.String(m["ip"]), rm["timestamp"], jsonv.String(rm["kind"]), jsonv.String(rm["name"]), jsonv.String(rm["namespace"]), rm)
			}
		}
		return out, nil
	}
	return nil, fmt.Errorf("workloads answer has neither \"workloads\" nor \"ips\"")
}
