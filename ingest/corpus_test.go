package ingest

import (
	"encoding/csv"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// publicCorpusDir is the shared corpus of public captures:
// ../shared/corpus/public relative to the module root.
func publicCorpusDir() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the test's directory")
		}
		dir = parent
	}
	corpus := filepath.Join(dir, "..", "shared", "corpus", "public")
	if _, err := os.Stat(filepath.Join(corpus, "sources.tsv")); err != nil {
		return "", err
	}
	return corpus, nil
}

func publicCorpus(t *testing.T) string {
	t.Helper()
	corpus, err := publicCorpusDir()
	if err != nil {
		t.Skipf("public capture corpus not found (module root/../shared/corpus/public): %v", err)
	}
	return corpus
}

// corpusEntry is one row of sources.tsv.
type corpusEntry struct {
	format    string // file_format: pcap, nsecpcap, modpcap, pcapng, "pcap (gzip compressed)"
	linkTypes []LinkType
	packets   string // a number, or "n/a ..." for unreadable files
	size      int64
	sha256    string
	malformed bool
}

func readSources(t *testing.T, corpus string) map[string]corpusEntry {
	f, err := os.Open(filepath.Join(corpus, "sources.tsv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r := csv.NewReader(f)
	r.Comma = '\t'
	r.LazyQuotes = true
	rows, err := r.ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	col := make(map[string]int)
	for i, name := range rows[0] {
		col[name] = i
	}
	for _, name := range []string{"file", "file_format", "link_type", "packets", "size_bytes", "sha256", "malformed"} {
		if _, ok := col[name]; !ok {
			t.Fatalf("sources.tsv has no column %q", name)
		}
	}
	entries := make(map[string]corpusEntry)
	for _, row := range rows[1:] {
		e := corpusEntry{
			format:    row[col["file_format"]],
			packets:   row[col["packets"]],
			sha256:    row[col["sha256"]],
			malformed: row[col["malformed"]] == "yes",
		}
		if e.size, err = strconv.ParseInt(row[col["size_bytes"]], 10, 64); err != nil {
			t.Fatalf("%s: size_bytes: %v", row[col["file"]], err)
		}
		// "1(EN10MB),0(NULL)": one entry per pcapng interface.
		for _, lt := range strings.Split(row[col["link_type"]], ",") {
			n, err := strconv.Atoi(lt[:strings.IndexByte(lt, '(')])
			if err != nil {
				t.Fatalf("%s: link_type %q: %v", row[col["file"]], lt, err)
			}
			e.linkTypes = append(e.linkTypes, LinkType(n))
		}
		entries[filepath.FromSlash(row[col["file"]])] = e
	}
	return entries
}

var corpusFormats = map[string]string{
	"pcap":                   "pcap",
	"nsecpcap":               "pcap-ns",
	"modpcap":                "pcap-modified",
	"pcapng":                 "pcapng",
	"pcap (gzip compressed)": "pcap+gzip",
}

// TestPublicCorpus reads every file of the corpus. Listed captures must read
// to a clean end with the packet count, size, hash, format and link types
// that sources.tsv records; malformed ones must fail cleanly if at all; the
// rest (reference outputs, notes) are not captures.
func TestPublicCorpus(t *testing.T) {
	corpus := publicCorpus(t)
	entries := readSources(t, corpus)
	var files []string
	err := filepath.WalkDir(corpus, func(path string, d os.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			files = append(files, path)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	var captures, packets int64
	for _, path := range files {
		rel, _ := filepath.Rel(corpus, path)
		entry, listed := entries[rel]
		delete(entries, rel)
		pkts, info, readErr := readFile(t, path)
		var fe *FormatError
		if readErr != io.EOF && (!errors.As(readErr, &fe) || fe.File != path) {
			t.Errorf("%s: error %v (%T) is not a *FormatError naming the file", rel, readErr, readErr)
			continue
		}
		switch {
		case !listed:
			if !errors.Is(readErr, ErrNotCapture) {
				t.Errorf("%s: not a capture in sources.tsv, but reading it gave %v", rel, readErr)
			}
			continue
		case rel == filepath.FromSlash("gopacket/malformed/le-test901.pcapng"):
			// A second section of version 2.0 after one good packet.
			if !errors.Is(readErr, ErrUnsupported) || pkts != 1 {
				t.Errorf("%s: %d packets then %v; want 1 packet then ErrUnsupported", rel, pkts, readErr)
			}
		case rel == filepath.FromSlash("dpkt/malformed/truncated_dns_2.pcap"):
			if !errors.Is(readErr, ErrTruncated) || pkts != 1 || fe.Packet != 1 {
				t.Errorf("%s: %d packets then %v; want 1 packet then ErrTruncated at packet 1", rel, pkts, readErr)
			}
		case entry.malformed:
			// Malformed inside the packets, not (necessarily) in the file
			// format: a clean outcome, checked above, is all that is asked;
			// when the file reads to its end, the count must still agree.
			if readErr == io.EOF && strconv.FormatInt(pkts, 10) != entry.packets {
				t.Errorf("%s: %d packets, sources.tsv says %s", rel, pkts, entry.packets)
			}
		case readErr != io.EOF:
			t.Errorf("%s: %v after %d packets", rel, readErr, pkts)
			continue
		case strconv.FormatInt(pkts, 10) != entry.packets:
			t.Errorf("%s: %d packets, sources.tsv says %s", rel, pkts, entry.packets)
		}
		if info.Path == "" {
			continue // Open failed: there is no FileInfo to compare
		}
		captures++
		packets += pkts
		if info.Size != entry.size || info.SHA256 != entry.sha256 {
			t.Errorf("%s: size %d sha256 %s; sources.tsv says %d %s", rel, info.Size, info.SHA256, entry.size, entry.sha256)
		}
		if want, known := corpusFormats[entry.format]; known && info.Format != want {
			t.Errorf("%s: format %q, sources.tsv says %q", rel, info.Format, entry.format)
		}
		var links []LinkType
		for _, in := range info.Interfaces {
			links = append(links, in.LinkType)
		}
		if !entry.malformed && !slices.Equal(links, entry.linkTypes) {
			t.Errorf("%s: interface link types %v, sources.tsv says %v", rel, links, entry.linkTypes)
		}
	}
	for rel := range entries {
		t.Errorf("%s: listed in sources.tsv but not found", rel)
	}
	t.Logf("%d files, %d captures opened, %d packets", len(files), captures, packets)
}

// readFile reads a capture to its end, returning the packet count, the
// FileInfo (zero when Open failed) and the error that ended reading.
func readFile(t *testing.T, path string) (int64, FileInfo, error) {
	c, err := Open(path, Options{})
	if err != nil {
		return 0, FileInfo{}, err
	}
	defer c.Close()
	var p Packet
	for err == nil {
		err = c.Next(&p)
	}
	info, ferr := c.Finish()
	if ferr != nil {
		t.Errorf("%s: Finish: %v", path, ferr)
	}
	return info.Packets, info, err
}
