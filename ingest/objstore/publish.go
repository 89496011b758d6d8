package objstore

import (
	"context"
	"fmt"
	"io/fs"
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
	// Owned are prefixes (relative to To, e.g. "shards/shard=0003/") that
	// this publication replaces whole: after the uploads, every object
	// under them that was not just uploaded is deleted.
	Owned []string
	// Cond gives an upload's conditions by relative name (nil: none).
	Cond func(rel string) Put
}

// Publish uploads every file of p.Dir under p.To (each with Upload: visible
// only when whole), then deletes what is stale under p.Owned. It stops at
// the first failure: the objects uploaded before it stay, the failed one
// keeps its earlier content, nothing is deleted.
func (c *Client) Publish(ctx context.Context, p Publication) ([]Uploaded, error) {
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
	for _, o := range p.Owned {
		if _, err := c.DeletePrefixExcept(ctx, p.To.Join(o), keep); err != nil {
			return done, err
		}
	}
	return done, nil
}
