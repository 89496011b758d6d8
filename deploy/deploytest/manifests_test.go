package deploytest

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

const (
	k8sDir     = "../k8s"
	chartDir   = "../helm/flowproof"
	dockerfile = "../Dockerfile"
	makefile   = "../../Makefile"
)

// loadManifests decodes every file of deploy/k8s.
func loadManifests(t *testing.T) (objects, map[string][]byte) {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join(k8sDir, "*.yaml"))
	if err != nil || len(paths) == 0 {
		t.Fatalf("no manifests in %s (%v)", k8sDir, err)
	}
	var o objects
	texts := map[string][]byte{}
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		texts[p] = data
		if err := decodeAll(p, data, &o); err != nil {
			t.Fatal(err)
		}
	}
	return o, texts
}

func TestManifests(t *testing.T) {
	o, _ := loadManifests(t)
	if len(o.jobs) != 2 {
		t.Fatalf("%d Jobs in %s, want 2 (analyze, merge)", len(o.jobs), k8sDir)
	}
	analyze, merge := o.job("analyze"), o.job("merge")
	if analyze == nil || merge == nil {
		t.Fatal("want a Job labelled app.kubernetes.io/component: analyze and one labelled merge")
	}
	cmd, errs := checkAnalyzeJob(analyze)
	errs = append(errs, checkMergeJob(merge, cmd)...)
	for _, err := range errs {
		t.Error(err)
	}
	// The credentials' Secret is made with kubectl (README), never kept here.
	if len(o.secrets) > 0 {
		t.Errorf("%s holds %d Secrets: secret values do not belong in the repository", k8sDir, len(o.secrets))
	}
}

// secretText is what a credential looks like in a file: an AWS access key
// ID, or a Secret's data.
var secretText = regexp.MustCompile(`\b(AKIA|ASIA)[A-Z0-9]{16}\b|(?m)^\s*(stringData|data):`)

func TestNoSecretValues(t *testing.T) {
	_, texts := loadManifests(t)
	for p, data := range texts {
		if m := secretText.Find(data); m != nil {
			t.Errorf("%s: %q looks like a secret value", p, m)
		}
	}
}

// TestDockerfile checks that the image is built as `make release` builds
// the binary, and runs as the user the manifests name. Docker itself does
// not run in CI.
func TestDockerfile(t *testing.T) {
	df, err := os.ReadFile(dockerfile)
	if err != nil {
		t.Fatal(err)
	}
	mk, err := os.ReadFile(makefile)
	if err != nil {
		t.Fatal(err)
	}
	release := strings.ReplaceAll(recipe(string(mk), "release"), "$(LDFLAGS)", variable(string(mk), "LDFLAGS"))
	for _, want := range []string{"CGO_ENABLED=0", "-trimpath", "-tags nodemo", "-X main.Version=", "./cmd/flowproof"} {
		if !strings.Contains(release, want) {
			t.Fatalf("make release no longer has %q: update deploy/Dockerfile and this test together", want)
		}
		if !strings.Contains(string(df), want) {
			t.Errorf("%s does not build with %q as make release does", dockerfile, want)
		}
	}
	if !regexp.MustCompile(`(?m)^FROM (gcr\.io/distroless/static[-a-z0-9]*:nonroot|scratch)\b`).Match(df) {
		t.Errorf("%s: the final stage is not distroless static (nonroot) or scratch", dockerfile)
	}
	if !regexp.MustCompile(`(?m)^USER 65532(:65532)?$`).Match(df) {
		t.Errorf("%s: USER is not 65532, the runAsUser of the manifests", dockerfile)
	}
	o, _ := loadManifests(t)
	for _, j := range o.jobs {
		if u := j.Spec.Template.Spec.SecurityContext.RunAsUser; u == nil || *u != 65532 {
			t.Errorf("job %s: runAsUser %v, want the image's 65532", j.Name, deref(u))
		}
	}
}

// variable returns the value a Makefile line "NAME := value" gives.
func variable(mk, name string) string {
	for line := range strings.Lines(mk) {
		if v, ok := strings.CutPrefix(line, name+" :="); ok {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// recipe returns a Makefile target's recipe lines.
func recipe(mk, target string) string {
	var b strings.Builder
	in := false
	for line := range strings.Lines(mk) {
		switch {
		case strings.HasPrefix(line, target+":"):
			in = true
		case in && strings.HasPrefix(line, "\t"):
			b.WriteString(line)
		case in:
			return b.String()
		}
	}
	return b.String()
}
