package main

import (
	"bytes"
	"context"
	"github.com/flowproof/flowproof/internal/testcaptures"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/flowproof/flowproof/internal/reporttables"
	"github.com/flowproof/flowproof/pipeline"
)

// TestMain lets a test run the command as a child process of its own
// (FLOWPROOF_TEST_CHILD=1), to kill it like a pod.
func TestMain(m *testing.M) {
	if os.Getenv("FLOWPROOF_TEST_CHILD") == "1" {
		os.Exit(Main(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

func TestResolveShard(t *testing.T) {
	for _, tc := range []struct {
		name, flag, index, completions string
		want                           *pipeline.Shard
		err                            string
	}{
		{name: "none"},
		{name: "flag", flag: "1/3", want: &pipeline.Shard{Index: 1, Count: 3}},
		{name: "job", index: "2", completions: "4", want: &pipeline.Shard{Index: 2, Count: 4}},
		{name: "both agree", flag: "2/4", index: "2", completions: "4", want: &pipeline.Shard{Index: 2, Count: 4}},
		{name: "both disagree", flag: "1/4", index: "2", completions: "4", err: "--shard 1/4 disagrees with the Job's JOB_COMPLETION_INDEX/JOB_COMPLETIONS = 2/4"},
		{name: "index alone", index: "2", err: "set both or neither"},
		{name: "index too large", index: "4", completions: "4", err: "the index must be 0 to 3"},
		{name: "bad flag", flag: "x", err: "--shard: shard \"x\": want i/n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := resolveShard(tc.flag, jobEnv{Index: tc.index, Completions: tc.completions})
			if tc.err != "" {
				if _, ok := err.(*usageError); !ok || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want a usage error with %q", err, tc.err)
				}
				return
			}
			if err != nil || (got == nil) != (tc.want == nil) || got != nil && *got != *tc.want {
				t.Fatalf("got %v, %v; want %v", got, err, tc.want)
			}
		})
	}
}

// TestIndexedJob runs the Indexed Job's contract with the command itself:
// n pods told their shard by JOB_COMPLETION_INDEX/JOB_COMPLETIONS, one of
// them a real process killed (SIGKILL) midway and run again, as the Job's
// backoff would; then merge. The merged report's tables are a single
// analyze's.
func TestIndexedJob(t *testing.T) {
	// testdata's captures, of two days; pipeline's TestShardedJob adds the
	// public corpus (this test's subprocess and its four runs cost too much
	// under the race detector to repeat that here).
	inputs, err := testcaptures.TwoDays("../..")
	if err != nil {
		t.Fatal(err)
	}
	single := t.TempDir()
	if code, _, stderr := run(t, append([]string{"analyze", "--quiet", "--l7", "-o", single}, inputs...)...); code != exitOK {
		t.Fatalf("single analyze: exit %d: %s", code, stderr)
	}

	const n = 4
	out := t.TempDir()
	args := append([]string{"--quiet", "--l7", "-o", out}, inputs...)
	shard := func(i int) { t.Helper(); jobShard(t, args, i, n, "shard "+strconv.Itoa(i)+"/4") }
	for i := range n {
		if i != 2 {
			shard(i)
		}
	}
	// Shard 2 as a process of its own, killed (SIGKILL) once it is at work.
	killAtWork(t, append([]string{"analyze"}, args...), envJobIndex+"=2", envJobCompletions+"=4")
	if _, err := os.Stat(filepath.Join(out, "shards", "shard=0002", "manifest.json")); err != nil {
		// Killed before its manifest: merge refuses, naming the shard.
		t.Logf("shard 2 killed before its manifest")
		code, _, stderr := run(t, "merge", out)
		if code != exitFailed || !strings.Contains(stderr, "shards/shard=0002/manifest.json: missing") {
			t.Errorf("merge without shard 2: exit %d: %s", code, stderr)
		}
	}
	shard(2) // the Job's retry
	code, stdout, stderr := run(t, "merge", out)
	if code != exitOK || !strings.Contains(stdout, "merged 4 shards") {
		t.Fatalf("merge: exit %d: %s%s", code, stdout, stderr)
	}
	w, _ := os.ReadFile(filepath.Join(single, "report.md"))
	g, _ := os.ReadFile(filepath.Join(out, "report.md"))
	for _, d := range reporttables.Diff(reporttables.Tables(string(w), "outputs"), reporttables.Tables(string(g), "outputs")) {
		t.Error(d)
	}
	if code, stdout, _ := run(t, "verify", out); code != exitOK {
		t.Errorf("verify of the merged output: exit %d: %s", code, stdout)
	}
	// An edited shard manifest: merge names it and fails.
	p := filepath.Join(out, "shards", "shard=0001", "manifest.json")
	b, _ := os.ReadFile(p)
	os.WriteFile(p, bytes.Replace(b, []byte(`"shards": 4`), []byte(`"shards": 4 `), 1), 0o644)
	if code, _, stderr := run(t, "merge", out); code != exitFailed || !strings.Contains(stderr, "shards/shard=0001/manifest.json: its SHA-256 is") {
		t.Errorf("merge of an edited manifest: exit %d: %s", code, stderr)
	}
}

// jobShard runs analyze in-process as pod i of an Indexed Job of n
// completions (the Job's environment, not --shard), and checks that it
// succeeded saying what it wrote.
func jobShard(t *testing.T, args []string, i, n int, saying string) {
	t.Helper()
	env := map[string]string{envJobIndex: strconv.Itoa(i), envJobCompletions: strconv.Itoa(n)}
	var stdout, stderr bytes.Buffer
	if err := runAnalyzeEnv(context.Background(), args, &stdout, &stderr, func(k string) string { return env[k] }); err != nil {
		t.Fatalf("shard %d: %v: %s", i, err, stderr.String())
	}
	if !strings.Contains(stdout.String(), saying) {
		t.Errorf("shard %d said %q, want %q", i, stdout.String(), saying)
	}
}

// killAtWork runs the command as a process of its own with env added,
// and kills it (SIGKILL, as a pod is) once it is at work: when a shard's
// staging directory appears in its TMPDIR.
func killAtWork(t *testing.T, args []string, env ...string) {
	t.Helper()
	tmp := t.TempDir()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(append(os.Environ(), "FLOWPROOF_TEST_CHILD=1", "TMPDIR="+tmp), env...)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	for {
		if m, _ := filepath.Glob(filepath.Join(tmp, "flowproof-shard-*")); len(m) > 0 {
			cmd.Process.Signal(syscall.SIGKILL)
			<-done
			return
		}
		select {
		case err := <-done:
			t.Logf("the shard finished before it could be killed (%v)", err)
			return
		case <-time.After(2 * time.Millisecond):
		}
	}
}

func TestMergeUsage(t *testing.T) {
	if code, _, stderr := run(t, "merge"); code != exitUsage || !strings.Contains(stderr, "merge takes one output directory") {
		t.Errorf("exit %d: %s", code, stderr)
	}
	if code, _, stderr := run(t, "merge", t.TempDir()); code != exitFailed || !strings.Contains(stderr, "no shard manifest") {
		t.Errorf("exit %d: %s", code, stderr)
	}
	if code, _, stderr := run(t, "analyze", "--shard", "4/4", "x.pcap"); code != exitUsage || !strings.Contains(stderr, "index must be 0 to 3") {
		t.Errorf("exit %d: %s", code, stderr)
	}
}
