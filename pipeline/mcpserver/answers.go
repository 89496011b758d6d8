package mcpserver

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/parquet-go/parquet-go"

	"github.com/flowproof/flowproof/provenance"
	"github.com/flowproof/flowproof/report"
)

// Finding is one item of report.md's Findings section.
type Finding struct {
	Title   string   `json:"title"`
	Text    string   `json:"text"`
	FlowIDs []string `json:"flow_ids,omitempty"`
	Section string   `json:"section,omitempty"` // the report section with the details
}

var (
	findingLine = regexp.MustCompile(`^\d+\.\s+\*\*(.+?)\*\*:?\s*(.*)$`)
	flowIDs     = regexp.MustCompile("`([^`]+)`")
	seeSection  = regexp.MustCompile(`\s*→\s*\[([^\]]+)\]\([^)]*\)\s*$`)
)

// readFindings parses the numbered list of report.md's "## Findings".
func readFindings(dir string) ([]Finding, error) {
	md, err := readSection(dir, "Findings")
	if err != nil {
		return nil, err
	}
	out := []Finding{}
	for _, line := range strings.Split(md, "\n") {
		m := findingLine.FindStringSubmatch(strings.TrimSpace(line))
		if m == nil {
			continue
		}
		f := Finding{Title: m[1]}
		text := m[2]
		if sm := seeSection.FindStringSubmatch(text); sm != nil {
			f.Section = sm[1]
			text = text[:len(text)-len(sm[0])]
		}
		if i := strings.LastIndex(text, " Flows: "); i >= 0 {
			for _, id := range flowIDs.FindAllStringSubmatch(text[i:], -1) {
				f.FlowIDs = append(f.FlowIDs, id[1])
			}
			text = text[:i]
		}
		f.Text = strings.TrimSpace(text)
		out = append(out, f)
	}
	return out, nil
}

// maxReport is the size of report.md read at most.
const maxReport = 16 << 20

// readSection returns the Markdown of the section of report.md whose
// heading is title (any level, case-insensitive), up to the next heading of
// the same or a higher level.
func readSection(dir, title string) (string, error) {
	f, err := os.Open(filepath.Join(dir, report.ReportFile))
	if err != nil {
		return "", errorf("%s: %v", report.ReportFile, err)
	}
	defer f.Close()
	sc := bufio.NewScanner(io.LimitReader(f, maxReport))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	var b strings.Builder
	level := 0
	var headings []string
	for sc.Scan() {
		line := sc.Text()
		if l, h := heading(line); l > 0 {
			if level > 0 && l <= level {
				break
			}
			if level == 0 && strings.EqualFold(h, strings.TrimSpace(title)) {
				level = l
			}
			if level == 0 && len(headings) < 60 {
				headings = append(headings, h)
			}
		}
		if level > 0 {
			b.WriteString(line)
			b.WriteByte('\n')
		}
	}
	if err := sc.Err(); err != nil {
		return "", errorf("%s: %v", report.ReportFile, err)
	}
	if level == 0 {
		return "", errorf("report.md has no section %q; its headings: %s", title, strings.Join(headings, ", "))
	}
	return b.String(), nil
}

func heading(line string) (int, string) {
	l := 0
	for l < len(line) && line[l] == '#' {
		l++
	}
	if l == 0 || l > 6 || l >= len(line) || line[l] != ' ' {
		return 0, ""
	}
	return l, strings.TrimSpace(line[l:])
}

func reportSection(dir, title string) (any, error) {
	md, err := readSection(dir, title)
	if err != nil {
		return nil, err
	}
	return map[string]string{"output_dir": dir, "section": title, "markdown": md}, nil
}

// crossCheckCounts counts crosscheck.parquet's verdicts, flows per verdict
// (nil when there is no cross-check).
func crossCheckCounts(dir string) (map[string]int, error) {
	return verdictCounts(dir, report.CrossCheckFile, func(r *report.CrossCheckRow) string { return r.Verdict })
}

// crossCheckL7Counts counts crosscheck_l7.parquet's verdicts, groups of
// requests per verdict (nil when there is no L7 cross-check).
func crossCheckL7Counts(dir string) (map[string]int, error) {
	return verdictCounts(dir, report.CrossCheckL7File, func(r *report.CrossCheckL7Row) string { return r.Verdict })
}

// verdictCounts counts the rows of an output directory's Parquet table
// file by verdict, streaming; nil when the file does not exist.
func verdictCounts[R any](dir, file string, verdict func(*R) string) (map[string]int, error) {
	path := filepath.Join(dir, file)
	if _, err := os.Lstat(path); os.IsNotExist(err) {
		return nil, nil
	}
	f, pf, err := openParquet(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r := parquet.NewGenericReader[R](pf)
	defer r.Close()
	counts := map[string]int{}
	buf := make([]R, 256)
	for {
		n, err := r.Read(buf)
		for i := range buf[:n] {
			counts[verdict(&buf[i])]++
		}
		if err == io.EOF {
			return counts, nil
		}
		if err != nil {
			return nil, errorf("%s: %v", file, err)
		}
	}
}

// summaryAnswer is what summary returns.
type summaryAnswer struct {
	OutputDir  string            `json:"output_dir"`
	Tool       string            `json:"tool"`
	Started    string            `json:"started"`
	Finished   string            `json:"finished"`
	Inputs     []inputBrief      `json:"inputs"`
	MoreInputs int               `json:"more_inputs,omitempty"`
	Flows      int64             `json:"flows"`
	Packets    int64             `json:"packets"`
	Decode     map[string]int64  `json:"decode"`
	Warnings   []string          `json:"warnings,omitempty"`
	Outputs    []outputBrief     `json:"outputs"`
	Settings   map[string]string `json:"settings"`
	CrossCheck map[string]int    `json:"crosscheck,omitempty"`
	// CrossCheckL7 counts crosscheck_l7.parquet's groups per verdict.
	CrossCheckL7 map[string]int `json:"crosscheck_l7,omitempty"`
	Resources    []string       `json:"resources"`
}

type inputBrief struct {
	Name    string `json:"name"`
	Status  string `json:"status"`
	Error   string `json:"error,omitempty"`
	Format  string `json:"format,omitempty"`
	Packets int64  `json:"packets"`
	Size    int64  `json:"size"`
	SHA256  string `json:"sha256"`
	First   string `json:"first,omitempty"`
	Last    string `json:"last,omitempty"`
	Source  string `json:"source,omitempty"`
}

type outputBrief struct {
	Name   string `json:"name"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

// maxSummaryInputs is how many inputs summary lists.
const maxSummaryInputs = 100

func summarize(dir string) (*summaryAnswer, error) {
	m, err := report.ReadManifest(filepath.Join(dir, report.ManifestFile))
	if err != nil {
		return nil, errorf("%s: %v", report.ManifestFile, err)
	}
	a := &summaryAnswer{OutputDir: dir, Tool: fmt.Sprintf("%s %s", m.Tool.Name, m.Tool.Version),
		Started: provenance.FormatTime(m.Started.Time), Finished: provenance.FormatTime(m.Finished.Time),
		Flows: m.Flows, Decode: m.Decode, Warnings: capStrings(m.Warnings, 50), Settings: m.Settings,
		Inputs: []inputBrief{}, Outputs: []outputBrief{}, Resources: resourceURIs(dir)}
	for i, in := range m.Inputs {
		a.Packets += in.Packets
		if i >= maxSummaryInputs {
			a.MoreInputs++
			continue
		}
		a.Inputs = append(a.Inputs, inputBrief{Name: in.Name, Status: in.Status, Error: in.Error, Format: in.Format,
			Packets: in.Packets, Size: in.Size, SHA256: in.SHA256, First: in.First, Last: in.Last, Source: in.Source})
	}
	for _, o := range m.Outputs {
		a.Outputs = append(a.Outputs, outputBrief{Name: o.Name, Size: o.Size, SHA256: o.SHA256})
	}
	if a.CrossCheck, err = crossCheckCounts(dir); err != nil {
		return nil, err
	}
	if a.CrossCheckL7, err = crossCheckL7Counts(dir); err != nil {
		return nil, err
	}
	return a, nil
}

// openParquet opens a Parquet file of an output directory; the caller
// closes f.
func openParquet(path string) (f *os.File, pf *parquet.File, err error) {
	f, err = os.Open(path)
	if err != nil {
		return nil, nil, errorf("%s: %v", filepath.Base(path), err)
	}
	st, err := f.Stat()
	if err == nil {
		pf, err = parquet.OpenFile(f, st.Size())
	}
	if err != nil {
		f.Close()
		return nil, nil, errorf("%s: %v", filepath.Base(path), err)
	}
	return f, pf, nil
}
