package pipeline

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/flowproof/flowproof/provenance"
	"github.com/flowproof/flowproof/report"
)

// Store is where a sharded run's outputs live, named by slash-separated
// paths relative to its root (an output directory, or an object-store
// prefix). Everything the sharded writer and merge read or write goes
// through it, so another implementation (object storage) can take the
// local directory's place.
type Store interface {
	// List returns every complete file under prefix ("" for all), sorted
	// by name. Files still being written are not listed.
	List(ctx context.Context, prefix string) ([]StoreEntry, error)
	// Open opens a complete file for reading; a missing one is an error
	// that errors.Is(err, fs.ErrNotExist).
	Open(ctx context.Context, name string) (StoreFile, error)
	// Create starts a file that becomes visible under name, whole, only
	// when Commit returns: a reader never sees it half-written, and an
	// earlier file of that name is replaced at once.
	Create(ctx context.Context, name string) (StoreWriter, error)
	// Remove removes a file; a missing one is no error.
	Remove(ctx context.Context, name string) error
	// String names the store in messages.
	String() string
}

// StoreEntry is a listed file.
type StoreEntry struct {
	Name string
	Size int64
}

// StoreFile is a file opened for reading: Parquet readers need ReadAt.
type StoreFile interface {
	io.Reader
	io.ReaderAt
	io.Closer
	Size() int64
}

// StoreWriter is a file being written. Commit makes it visible and returns
// its name, size and SHA-256; Abort (a no-op after Commit) discards it.
type StoreWriter interface {
	io.Writer
	Commit() (provenance.File, error)
	Abort()
}

// DirStore is a Store over a local directory.
type DirStore struct{ Dir string }

func (d DirStore) String() string { return d.Dir }

// path turns a store name into a local path, refusing names that would
// leave the directory.
func (d DirStore) path(name string) (string, error) {
	if err := storeName(name); err != nil {
		return "", err
	}
	return filepath.Join(d.Dir, filepath.FromSlash(name)), nil
}

// List walks the directory; temporary files of writes in progress (names
// starting with a dot) are not listed.
func (d DirStore) List(ctx context.Context, prefix string) ([]StoreEntry, error) {
	var out []StoreEntry
	root := d.Dir
	err := filepath.WalkDir(root, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) && p == root {
				return fs.SkipAll
			}
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		rel = filepath.ToSlash(rel)
		if e.IsDir() {
			// Skip subtrees that cannot hold the prefix.
			if rel != "." && !strings.HasPrefix(rel+"/", prefix) && !strings.HasPrefix(prefix, rel+"/") {
				return fs.SkipDir
			}
			return nil
		}
		if strings.HasPrefix(e.Name(), ".") || !strings.HasPrefix(rel, prefix) || !e.Type().IsRegular() {
			return nil
		}
		info, err := e.Info()
		if err != nil {
			return err
		}
		out = append(out, StoreEntry{Name: rel, Size: info.Size()})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", d.Dir, err)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

type dirFile struct {
	*os.File
	size int64
}

func (f dirFile) Size() int64 { return f.size }

func (d DirStore) Open(_ context.Context, name string) (StoreFile, error) {
	p, err := d.path(name)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	return dirFile{f, st.Size()}, nil
}

type dirWriter struct {
	*provenance.AtomicFile
	final, name string
}

func (w *dirWriter) Commit() (provenance.File, error) {
	f, err := w.AtomicFile.Commit(w.final)
	f.Name = w.name
	return f, err
}

func (d DirStore) Create(_ context.Context, name string) (StoreWriter, error) {
	p, err := d.path(name)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return nil, err
	}
	a, err := provenance.CreateTemp(filepath.Dir(p), filepath.Base(p), 0o644)
	if err != nil {
		return nil, err
	}
	return &dirWriter{AtomicFile: a, final: p, name: name}, nil
}

// Remove removes name, and the shard partition directory (shard=NNNN)
// holding it when that is left empty: a rerun that no longer has a day's
// rows leaves no empty partition of its own. The date=D directory above
// stays, as other shards may be writing into it.
func (d DirStore) Remove(_ context.Context, name string) error {
	p, err := d.path(name)
	if err != nil {
		return err
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if dir := filepath.Dir(p); strings.HasPrefix(filepath.Base(dir), "shard=") {
		os.Remove(dir) // fails, harmlessly, when not empty
	}
	return nil
}

// storeWrite writes data to name in st.
func storeWrite(ctx context.Context, st Store, name string, data []byte) (provenance.File, error) {
	w, err := st.Create(ctx, name)
	if err != nil {
		return provenance.File{}, fmt.Errorf("create %s: %w", name, err)
	}
	if _, err := w.Write(data); err != nil {
		w.Abort()
		return provenance.File{}, fmt.Errorf("write %s: %w", name, err)
	}
	f, err := w.Commit()
	if err != nil {
		return f, fmt.Errorf("write %s: %w", name, err)
	}
	return f, nil
}

// storeRead reads a small file (a manifest, audit.jsonl) whole, refusing
// one larger than limit.
func storeRead(ctx context.Context, st Store, name string, limit int64) ([]byte, error) {
	f, err := st.Open(ctx, name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if f.Size() > limit {
		return nil, fmt.Errorf("%s: %d bytes, more than the %d a %s may have", name, f.Size(), limit, path.Base(name))
	}
	return io.ReadAll(io.LimitReader(f, limit+1))
}

// storeHash returns the size and SHA-256 of a stored file, read whole.
func storeHash(ctx context.Context, st Store, name string) (provenance.File, error) {
	f, err := st.Open(ctx, name)
	if err != nil {
		return provenance.File{}, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return provenance.File{}, fmt.Errorf("read %s: %w", name, err)
	}
	return provenance.File{Name: name, Size: n, SHA256: hex.EncodeToString(h.Sum(nil))}, nil
}

// writeManifestAndAudit writes a step's manifest and appends its audit
// entry in the store directory prefix ("" or ending in a slash), as
// writeOutputs does in a local directory: the entry's seq is set through
// seq before marshal makes the manifest (which names it), and the entry
// records the manifest's SHA-256. The trail is read, appended to and
// written back whole (an object store cannot append).
func writeManifestAndAudit(ctx context.Context, st Store, prefix, step string, seq *int64, marshal func() ([]byte, error), ins []provenance.AuditFile, m *report.Manifest) error {
	tmp, err := os.MkdirTemp("", "flowproof-audit-")
	if err != nil {
		return fmt.Errorf("create staging directory: %w", err)
	}
	defer os.RemoveAll(tmp)
	trail := prefix + provenance.AuditFileName
	b, err := storeRead(ctx, st, trail, maxAuditBytes)
	switch {
	case err == nil:
		if err := os.WriteFile(filepath.Join(tmp, provenance.AuditFileName), b, 0o644); err != nil {
			return err
		}
	case !errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("read %s: %w", trail, err)
	}
	if *seq, err = provenance.NextAuditSeq(tmp); err != nil {
		return fmt.Errorf("%s: %w", trail, err)
	}
	data, err := marshal()
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(tmp, ShardManifestFile), data, 0o644); err != nil {
		return err
	}
	if _, err := storeWrite(ctx, st, prefix+ShardManifestFile, data); err != nil {
		return err
	}
	if _, err := provenance.AppendStep(tmp, provenance.Step{Seq: *seq, Name: step, Time: m.Finished.Time, Tool: m.Tool, Command: m.Command,
		Parameters: m.Settings, Inputs: ins, Outputs: m.Outputs, Manifest: ShardManifestFile}); err != nil {
		return err
	}
	b, err = os.ReadFile(filepath.Join(tmp, provenance.AuditFileName))
	if err != nil {
		return err
	}
	_, err = storeWrite(ctx, st, trail, b)
	return err
}
