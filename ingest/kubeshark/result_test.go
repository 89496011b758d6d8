package kubeshark

import "testing"

func textResult(t *testing.T, text string) *Result {
	t.Helper()
	raw := []byte(`{"content":[{"type":"text","text":` + quote(text) + `}]}`)
	r, err := parseResult(raw)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func quote(s string) string {
	b := []byte{'"'}
	for _, c := range []byte(s) {
		switch c {
		case '"', '\\':
			b = append(b, '\\', c)
		case '\n':
			b = append(b, '\\', 'n')
		default:
			b = append(b, c)
		}
	}
	return string(append(b, '"'))
}

// The Hub's answer shapes are not public: these are the ones flowproof
// reads, from Kubeshark's docs, demo transcripts and plausible variants.
func TestAnswerShapes(t *testing.T) {
	for text, want := range map[string]string{
		`{"success":true,"id":"9b0d4b2b","status":"in_progress"}`:     "9b0d4b2b",
		`{"success":true,"name":"incident-1","status":"in_progress"}`: "incident-1",
		`{"snapshot":{"snapshot_id":"ab12","status":"pending"}}`:      "ab12",
		`{"name":"flowproof-x","snapshot":{"id":"cd34"}}`:             "cd34",
		"Snapshot created.\nid: 9b0d4b2b status: in_progress":         "9b0d4b2b",
		`Created snapshot_id=ff00aa (in_progress)`:                    "ff00aa",
	} {
		if got := snapshotID(textResult(t, text)); got != want {
			t.Errorf("snapshotID(%q) = %q, want %q", text, got, want)
		}
	}
	for text, want := range map[string]string{
		`{"path":"/mcp/snapshots/ab/pcap?bpf_filter=host%2010.0.0.1","message":"(3 pcap files merged)"}`: "/mcp/snapshots/ab/pcap?bpf_filter=host%2010.0.0.1",
		`{"download_url":"http://127.0.0.1:8899/api/mcp/snapshots/ab/pcap"}`:                             "http://127.0.0.1:8899/api/mcp/snapshots/ab/pcap",
		`{"result":{"file":"/mcp/snapshots/ab/pcap"}}`:                                                   "/mcp/snapshots/ab/pcap",
		`{"export":{"location":"/snapshots/ab/data.pcap","size":10}}`:                                    "/snapshots/ab/data.pcap",
		`PCAP ready at /mcp/snapshots/ab/pcap?nodes=w1 (69 pcap files merged).`:                          "/mcp/snapshots/ab/pcap?nodes=w1",
		`/mcp/snapshots/ab/pcap`: "/mcp/snapshots/ab/pcap",
	} {
		if got := capturePath(textResult(t, text)); got != want {
			t.Errorf("capturePath(%q) = %q, want %q", text, got, want)
		}
	}
	for text, want := range map[string]string{
		`{"id":"a","status":"completed"}`:                       "completed",
		`{"status":"ok","snapshot":{"status":"in_progress"}}`:   "in_progress",
		`{"snapshot":{"name":"a","state":"Ready"}}`:             "ready",
		`{"data":{"snapshot":{"status":"failed","error":"x"}}}`: "failed",
	} {
		if got := snapshotStatus(textResult(t, text).Data); got != want {
			t.Errorf("snapshotStatus(%q) = %q, want %q", text, got, want)
		}
	}
	r, err := parseResult([]byte(`{"content":[{"type":"text","text":"PCAP"},{"type":"resource","resource":{"uri":"k://x.pcap","mimeType":"application/vnd.tcpdump.pcap","blob":"1MOyoQ=="}},{"type":"resource_link","uri":"http://h/x.pcap","name":"x","size":4},{"type":"future_kind","x":1}],"isError":false}`))
	if err != nil || len(r.Resources) != 2 || r.Resources[0].Blob != "1MOyoQ==" || !r.Resources[1].Link || r.Resources[1].Size != 4 {
		t.Errorf("resources %+v, %v", r.Resources, err)
	}
	if b, err := decodeBase64("1MOy oQ"); err != nil || len(b) != 4 {
		t.Errorf("unpadded base64 with a space: %v %v", b, err)
	}
}
