package objstore

import (
	"context"
	"fmt"
	"io/fs"
	"path"
	"path/filepath"
	"slices"
	"strings"
)

// Publication is a local directory to store under a prefix.
type Publication struct {
	Dir string // local directory: every regular file below it is uploaded
	To  URL    // the prefix the files go under, by their slash-separated relative names
	// Last names files (relative) uploaded after all the others, in this
	// order: a manifest, then an audit trail, so that whoever sees them
	// sees the files they describe already stored.
	Last []string
	// Owned are the directories (relative to To, ending in "/") that this
	// publication replaces whole: after the uploads, every object under
	// them that was not just uploaded is deleted. Each segment is a
	// path.Match pattern, so a shard of a hive layout owns
	// "flows/date=*/shard=0003/" across every date, besides
	// "shards/shard=0003/".
	Owned []string
	// Cond gives an upload's conditions by relative name (nil: none).
	Cond func(rel string) Put
}

// Publish uploads every file of p.Dir under p.To (each with Upload: visible
// only when whole), then deletes what is stale under p.Owned. It stops at
// the first failure: the objects uploaded before it stay, the failed one
// keeps its earlier content, nothing is deleted.
func (c *Client) Publish(ctx context.Context, p Publication) ([]Uploaded, error) {
	for _, pat := range p.Owned {
		if _, _, err := ownedPattern(pat); err != nil {
			return nil, err
		}
	}
	var rels []string
	err := filepath.WalkDir(p.Dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() {
			rel, err := filepath.Rel(p.Dir, path)
			if err != nil {
				return err
			}
			rels = append(rels, filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("publish %s: %w", p.Dir, err)
	}
	sort := func(rel string) int { // 0 for the others, then 1, 2, ... for Last
		return slices.Index(p.Last, rel) + 1
	}
	slices.SortStableFunc(rels, func(a, b string) int {
		if d := sort(a) - sort(b); d != 0 {
			return d
		}
		return strings.Compare(a, b)
	})
	var done []Uploaded
	keep := map[string]bool{}
	for _, rel := range rels {
		var cond Put
		if p.Cond != nil {
			cond = p.Cond(rel)
		}
		up, err := c.UploadFile(ctx, p.To.Join(rel), filepath.Join(p.Dir, filepath.FromSlash(rel)), cond)
		if err != nil {
			return done, err
		}
		done = append(done, up)
		keep[up.URL.Key] = true
	}
	for _, pat := range p.Owned {
		if err := c.deleteOwned(ctx, p.To, pat, keep); err != nil {
			return done, err
		}
	}
	return done, nil
}

// deleteOwned deletes the objects under the directories pat matches
// (relative to to; see Publication.Owned) whose keys are not in keep.
func (c *Client) deleteOwned(ctx context.Context, to URL, pat string, keep map[string]bool) error {
	segs, literal, err := ownedPattern(pat)
	if err != nil {
		return err
	}
	base := to.Dir()
	if literal > 0 {
		base = to.Join(strings.Join(segs[:literal], "/") + "/")
	}
	objs, err := c.List(ctx, base)
	if err != nil {
		return err
	}
	var stale []string
	for _, o := range objs {
		if !keep[o.URL.Key] && ownedBy(segs, to.Rel(o.URL)) {
			stale = append(stale, o.URL.Key)
		}
	}
	return c.Delete(ctx, to.Bucket, stale)
}

// ownedPattern splits an owned directory's pattern into its segments, and
// counts the leading ones without wildcards (a prefix to list).
func ownedPattern(pat string) (segs []string, literal int, err error) {
	segs = strings.Split(strings.TrimSuffix(pat, "/"), "/")
	literal = -1
	for i, s := range segs {
		if _, err := path.Match(s, ""); err != nil || s == "" {
			return nil, 0, fmt.Errorf("publish: owned directory %q: not a slash-separated list of path.Match patterns", pat)
		}
		if literal < 0 && strings.ContainsAny(s, `*?[\`) {
			literal = i
		}
	}
	if literal < 0 {
		literal = len(segs)
	}
	return segs, literal, nil
}

// ownedBy says whether rel lies below a directory whose segments match
// segs.
func ownedBy(segs []string, rel string) bool {
	parts := strings.Split(rel, "/")
	if len(parts) <= len(segs) {
		return false
	}
	for i, s := range segs {
		if ok, _ := path.Match(s, parts[i]); !ok {
			return false
		}
	}
	return true
}
