package pipeline_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestImportGraph keeps the import graph one-way, bottom to top:
// provenance, ingest, analyze, report, pipeline, cmd; a package imports only
// its own layer or those below. The Kubeshark stand-in and the capture
// generator are imported by no package but the demo command and each other
// (tests may import them), and the analysis path (pipeline and below) links
// no MCP code. The AWS SDK is imported by ingest/objstore alone: pipeline
// reads s3:// inputs and writes s3:// outputs through it (it sits in ingest
// because captures come from it).
func TestImportGraph(t *testing.T) {
	const mod = "github.com/flowproof/flowproof/"
	out, err := exec.Command("go", "list", "-f", `{{.ImportPath}}:{{join .Imports " "}}`, mod+"...").Output()
	if err != nil {
		t.Skipf("go list: %v (the go command is needed for this check)", err)
	}
	layers := []string{"provenance", "ingest", "analyze", "report", "pipeline", "cmd"}
	layer := func(pkg string) int {
		for i, l := range layers {
			if pkg == l || strings.HasPrefix(pkg, l+"/") {
				return i
			}
		}
		return -1 // internal/, testdata tools: not layered
	}
	testOnly := []string{"ingest/kubeshark/standin", "internal/capgen", "internal/s3test"}
	mayUseTestOnly := func(pkg string) bool {
		return pkg == "cmd/flowproof" || strings.HasPrefix(pkg, "ingest/kubeshark/standin") || strings.HasPrefix(pkg, "internal/capgen")
	}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		pkg, imports, _ := strings.Cut(line, ":")
		pkg = strings.TrimPrefix(pkg, mod)
		for _, imp := range strings.Fields(imports) {
			// The AWS SDK is object storage's alone (ingest/objstore, and
			// the test server's helper).
			if strings.HasPrefix(imp, "github.com/aws/") && pkg != "ingest/objstore" && pkg != "internal/s3test" {
				t.Errorf("%s imports %s: only ingest/objstore speaks to object storage", pkg, imp)
			}
			if !strings.HasPrefix(imp, mod) {
				continue
			}
			imp = strings.TrimPrefix(imp, mod)
			if lp, li := layer(pkg), layer(imp); lp >= 0 && li > lp {
				t.Errorf("%s imports %s: a layer above it", pkg, imp)
			}
			for _, to := range testOnly {
				if (imp == to || strings.HasPrefix(imp, to+"/")) && !mayUseTestOnly(pkg) {
					t.Errorf("%s imports %s, which only tests and the demo may use", pkg, imp)
				}
			}
		}
	}
	deps, err := exec.Command("go", "list", "-deps", mod+"pipeline").Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range strings.Fields(string(deps)) {
		if strings.Contains(d, "mark3labs/mcp-go") || d == mod+"ingest/kubeshark" {
			t.Errorf("the analysis path links %s", d)
		}
	}
}
