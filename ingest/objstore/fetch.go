package objstore

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// Fetch copies every object under prefix into dir, by its key relative to
// the prefix (a/b.parquet becomes dir/a/b.parquet), each pinned to its
// listed version, and returns what it copied. A key that would land
// outside dir (a ".." segment, an absolute or empty name) is refused: keys
// are chosen by whoever writes the bucket. Keys ending in "/" (folder
// markers) are skipped. It is how a step that needs files (merge, verify)
// stages a stored output.
func (c *Client) Fetch(ctx context.Context, prefix URL, dir string) ([]Object, error) {
	prefix = prefix.Dir()
	objs, err := c.List(ctx, prefix)
	if err != nil {
		return nil, err
	}
	var got []Object
	for _, o := range objs {
		rel := prefix.Rel(o.URL)
		if strings.HasSuffix(rel, "/") {
			continue
		}
		name, ok := localName(rel)
		if !ok {
			return got, &Error{Op: "fetch", URL: o.URL, Msg: fmt.Sprintf("the key's name %q under the prefix is not a plain relative path", rel), Hint: "remove or rename the object"}
		}
		if err := c.fetchOne(ctx, o, filepath.Join(dir, name)); err != nil {
			return got, err
		}
		got = append(got, o)
	}
	return got, nil
}

func (c *Client) fetchOne(ctx context.Context, o Object, path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	r, err := c.Open(ctx, o)
	if err != nil {
		return err
	}
	defer r.Close()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return fmt.Errorf("fetch %s: %w", o.URL, err)
	}
	if _, err := io.Copy(f, r); err != nil {
		f.Close()
		os.Remove(path)
		return err
	}
	return f.Close()
}

// localName is the local relative path of a key's name under a prefix, and
// whether it stays inside the directory it is joined to.
func localName(rel string) (string, bool) {
	if strings.Contains(rel, "\\") {
		return "", false
	}
	for _, seg := range strings.Split(rel, "/") {
		if seg == "" || seg == "." || seg == ".." {
			return "", false
		}
	}
	name := filepath.FromSlash(rel)
	return name, filepath.IsLocal(name)
}
