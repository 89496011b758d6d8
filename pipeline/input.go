package pipeline

import (
	"errors"
	"fmt"
	"path/filepath"

	"github.com/flowproof/flowproof/ingest"
	"github.com/flowproof/flowproof/ingest/kubeshark/evidence"
	"github.com/flowproof/flowproof/ingest/objstore"
)

// Input is one argument of a run, opened: a capture file, a directory of
// captures, or an evidence directory written by pull. Whatever it was, it
// is the captures to read, in order, and the Kubeshark answers that came
// with them.
type Input struct {
	Arg      string    // as given
	Captures []Capture // in the order they are read
	// The Kubeshark answers of an evidence directory ("" when none): its
	// list_l4_flows, and its list_workloads (or list_ips).
	L4Flows, Workloads string
	// APICalls are the pages of list_api_calls, in order (none when
	// absent); APICallsIncomplete is why the pull found them incomplete
	// ("" when it did not).
	APICalls           []string
	APICallsIncomplete string
}

// Capture is one capture file of an input.
type Capture struct {
	Path string
	// Node is the node whose records it holds, for a capture of `pull
	// --per-node` ("" otherwise): the per-node captures of one evidence
	// directory are vantage points of the same traffic, read as one stream
	// merged by time into one flow table.
	Node string
	// Source is its provenance for the manifest: "file", or the pull's line
	// naming the Kubeshark snapshot.
	Source string
	// SHA256 is the hash recorded when it was pulled ("" for a plain file):
	// a capture that no longer has it changed after the pull.
	SHA256 string
	// Incomplete is why the pull found the capture short of what the server
	// stated ("" when it was not): it is analyzed, and marked partial.
	Incomplete string

	// An object in object storage (s3:// inputs): streamed from store,
	// pinned to the listed version; nil for a local file.
	object *objstore.Object
	store  *objstore.Client
}

// Open resolves one argument. A directory with an evidence manifest stands
// for the captures it lists and its answers; any other directory is walked
// for captures (in sorted order); a file is a capture.
func Open(arg string) (Input, error) {
	in := Input{Arg: arg}
	ev, err := evidence.Open(arg)
	switch {
	case err == nil:
		for _, c := range ev.Captures() {
			in.Captures = append(in.Captures, Capture{Path: c.Path, Node: c.Node, Source: c.Source, SHA256: c.SHA256, Incomplete: c.Incomplete})
		}
		if len(in.Captures) == 0 {
			return in, fmt.Errorf("%s: the evidence manifest lists no capture", arg)
		}
		in.L4Flows = ev.File("list_l4_flows")
		in.Workloads = ev.File("list_workloads")
		in.APICalls = ev.Files("list_api_calls")
		if a := ev.Manifest.Kubeshark.APICalls; a != nil {
			in.APICallsIncomplete = a.Incomplete
		}
		if in.Workloads == "" {
			in.Workloads = ev.File("list_ips")
		}
		return in, nil
	case !errors.Is(err, evidence.ErrNotEvidence):
		return in, err
	}
	files, err := ingest.Expand([]string{arg})
	if err != nil {
		return in, err
	}
	for _, f := range files {
		in.Captures = append(in.Captures, Capture{Path: f, Source: "file"})
	}
	return in, nil
}

// answerName names an evidence answer in warnings and the report: the
// evidence directory's name and the file's place in it.
func answerName(in Input, path string) string {
	return filepath.ToSlash(filepath.Join(filepath.Base(in.Arg), evidence.KubesharkDir, filepath.Base(path)))
}
