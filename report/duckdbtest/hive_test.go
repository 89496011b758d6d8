package duckdbtest

import (
	"context"
	"database/sql"
	"github.com/flowproof/flowproof/internal/testcaptures"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/flowproof/flowproof/pipeline"
)

// TestDuckDBHive: DuckDB reads a sharded run's hive layout with
// hive_partitioning, the partition columns typed (date a DATE; shard an
// INTEGER when hive_types says so), every flow once, in the partition of its UTC start day and of
// the shard that analyzed it.
func TestDuckDBHive(t *testing.T) {
	inputs, err := testcaptures.TwoDays("../..")
	if err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	const n = 2
	var total int64
	perShard := map[int]int64{}
	for i := range n {
		res, err := pipeline.AnalyzeShard(context.Background(), inputs, pipeline.Options{Version: "test", L7: true}, pipeline.Shard{Index: i, Count: n}, pipeline.DirStore{Dir: out})
		if err != nil {
			t.Fatalf("shard %d: %v", i, err)
		}
		total += res.Flows
		perShard[i] = res.Flows
	}
	db, err := sql.Open("duckdb", "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	db.SetMaxOpenConns(1)
	glob := quote(filepath.Join(out, "flows", "*", "*", "*.parquet"))
	for _, q := range []string{
		`SET autoinstall_known_extensions = false`,
		`CREATE VIEW flows AS SELECT * FROM read_parquet(` + glob + `, hive_partitioning = true)`,
		`CREATE VIEW typed AS SELECT * FROM read_parquet(` + glob + `, hive_partitioning = true, hive_types = {'date': DATE, 'shard': INTEGER})`,
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	for _, tc := range []struct{ q, want string }{
		{`SELECT count(*)::VARCHAR FROM flows`, strconv.FormatInt(total, 10)},
		{`SELECT count(DISTINCT flow_id)::VARCHAR FROM flows`, strconv.FormatInt(total, 10)},
		{`SELECT count(DISTINCT date)::VARCHAR FROM flows`, "2"},
		// DuckDB types date by itself; shard=0007 keeps its zeros as a
		// VARCHAR unless hive_types says otherwise (README).
		{`SELECT DISTINCT typeof(date) || ' ' || typeof(shard) FROM flows`, "DATE VARCHAR"},
		{`SELECT DISTINCT typeof(date) || ' ' || typeof(shard) FROM typed`, "DATE INTEGER"},
		// date is the UTC day the flow started.
		{`SELECT count(*)::VARCHAR FROM flows WHERE date <> CAST(timezone('UTC', ts) AS DATE)`, "0"},
		// Partition pruning by date answers as a filter on ts does.
		{`SELECT (SELECT count(*) FROM flows WHERE date = DATE '2024-01-01') = (SELECT count(*) FROM flows WHERE ts_ns >= 1704067200000000000 AND ts_ns < 1704153600000000000)`, "true"},
	} {
		got := queryStrings(t, db, tc.q)
		if strings.Join(got, ",") != tc.want {
			t.Errorf("%s: got %v, want %s", tc.q, got, tc.want)
		}
	}
	got := queryStrings(t, db, `SELECT shard || ' ' || count(*) FROM typed GROUP BY shard ORDER BY shard`)
	var want []string
	for i := range n {
		if perShard[i] > 0 {
			want = append(want, strconv.Itoa(i)+" "+strconv.FormatInt(perShard[i], 10))
		}
	}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("flows per shard: got %v, want %v", got, want)
	}

	// The README's statements over a sharded output.
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	ran := 0
	for _, b := range regexp.MustCompile("(?s)```sql\n(.*?)```").FindAllStringSubmatch(string(readme), -1) {
		for _, stmt := range strings.Split(b[1], ";") {
			if !strings.Contains(stmt, "hive_partitioning") {
				continue
			}
			stmt = strings.ReplaceAll(stmt, "'out/flows/*/*/*.parquet'", glob)
			stmt = strings.ReplaceAll(stmt, "'2026-12-01'", "'2000-01-01'") // the test's captures are older
			if rows := queryStrings(t, db, "SELECT count(*)::VARCHAR FROM ("+stmt+")"); len(rows) != 1 || rows[0] == "0" {
				t.Errorf("README statement over the parts gave %v rows:\n%s", rows, stmt)
			}
			ran++
		}
	}
	if ran == 0 {
		t.Error("the README has no statement over a sharded output")
	}

	// The merged report's statements, and a shard's, run in OUT over the
	// parts, give the report's tables.
	if _, err := pipeline.MergeShards(context.Background(), pipeline.DirStore{Dir: out}, pipeline.MergeOptions{Version: "test"}); err != nil {
		t.Fatal(err)
	}
	t.Chdir(out)
	for _, md := range []string{"report.md", "shards/shard=0001/report.md"} {
		b, err := os.ReadFile(md)
		if err != nil {
			t.Fatal(err)
		}
		checked := checkReportTables(t, db, "", string(b), false)
		if !checked["summary"] || !checked["http-status"] {
			t.Errorf("%s: tables checked %v", md, checked)
		}
	}
}
