package pipeline_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/flowproof/flowproof/pipeline"
	"github.com/flowproof/flowproof/report"
)

// TestAnalyzeHostileAPICalls: a list_api_calls answer with absurd numbers,
// other protocols, unparsable addresses and the same call twice is
// compared for what it holds; what was left out is counted in the
// manifest's warnings and the report, and the run is no partial result.
// The same calls with --jobs 1 and 4 give the same crosscheck_l7.parquet.
func TestAnalyzeHostileAPICalls(t *testing.T) {
	dir := t.TempDir()
	calls := `{"calls":[
	{"id":"1","ts":1764103474100,"src":{"ip":"10.77.0.1"},"dst":{"ip":"10.77.0.2","port":80},"proto":"http","method":"GET","path":"/?a=1","status":200,"latency_ms":-7},
	{"id":"1","ts":1764103474100,"src":{"ip":"10.77.0.1"},"dst":{"ip":"10.77.0.2","port":80},"proto":"http","method":"GET","path":"/?a=1","status":200,"latency_ms":-7},
	{"id":"2","ts":1764103474100,"src":{"ip":"10.77.0.1"},"dst":{"ip":"10.77.0.2"},"proto":"http","method":"GET","path":"/x","status":1e9,"latency_ms":1e300,"req_size":-1},
	{"id":"3","src":{"ip":"no"},"dst":{"ip":"10.77.0.2"},"proto":"http","method":"GET"},
	{"id":"4","src":{"ip":"10.77.0.1"},"dst":{"ip":"10.77.0.2"},"proto":"redis","method":"GET"}
	],"total":99999999999999999999,"truncated":true}`
	path := filepath.Join(dir, "calls.json")
	if err := os.WriteFile(path, []byte(calls), 0o644); err != nil {
		t.Fatal(err)
	}
	var outs []string
	for _, jobs := range []int{1, 4} {
		out := filepath.Join(dir, fmt.Sprint("out", jobs))
		res, err := pipeline.Analyze(context.Background(), []string{"../testdata/rec/http-v4.pcap", "../testdata/rec/http-v6.pcapng"}, pipeline.Options{Out: out, L7: true, APICalls: path, Jobs: jobs, Version: "test"})
		if err != nil {
			t.Fatal(err)
		}
		w := strings.Join(res.Manifest.Warnings, "\n")
		for _, want := range []string{"1 calls of other protocols", "1 calls whose addresses do not parse", "absurd values", "calls.json is truncated"} {
			if !strings.Contains(w, want) {
				t.Errorf("warnings lack %q:\n%s", want, w)
			}
		}
		rows, err := report.ReadTable[report.CrossCheckL7Row](filepath.Join(out, report.CrossCheckL7File))
		if err != nil {
			t.Fatal(err)
		}
		var ks int64
		for _, r := range rows {
			ks += r.KsCalls
			if r.Path == "/" && r.KsLatencyP50 != nil {
				t.Errorf("an absurd latency was kept: %+v", r)
			}
		}
		if ks != 2 {
			t.Errorf("%d Kubeshark calls compared, want 2 (the duplicate once)", ks)
		}
		md, _ := os.ReadFile(filepath.Join(out, report.ReportFile))
		if !strings.Contains(string(md), "may be incomplete") || !strings.Contains(string(md), "Left out of the comparison") {
			t.Error("report.md does not say what was left out")
		}
		b, _ := os.ReadFile(filepath.Join(out, report.CrossCheckL7File))
		outs = append(outs, string(b))
	}
	if outs[0] != outs[1] {
		t.Error("crosscheck_l7.parquet differs between --jobs 1 and 4")
	}
}
