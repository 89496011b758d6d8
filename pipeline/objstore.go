package pipeline

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/flowproof/flowproof/ingest"
	"github.com/flowproof/flowproof/ingest/objstore"
	"github.com/flowproof/flowproof/provenance"
	"github.com/flowproof/flowproof/report"
)

// Object storage (package ingest/objstore): an s3:// input is listed, then
// each capture is streamed and hashed as it is analyzed, never staged; an
// s3:// output is written to a local staging directory, then uploaded (the
// outputs are small next to the captures).

// stores makes the run's object storage client when the first s3://
// address needs it.
type stores struct {
	cfg objstore.Config
	c   *objstore.Client
}

func (s *stores) client(ctx context.Context) (*objstore.Client, error) {
	if s.c == nil {
		c, err := objstore.New(ctx, s.cfg)
		if err != nil {
			return nil, err
		}
		s.c = c
	}
	return s.c, nil
}

// openArg resolves one argument: an s3:// address (openObjects), or a
// local one (Open).
func openArg(ctx context.Context, arg string, st *stores) (Input, error) {
	if !objstore.IsURL(arg) {
		return Open(arg)
	}
	return openObjects(ctx, arg, st)
}

// openObjects lists the captures an s3:// address stands for: the object
// it names, or, for a prefix (or a key that is no object), every object
// under it in key order, as a directory is walked: keys ending in "/"
// (folder markers) and names starting with "." below the prefix are left
// out.
func openObjects(ctx context.Context, arg string, st *stores) (Input, error) {
	in := Input{Arg: arg}
	u, err := objstore.ParseURL(arg)
	if err != nil {
		return in, err
	}
	c, err := st.client(ctx)
	if err != nil {
		return in, err
	}
	listed, err := c.List(ctx, u)
	if err != nil {
		return in, err
	}
	var objs []objstore.Object
	for _, o := range listed {
		if !u.IsPrefix() && o.URL.Key == u.Key {
			objs = []objstore.Object{o} // the object itself, as a file
			break
		}
		rel, under := strings.CutPrefix(o.URL.Key, u.Dir().Key)
		if !under || rel == "" || strings.HasSuffix(rel, "/") || strings.HasPrefix(rel, ".") || strings.Contains(rel, "/.") {
			continue
		}
		objs = append(objs, o)
	}
	if len(objs) == 0 {
		return in, fmt.Errorf("%s: no object there, nor under %s: check the address (a prefix ends with /)", u, u.Dir())
	}
	for _, o := range objs {
		// Path and name are shown and recorded: a key's control
		// characters are escaped there (the object is read by its key).
		in.Captures = append(in.Captures, Capture{Path: provenance.SafeText(o.URL.String()), Source: "s3", store: c, object: &o})
	}
	return in, nil
}

// openCapture opens a capture to read: a local file, or an object streamed
// (pinned to the ETag it was listed with). close releases what the Capture
// does not own (the object's stream); call it after the Capture's Close.
func openCapture(ctx context.Context, cp Capture) (c *ingest.Capture, close func() error, err error) {
	if cp.object == nil {
		c, err := ingest.Open(cp.Path, ingest.Options{})
		return c, func() error { return nil }, err
	}
	r, err := cp.store.Open(ctx, *cp.object)
	if err != nil {
		return nil, nil, err
	}
	c, err = ingest.NewSizedReader(cp.Path, r, r.Size, ingest.Options{})
	if err != nil {
		r.Close()
		return nil, nil, err
	}
	return c, r.Close, nil
}

// describeCapture is a capture's manifest entry before it is read.
func describeCapture(cp Capture) report.Input {
	in := report.Input{Path: cp.Path, Name: filepath.Base(cp.Path), Source: "file", Status: report.StatusOK}
	if cp.object != nil {
		in.Name, in.Source = provenance.SafeText(path.Base(cp.object.URL.Key)), "s3"
		in.Size, in.ETag = cp.object.Size, cp.object.ETag
	}
	return in
}

// openFailed describes a capture that could not be opened: a local file
// is hashed anyway (the manifest proves what was offered), an object keeps
// its listed size and ETag. The error says what to do.
func openFailed(cp Capture, in *report.Input, err error) error {
	in.Status, in.Error = report.StatusFailed, err.Error()
	var oe *objstore.Error
	if errors.As(err, &oe) {
		return fmt.Errorf("%w (skipped)", err)
	}
	if cp.object == nil {
		if f, herr := provenance.HashFile(cp.Path); herr == nil {
			in.Size, in.SHA256 = f.Size, f.SHA256
		}
	}
	return fmt.Errorf("%w (skipped: only pcap and pcapng captures, optionally gzip-compressed, can be analyzed)", err)
}

// maxAuditBytes caps the stored audit trail fetched to be appended to.
const maxAuditBytes = 256 << 20

// analyzeToStore runs Analyze into a local staging directory and uploads
// what it wrote under the s3:// prefix o.Out. The stored audit.jsonl is
// fetched first (which also checks the bucket and the credentials before
// any work) and the new entry appended to it; it is uploaded last, on the
// condition that nobody wrote it meanwhile, after manifest.json, after the
// files they describe. Each upload appears only when complete; one that
// fails is aborted and the run fails. The manifest's output hashes are
// checked against those of the bytes uploaded.
func analyzeToStore(ctx context.Context, args []string, o Options) (*Result, error) {
	dst, err := objstore.ParseURL(o.Out)
	if err != nil {
		return nil, fmt.Errorf("output: %w", err)
	}
	st := &stores{cfg: o.S3}
	c, err := st.client(ctx)
	if err != nil {
		return nil, err
	}
	stage, err := os.MkdirTemp("", "flowproof-out-*")
	if err != nil {
		return nil, fmt.Errorf("create the staging directory: %w", err)
	}
	defer os.RemoveAll(stage)
	auditCond, err := fetchAudit(ctx, c, dst, stage)
	if err != nil {
		return nil, err
	}
	local := o
	local.Out = stage
	local.stores = st
	res, err := Analyze(ctx, args, local)
	if res == nil {
		return nil, err
	}
	ups, perr := c.Publish(ctx, objstore.Publication{
		Dir: stage, To: dst,
		Last: []string{report.ManifestFile, provenance.AuditFileName},
		Cond: func(rel string) objstore.Put {
			if rel == provenance.AuditFileName {
				return auditCond
			}
			return objstore.Put{}
		},
	})
	if perr != nil {
		if errors.Is(perr, objstore.ErrChanged) {
			perr = fmt.Errorf("%w (another run wrote %s meanwhile; the outputs before it are stored: run again to record this run in the trail)", perr, dst.Join(provenance.AuditFileName))
		}
		return nil, fmt.Errorf("upload the outputs to %s: %w", dst, perr)
	}
	sent := map[string]string{}
	for _, up := range ups {
		sent[dst.Rel(up.URL)] = up.SHA256
	}
	for _, f := range res.Manifest.Outputs {
		if sent[f.Name] != f.SHA256 {
			return nil, fmt.Errorf("%s: uploaded with SHA-256 %q, the manifest records %s: the staged file changed during the upload; run again", dst.Join(f.Name), sent[f.Name], f.SHA256)
		}
	}
	res.Dir = dst.String()
	if err != nil && !errors.Is(err, ErrPartial) {
		err = errors.New(strings.ReplaceAll(err.Error(), stage, dst.String())) // it names the output
	}
	return res, err
}

// fetchAudit copies the stored audit trail under dst, if any, into dir,
// and returns the condition its replacement is uploaded on: that it is
// still the version fetched (or still absent).
func fetchAudit(ctx context.Context, c *objstore.Client, dst objstore.URL, dir string) (objstore.Put, error) {
	u := dst.Join(provenance.AuditFileName)
	listed, err := c.List(ctx, u)
	if err != nil {
		return objstore.Put{}, err
	}
	var obj *objstore.Object
	for i := range listed {
		if listed[i].URL == u {
			obj = &listed[i]
		}
	}
	if obj == nil {
		return objstore.Put{IfAbsent: true}, nil
	}
	if obj.Size > maxAuditBytes {
		return objstore.Put{}, fmt.Errorf("%s: %d bytes, more than the %d an audit trail is read up to: start a new output prefix", u, obj.Size, maxAuditBytes)
	}
	r, err := c.Open(ctx, *obj)
	if err != nil {
		return objstore.Put{}, err
	}
	defer r.Close()
	f, err := os.Create(filepath.Join(dir, provenance.AuditFileName))
	if err != nil {
		return objstore.Put{}, err
	}
	if _, err := io.Copy(f, r); err != nil {
		f.Close()
		return objstore.Put{}, err
	}
	if err := f.Close(); err != nil {
		return objstore.Put{}, err
	}
	return objstore.Put{IfMatch: r.ETag}, nil
}
