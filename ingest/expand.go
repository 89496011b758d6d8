package ingest

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// Expand turns command-line arguments into the files to read. A file is kept
// as given, whatever its name or type. A directory is walked recursively in
// lexical order; below it, names starting with "." are skipped (hidden files
// and directories), every other regular file is kept, whatever its name,
// since only its content says whether it is a capture. Symbolic links to
// files are kept; links to directories are not followed (they could loop),
// and devices, pipes and sockets inside a directory are skipped (opening a
// pipe could block). A path named twice is listed once.
//
// A missing argument, or a directory that cannot be read, is an error that
// names the path. Expand does not open the files: the caller opens each one
// and reports, per file, the ones that are not captures (ErrNotCapture),
// so one stray file does not stop a batch.
func Expand(paths []string) ([]string, error) {
	var files []string
	seen := make(map[string]bool)
	keep := func(path string) {
		if key := filepath.Clean(path); !seen[key] {
			seen[key] = true
			files = append(files, path)
		}
	}
	for _, arg := range paths {
		st, err := os.Stat(arg)
		if err != nil {
			return nil, err
		}
		if !st.IsDir() {
			keep(arg)
			continue
		}
		err = filepath.WalkDir(arg, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if path != arg && strings.HasPrefix(d.Name(), ".") {
				if d.IsDir() {
					return filepath.SkipDir
				}
				return nil
			}
			switch {
			case d.Type().IsRegular():
				keep(path)
			case d.Type()&fs.ModeSymlink != 0:
				// A broken link is kept so that opening it reports the problem.
				if target, err := os.Stat(path); err != nil || target.Mode().IsRegular() {
					keep(path)
				}
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	return files, nil
}
