package analyze_test

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/flowproof/flowproof/analyze"
	"github.com/flowproof/flowproof/ingest"
)

// corpusDir is the shared public corpus beside the project checkout.
var corpusDir = filepath.Join("..", "..", "shared", "corpus", "public")

// tsharkConv is one row of a reference/**.flows.tsv file.
type tsharkConv struct {
	proto                   string
	aIP, bIP                string
	aPort, bPort            string
	framesAB, framesBA      int64
	wireAB, wireBA          int64
	payloadAB, payloadBA    int64
	firstNs, lastNs, irttNs int64
	hasIRTT                 bool
}

func readReference(t *testing.T, path string) []tsharkConv {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []tsharkConv
	sc := bufio.NewScanner(f)
	sc.Scan() // header
	for sc.Scan() {
		c := strings.Split(sc.Text(), "\t")
		if len(c) != 15 {
			t.Fatalf("%s: want 15 columns, got %d: %q", path, len(c), sc.Text())
		}
		n := func(i int) int64 {
			v, err := strconv.ParseInt(c[i], 10, 64)
			if err != nil {
				t.Fatalf("%s: column %d: %v", path, i, err)
			}
			return v
		}
		r := tsharkConv{proto: c[0], aIP: c[2], aPort: c[3], bIP: c[4], bPort: c[5],
			framesAB: n(6), framesBA: n(7), wireAB: n(8), wireBA: n(9), payloadAB: n(10), payloadBA: n(11),
			firstNs: n(12), lastNs: n(13)}
		if c[14] != "" {
			r.irttNs, r.hasIRTT = n(14), true
		}
		out = append(out, r)
	}
	return out
}

// conv turns a flowproof record into tshark's A/B orientation: A sent the
// first packet, which is the responder when the direction was flipped.
func conv(r *analyze.Record) tsharkConv {
	c := tsharkConv{proto: r.Proto,
		aIP: r.SrcIP.String(), aPort: strconv.Itoa(int(r.SrcPort)),
		bIP: r.DstIP.String(), bPort: strconv.Itoa(int(r.DstPort)),
		framesAB: r.OrigPkts, framesBA: r.RespPkts, wireAB: r.OrigWireBytes, wireBA: r.RespWireBytes,
		payloadAB: r.OrigBytes, payloadBA: r.RespBytes, firstNs: r.TsNs, lastNs: r.EndNs,
		irttNs: r.RTTHandshake.V, hasIRTT: r.RTTHandshake.Valid}
	if strings.HasPrefix(r.History, "^") {
		c.aIP, c.bIP, c.aPort, c.bPort = c.bIP, c.aIP, c.bPort, c.aPort
		c.framesAB, c.framesBA = c.framesBA, c.framesAB
		c.wireAB, c.wireBA = c.wireBA, c.wireAB
		c.payloadAB, c.payloadBA = c.payloadBA, c.payloadAB
	}
	return c
}

func (c tsharkConv) key() string {
	return fmt.Sprintf("%s %s:%s %s:%s %d", c.proto, c.aIP, c.aPort, c.bIP, c.bPort, c.firstNs)
}

// fileResult is the outcome of one capture against its reference.
type fileResult struct {
	name           string
	convs, matched int
	kinds          [16]int64
	diffs          []string
	readErr        error
}

func analyzeFile(path string) (recs []analyze.Record, tbl *analyze.Table, err error) {
	c, err := ingest.Open(path, ingest.Options{})
	if err != nil {
		return nil, nil, err
	}
	defer c.Close()
	tbl = analyze.NewTable(analyze.Config{}, filepath.Base(path), 1, func(r *analyze.Record) { recs = append(recs, *r) })
	err = analyze.Run(c, tbl)
	tbl.Flush()
	return recs, tbl, err
}

func compareFile(t *testing.T, capPath, refPath string) fileResult {
	res := fileResult{name: capPath}
	ref := readReference(t, refPath)
	recs, tbl, err := analyzeFile(capPath)
	res.readErr = err
	if tbl != nil {
		copy(res.kinds[:], tbl.Kinds[:])
	}
	ours := map[string]tsharkConv{}
	for i := range recs {
		c := conv(&recs[i])
		ours[c.key()] = c
	}
	res.convs = len(ref)
	for _, want := range ref {
		got, ok := ours[want.key()]
		if !ok {
			res.diffs = append(res.diffs, "missing "+want.key())
			continue
		}
		delete(ours, want.key())
		if got != want {
			res.diffs = append(res.diffs, fmt.Sprintf("differs %s\n\t got %+v\n\twant %+v", want.key(), got, want))
			continue
		}
		res.matched++
	}
	for k := range ours {
		res.diffs = append(res.diffs, "extra "+k)
	}
	sort.Strings(res.diffs)
	return res
}

// TestConformanceTshark compares every capture of the public corpus that has
// a tshark reference, conversation by conversation.
func TestConformanceTshark(t *testing.T) {
	refRoot := filepath.Join(corpusDir, "reference")
	if _, err := os.Stat(refRoot); err != nil {
		t.Skipf("public corpus not found at %s (it sits beside the project in CI): %v", corpusDir, err)
	}
	var refs []string
	filepath.WalkDir(refRoot, func(p string, d fs.DirEntry, err error) error {
		if err == nil && strings.HasSuffix(p, ".flows.tsv") {
			refs = append(refs, p)
		}
		return nil
	})
	var files, filesOK, convs, convsOK int
	for _, ref := range refs {
		rel, _ := filepath.Rel(refRoot, strings.TrimSuffix(ref, ".flows.tsv"))
		capPath := filepath.Join(corpusDir, rel)
		if strings.Contains(rel, "malformed"+string(filepath.Separator)) {
			continue
		}
		res := compareFile(t, capPath, ref)
		files++
		convs += res.convs
		convsOK += res.matched
		if len(res.diffs) == 0 {
			filesOK++
			continue
		}
		var rerr *ingest.FormatError
		msg := ""
		if res.readErr != nil && !errors.As(res.readErr, &rerr) {
			msg = " read error: " + res.readErr.Error()
		}
		n := len(res.diffs)
		if n > 3 {
			res.diffs = res.diffs[:3]
		}
		t.Logf("%s: %d/%d conversations match%s; %d diffs, first: %s", rel, res.matched, res.convs, msg, n, strings.Join(res.diffs, "\n  "))
	}
	t.Logf("agreement: files %d/%d, conversations %d/%d", filesOK, files, convsOK, convs)
}

// TestConformanceOne prints every difference for the capture named by
// FLOWPROOF_CONFORMANCE_FILE (a path relative to the corpus), for debugging.
func TestConformanceOne(t *testing.T) {
	rel := os.Getenv("FLOWPROOF_CONFORMANCE_FILE")
	if rel == "" {
		t.Skip("set FLOWPROOF_CONFORMANCE_FILE to a corpus-relative capture path")
	}
	res := compareFile(t, filepath.Join(corpusDir, rel), filepath.Join(corpusDir, "reference", rel+".flows.tsv"))
	t.Logf("%d/%d match, read error %v, kinds %v", res.matched, res.convs, res.readErr, res.kinds)
	for _, d := range res.diffs {
		t.Log(d)
	}
}
