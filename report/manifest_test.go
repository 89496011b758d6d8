package report_test

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/flowproof/flowproof/provenance"
	"github.com/flowproof/flowproof/report"
)

func sampleManifest() *report.Manifest {
	in := report.Input{
		Path:    "captures/incident.pcapng",
		Name:    "incident.pcapng",
		Source:  "file",
		Size:    123456,
		SHA256:  "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
		Format:  "pcapng",
		Packets: 1000,
		LinkTypes: []report.LinkTypeCount{
			{LinkType: 1, Name: "Ethernet", Packets: 990},
			{LinkType: 276, Name: "LinuxSLL2", Packets: 10},
		},
		Status: report.StatusOK,
	}
	in.SetTimeRange(1_700_000_000_123_456_789, 1_700_000_060_000_000_000)
	bad := report.Input{
		Path:      "captures/cut.pcap",
		Name:      "cut.pcap",
		Size:      4096,
		SHA256:    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
		Format:    "pcap",
		Packets:   3,
		LinkTypes: []report.LinkTypeCount{{LinkType: 1, Name: "Ethernet", Packets: 3}},
		Status:    report.StatusPartial,
		Error:     "captures/cut.pcap: packet 3 at byte offset 4000: file ends in the middle of a record",
	}
	bad.SetTimeRange(1_600_000_000_000_000_000, 1_600_000_000_500_000_000)
	return &report.Manifest{
		Tool:     provenance.Tool{Name: "flowproof", Version: "0.1.0"},
		Command:  provenance.RedactArgs([]string{"flowproof", "analyze", "--token", "s3cr3t", "-o", "out", "captures"}),
		Started:  provenance.Time{Time: time.Date(2026, 3, 1, 12, 0, 0, 5, time.UTC)},
		Finished: provenance.Time{Time: time.Date(2026, 3, 1, 13, 0, 1, 0, time.FixedZone("CET", 3600))},
		Settings: map[string]string{"udp-timeout": "1m0s", "tcp-timeout": "5m0s"},
		Inputs:   []report.Input{in, bad},
		Decode:   map[string]int64{"tcp": 900, "udp": 90, "arp": 7, "unsupported-linktype:147": 3},
		Warnings: []string{"cut.pcap: truncated after packet 3"},
		Outputs: []provenance.File{
			{Name: "flows.parquet", Size: 2048, SHA256: "2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae"},
		},
		Flows: 42,
	}
}

func TestManifestGolden(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "manifest.json")
	if err := report.WriteManifest(path, sampleManifest()); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "manifest.golden.json")
	if *update {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != string(want) {
		t.Errorf("manifest.json differs from %s:\n%s", golden, got)
	}

	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 {
		t.Errorf("directory holds %d entries after WriteManifest, want only manifest.json", len(entries))
	}
}

func TestManifestRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "manifest.json")
	m := sampleManifest()
	m.ManifestVersion = report.ManifestVersion
	if err := report.WriteManifest(path, m); err != nil {
		t.Fatal(err)
	}
	// Overwriting goes through the same rename.
	if err := report.WriteManifest(path, m); err != nil {
		t.Fatal(err)
	}
	got, err := report.ReadManifest(path)
	if err != nil {
		t.Fatal(err)
	}
	if !got.Started.Equal(m.Started.Time) || !got.Finished.Equal(m.Finished.Time) {
		t.Errorf("times: got %v, %v; want %v, %v", got.Started, got.Finished, m.Started, m.Finished)
	}
	got.Started, got.Finished = m.Started, m.Finished // zones differ: compared above
	if !reflect.DeepEqual(got, m) {
		t.Errorf("round trip:\n got %+v\nwant %+v", got, m)
	}
}

func TestManifestEmpty(t *testing.T) {
	b, err := report.MarshalManifest(&report.Manifest{Inputs: []report.Input{{Name: "x"}}})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"command": []`, `"settings": {}`, `"decode": {}`, `"warnings": []`, `"outputs": []`, `"link_types": []`, `"manifest_version": 1`} {
		if !contains(string(b), want) {
			t.Errorf("empty manifest lacks %s:\n%s", want, b)
		}
	}
}

func contains(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return true
		}
	}
	return false
}

func TestWriteManifestError(t *testing.T) {
	path := filepath.Join(t.TempDir(), "missing", "manifest.json")
	if err := report.WriteManifest(path, sampleManifest()); err == nil {
		t.Error("WriteManifest into a missing directory: no error")
	}
}

func TestHashFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "hello.txt")
	if err := os.WriteFile(path, []byte("hello\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := provenance.HashFile(path)
	if err != nil {
		t.Fatal(err)
	}
	want := provenance.File{Name: "hello.txt", Size: 6, SHA256: "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03"}
	if got != want {
		t.Errorf("HashFile = %+v, want %+v", got, want)
	}
	if _, err := provenance.HashFile(path + ".missing"); err == nil {
		t.Error("HashFile of a missing file: no error")
	}
}

func TestFormatTime(t *testing.T) {
	tests := []struct {
		in   time.Time
		want string
	}{
		{time.Unix(0, 1_700_000_000_123_456_789), "2023-11-14T22:13:20.123456789Z"},
		{time.Unix(0, 1_700_000_000_000_000_000), "2023-11-14T22:13:20.000000000Z"},
		{time.Date(2026, 1, 1, 1, 0, 0, 10, time.FixedZone("X", 3600)), "2026-01-01T00:00:00.000000010Z"},
	}
	for _, tt := range tests {
		if got := provenance.FormatTime(tt.in); got != tt.want {
			t.Errorf("FormatTime(%v) = %s, want %s", tt.in, got, tt.want)
		}
	}
}

func TestRedactArgs(t *testing.T) {
	tests := []struct {
		name string
		in   []string
		want []string
	}{
		{"separate value", []string{"analyze", "--token", "abc", "x.pcap"}, []string{"analyze", "--token", "REDACTED", "x.pcap"}},
		{"equals form", []string{"analyze", "--token=abc", "x.pcap"}, []string{"analyze", "--token=REDACTED", "x.pcap"}},
		{"single dash", []string{"-token", "abc", "-password=pw"}, []string{"-token", "REDACTED", "-password=REDACTED"}},
		{"all names", []string{"--license", "L", "--password", "P", "--secret=S"}, []string{"--license", "REDACTED", "--password", "REDACTED", "--secret=REDACTED"}},
		{"suffixed names", []string{"--hub-token", "t", "--db_password=p"}, []string{"--hub-token", "REDACTED", "--db_password=REDACTED"}},
		{"empty value", []string{"--token="}, []string{"--token=REDACTED"}},
		{"value equals sign", []string{"--secret=a=b"}, []string{"--secret=REDACTED"}},
		{"flag at end without value", []string{"pull", "--token"}, []string{"pull", "--token"}},
		{"value looks like a flag", []string{"--token", "-x", "-o", "out"}, []string{"--token", "REDACTED", "-o", "out"}},
		{"other flags untouched", []string{"--tokenizer", "t", "--mcp-url", "http://h", "--output=o"}, []string{"--tokenizer", "t", "--mcp-url", "http://h", "--output=o"}},
		{"positional after --", []string{"--", "--token", "file"}, []string{"--", "--token", "file"}},
		{"upper case name", []string{"--TOKEN", "abc"}, []string{"--TOKEN", "REDACTED"}},
		{"nil", nil, []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := append([]string(nil), tt.in...)
			got := provenance.RedactArgs(tt.in)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("RedactArgs(%q) = %q, want %q", tt.in, got, tt.want)
			}
			if !reflect.DeepEqual(tt.in, in) {
				t.Errorf("RedactArgs modified its input: %q", tt.in)
			}
		})
	}
}
