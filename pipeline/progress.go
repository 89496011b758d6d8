package pipeline

import (
	"github.com/flowproof/flowproof/analyze"
	"github.com/flowproof/flowproof/ingest"
)

// Progress is told how a run advances; the CLI's progress line implements
// it. Its methods are called from several goroutines at once.
type Progress interface {
	// Run is called once, before the first capture, with their number.
	Run(captures int)
	// Start is called when capture i (0-based) is opened; the run reads its
	// packets from the source Start returns (c itself, or a wrapper that
	// counts).
	Start(i int, name string, c *ingest.Capture) analyze.PacketSource
	// Finish is called when capture i has been read.
	Finish(i int)
	// Warn shows a warning or error about one input as it happens.
	Warn(msg string)
	// Stop is called once, when every capture has been read.
	Stop()
}

// noProgress is the Progress of a run that shows none.
type noProgress struct{}

func (noProgress) Run(int) {}
func (noProgress) Start(_ int, _ string, c *ingest.Capture) analyze.PacketSource {
	return c
}
func (noProgress) Finish(int)  {}
func (noProgress) Warn(string) {}
func (noProgress) Stop()       {}
