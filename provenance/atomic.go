package provenance

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"os"
	"path/filepath"
)

// WriteFile writes data to path atomically (see the package doc) with the
// given permissions, and returns its record named by path's base name.
func WriteFile(path string, data []byte, perm os.FileMode) (File, error) {
	a, err := CreateTemp(filepath.Dir(path), filepath.Base(path))
	if err != nil {
		return File{}, err
	}
	if _, err := a.Write(data); err != nil {
		a.Abort()
		return File{}, err
	}
	if err := a.f.Chmod(perm); err != nil {
		a.Abort()
		return File{}, err
	}
	return a.Commit(path)
}

// AtomicFile is a file being written under a temporary name, hashed as it is
// written; Commit gives it its final name.
type AtomicFile struct {
	f      *os.File
	tmp    string
	h      hash.Hash
	n      int64
	closed bool
	done   bool // committed or aborted
}

// CreateTemp creates a temporary file in dir for a file named base: its name
// is "." + base + ".RANDOM.tmp", hidden from a plain ls.
func CreateTemp(dir, base string) (*AtomicFile, error) {
	f, err := os.CreateTemp(dir, "."+base+".*.tmp")
	if err != nil {
		return nil, err
	}
	return &AtomicFile{f: f, tmp: f.Name(), h: sha256.New()}, nil
}

// CreatePart creates (or truncates) base + ".part", for a download whose
// progress a user may watch.
func CreatePart(base string) (*AtomicFile, error) {
	path := base + ".part"
	f, err := os.OpenFile(path, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o644)
	if err != nil {
		return nil, err
	}
	return &AtomicFile{f: f, tmp: path, h: sha256.New()}, nil
}

// Write writes to the temporary file and adds what was written to the hash.
func (a *AtomicFile) Write(p []byte) (int, error) {
	if a.closed {
		return 0, errors.New("provenance: write after close")
	}
	n, err := a.f.Write(p)
	a.h.Write(p[:n])
	a.n += int64(n)
	return n, err
}

// TempPath is the temporary file's path, to read it back before Commit.
func (a *AtomicFile) TempPath() string { return a.tmp }

// Written returns the bytes written so far and their SHA-256.
func (a *AtomicFile) Written() (int64, string) { return a.n, hex.EncodeToString(a.h.Sum(nil)) }

// Close syncs and closes the temporary file, which stays under its
// temporary name. Calling it again does nothing.
func (a *AtomicFile) Close() error {
	if a.closed {
		return nil
	}
	a.closed = true
	err := a.f.Sync()
	if cerr := a.f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", a.tmp, err)
	}
	return nil
}

// Commit closes the file (see Close), renames it to final and syncs the
// directory. Its record is named by final's base name. On error the
// temporary file is removed.
func (a *AtomicFile) Commit(final string) (File, error) {
	if a.done {
		return File{}, errors.New("provenance: commit after commit or abort")
	}
	if err := a.Close(); err != nil {
		a.Abort()
		return File{}, err
	}
	if err := os.Rename(a.tmp, final); err != nil {
		a.Abort()
		return File{}, err
	}
	a.done = true
	if err := SyncDir(filepath.Dir(final)); err != nil {
		return File{}, err
	}
	n, sum := a.Written()
	return File{Name: filepath.Base(final), Size: n, SHA256: sum}, nil
}

// Abort closes and removes the temporary file; after Commit it does nothing.
func (a *AtomicFile) Abort() {
	if a.done {
		return
	}
	a.done = true
	if !a.closed {
		a.closed = true
		a.f.Close()
	}
	os.Remove(a.tmp)
}

// SyncDir makes the renames and creations in dir durable. A directory that
// cannot be opened for syncing (some platforms) is not an error.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return nil
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, os.ErrInvalid) {
		return fmt.Errorf("sync directory %s: %w", dir, err)
	}
	return nil
}
