package l7_test

import (
	"cmp"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// corpusDir is the shared public corpus (see its SOURCES.md).
var corpusDir = cmp.Or(os.Getenv("FLOWPROOF_CORPUS"), filepath.Join("..", "..", "..", "shared", "corpus", "public"))

// corpusCases are captures from the public corpus with HTTP or DNS, and
// the rows where flowproof and tshark are known to differ, with why.
var corpusCases = []struct {
	file string
	// allowed differences: rows only tshark has, rows only flowproof has
	onlyTshark, onlyFlowproof int
	why                       string
}{
	{file: "zeek/http-get.pcap"},
	{file: "zeek/http-pipelined-requests.pcap"},
	{file: "zeek/http-1000-requests-one-dropped-response.pcap"},
	{file: "zeek/dns53.pcap"},
	{file: "suricata-verify/dns-tcp-multirequest.pcap"},
	{file: "pcapplusplus/4KHttpRequests.pcap"},
	{file: "pcapplusplus/650HttpResponses.pcap", onlyTshark: 1,
		why: "stream 59 lacks the first response's 689-byte body in sequence space (frame 111 starts a new head where the body is due): " +
			"flowproof counts frame 111's first 689 bytes as that body, loses its place and picks up at frame 113; " +
			"tshark, which does not follow bodies with desegment_body off, sees a head at frame 111"},
	{file: "pcapplusplus/DnsPackets.pcap", onlyTshark: 3, onlyFlowproof: 6,
		why: "mDNS: tshark pairs three multicast queries for Yaels-iPhone.local (id 0) with answers; " +
			"flowproof pairs only a response echoing the question on the same flow, and keeps three question-less mDNS answers as rows of their own"},
	{file: "scapy/http_chunk.pcap"},
	{file: "wireshark-wiki/http.cap"},
	{file: "wireshark-wiki/dns.cap"},
	{file: "suricata-verify/http-range-multiflows.pcap"},
	{file: "pcapplusplus/three_http_streams.pcap"},
	{file: "zeek/http-bro.org.pcap", onlyTshark: 3, onlyFlowproof: 3,
		why: "after capture loss in a response body (ACKed unseen segments) tshark takes the next responses (e.g. frame 243) for Continuation " +
			"and leaves three requests unanswered; flowproof counts the lost bytes as body, stays in step and pairs them (status 200)"},
	{file: "wireshark-wiki/http_with_jpegs.cap"},
	{file: "suricata-verify/dns-tcp-ts-gap.pcap"},
	{file: "zeek/dns-long-connection.pcap"},
}

// TestCorpusMatchesTshark runs tshark (skipping without it or without the
// corpus) and compares as TestRecordingsMatchTshark does.
func TestCorpusMatchesTshark(t *testing.T) {
	if _, err := os.Stat(corpusDir); err != nil {
		t.Skipf("no public corpus at %s (set FLOWPROOF_CORPUS): %v", corpusDir, err)
	}
	if _, err := exec.LookPath("tshark"); err != nil {
		t.Skip("tshark not installed: it is the referee")
	}
	for _, tt := range corpusCases {
		t.Run(tt.file, func(t *testing.T) {
			path := filepath.Join(corpusDir, tt.file)
			want := runTshark(t, path)
			got := runEngine(t, path).rows()
			onlyWant, onlyGot := diffRows(want, got)
			if len(onlyWant) != tt.onlyTshark || len(onlyGot) != tt.onlyFlowproof || testing.Verbose() {
				for _, r := range onlyWant {
					t.Logf("tshark only: %v", r)
				}
				for _, r := range onlyGot {
					t.Logf("flowproof only: %v", r)
				}
			}
			if len(onlyWant) != tt.onlyTshark || len(onlyGot) != tt.onlyFlowproof {
				t.Errorf("%d rows only in tshark, %d only in flowproof; want %d and %d (%s)",
					len(onlyWant), len(onlyGot), tt.onlyTshark, tt.onlyFlowproof, tt.why)
			}
			t.Logf("%d of %d tshark rows equal", len(want)-len(onlyWant), len(want))
		})
	}
}
