package main

import (
	"os/exec"
	"strings"
	"testing"
)

// TestBinaryDeps: flowproof's binary links neither gopacket (its layers
// package holds 5 MiB of metadata tables that every garbage collection
// scans: peak RSS +5 MiB on the bench capture) nor the capture generator
// behind it; only tests do.
func TestBinaryDeps(t *testing.T) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go tool to list the binary's packages")
	}
	for _, tags := range []string{"", "nodemo"} {
		out, err := exec.Command(goTool, "list", "-deps", "-tags", tags, ".").Output()
		if err != nil {
			t.Fatalf("go list -deps -tags %q: %v", tags, err)
		}
		for _, pkg := range strings.Fields(string(out)) {
			if strings.HasPrefix(pkg, "github.com/gopacket/") || strings.HasSuffix(pkg, "/internal/capgen") || strings.HasSuffix(pkg, "/standin/scenario") {
				t.Errorf("tags %q: the binary links %s", tags, pkg)
			}
		}
	}
}
