package provenance

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"os"
	"path/filepath"
)

// WriteFile writes data to path atomically (see the package doc), created
// with perm (less the umask), and returns its record named by path's base
// name.
func WriteFile(path string, data []byte, perm os.FileMode) (File, error) {
	a, err := CreateTemp(filepath.Dir(path), filepath.Base(path), perm)
	if err != nil {
		return File{}, err
	}
	if _, err := a.Write(data); err != nil {
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

// CreateTemp creates a temporary file in dir for a file named base, with
// perm (less the umask): its name is "." + base + ".RANDOM.tmp", hidden from
// a plain ls. It is a new file: an existing name (a planted link) is never
// opened.
func CreateTemp(dir, base string, perm os.FileMode) (*AtomicFile, error) {
	for range 100 {
		path := filepath.Join(dir, "."+base+"."+randomSuffix()+".tmp")
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
		if errors.Is(err, os.ErrExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		return &AtomicFile{f: f, tmp: path, h: sha256.New()}, nil
	}
	return nil, fmt.Errorf("create a temporary file in %s: every name tried exists", dir)
}

func randomSuffix() string {
	var b [6]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// CreatePart creates base + ".part", for a download whose progress a user
// may watch, with perm (less the umask). The name must not exist: a file or
// link already there is neither followed nor overwritten.
func CreatePart(base string, perm os.FileMode) (*AtomicFile, error) {
	path := base + ".part"
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
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
