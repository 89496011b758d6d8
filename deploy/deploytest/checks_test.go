package deploytest

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/validation"
)

// The flags the deploy files may pass, true for those that take a value:
// issue 18's contract (--shard, --s3-endpoint, --s3-path-style) and
// flowproof's existing analyze flags that the manifests or the tests' chart
// overrides use.
var (
	analyzeFlags = map[string]bool{
		"o": true, "quiet": false, "jobs": true, "l7": false, "no-l7": false, "max-flows": true,
		"shard": true, "s3-endpoint": true, "s3-path-style": false,
	}
	mergeFlags = map[string]bool{"s3-endpoint": true, "s3-path-style": false}
)

// worstCaseRSS is the largest peak RSS measured for one capture: the SYN
// flood of `make bench` (flood.pcap) fills the flow table to --max-flows'
// default; 805.1 MiB with --l7 (README: Run on Kubernetes, Sizing). A pod's
// memory limit must hold --jobs of them.
var worstCaseRSS = resource.MustParse("806Mi")

// A command line as flowproof's flag package reads it.
type cmdLine struct {
	command string
	flags   map[string]string // the flags given, "true" for a bool
	args    []string          // the positional arguments
}

// parseCmd parses a container's args with the flag set known (name: takes a
// value) the way the flag package does: flags first, then positionals.
func parseCmd(args []string, known map[string]bool) (cmdLine, error) {
	if len(args) == 0 {
		return cmdLine{}, errors.New("no args: the image's entrypoint is /flowproof, args[0] must be the command")
	}
	c := cmdLine{command: args[0], flags: map[string]string{}}
	fs := flag.NewFlagSet(c.command, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	for name, takesValue := range known {
		if takesValue {
			fs.String(name, "", "")
		} else {
			fs.Bool(name, false, "")
		}
	}
	if err := fs.Parse(args[1:]); err != nil {
		return c, fmt.Errorf("%s %q: %w", c.command, args[1:], err)
	}
	fs.Visit(func(f *flag.Flag) { c.flags[f.Name] = f.Value.String() })
	c.args = fs.Args()
	return c, nil
}

// container returns a Job's only container.
func container(j *batchv1.Job) (*corev1.Container, error) {
	if n := len(j.Spec.Template.Spec.Containers); n != 1 {
		return nil, fmt.Errorf("job %s: %d containers, want 1", j.Name, n)
	}
	return &j.Spec.Template.Spec.Containers[0], nil
}

func envVar(c *corev1.Container, name string) *corev1.EnvVar {
	for i := range c.Env {
		if c.Env[i].Name == name {
			return &c.Env[i]
		}
	}
	return nil
}

// checkAnalyzeJob returns what is wrong with the analyze Job, and its
// command line.
func checkAnalyzeJob(j *batchv1.Job) (cmdLine, []error) {
	var errs []error
	bad := func(format string, a ...any) {
		errs = append(errs, fmt.Errorf("job %s: "+format, append([]any{j.Name}, a...)...))
	}
	s := j.Spec
	if s.Completions != nil {
		// The pods' hostnames are NAME-INDEX: DNS labels.
		for _, msg := range validation.IsDNS1123Label(fmt.Sprintf("%s-%d", j.Name, *s.Completions-1)) {
			bad("name: its pods' hostnames would be invalid: %s", msg)
		}
	}
	if s.CompletionMode == nil || *s.CompletionMode != batchv1.IndexedCompletion {
		bad("completionMode is not Indexed: pods get no JOB_COMPLETION_INDEX")
	}
	completions := int32(0)
	if s.Completions == nil || *s.Completions < 1 {
		bad("completions (the shard count) is not set")
	} else {
		completions = *s.Completions
	}
	if s.Parallelism == nil || *s.Parallelism < 1 || *s.Parallelism > completions {
		bad("parallelism %v is not between 1 and completions %d", deref(s.Parallelism), completions)
	}
	if s.BackoffLimitPerIndex == nil || *s.BackoffLimitPerIndex < 1 {
		bad("backoffLimitPerIndex is not set: a failed shard would not be retried alone")
	}
	if s.TTLSecondsAfterFinished == nil {
		bad("ttlSecondsAfterFinished is not set: finished Jobs would stay forever")
	}
	c, err := container(j)
	if err != nil {
		return cmdLine{}, append(errs, err)
	}
	if !failsOnExit(s.PodFailurePolicy, c.Name, batchv1.PodFailurePolicyActionFailIndex, 2) {
		bad("podFailurePolicy does not FailIndex on exit code 2 (usage error) of container %s", c.Name)
	}
	errs = append(errs, checkPod(j, c)...)

	cmd, err := parseCmd(c.Args, analyzeFlags)
	if err != nil {
		return cmd, append(errs, err)
	}
	if cmd.command != "analyze" {
		bad("command %q, want analyze", cmd.command)
	}
	if _, ok := cmd.flags["shard"]; ok {
		bad("--shard is given: the Indexed Job's environment gives it (JOB_COMPLETION_INDEX/JOB_COMPLETIONS)")
	}
	if !strings.HasPrefix(cmd.flags["o"], "s3://") {
		bad("-o %q is not an s3:// prefix", cmd.flags["o"])
	}
	if _, ok := cmd.flags["quiet"]; !ok {
		bad("--quiet is missing: a pod's log is no terminal")
	}
	jobs, err := strconv.Atoi(cmd.flags["jobs"])
	if err != nil || jobs < 1 {
		bad("--jobs %q: want it explicit (the default follows the node's CPUs, not the pod's memory)", cmd.flags["jobs"])
	}
	if len(cmd.args) == 0 {
		bad("no input")
	}
	for _, a := range cmd.args {
		if !strings.HasPrefix(a, "s3://") {
			bad("input %q is not s3://", a)
		}
	}
	// Kubernetes sets JOB_COMPLETION_INDEX itself; the count is ours to give.
	if e := envVar(c, "JOB_COMPLETION_INDEX"); e != nil {
		bad("JOB_COMPLETION_INDEX is set by hand: Kubernetes sets it per pod")
	}
	if e := envVar(c, "JOB_COMPLETIONS"); e == nil || e.Value != strconv.Itoa(int(completions)) {
		bad("JOB_COMPLETIONS %v is not completions %d", e, completions)
	}
	if lim, ok := c.Resources.Limits[corev1.ResourceMemory]; ok && jobs >= 1 {
		need := worstCaseRSS.DeepCopy()
		for range jobs - 1 {
			need.Add(worstCaseRSS)
		}
		if lim.Cmp(need) < 0 {
			bad("memory limit %s is less than --jobs %d x the measured worst case %s", lim.String(), jobs, worstCaseRSS.String())
		}
	}
	return cmd, errs
}

// checkMergeJob returns what is wrong with the merge Job, given the analyze
// Job's command line.
func checkMergeJob(j *batchv1.Job, analyze cmdLine) []error {
	var errs []error
	bad := func(format string, a ...any) {
		errs = append(errs, fmt.Errorf("job %s: "+format, append([]any{j.Name}, a...)...))
	}
	if j.Spec.CompletionMode != nil && *j.Spec.CompletionMode == batchv1.IndexedCompletion {
		bad("merge is one pod, not an Indexed Job")
	}
	for _, msg := range validation.IsDNS1123Label(j.Name) {
		bad("name: %s", msg)
	}
	if j.Spec.TTLSecondsAfterFinished == nil {
		bad("ttlSecondsAfterFinished is not set")
	}
	c, err := container(j)
	if err != nil {
		return append(errs, err)
	}
	if !failsOnExit(j.Spec.PodFailurePolicy, c.Name, batchv1.PodFailurePolicyActionFailJob, 2) {
		bad("podFailurePolicy does not FailJob on exit code 2 (usage error)")
	}
	errs = append(errs, checkPod(j, c)...)
	cmd, err := parseCmd(c.Args, mergeFlags)
	if err != nil {
		return append(errs, err)
	}
	if cmd.command != "merge" {
		bad("command %q, want merge", cmd.command)
	}
	if len(cmd.args) != 1 || cmd.args[0] != analyze.flags["o"] {
		bad("merges %q, want the analyze Job's -o %q", cmd.args, analyze.flags["o"])
	}
	for _, f := range []string{"s3-endpoint", "s3-path-style"} {
		if cmd.flags[f] != analyze.flags[f] {
			bad("--%s %q differs from the analyze Job's %q", f, cmd.flags[f], analyze.flags[f])
		}
	}
	if e := envVar(c, "JOB_COMPLETIONS"); e != nil {
		bad("JOB_COMPLETIONS is set: merge is not a shard")
	}
	return errs
}

// checkPod checks what both Jobs share: restart policy, security, the
// credentials and the staging volume.
func checkPod(j *batchv1.Job, c *corev1.Container) []error {
	var errs []error
	bad := func(format string, a ...any) {
		errs = append(errs, fmt.Errorf("job %s: "+format, append([]any{j.Name}, a...)...))
	}
	p := j.Spec.Template.Spec
	if p.RestartPolicy != corev1.RestartPolicyNever {
		bad("restartPolicy %q, want Never (podFailurePolicy needs it, and a retry is a new pod)", p.RestartPolicy)
	}
	if p.AutomountServiceAccountToken == nil || *p.AutomountServiceAccountToken {
		bad("automountServiceAccountToken is not false: flowproof never calls the Kubernetes API")
	}
	if psc := p.SecurityContext; psc == nil || psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot ||
		psc.RunAsUser == nil || *psc.RunAsUser == 0 {
		bad("pod securityContext does not run as a non-root user")
	}
	sc := c.SecurityContext
	switch {
	case sc == nil:
		bad("container %s has no securityContext", c.Name)
	case sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation:
		bad("allowPrivilegeEscalation is not false")
	case sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem:
		bad("readOnlyRootFilesystem is not true")
	case sc.Privileged != nil && *sc.Privileged:
		bad("privileged")
	case sc.Capabilities == nil || !slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) || len(sc.Capabilities.Add) > 0:
		bad("capabilities are not drop: [ALL] with none added")
	}
	for _, name := range []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"} {
		e := envVar(c, name)
		if e == nil || e.ValueFrom == nil || e.ValueFrom.SecretKeyRef == nil || e.ValueFrom.SecretKeyRef.Key != name ||
			e.ValueFrom.SecretKeyRef.Name == "" {
			bad("%s does not come from a Secret's key %s", name, name)
		}
	}
	for _, e := range c.Env {
		if e.Value != "" && secretLooking(e.Name) {
			bad("env %s has a value inline: secrets come from a Secret", e.Name)
		}
		if e.Name == "GOMEMLIMIT" || e.Name == "GOGC" {
			bad("env %s switches off flowproof's memory policy (cmd/flowproof/memory.go), which holds less memory", e.Name)
		}
	}
	if len(c.EnvFrom) > 0 {
		bad("envFrom: every variable is named, so none comes in unseen")
	}
	// Outputs are staged under TMPDIR: it must be a mounted emptyDir with a
	// size limit, since the root filesystem is read-only.
	tmp := envVar(c, "TMPDIR")
	if tmp == nil || tmp.Value == "" {
		bad("TMPDIR is not set to the staging volume")
		return errs
	}
	var vol string
	for _, m := range c.VolumeMounts {
		if m.MountPath == tmp.Value && !m.ReadOnly {
			vol = m.Name
		}
	}
	found := false
	for _, v := range p.Volumes {
		if v.Name == vol && v.EmptyDir != nil && v.EmptyDir.SizeLimit != nil {
			found = true
		}
	}
	if !found {
		bad("TMPDIR %s is not a writable emptyDir with a sizeLimit", tmp.Value)
	}
	mem, reqOK := c.Resources.Requests[corev1.ResourceMemory]
	lim, limOK := c.Resources.Limits[corev1.ResourceMemory]
	if !reqOK || !limOK || mem.Cmp(lim) != 0 {
		bad("memory request %v and limit %v are not set and equal: a pod killed midway redoes its work", mem.String(), lim.String())
	}
	if _, ok := c.Resources.Requests[corev1.ResourceCPU]; !ok {
		bad("no CPU request")
	}
	return errs
}

// secretLooking reports whether an environment variable's name says it
// holds a secret.
func secretLooking(name string) bool {
	for _, s := range []string{"SECRET", "ACCESS_KEY", "TOKEN", "PASSWORD", "CREDENTIAL"} {
		if strings.Contains(name, s) {
			return true
		}
	}
	return false
}

// failsOnExit reports whether policy takes action for exit code code of
// container name.
func failsOnExit(p *batchv1.PodFailurePolicy, name string, action batchv1.PodFailurePolicyAction, code int32) bool {
	if p == nil {
		return false
	}
	for _, r := range p.Rules {
		e := r.OnExitCodes
		if r.Action != action || e == nil || e.Operator != batchv1.PodFailurePolicyOnExitCodesOpIn ||
			(e.ContainerName != nil && *e.ContainerName != name) {
			continue
		}
		if slices.Contains(e.Values, code) {
			return true
		}
	}
	return false
}

func deref[T any](p *T) any {
	if p == nil {
		return nil
	}
	return *p
}
