package deploytest

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// The binary of this tree, built once (in binaryDir) for the tests that ask
// its flags.
var binary struct {
	once sync.Once
	path string
	err  error
}

var binaryDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "deploytest")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binaryDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// flowproofFlags returns the flags of `flowproof command` (name: takes a
// value) as its -h lists them, or ok false when the command does not exist.
func flowproofFlags(t *testing.T, command string) (flags map[string]bool, ok bool) {
	t.Helper()
	binary.once.Do(func() {
		binary.path = filepath.Join(binaryDir, "flowproof")
		// As make check builds it, so that the build cache has it.
		cmd := exec.Command("go", "build", "-tags", "nodemo", "-o", binary.path, "./cmd/flowproof")
		cmd.Dir = "../.."
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			binary.err = errors.New("build flowproof: " + err.Error() + ": " + string(out))
		}
	})
	if binary.err != nil {
		t.Fatal(binary.err)
	}
	var stderr bytes.Buffer
	cmd := exec.Command(binary.path, command, "-h")
	cmd.Stderr = &stderr
	cmd.Stdout = &stderr
	if err := cmd.Run(); err != nil {
		if strings.Contains(stderr.String(), "unknown command") {
			return nil, false
		}
		t.Fatalf("flowproof %s -h: %v\n%s", command, err, stderr.String())
	}
	// flag.PrintDefaults writes "  -name" then " type" for a flag that
	// takes a value, then a tab or a newline before the usage.
	flags = map[string]bool{}
	for line := range strings.Lines(stderr.String()) {
		head, _, _ := strings.Cut(strings.TrimRight(line, "\n"), "\t")
		if !strings.HasPrefix(head, "  -") {
			continue
		}
		f := strings.Fields(head)
		flags[strings.TrimPrefix(f[0], "-")] = len(f) > 1
	}
	return flags, true
}

// TestFlagsOfThisTree checks the contract's flag lists above against
// flowproof's own flag sets: every flag the deploy files may pass exists
// and takes a value exactly when the contract says. Before the s3 and shard
// flags are in the tree (issue 18 is built on three branches), it skips.
func TestFlagsOfThisTree(t *testing.T) {
	for _, c := range []struct {
		command string
		want    map[string]bool
	}{{"analyze", analyzeFlags}, {"merge", mergeFlags}} {
		t.Run(c.command, func(t *testing.T) {
			have, ok := flowproofFlags(t, c.command)
			if !ok {
				t.Skipf("flowproof has no %s command in this tree yet (issue 18)", c.command)
			}
			if _, s3 := have["s3-endpoint"]; !s3 {
				t.Skipf("flowproof %s has no --s3-endpoint in this tree yet (issue 18)", c.command)
			}
			for name, takesValue := range c.want {
				got, ok := have[name]
				switch {
				case !ok:
					t.Errorf("flowproof %s has no --%s, which deploy/ passes", c.command, name)
				case got != takesValue:
					t.Errorf("flowproof %s --%s: takes a value %v, the deploy files assume %v", c.command, name, got, takesValue)
				}
			}
		})
	}
}
