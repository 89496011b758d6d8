// Package deploytest checks deploy/: the Kubernetes manifests in deploy/k8s
// and the Helm chart in deploy/helm/flowproof, against the Kubernetes API
// types and against flowproof's command line (issue 18's contract).
//
// It is a module of its own, like report/duckdbtest, so that k8s.io/api,
// apimachinery and Helm never reach the flowproof binary's go.mod; `make
// deploy` (part of `make test`) runs it.
//
// # What is checked
//
// Every manifest is decoded strictly (sigs.k8s.io/yaml.UnmarshalStrict: an
// unknown or duplicated field is an error) into the k8s.io/api type of its
// kind; a kind the tests do not know is an error too. Then the fields that
// make the run correct: the analyze Job is an Indexed Job whose
// JOB_COMPLETIONS equals its completions (Kubernetes sets only
// JOB_COMPLETION_INDEX), parallelism is at most completions, a failed index
// is retried alone (backoffLimitPerIndex) and usage errors are not retried;
// the command line parses with the contract's flags (and, once the tree has
// them, with flowproof's own flag set); credentials come from a Secret and
// no secret value is written in a manifest; the pods run as non-root with a
// read-only root filesystem, no privilege escalation and no capabilities;
// memory is at least the measured worst case of the captures analyzed at
// once.
//
// The chart is rendered with Helm's own loader and engine (strict: a
// template that reads a missing value fails), with its default values and
// with overrides; the rendered manifests pass the same checks, and with
// the plain manifests' settings as values the chart's Jobs equal the plain
// manifests' Jobs field for field (names and labels aside).
package deploytest
