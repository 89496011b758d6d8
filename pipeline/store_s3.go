package pipeline

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"

	"github.com/flowproof/flowproof/ingest/objstore"
	"github.com/flowproof/flowproof/provenance"
	"github.com/flowproof/flowproof/report"
)

// OpenStore opens the Store of a sharded output: a local directory, or an
// s3:// prefix (objectStore). For a prefix it checks at once that the
// bucket is there and the credentials are accepted, before any work. The
// returned close removes what the store kept on local disk.
func OpenStore(ctx context.Context, out string, cfg objstore.Config) (st Store, close func() error, err error) {
	if !objstore.IsURL(out) {
		return DirStore{Dir: out}, func() error { return nil }, nil
	}
	u, err := objstore.ParseURL(out)
	if err != nil {
		return nil, nil, fmt.Errorf("output: %w", err)
	}
	c, err := objstore.New(ctx, cfg)
	if err != nil {
		return nil, nil, err
	}
	root := u.Dir()
	if _, err := c.List(ctx, root.Join(report.ManifestFile)); err != nil {
		return nil, nil, err
	}
	cache, err := os.MkdirTemp("", "flowproof-store-")
	if err != nil {
		return nil, nil, fmt.Errorf("create staging directory: %w", err)
	}
	s := &objectStore{c: c, root: root, cache: cache, files: map[string]cached{}, read: map[string]string{}}
	return s, func() error { return os.RemoveAll(cache) }, nil
}

// objectStore is a Store over an object storage prefix. Objects are whole
// files to S3, so it works through a local directory:
//
//   - Create writes a local file; Commit uploads it (objstore's Upload:
//     visible only when complete, a failed upload aborted), which is the
//     Store's contract: never seen half-written, an earlier version
//     replaced at once.
//   - Open downloads the object once into the local directory and reads it
//     from there (Parquet readers need ReadAt); later Opens of the name read
//     that copy, so what merge hashed is what it reads, and a part set aside
//     and reopened is not fetched again. The local disk holds what was
//     opened: for merge, every table part (README: Sharded batch runs).
//   - A name that was read (or found missing) and is then written is written
//     on condition (If-Match the version read, If-None-Match when it was
//     missing): an audit trail's read-append-write loses no entry another
//     writer added meanwhile; that writer's run fails with ErrChanged.
type objectStore struct {
	c     *objstore.Client
	root  objstore.URL // a prefix (Dir)
	cache string       // local directory

	mu    sync.Mutex
	files map[string]cached // name -> local copy
	read  map[string]string // name -> ETag read ("" when it was missing)
	seq   int
}

type cached struct {
	path string
	size int64
}

func (s *objectStore) String() string { return s.root.String() }

// List lists the objects under prefix; keys ending in "/" (folder markers)
// and names starting with "." are not files of the store.
func (s *objectStore) List(ctx context.Context, prefix string) ([]StoreEntry, error) {
	objs, err := s.c.List(ctx, s.root.Join(prefix))
	if err != nil {
		return nil, err
	}
	var out []StoreEntry
	for _, o := range objs {
		name := s.root.Rel(o.URL)
		if name == "" || strings.HasSuffix(name, "/") || strings.HasPrefix(path.Base(name), ".") {
			continue
		}
		out = append(out, StoreEntry{Name: name, Size: o.Size})
	}
	return out, nil
}

// storeName refuses a name that is not a clean relative path (one that
// would leave the root).
func storeName(name string) error {
	if clean := path.Clean("/" + name)[1:]; clean != name || name == "" || strings.Contains(name, "\\") {
		return fmt.Errorf("store name %q is not a clean relative path", name)
	}
	return nil
}

// notExist is a missing object, as fs.ErrNotExist for the Store's callers.
type notExist struct{ err error }

func (e *notExist) Error() string   { return e.err.Error() }
func (e *notExist) Unwrap() []error { return []error{fs.ErrNotExist, e.err} }

// local is a temporary file name in the cache directory.
func (s *objectStore) local(name string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seq++
	return filepath.Join(s.cache, fmt.Sprintf("%06d-%s", s.seq, path.Base(name)))
}

func (s *objectStore) Open(ctx context.Context, name string) (StoreFile, error) {
	if err := storeName(name); err != nil {
		return nil, err
	}
	s.mu.Lock()
	c, ok := s.files[name]
	s.mu.Unlock()
	if !ok {
		var err error
		if c, err = s.fetch(ctx, name); err != nil {
			return nil, err
		}
	}
	f, err := os.Open(c.path)
	if err != nil {
		return nil, err
	}
	return dirFile{f, c.size}, nil
}

// fetch downloads name into the cache directory.
func (s *objectStore) fetch(ctx context.Context, name string) (cached, error) {
	u := s.root.Join(name)
	r, err := s.c.Open(ctx, objstore.Object{URL: u})
	if err != nil {
		if errors.Is(err, objstore.ErrNoObject) {
			s.mu.Lock()
			s.read[name] = ""
			s.mu.Unlock()
			return cached{}, &notExist{err}
		}
		return cached{}, err
	}
	defer r.Close()
	p := s.local(name)
	f, err := os.Create(p)
	if err != nil {
		return cached{}, err
	}
	n, err := f.ReadFrom(r)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(p)
		return cached{}, fmt.Errorf("read %s: %w", u, err)
	}
	c := cached{path: p, size: n}
	s.mu.Lock()
	s.files[name], s.read[name] = c, r.ETag
	s.mu.Unlock()
	return c, nil
}

type objectWriter struct {
	*os.File
	s    *objectStore
	ctx  context.Context
	name string
	done bool
}

func (s *objectStore) Create(ctx context.Context, name string) (StoreWriter, error) {
	if err := storeName(name); err != nil {
		return nil, err
	}
	f, err := os.Create(s.local(name))
	if err != nil {
		return nil, err
	}
	return &objectWriter{File: f, s: s, ctx: ctx, name: name}, nil
}

// Commit uploads the file, on condition when its name was read before.
func (w *objectWriter) Commit() (provenance.File, error) {
	if w.done {
		return provenance.File{}, errors.New("commit of a finished store file")
	}
	w.done = true
	s := w.s
	if err := w.File.Close(); err != nil {
		os.Remove(w.File.Name())
		return provenance.File{}, err
	}
	var cond objstore.Put
	s.mu.Lock()
	if etag, ok := s.read[w.name]; ok {
		cond = objstore.Put{IfMatch: etag, IfAbsent: etag == ""}
	}
	s.mu.Unlock()
	u := s.root.Join(w.name)
	up, err := s.c.UploadFile(w.ctx, u, w.File.Name(), cond)
	if err != nil {
		os.Remove(w.File.Name())
		if errors.Is(err, objstore.ErrChanged) {
			err = fmt.Errorf("%w (another run wrote it since this one read it: run again)", err)
		}
		return provenance.File{}, err
	}
	s.mu.Lock()
	if old, ok := s.files[w.name]; ok {
		os.Remove(old.path)
	}
	s.files[w.name], s.read[w.name] = cached{path: w.File.Name(), size: up.Size}, up.ETag
	s.mu.Unlock()
	return provenance.File{Name: w.name, Size: up.Size, SHA256: up.SHA256}, nil
}

func (w *objectWriter) Abort() {
	if w.done {
		return
	}
	w.done = true
	w.File.Close()
	os.Remove(w.File.Name())
}

func (s *objectStore) Remove(ctx context.Context, name string) error {
	if err := storeName(name); err != nil {
		return err
	}
	u := s.root.Join(name)
	if err := s.c.Delete(ctx, u.Bucket, []string{u.Key}); err != nil {
		return err
	}
	s.mu.Lock()
	if old, ok := s.files[name]; ok {
		os.Remove(old.path)
		delete(s.files, name)
	}
	delete(s.read, name)
	s.mu.Unlock()
	return nil
}
