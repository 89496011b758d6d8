// Package reporttables cuts a report.md into its tables, for tests that
// compare two reports table by table (a sharded run's merged report against
// a single run's).
package reporttables

import "strings"

// Tables returns each table of a report.md by the id its marker line gives
// it (<!-- table: ID --> or <!-- table: ID incomplete -->), as the table's
// lines; the tables named in skip are left out.
func Tables(md string, skip ...string) map[string]string {
	tables := map[string]string{}
	lines := strings.Split(md, "\n")
	for i, l := range lines {
		id, ok := strings.CutPrefix(l, "<!-- table: ")
		if !ok {
			continue
		}
		id = strings.TrimSuffix(id, " -->")
		var body []string
		for _, r := range lines[i+1:] {
			if !strings.HasPrefix(r, "|") {
				break
			}
			body = append(body, r)
		}
		tables[id] = strings.Join(body, "\n")
	}
	for _, s := range skip {
		delete(tables, s)
	}
	return tables
}

// Diff lists the tables that differ between want and got, with both
// versions; empty when they are the same.
func Diff(want, got map[string]string) []string {
	var d []string
	for id, w := range want {
		if g, ok := got[id]; !ok {
			d = append(d, "table "+id+": missing")
		} else if g != w {
			d = append(d, "table "+id+" differs:\ngot:\n"+g+"\nwant:\n"+w)
		}
	}
	for id := range got {
		if _, ok := want[id]; !ok {
			d = append(d, "table "+id+": not expected")
		}
	}
	return d
}
