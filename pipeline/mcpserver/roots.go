package mcpserver

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// roots are the directories every path a tool receives must lie in, each
// absolute, cleaned and with its symbolic links evaluated.
type roots []string

func newRoots(dirs []string) (roots, error) {
	if len(dirs) == 0 {
		return nil, errors.New("no root: give at least one directory the tools may read and write in")
	}
	var rs roots
	for _, d := range dirs {
		abs, err := filepath.Abs(d)
		if err != nil {
			return nil, fmt.Errorf("root %s: %w", d, err)
		}
		real, err := filepath.EvalSymlinks(abs)
		if err != nil {
			return nil, fmt.Errorf("root %s: %w", d, err)
		}
		st, err := os.Stat(real)
		if err != nil {
			return nil, fmt.Errorf("root %s: %w", d, err)
		}
		if !st.IsDir() {
			return nil, fmt.Errorf("root %s: not a directory", d)
		}
		rs = append(rs, real)
	}
	return rs, nil
}

// within reports whether the resolved path p is a root or lies below one.
func (rs roots) within(p string) bool {
	for _, r := range rs {
		if p == r {
			return true
		}
		if rel, err := filepath.Rel(r, p); err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) && !filepath.IsAbs(rel) {
			return true
		}
	}
	return false
}

// errOutside is the error of a path that resolves outside every root.
type errOutside struct{ arg, name string }

func (e *errOutside) Error() string {
	return fmt.Sprintf("%s %q is outside the directories this server may use (its --root): give a path inside one of them", e.arg, e.name)
}

// maxPath is the longest path a tool may give (PATH_MAX on Linux).
const maxPath = 4096

// checkPath refuses what no path is.
func checkPath(arg, p string) error {
	switch {
	case p == "":
		return fmt.Errorf("%s is empty: give a path inside a root", arg)
	case len(p) > maxPath:
		return fmt.Errorf("%s is %d bytes long, over %d: give a shorter path", arg, len(p), maxPath)
	case strings.ContainsRune(p, 0):
		return fmt.Errorf("%s holds a NUL byte", arg)
	}
	return nil
}

// abs makes a tool's path absolute: a relative one is taken relative to the
// first root, and ".." elements are cleaned away.
func (rs roots) abs(p string) string {
	if !filepath.IsAbs(p) {
		p = filepath.Join(rs[0], p)
	}
	return filepath.Clean(p)
}

// existing resolves a path that must exist (an input): its symbolic links
// are evaluated, and the result must lie in a root.
func (rs roots) existing(arg, p string) (string, error) {
	if err := checkPath(arg, p); err != nil {
		return "", err
	}
	real, err := filepath.EvalSymlinks(rs.abs(p))
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return "", fmt.Errorf("%s %q does not exist", arg, p)
		}
		return "", fmt.Errorf("%s %q: %v", arg, p, err)
	}
	if !rs.within(real) {
		return "", &errOutside{arg, p}
	}
	return real, nil
}

// output resolves a directory that may not exist yet: its nearest existing
// ancestor, symbolic links evaluated, must lie in a root, and so must the
// whole path built on it. An existing path must be a directory.
func (rs roots) output(arg, p string) (string, error) {
	if err := checkPath(arg, p); err != nil {
		return "", err
	}
	cur := rs.abs(p)
	var rest []string
	for {
		real, err := filepath.EvalSymlinks(cur)
		if err == nil {
			full := filepath.Join(append([]string{real}, rest...)...)
			if !rs.within(real) || !rs.within(full) {
				return "", &errOutside{arg, p}
			}
			st, err := os.Stat(full)
			switch {
			case err == nil && !st.IsDir():
				return "", fmt.Errorf("%s %q is not a directory", arg, p)
			case err != nil && !errors.Is(err, fs.ErrNotExist):
				return "", fmt.Errorf("%s %q: %v", arg, p, err)
			}
			return full, nil
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return "", fmt.Errorf("%s %q: %v", arg, p, err)
		}
		parent := filepath.Dir(cur)
		if parent == cur {
			return "", &errOutside{arg, p}
		}
		// A dangling symbolic link is not a missing directory: creating
		// the directory would follow it.
		if _, lerr := os.Lstat(cur); lerr == nil {
			return "", fmt.Errorf("%s %q: %s is a dangling symbolic link", arg, p, cur)
		}
		rest = append([]string{filepath.Base(cur)}, rest...)
		cur = parent
	}
}
