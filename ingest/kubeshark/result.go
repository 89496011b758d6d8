package kubeshark

import (
	"encoding/json"
	"regexp"
	"strings"
	"time"

	"github.com/flowproof/flowproof/ingest/kubeshark/jsonv"
)

// Result is one tool call's answer.
type Result struct {
	Tool string
	Args map[string]any
	// Raw is the JSON-RPC "result" member exactly as the server sent it.
	Raw []byte
	// IsError is the result's isError: the tool failed.
	IsError bool
	// Text is the first text content item, byte for byte. Kubeshark puts the
	// Hub's answer there, re-indented JSON or plain text.
	Text string
	// Data is Text parsed as JSON (numbers as json.Number), or
	// structuredContent when there is no text; nil when neither is JSON.
	Data any
	// Resources are the embedded resources and resource links.
	Resources []Resource

	Started  time.Time
	Duration time.Duration
}

// Resource is an embedded resource (Blob or Text set) or a resource link
// (Link true, only URI).
type Resource struct {
	URI      string
	MIMEType string
	Blob     string // base64
	Text     string
	Link     bool
	Size     int64 // from a link's size; -1 when unknown
}

// maxTreeBytes is the largest answer text parsed into a whole tree (which
// costs about ten times the text).
const maxTreeBytes = 4 << 20

func parseResult(raw []byte) (*Result, error) {
	var w struct {
		Content []struct {
			Type     string `json:"type"`
			Text     string `json:"text"`
			URI      string `json:"uri"`
			MIMEType string `json:"mimeType"`
			Size     *int64 `json:"size"`
			Resource *struct {
				URI      string  `json:"uri"`
				MIMEType string  `json:"mimeType"`
				Text     *string `json:"text"`
				Blob     *string `json:"blob"`
			} `json:"resource"`
		} `json:"content"`
		IsError           bool            `json:"isError"`
		StructuredContent json.RawMessage `json:"structuredContent"`
	}
	if err := json.Unmarshal(raw, &w); err != nil {
		return nil, err
	}
	r := &Result{Raw: raw, IsError: w.IsError}
	textSeen := false
	for _, c := range w.Content {
		switch c.Type {
		case "text":
			if !textSeen {
				r.Text, textSeen = c.Text, true
			}
		case "resource":
			if c.Resource != nil {
				res := Resource{URI: c.Resource.URI, MIMEType: c.Resource.MIMEType, Size: -1}
				if c.Resource.Blob != nil {
					res.Blob = *c.Resource.Blob
				}
				if c.Resource.Text != nil {
					res.Text = *c.Resource.Text
				}
				r.Resources = append(r.Resources, res)
			}
		case "resource_link":
			res := Resource{URI: c.URI, MIMEType: c.MIMEType, Link: true, Size: -1}
			if c.Size != nil {
				res.Size = *c.Size
			}
			r.Resources = append(r.Resources, res)
		}
	}
	if textSeen {
		if len(r.Text) > maxTreeBytes {
			// A large answer (list_l4_flows of a big cluster) is saved as it
			// came and parsed later, record by record; here only its
			// top-level fields are needed (total, truncated, path, ...).
			r.Data = jsonv.ParseShallow([]byte(r.Text))
		} else {
			r.Data = jsonv.Parse([]byte(r.Text))
		}
	}
	if r.Data == nil && len(w.StructuredContent) > 0 && string(w.StructuredContent) != "null" {
		r.Data = jsonv.Parse(w.StructuredContent)
	}
	return r, nil
}

// ErrorText is the tool's error message for an isError result.
func (r *Result) ErrorText() string {
	if t := strings.TrimSpace(r.Text); t != "" {
		return excerpt(t, 500)
	}
	return "(no message)"
}

var (
	reProseID   = regexp.MustCompile(`(?i)\b(?:snapshot[ _-]?)?id\b\s*[:=]\s*["']?([A-Za-z0-9][A-Za-z0-9._:-]*)`)
	reProsePath = regexp.MustCompile(`(https?://[^\s"'<>]+|/[A-Za-z0-9._~%!$&'()*+,;=:@/?-]*[A-Za-z0-9_/=-])`)
)

// snapshotID finds a snapshot id in a create_snapshot answer: JSON (id,
// snapshot_id, snapshotId, name) or prose ("id: 9b0d4b2b status: …", as in
// Kubeshark's demo transcript).
func snapshotID(r *Result) string {
	if r.Data != nil {
		// An id at any depth first, then a name (the REST API identifies
		// snapshots by name).
		if s := jsonv.LookupString(r.Data, "id", "snapshot_id", "snapshotId", "snapshotID", "snapshot_name", "snapshotName", "uuid", "uid"); s != "" {
			return s
		}
		return jsonv.LookupString(r.Data, "name")
	}
	if m := reProseID.FindStringSubmatch(r.Text); m != nil {
		return m[1]
	}
	return ""
}

// capturePath finds where to fetch a capture from in an answer: a JSON field
// (path, url, file, …) or, in prose, the first absolute path or URL.
func capturePath(r *Result) string {
	keys := []string{"path", "url", "download_url", "downloadUrl", "file_path", "filePath", "download_path", "downloadPath",
		"relative_path", "pcap_path", "pcap_url", "file", "href", "uri", "location"}
	if r.Data != nil {
		if s := jsonv.LookupString(r.Data, keys...); s != "" && (strings.HasPrefix(s, "/") || strings.HasPrefix(s, "http://") || strings.HasPrefix(s, "https://")) {
			return s
		}
		return findPathValue(r.Data)
	}
	if m := reProsePath.FindString(strings.TrimSpace(r.Text)); m != "" {
		return strings.TrimRight(m, ".,;)")
	}
	return ""
}

// findPathValue returns the first string value anywhere in v that looks like
// a relative Hub path or a URL.
func findPathValue(v any) string {
	switch t := v.(type) {
	case string:
		if strings.HasPrefix(t, "/") || strings.HasPrefix(t, "http://") || strings.HasPrefix(t, "https://") {
			return t
		}
	case map[string]any:
		for _, k := range jsonv.SortedKeys(t) {
			if s := findPathValue(t[k]); s != "" {
				return s
			}
		}
	case []any:
		for _, x := range t {
			if s := findPathValue(x); s != "" {
				return s
			}
		}
	}
	return ""
}

// captureBase64 finds capture bytes carried as base64 in a JSON answer.
func captureBase64(r *Result) string {
	if r.Data == nil {
		return ""
	}
	return jsonv.LookupString(r.Data, "pcap_base64", "pcapBase64", "pcap", "data", "content", "base64", "blob", "bytes", "capture")
}
