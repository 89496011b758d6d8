// Package testcaptures names the project's own captures that tests run
// whole analyses over: testdata/gen (generated, one day) and the captures
// of testdata/rec (recorded, another day), so the tests of a sharded run
// see flows of two UTC days.
package testcaptures

import (
	"path/filepath"
	"strings"
)

// TwoDays returns testdata/gen and every capture of testdata/rec (not
// their .tsv references), under root, the repository's top directory as
// the test sees it ("../..").
func TwoDays(root string) ([]string, error) {
	inputs := []string{filepath.Join(root, "testdata", "gen")}
	recs, err := filepath.Glob(filepath.Join(root, "testdata", "rec", "*.pcap*"))
	if err != nil {
		return nil, err
	}
	for _, r := range recs {
		if !strings.HasSuffix(r, ".tsv") {
			inputs = append(inputs, r)
		}
	}
	return inputs, nil
}
