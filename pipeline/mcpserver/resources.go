package mcpserver

import (
	"context"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/flowproof/flowproof/report"
)

// The resources: an output directory's report.md and manifest.json, named
// flowproof://report?dir=DIR and flowproof://manifest?dir=DIR (DIR
// query-escaped, absolute or relative to the first root).
const (
	reportScheme   = "flowproof://report"
	manifestScheme = "flowproof://manifest"
	maxResource    = 16 << 20 // bytes of a resource read at most
	maxListed      = 100      // output directories listed at most
	listDepth      = 3        // how deep under each root they are looked for at start
)

func resourceURIs(dir string) []string {
	q := "?dir=" + url.QueryEscape(dir)
	return []string{reportScheme + q, manifestScheme + q}
}

func (s *Server) addResources() {
	s.mcp.AddResourceTemplate(mcp.NewResourceTemplate(reportScheme+"{?dir}", "flowproof report",
		mcp.WithTemplateDescription("report.md of an output directory (dir: absolute, or relative to the server's first root)"),
		mcp.WithTemplateMIMEType("text/markdown")), s.readResource)
	s.mcp.AddResourceTemplate(mcp.NewResourceTemplate(manifestScheme+"{?dir}", "flowproof manifest",
		mcp.WithTemplateDescription("manifest.json of an output directory: inputs with SHA-256, outputs, settings, warnings"),
		mcp.WithTemplateMIMEType("application/json")), s.readResource)
	n := 0
	for _, r := range s.roots {
		_ = filepath.WalkDir(r, func(p string, d fs.DirEntry, err error) error {
			if err != nil || !d.IsDir() {
				return nil
			}
			if rel, _ := filepath.Rel(r, p); rel != "." && strings.Count(rel, string(filepath.Separator)) >= listDepth {
				return filepath.SkipDir
			}
			if n >= maxListed {
				return filepath.SkipAll
			}
			if isOutput(p) {
				s.announce(p)
				n++
			}
			return nil
		})
	}
}

// isOutput reports whether dir holds an analysis (report.md and manifest.json).
func isOutput(dir string) bool {
	for _, f := range []string{report.ReportFile, report.ManifestFile} {
		if st, err := os.Stat(filepath.Join(dir, f)); err != nil || !st.Mode().IsRegular() {
			return false
		}
	}
	return true
}

// announce lists an output directory's resources.
func (s *Server) announce(dir string) {
	if !isOutput(dir) {
		return
	}
	uris := resourceURIs(dir)
	name := filepath.Base(dir)
	s.mcp.AddResources(
		server.ServerResource{Resource: mcp.NewResource(uris[0], name+"/report.md", mcp.WithMIMEType("text/markdown"),
			mcp.WithResourceDescription("flowproof report of "+dir)), Handler: s.readResource},
		server.ServerResource{Resource: mcp.NewResource(uris[1], name+"/manifest.json", mcp.WithMIMEType("application/json"),
			mcp.WithResourceDescription("flowproof manifest of "+dir)), Handler: s.readResource},
	)
}

func (s *Server) readResource(ctx context.Context, req mcp.ReadResourceRequest) ([]mcp.ResourceContents, error) {
	u, err := url.Parse(req.Params.URI)
	if err != nil {
		return nil, err
	}
	var file, mime string
	switch "flowproof://" + u.Host {
	case reportScheme:
		file, mime = report.ReportFile, "text/markdown"
	case manifestScheme:
		file, mime = report.ManifestFile, "application/json"
	default:
		return nil, errorf("unknown resource %q: use %s?dir=DIR or %s?dir=DIR", req.Params.URI, reportScheme, manifestScheme)
	}
	dir, err := s.roots.existing("dir", u.Query().Get("dir"))
	if err != nil {
		return nil, err
	}
	if !isOutput(dir) {
		return nil, errorf("%s is not a flowproof output directory (no report.md and manifest.json)", dir)
	}
	f, err := os.Open(filepath.Join(dir, file))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxResource+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxResource {
		return nil, errorf("%s is over %d bytes: read it with the findings or summary tools' section argument", file, maxResource)
	}
	return []mcp.ResourceContents{mcp.TextResourceContents{URI: req.Params.URI, MIMEType: mime, Text: string(b)}}, nil
}
