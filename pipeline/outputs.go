package pipeline

import (
	"fmt"
	"path/filepath"

	"github.com/flowproof/flowproof/provenance"
	"github.com/flowproof/flowproof/report"
)

// writeOutputs finishes a run whose flows.parquet is written and listed in
// m.Outputs: it writes report.md and its charts from sum, then manifest.json
// (listing them), then appends the audit entry that records every input and
// output with the manifest's SHA-256. step names the step in the audit trail
// ("analyze").
func writeOutputs(dir, step string, sum *report.Summary, m *report.Manifest) error {
	m.Attacks = sum.Attacks()
	outs, err := report.WriteReport(dir, sum, m)
	if err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	m.Outputs = append(m.Outputs, outs...)
	seq, err := provenance.NextAuditSeq(dir)
	if err != nil {
		return err
	}
	m.AuditSeq = seq
	if err := report.WriteManifest(filepath.Join(dir, report.ManifestFile), m); err != nil {
		return fmt.Errorf("write %s: %w", report.ManifestFile, err)
	}
	var ins []provenance.AuditFile
	for _, in := range m.Inputs {
		if in.SHA256 == "" {
			continue // never opened: nothing to prove
		}
		ins = append(ins, provenance.AuditFileOf(dir, in.Path, in.Size, in.SHA256))
	}
	_, err = provenance.AppendStep(dir, provenance.Step{
		Seq: seq, Name: step, Time: m.Finished.Time, Tool: m.Tool, Command: m.Command,
		Parameters: m.Settings, Inputs: ins, Outputs: m.Outputs, Manifest: report.ManifestFile,
	})
	return err
}
