package kubeshark

import (
	"encoding/json"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
)

// Tool is one entry of the server's catalogue, reduced to what flowproof
// needs to build arguments. The Hub's schemas are not public
// (kubeshark-mcp.md §2.2), so arguments are chosen by reading them here at
// run time, never assumed.
type Tool struct {
	Name        string
	Description string
	// Props maps each declared argument to its JSON Schema type ("string",
	// "integer", "number", "array", "object", "boolean", or "" when the
	// schema gives none).
	Props    map[string]string
	PropDesc map[string]string // each argument's description
	Required []string
}

// Open reports whether the schema declares no arguments at all, in which
// case flowproof sends its best guess of every argument.
func (t Tool) Open() bool { return len(t.Props) == 0 }

// Has reports whether the schema declares the argument.
func (t Tool) Has(name string) bool {
	_, ok := t.Props[name]
	return ok
}

func toolFromMCP(m mcp.Tool) Tool {
	t := Tool{Name: m.Name, Description: m.Description, Props: map[string]string{}, PropDesc: map[string]string{}}
	props, required := m.InputSchema.Properties, m.InputSchema.Required
	if len(m.RawInputSchema) > 0 {
		var raw struct {
			Properties map[string]any `json:"properties"`
			Required   []string       `json:"required"`
		}
		if json.Unmarshal(m.RawInputSchema, &raw) == nil {
			props, required = raw.Properties, raw.Required
		}
	}
	for name, p := range props {
		typ := ""
		if pm, ok := p.(map[string]any); ok {
			t.PropDesc[name], _ = pm["description"].(string)
			switch v := pm["type"].(type) {
			case string:
				typ = v
			case []any: // ["string","null"]
				for _, x := range v {
					if s, ok := x.(string); ok && s != "null" {
						typ = s
						break
					}
				}
			}
		}
		t.Props[name] = typ
	}
	t.Required = required
	return t
}

// args builds a tool's arguments from candidates, keeping only names the
// schema declares (or the first candidate name when the schema is open).
type args struct {
	t Tool
	m map[string]any
}

func newArgs(t Tool) *args { return &args{t: t, m: map[string]any{}} }

// pick returns the first of names the schema declares; with an open schema,
// the first name.
func (a *args) pick(names ...string) (string, bool) {
	for _, n := range names {
		if a.t.Has(n) {
			return n, true
		}
	}
	if a.t.Open() && len(names) > 0 {
		return names[0], true
	}
	return "", false
}

// set stores v under the first declared name and reports whether it did.
func (a *args) set(v any, names ...string) bool {
	n, ok := a.pick(names...)
	if ok {
		a.m[n] = v
	}
	return ok
}

// setTime stores t under the first declared name, as Unix milliseconds, or as
// RFC 3339 when the schema declares a string.
func (a *args) setTime(t time.Time, names ...string) bool {
	n, ok := a.pick(names...)
	if !ok {
		return false
	}
	if a.t.Props[n] == "string" {
		a.m[n] = t.UTC().Format(time.RFC3339Nano)
	} else {
		a.m[n] = t.UnixMilli()
	}
	return true
}

// setList stores a list under the first declared name; a schema that says
// "string" gets the items comma-separated.
func (a *args) setList(items []string, names ...string) bool {
	n, ok := a.pick(names...)
	if !ok {
		return false
	}
	if a.t.Props[n] == "string" {
		s := ""
		for i, it := range items {
			if i > 0 {
				s += ","
			}
			s += it
		}
		a.m[n] = s
	} else {
		a.m[n] = items
	}
	return true
}

// missing returns the required arguments not set.
func (a *args) missing() []string {
	var out []string
	for _, r := range a.t.Required {
		if _, ok := a.m[r]; !ok {
			out = append(out, r)
		}
	}
	return out
}
