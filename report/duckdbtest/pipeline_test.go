package duckdbtest

import (
	"database/sql"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/flowproof/flowproof/analyze"
	"github.com/flowproof/flowproof/ingest"
	"github.com/flowproof/flowproof/internal/capgen"
	"github.com/flowproof/flowproof/report"
)

// analyzeCases runs every generated capture through the real decoder and
// flow table into one flows.parquet, and returns the flows each case expects.
func analyzeCases(t *testing.T, path string) []capgen.Flow {
	t.Helper()
	var recs []analyze.Record
	var want []capgen.Flow
	for i, c := range capgen.Cases() {
		tbl := analyze.NewTable(analyze.Config{}, c.Name+".pcap", i+1, func(r *analyze.Record) { recs = append(recs, *r) })
		var d analyze.Decoded
		for j, p := range c.Packets {
			pkt := ingest.Packet{Data: p.Data, OrigLen: p.Length, Timestamp: p.Time.UnixNano(), LinkType: c.Link.LinkType(), Index: int64(j)}
			analyze.Decode(&pkt, &d)
			tbl.Add(&d, pkt.Index)
		}
		tbl.Flush()
		want = append(want, c.Flows...)
	}
	writeParquet(t, path, report.FlowWriterOptions{Version: "test"}, recs)
	return want
}

// TestDuckDBPipeline: analyst queries over the pipeline's own output give the
// answers the generated cases were built to have.
func TestDuckDBPipeline(t *testing.T) {
	path := filepath.Join(t.TempDir(), "flows.parquet")
	want := analyzeCases(t, path)
	db := openFlows(t, path)

	t.Run("count by state", func(t *testing.T) {
		counts := map[string]int{}
		for _, f := range want {
			counts[f.State]++
		}
		var exp []string
		for s, n := range counts {
			exp = append(exp, s+" "+strconv.FormatInt(int64(n), 10))
		}
		sort.Strings(exp)
		got := queryStrings(t, db, `SELECT state || ' ' || count(*) FROM flows GROUP BY state ORDER BY 1`)
		if strings.Join(got, ",") != strings.Join(exp, ",") {
			t.Errorf("got %v, want %v", got, exp)
		}
	})
	t.Run("slowest handshake", func(t *testing.T) {
		var best capgen.Flow
		for _, f := range want {
			if f.RTTHandshakeNs > best.RTTHandshakeNs {
				best = f
			}
		}
		got := queryStrings(t, db, `SELECT src_ip || ':' || src_port || ' ' || rtt_handshake_ns FROM flows
			WHERE rtt_handshake_ns IS NOT NULL ORDER BY rtt_handshake_ns DESC LIMIT 1`)
		exp := best.Src.Addr().String() + ":" + strconv.Itoa(int(best.Src.Port())) + " " + strconv.FormatInt(best.RTTHandshakeNs, 10)
		if len(got) != 1 || got[0] != exp {
			t.Errorf("got %v, want %s", got, exp)
		}
	})
	t.Run("total payload and wire bytes", func(t *testing.T) {
		var payload, wire int64
		for _, f := range want {
			payload += f.OrigBytes + f.RespBytes
			wire += f.OrigWireBytes + f.RespWireBytes
		}
		var gotPayload, gotWire int64
		if err := db.QueryRow(`SELECT sum(orig_bytes + resp_bytes), sum(orig_wire_bytes + resp_wire_bytes) FROM flows`).Scan(&gotPayload, &gotWire); err != nil {
			t.Fatal(err)
		}
		if gotPayload != payload || gotWire != wire {
			t.Errorf("payload %d wire %d, want %d %d", gotPayload, gotWire, payload, wire)
		}
	})
	t.Run("README queries run", func(t *testing.T) { runReadmeQueries(t, db, path) })
}

// runReadmeQueries executes every SQL statement of the README's DuckDB
// section against path, so the documented queries cannot rot.
func runReadmeQueries(t *testing.T, db *sql.DB, path string) {
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	blocks := regexp.MustCompile("(?s)```sql\n(.*?)```").FindAllStringSubmatch(string(readme), -1)
	if len(blocks) == 0 {
		t.Fatal("README has no sql block")
	}
	n := 0
	for _, b := range blocks {
		for _, stmt := range strings.Split(b[1], ";") {
			stmt = strings.ReplaceAll(stmt, "'flowproof-out/flows.parquet'", quote(path))
			if strings.TrimSpace(stripComments(stmt)) == "" || strings.Contains(stmt, "hive_partitioning") {
				continue // a sharded output's statement: TestDuckDBHive runs it
			}
			rows, err := db.Query(stmt)
			if err != nil {
				t.Errorf("README query fails: %v\n%s", err, stmt)
				continue
			}
			for rows.Next() {
			}
			if err := rows.Err(); err != nil {
				t.Errorf("README query fails: %v\n%s", err, stmt)
			}
			rows.Close()
			n++
		}
	}
	if n < 4 {
		t.Errorf("ran %d README queries, want at least 4", n)
	}
}

func stripComments(s string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(l), "--") {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
