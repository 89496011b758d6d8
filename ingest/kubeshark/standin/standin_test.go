package standin

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/flowproof/flowproof/ingest"
)

// TestCaptureFormat: the capture is what Kubeshark's tracer writes: classic
// pcap, microseconds, LINKTYPE_RAW; it holds the TLS connection's twin.
func TestCaptureFormat(t *testing.T) {
	data := Capture()
	if got := data[:4]; !bytes.Equal(got, []byte{0xd4, 0xc3, 0xb2, 0xa1}) {
		t.Errorf("magic % x, want a1b2c3d4 little-endian (microseconds)", got)
	}
	c, err := ingest.NewReader("cluster.pcap", bytes.NewReader(data), ingest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var p ingest.Packet
	twinSyn, wireSyn := 0, 0
	n := 0
	for c.Next(&p) == nil {
		n++
		info, ok := parseRawIP(p.Data)
		if !ok {
			t.Fatalf("packet %d is not bare IP", n)
		}
		if info.src == TLSClient.Addr() && info.sport == TLSClient.Port() && p.Data[20+13]&0x12 == 0x02 {
			seq := uint32(p.Data[24])<<24 | uint32(p.Data[25])<<16 | uint32(p.Data[26])<<8 | uint32(p.Data[27])
			if seq == 0 {
				twinSyn++
			} else {
				wireSyn++
			}
		}
	}
	info, err := c.Finish()
	if err != nil {
		t.Fatal(err)
	}
	if len(info.LinkTypes) != 1 || info.LinkTypes[0].LinkType != ingest.LinkTypeRaw {
		t.Errorf("link types %+v, want only RAW (101)", info.LinkTypes)
	}
	if twinSyn != 1 || wireSyn != 1 {
		t.Errorf("TLS 5-tuple has %d SYNs with seq 0 (twin) and %d other (wire); want 1 and 1", twinSyn, wireSyn)
	}
	if n < 40 {
		t.Errorf("only %d packets", n)
	}
}

func TestBPF(t *testing.T) {
	pkt := pktInfo{src: netip.MustParseAddr("10.0.0.1"), dst: netip.MustParseAddr("10.0.0.2"), sport: 5000, dport: 443, proto: 6}
	for expr, want := range map[string]bool{
		"":                                   true,
		"host 10.0.0.1":                      true,
		"host 10.0.0.9 or host 10.0.0.2":     true,
		"src host 10.0.0.2":                  false,
		"dst host 10.0.0.2 and port 443":     true,
		"(host 10.0.0.1) and (udp)":          false,
		"not port 80":                        true,
		"net 10.0.0.0/8 && !dst port 22":     true,
		"tcp and (port 80 or port 443)":      true,
		"host 10.0.0.3 or (tcp and port 22)": false,
	} {
		f, err := compileBPF(expr)
		if err != nil {
			t.Errorf("%q: %v", expr, err)
			continue
		}
		if got := f(pkt); got != want {
			t.Errorf("%q = %v, want %v", expr, got, want)
		}
	}
	for _, bad := range []string{"host", "hostx 1.2.3.4", "(host 1.2.3.4", "port abc"} {
		if _, err := compileBPF(bad); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

// cliConn runs ServeCLI on pipes and speaks raw NDJSON to it.
type cliConn struct {
	t    *testing.T
	in   io.WriteCloser
	out  *bufio.Reader
	done chan error
}

func startCLI(t *testing.T, o CLIOptions) *cliConn {
	t.Helper()
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	c := &cliConn{t: t, in: inW, out: bufio.NewReader(outR), done: make(chan error, 1)}
	go func() {
		err := ServeCLI(context.Background(), inR, outW, o)
		outW.CloseWithError(io.EOF)
		c.done <- err
	}()
	t.Cleanup(func() { inW.Close() })
	return c
}

func (c *cliConn) send(line string) {
	c.t.Helper()
	if _, err := io.WriteString(c.in, line+"\n"); err != nil {
		c.t.Fatal(err)
	}
}

func (c *cliConn) recv() map[string]any {
	c.t.Helper()
	type res struct {
		line string
		err  error
	}
	ch := make(chan res, 1)
	go func() { l, err := c.out.ReadString('\n'); ch <- res{l, err} }()
	select {
	case r := <-ch:
		if r.err != nil {
			c.t.Fatalf("read: %v", r.err)
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(r.line), &m); err != nil {
			c.t.Fatalf("not JSON: %q", r.line)
		}
		return m
	case <-time.After(5 * time.Second):
		c.t.Fatal("no answer")
	}
	return nil
}

// TestCLIProtocol checks the stand-in's stdio framing and answers against
// kubeshark-mcp.md §1.1-1.2, message by message.
func TestCLIProtocol(t *testing.T) {
	hub, err := NewHub(Options{Faults: Faults{ToolError: map[string]string{"list_snapshots": `{"error":"boom"}`}}})
	if err != nil {
		t.Fatal(err)
	}
	defer hub.Close()
	c := startCLI(t, CLIOptions{URL: hub.URL})

	c.send(`{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"0"}}}`)
	m := c.recv()
	res := m["result"].(map[string]any)
	if res["protocolVersion"] != "2024-11-05" {
		t.Errorf("protocolVersion %v: the real server answers 2024-11-05 whatever is asked", res["protocolVersion"])
	}
	if si := res["serverInfo"].(map[string]any); si["name"] != "kubeshark-mcp" || si["version"] != "1.0.0" {
		t.Errorf("serverInfo %v", si)
	}
	if caps, _ := json.Marshal(res["capabilities"]); string(caps) != `{"prompts":{},"tools":{}}` {
		t.Errorf("capabilities %s", caps)
	}
	// No reply to notifications/initialized; an id:null error to another
	// notification; blank lines skipped.
	c.send(`{"jsonrpc":"2.0","method":"notifications/initialized"}`)
	c.send(``)
	c.send(`{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":7}}`)
	m = c.recv()
	if id, ok := m["id"]; !ok || id != nil {
		t.Errorf("notification answered with id %v, want null", m["id"])
	}
	if e := m["error"].(map[string]any); e["code"] != -32601.0 || e["data"] != "notifications/cancelled" {
		t.Errorf("error %v", e)
	}
	c.send(`not json`)
	if e := c.recv()["error"].(map[string]any); e["code"] != -32700.0 {
		t.Errorf("bad JSON: %v", e)
	}
	c.send(`{"jsonrpc":"2.0","id":2,"method":"ping"}`)
	if r, _ := json.Marshal(c.recv()["result"]); string(r) != "{}" {
		t.Errorf("ping answered %s", r)
	}
	c.send(`{"jsonrpc":"2.0","id":3,"method":"tools/list"}`)
	tools := c.recv()["result"].(map[string]any)["tools"].([]any)
	var names []string
	for _, x := range tools {
		names = append(names, x.(map[string]any)["name"].(string))
	}
	if strings.Join(names[:3], ",") != "check_kubeshark_status,get_file_url,download_file" || len(names) < 10 {
		t.Errorf("tools %v: the CLI's own tools come first, then the Hub's", names)
	}
	c.send(`{"jsonrpc":"2.0","id":4,"method":"tools/call","params":{"name":"get_data_boundaries","arguments":{}}}`)
	r := c.recv()["result"].(map[string]any)
	content := r["content"].([]any)
	if len(content) != 1 || r["isError"] != nil {
		t.Fatalf("result %v: want one text item and no isError", r)
	}
	txt := content[0].(map[string]any)["text"].(string)
	if !strings.HasPrefix(txt, "{\n  \"cluster\": {") {
		t.Errorf("text %q is not the Hub's JSON re-indented with two spaces", txt)
	}
	c.send(`{"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"name":"list_snapshots"}}`)
	r = c.recv()["result"].(map[string]any)
	if r["isError"] != true || !strings.HasPrefix(r["content"].([]any)[0].(map[string]any)["text"].(string), "Hub API error (500): ") {
		t.Errorf("failing tool: %v", r)
	}
	c.send(`{"jsonrpc":"2.0","id":6,"method":"tools/call","params":{}}`)
	if e := c.recv()["error"].(map[string]any); e["code"] != -32602.0 {
		t.Errorf("bad params: %v", e)
	}
	c.send(`{"jsonrpc":"2.0","id":7,"method":"resources/list"}`)
	if e := c.recv()["error"].(map[string]any); e["code"] != -32601.0 {
		t.Errorf("unknown method: %v", e)
	}
}

// TestCLIGatedHub: without the token, the CLI exits at start, as the real
// one does when GET /api/mcp fails.
func TestCLIGatedHub(t *testing.T) {
	hub, err := NewHub(Options{Token: "s3cret"})
	if err != nil {
		t.Fatal(err)
	}
	defer hub.Close()
	var stderr bytes.Buffer
	err = ServeCLI(context.Background(), strings.NewReader(""), io.Discard, CLIOptions{URL: hub.URL, Stderr: &stderr})
	if err == nil || !strings.Contains(stderr.String(), "401") {
		t.Errorf("err %v, stderr %q", err, stderr.String())
	}
}

// TestNodeExportsPartition: the doubled capture holds the packets between
// two pods twice, and the nodes' exports (RecordNode) hold each record of
// the merged capture exactly once, the sender's copy on the sender's node.
func TestNodeExportsPartition(t *testing.T) {
	for _, c := range []struct {
		name string
		data []byte
	}{{"plain", Capture()}, {"doubled", DoubledCapture()}} {
		_, total := filterCapture(c.data, nil, 0, 1<<62)
		sum := 0
		for _, n := range Nodes {
			_, k := filterCapture(c.data, func(x pktInfo) bool { return RecordNode(x.src, x.dst, x.ttl) == n }, 0, 1<<62)
			if k == 0 {
				t.Errorf("%s: node %s records nothing", c.name, n)
			}
			sum += k
		}
		if sum != total {
			t.Errorf("%s: the nodes' exports hold %d records, the merged capture %d", c.name, sum, total)
		}
	}
	_, plain := filterCapture(Capture(), nil, 0, 1<<62)
	_, doubled := filterCapture(DoubledCapture(), nil, 0, 1<<62)
	// The external conversation and the TLS twin are recorded once.
	if doubled <= plain*3/2 || doubled >= plain*2 {
		t.Errorf("doubled capture: %d records, plain %d", doubled, plain)
	}
}
