package deploytest

import (
	"encoding/json"
	"fmt"
	"path"
	"slices"
	"strings"
	"testing"

	"helm.sh/helm/v4/pkg/chart/common"
	"helm.sh/helm/v4/pkg/chart/common/util"
	"helm.sh/helm/v4/pkg/chart/v2/loader"
	"helm.sh/helm/v4/pkg/engine"
	batchv1 "k8s.io/api/batch/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// render renders the chart as `helm install RELEASE` would with values over
// its defaults, and decodes the result strictly. It returns the rendered
// text too, file by file.
func render(t *testing.T, values map[string]any) (objects, map[string]string, error) {
	return renderRelease(t, "run-1", values)
}

// renderRelease is render for a release of another name.
func renderRelease(t *testing.T, release string, values map[string]any) (objects, map[string]string, error) {
	t.Helper()
	ch, err := loader.Load(chartDir)
	if err != nil {
		t.Fatalf("load chart: %v", err)
	}
	vals, err := util.ToRenderValues(ch, values, common.ReleaseOptions{Name: release, Namespace: "batch", IsInstall: true}, nil)
	if err != nil {
		return objects{}, nil, err
	}
	out, err := engine.Engine{Strict: true}.Render(ch, vals)
	if err != nil {
		return objects{}, nil, err
	}
	var o objects
	for name, text := range out {
		if path.Ext(name) != ".yaml" {
			continue // NOTES.txt, _helpers.tpl
		}
		if err := decodeAll(name, []byte(text), &o); err != nil {
			t.Fatal(err)
		}
	}
	return o, out, nil
}

// mustRender is render that fails the test on a render error, and checks
// both Jobs.
func mustRender(t *testing.T, values map[string]any) (objects, map[string]string, cmdLine) {
	t.Helper()
	o, out, err := render(t, values)
	if err != nil {
		t.Fatalf("render: %v", err)
	}
	analyze := o.job("analyze")
	if analyze == nil {
		t.Fatal("no analyze Job rendered")
	}
	cmd, errs := checkAnalyzeJob(analyze)
	if merge := o.job("merge"); merge != nil {
		errs = append(errs, checkMergeJob(merge, cmd)...)
	}
	for _, err := range errs {
		t.Error(err)
	}
	return o, out, cmd
}

func TestChartDefaults(t *testing.T) {
	o, _, cmd := mustRender(t, nil)
	if len(o.jobs) != 2 || o.job("merge") == nil || len(o.secrets) != 0 {
		t.Fatalf("defaults render %d Jobs and %d Secrets, want the analyze and merge Jobs only", len(o.jobs), len(o.secrets))
	}
	if _, ok := cmd.flags["s3-endpoint"]; ok {
		t.Error("--s3-endpoint given while s3.endpoint is empty (AWS S3)")
	}
	if got, want := cmd.flags["o"], "s3://flowproof/runs/run-1"; got != want {
		t.Errorf("-o %q, want %q", got, want)
	}
	if got, want := cmd.args, []string{"s3://flowproof/captures/"}; !slices.Equal(got, want) {
		t.Errorf("inputs %q, want %q", got, want)
	}
	m := o.job("merge")
	if m.Annotations["helm.sh/hook"] != "post-install" {
		t.Errorf("merge Job is not a post-install hook: annotations %v", m.Annotations)
	}
	if got := m.Spec.Template.Spec.Containers[0].Image; got != "registry.example.com/flowproof:dev" {
		t.Errorf("image %q, want the chart's appVersion as tag", got)
	}
}

// manifestValues are the chart values that give the plain manifests of
// deploy/k8s.
var manifestValues = map[string]any{
	"image":  map[string]any{"repository": "registry.example.com/flowproof", "tag": "latest"},
	"shards": 8, "parallelism": 8,
	"s3": map[string]any{
		"endpoint": "https://s3.example.internal:9000", "pathStyle": true,
		"bucket": "flowproof", "inputPrefix": "captures/", "outputPrefix": "runs/run-1",
	},
	"secret": map[string]any{"existingSecret": "flowproof-s3"},
}

// TestChartMatchesManifests: with the plain manifests' settings, the chart
// renders the same Jobs, names, labels and annotations aside.
func TestChartMatchesManifests(t *testing.T) {
	plain, _ := loadManifests(t)
	chart, _, _ := mustRender(t, manifestValues)
	for _, component := range []string{"analyze", "merge"} {
		want, got := plain.job(component), chart.job(component)
		if want == nil || got == nil {
			t.Fatalf("%s Job: plain %v, chart %v", component, want != nil, got != nil)
		}
		if !equality.Semantic.DeepEqual(essential(want), essential(got)) {
			t.Errorf("%s Job: the chart's spec differs from %s (plain != chart):\n%s", component, k8sDir,
				pathDiff(essential(want).Spec, essential(got).Spec))
		}
	}
}

// essential is a Job without what may differ between the chart and the
// plain manifests: names, labels, annotations.
func essential(j *batchv1.Job) *batchv1.Job {
	j = j.DeepCopy()
	j.ObjectMeta = metav1.ObjectMeta{}
	j.Spec.Template.ObjectMeta = metav1.ObjectMeta{}
	return j
}

func TestChartOverrides(t *testing.T) {
	tests := []struct {
		name   string
		values map[string]any
		check  func(t *testing.T, o objects, out map[string]string, cmd cmdLine)
	}{
		{
			name:   "shards and parallelism",
			values: map[string]any{"shards": 32, "parallelism": 4},
			check: func(t *testing.T, o objects, _ map[string]string, _ cmdLine) {
				s := o.job("analyze").Spec
				if *s.Completions != 32 || *s.Parallelism != 4 {
					t.Errorf("completions %d parallelism %d, want 32 and 4", *s.Completions, *s.Parallelism)
				}
			},
		},
		{
			name:   "extra args and two captures at once",
			values: map[string]any{"analyze": map[string]any{"jobs": 2, "extraArgs": []any{"--no-l7", "--max-flows", "500000"}, "resources": map[string]any{"limits": map[string]any{"memory": "2Gi"}, "requests": map[string]any{"memory": "2Gi"}}}},
			check: func(t *testing.T, _ objects, _ map[string]string, cmd cmdLine) {
				if cmd.flags["no-l7"] != "true" || cmd.flags["max-flows"] != "500000" || cmd.flags["jobs"] != "2" {
					t.Errorf("flags %v, want --no-l7 --max-flows 500000 --jobs 2", cmd.flags)
				}
			},
		},
		{
			name: "secret created by the chart",
			values: map[string]any{"secret": map[string]any{
				"create": true, "accessKeyId": "AKIDEXAMPLE0000000000", "secretAccessKey": "s3cr3t/EXAMPLE+value",
			}},
			check: func(t *testing.T, o objects, out map[string]string, _ cmdLine) {
				if len(o.secrets) != 1 || o.secrets[0].StringData["AWS_SECRET_ACCESS_KEY"] != "s3cr3t/EXAMPLE+value" {
					t.Fatalf("want one Secret with the given key, got %d", len(o.secrets))
				}
				name := o.secrets[0].Name
				for _, j := range o.jobs {
					ref := envVar(&j.Spec.Template.Spec.Containers[0], "AWS_SECRET_ACCESS_KEY").ValueFrom.SecretKeyRef
					if ref.Name != name {
						t.Errorf("job %s reads Secret %q, want the chart's %q", j.Name, ref.Name, name)
					}
				}
				for file, text := range out {
					if !strings.HasSuffix(file, "secret.yaml") && strings.Contains(text, "s3cr3t") {
						t.Errorf("%s holds the secret value", file)
					}
				}
			},
		},
		{
			name:   "merge by hand",
			values: map[string]any{"merge": map[string]any{"enabled": false}},
			check: func(t *testing.T, o objects, _ map[string]string, _ cmdLine) {
				if len(o.jobs) != 1 {
					t.Errorf("%d Jobs, want the analyze Job only", len(o.jobs))
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o, out, cmd := mustRender(t, tt.values)
			tt.check(t, o, out, cmd)
		})
	}
}

// TestChartLongRelease: a release name of Helm's maximum, 53 characters,
// still gives valid Job and pod names.
func TestChartLongRelease(t *testing.T) {
	o, _, err := renderRelease(t, strings.Repeat("a", 20)+"-"+strings.Repeat("b", 32), map[string]any{"shards": 10000, "parallelism": 100})
	if err != nil {
		t.Fatal(err)
	}
	cmd, errs := checkAnalyzeJob(o.job("analyze"))
	errs = append(errs, checkMergeJob(o.job("merge"), cmd)...)
	for _, err := range errs {
		t.Error(err)
	}
}

// TestChartRefuses: values that would give a broken run fail to render,
// with a message naming the value.
func TestChartRefuses(t *testing.T) {
	tests := []struct {
		name   string
		values map[string]any
		want   string
	}{
		{"parallelism above shards", map[string]any{"shards": 2, "parallelism": 3}, "parallelism must be between 1 and shards"},
		{"no shards", map[string]any{"shards": 0}, "shards must be at least 1"},
		{"no secret", map[string]any{"secret": map[string]any{"existingSecret": ""}}, "secret.existingSecret is required"},
		{"created secret without its values", map[string]any{"secret": map[string]any{"create": true}}, "secret.accessKeyId is required"},
		{"no bucket", map[string]any{"s3": map[string]any{"bucket": ""}}, "s3.bucket is required"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := render(t, tt.values)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("render: %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

// pathDiff lists the leaves (JSON paths and values) where two objects
// differ, for a readable failure.
func pathDiff(a, b any) string {
	fa, fb := map[string]string{}, map[string]string{}
	flatten(a, "", fa)
	flatten(b, "", fb)
	var d []string
	for p, v := range fa {
		if fb[p] != v {
			d = append(d, fmt.Sprintf("%s: %s != %s", p, v, orNone(fb[p])))
		}
	}
	for p, v := range fb {
		if _, ok := fa[p]; !ok {
			d = append(d, fmt.Sprintf("%s: none != %s", p, v))
		}
	}
	slices.Sort(d)
	return strings.Join(d, "\n")
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

// flatten puts the leaves of v's JSON form into out by path.
func flatten(v any, prefix string, out map[string]string) {
	data, _ := json.Marshal(v)
	var x any
	_ = json.Unmarshal(data, &x)
	var walk func(x any, p string)
	walk = func(x any, p string) {
		switch x := x.(type) {
		case map[string]any:
			for k, v := range x {
				walk(v, p+"."+k)
			}
		case []any:
			for i, v := range x {
				walk(v, fmt.Sprintf("%s[%d]", p, i))
			}
		default:
			b, _ := json.Marshal(x)
			out[p] = string(b)
		}
	}
	walk(x, prefix)
}
