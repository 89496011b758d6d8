package main

import (
	"fmt"
	"path/filepath"

	"github.com/flowproof/flowproof/report"
)

// writeOutputs finishes a run whose flows.parquet is written and listed in
// m.Outputs: it writes report.md and its charts from sum, then manifest.json
// (listing them), then appends the audit entry that records every input and
// output with the manifest's SHA-256. step names the step in the audit trail
// ("analyze").
func writeOutputs(dir, step string, sum *report.Summary, m *report.Manifest) error {
	outs, err := report.WriteReport(dir, sum, m)
	if err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	m.Outputs = append(m.Outputs, outs...)
	seq, err := report.NextAuditSeq(dir)
	if err != nil {
		return err
	}
	m.AuditSeq = seq
	manifestPath := filepath.Join(dir, report.ManifestFile)
	if err := report.WriteManifest(manifestPath, m); err != nil {
		return fmt.Errorf("write %s: %w", report.ManifestFile, err)
	}
	mo, err := report.HashFile(manifestPath)
	if err != nil {
		return err
	}
	e := report.AuditEntry{
		Seq:        seq,
		Time:       m.Finished,
		Step:       step,
		Tool:       m.Tool,
		Command:    m.Command,
		Parameters: m.Settings,
	}
	for _, in := range m.Inputs {
		if in.SHA256 == "" {
			continue // never opened: nothing to prove
		}
		e.Inputs = append(e.Inputs, report.AuditFileOf(dir, in.Path, in.Size, in.SHA256))
	}
	for _, o := range append(m.Outputs, mo) {
		e.Outputs = append(e.Outputs, report.AuditFile{Path: o.Name, InDir: true, Size: o.Size, SHA256: o.SHA256})
	}
	if _, err := report.AppendAudit(dir, e); err != nil {
		return fmt.Errorf("append %s: %w", report.AuditFileName, err)
	}
	return nil
}
