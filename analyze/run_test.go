package analyze_test

import (
	"bytes"
	"errors"
	"reflect"
	"testing"

	"github.com/flowproof/flowproof/analyze"
	"github.com/flowproof/flowproof/ingest"
	"github.com/flowproof/flowproof/internal/capgen"
)

// TestRunConcurrentSameFlows: the two-stage reader gives exactly the flows of
// the sequential one, and the same error for a capture cut short.
func TestRunConcurrentSameFlows(t *testing.T) {
	files, err := capgen.Files()
	if err != nil {
		t.Fatal(err)
	}
	var all []byte // one long capture: every case's packets, repeated
	for _, name := range []string{"tcp-sf.pcap", "tcp-dup-acks.pcap", "tcp-port-reuse.pcap"} {
		if all == nil {
			all = append(all, files[name]...)
		} else {
			all = append(all, files[name][24:]...) // records only: same link type
		}
	}
	for i := 0; i < 12; i++ {
		all = append(all, all[24:]...)
		if len(all) > 4<<20 {
			break
		}
	}
	for _, tc := range []struct {
		name string
		data []byte
	}{
		{"whole", all},
		{"cut", all[:len(all)-7]},
		{"whole after cut", all}, // batches come back from the pool, one of them from a run that failed
	} {
		t.Run(tc.name, func(t *testing.T) {
			run := func(cfg analyze.Config, f func(analyze.PacketSource, *analyze.Table) error) ([]analyze.Record, error) {
				c, err := ingest.NewReader(tc.name, bytes.NewReader(tc.data), ingest.Options{})
				if err != nil {
					t.Fatal(err)
				}
				defer c.Close()
				var recs []analyze.Record
				tbl := analyze.NewTable(cfg, tc.name, 1, func(r *analyze.Record) { recs = append(recs, *r) })
				err = f(c, tbl)
				tbl.Flush()
				return recs, err
			}
			seq, seqErr := run(analyze.Config{}, analyze.Run)
			conc, concErr := run(analyze.Config{}, analyze.RunConcurrent)
			if len(seq) < 100 {
				t.Fatalf("only %d flows: the test capture is too small", len(seq))
			}
			if !reflect.DeepEqual(seq, conc) {
				t.Errorf("RunConcurrent: %d flows differ from Run's %d", len(conc), len(seq))
			}
			// Strings left to the receiver (as the CLI's sink does): the
			// same records once completed.
			deferred, _ := run(analyze.Config{DeferStrings: true}, analyze.RunConcurrent)
			var strs analyze.Completer
			for i := range deferred {
				if deferred[i].FlowID != "" || deferred[i].CommunityID != "" || deferred[i].History != "" {
					t.Fatalf("record %d has its strings before Complete: %+v", i, deferred[i])
				}
				deferred[i].Complete(&strs)
				deferred[i].Complete(&strs) // a second call changes nothing
			}
			if !reflect.DeepEqual(seq, deferred) {
				t.Errorf("DeferStrings then Complete: %d flows differ from Run's %d", len(deferred), len(seq))
			}
			var fe *ingest.FormatError
			if (seqErr == nil) != (concErr == nil) || seqErr != nil && (!errors.As(concErr, &fe) || seqErr.Error() != concErr.Error()) {
				t.Errorf("errors differ: %v / %v", seqErr, concErr)
			}
			if tc.name == "cut" && seqErr == nil {
				t.Error("a cut capture read without error")
			}
		})
	}
}
