package deploytest

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"
)

// objects is what a set of manifests holds, by kind.
type objects struct {
	jobs    []*batchv1.Job
	secrets []*corev1.Secret
}

// job returns the Job whose app.kubernetes.io/component label is component.
func (o objects) job(component string) *batchv1.Job {
	for _, j := range o.jobs {
		if j.Labels["app.kubernetes.io/component"] == component {
			return j
		}
	}
	return nil
}

// decodeAll decodes every YAML document of data strictly into the API type
// of its kind; name is for errors.
func decodeAll(name string, data []byte, into *objects) error {
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	for i := 0; ; i++ {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%s: read document %d: %w", name, i, err)
		}
		if isEmpty(doc) {
			continue
		}
		var tm metav1.TypeMeta
		if err := yaml.Unmarshal(doc, &tm); err != nil {
			return fmt.Errorf("%s: document %d: %w", name, i, err)
		}
		switch gvk := tm.APIVersion + " " + tm.Kind; gvk {
		case "batch/v1 Job":
			j := new(batchv1.Job)
			if err := yaml.UnmarshalStrict(doc, j); err != nil {
				return fmt.Errorf("%s: document %d (%s): %w", name, i, gvk, err)
			}
			into.jobs = append(into.jobs, j)
		case "v1 Secret":
			s := new(corev1.Secret)
			if err := yaml.UnmarshalStrict(doc, s); err != nil {
				return fmt.Errorf("%s: document %d (%s): %w", name, i, gvk, err)
			}
			into.secrets = append(into.secrets, s)
		default:
			return fmt.Errorf("%s: document %d: kind %q is not one these tests know: add a case to decodeAll", name, i, gvk)
		}
	}
}

// isEmpty reports whether a YAML document has only comments and blank lines.
func isEmpty(doc []byte) bool {
	for line := range strings.Lines(string(doc)) {
		line = strings.TrimSpace(line)
		if line != "" && !strings.HasPrefix(line, "#") && line != "---" {
			return false
		}
	}
	return true
}
