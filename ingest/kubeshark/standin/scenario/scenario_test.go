package scenario

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/flowproof/flowproof/ingest/kubeshark/standin"
	"github.com/flowproof/flowproof/internal/capgen"
)

var update = flag.Bool("update", false, "rewrite the stand-in's testdata: cluster.pcap, doubled.pcap, l4flows.json and api_calls.json")

// TestEpoch: the stand-in states its captures' start itself (the binary
// does not link capgen), and it must be the generator's.
func TestEpoch(t *testing.T) {
	if !standin.Epoch.Equal(capgen.Epoch) {
		t.Errorf("standin.Epoch %v, capgen.Epoch %v", standin.Epoch, capgen.Epoch)
	}
}

// TestTestdata keeps the stand-in's committed captures and records in step
// with the scenario that generates them.
func TestTestdata(t *testing.T) {
	calls, _ := standin.APICallsDisagreeing()
	files := map[string][]byte{"cluster.pcap": Capture(true), "doubled.pcap": DoubledCapture(), "l4flows.json": L4Flows(), "api_calls.json": append(calls, '\n')}
	for name, want := range files {
		path := filepath.Join("..", "testdata", name)
		if *update {
			if err := os.WriteFile(path, want, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		got, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s is out of date: run go test ./ingest/kubeshark/standin/scenario -run TestTestdata -update", path)
		}
	}
	if *update {
		return
	}
	if !bytes.Equal(standin.Capture(), Capture(true)) {
		t.Error("the stand-in's embedded capture differs from the generated one")
	}
	if !bytes.Equal(standin.DoubledCapture(), DoubledCapture()) {
		t.Error("the stand-in's embedded doubled capture differs from the generated one")
	}
	if !bytes.Equal(standin.L4Flows(), L4Flows()) {
		t.Error("the stand-in's embedded flow records differ from the generated ones")
	}
}

// records counts the records of a classic little-endian pcap file.
func records(t *testing.T, data []byte) int {
	t.Helper()
	n := 0
	for off := 24; off < len(data); n++ {
		if off+16 > len(data) {
			t.Fatalf("record %d: header cut at offset %d", n, off)
		}
		off += 16 + int(binary.LittleEndian.Uint32(data[off+8:]))
	}
	return n
}

// TestL4FlowsMatchCapture: the flow records count the wire packets of the
// capture (not the TLS twin's), and the TLS flow's handshake times are the
// scenario's.
func TestL4FlowsMatchCapture(t *testing.T) {
	var flows []standin.L4Flow
	if err := json.Unmarshal(standin.L4Flows(), &flows); err != nil {
		t.Fatal(err)
	}
	if len(flows) != 5 {
		t.Fatalf("%d flows, want 5 (the twin is not a socket)", len(flows))
	}
	var pkts int64
	for _, f := range flows {
		pkts += f.Totals.Pkts
		if f.ClientStats.TxPkts != f.ServerStats.RxPkts {
			t.Errorf("%s->%s: client tx %d != server rx %d", f.Client.IP, f.Server.IP, f.ClientStats.TxPkts, f.ServerStats.RxPkts)
		}
	}
	nAll, nWire := records(t, standin.Capture()), records(t, Capture(false))
	if pkts != int64(nWire) || nAll <= nWire {
		t.Errorf("flows count %d packets; the wire capture has %d, with the twin %d", pkts, nWire, nAll)
	}
	tls := flows[2]
	if tls.Server.Port != 443 || tls.ClientStats.P50 != 900 || tls.ServerStats.P50 != 1000 {
		t.Errorf("TLS flow %+v: want server port 443, client handshake 900 µs, server 1000 µs", tls)
	}
}
