package report

import (
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/parquet-go/parquet-go"
)

// TableReader streams the rows of a Parquet table written by this package
// (flows.parquet, http.parquet, dns.parquet, crosscheck.parquet), a batch at
// a time: memory follows the batch and one row group's pages, not the file.
type TableReader[T any] struct {
	r    *parquet.GenericReader[T]
	rows int64
	read int64
}

// OpenTable opens a table of size bytes read through ra. A flows table
// (T is FlowRow) must carry flowproof.schema=FlowSchemaVersion.
func OpenTable[T any](ra io.ReaderAt, size int64) (*TableReader[T], error) {
	pf, err := parquet.OpenFile(ra, size, parquet.SkipPageIndex(true), parquet.SkipBloomFilters(true))
	if err != nil {
		return nil, fmt.Errorf("open parquet: %w", err)
	}
	if _, ok := any((*T)(nil)).(*FlowRow); ok {
		if v, ok := pf.Lookup(MetaSchema); !ok || v != strconv.Itoa(FlowSchemaVersion) {
			return nil, fmt.Errorf("%s is %q, want %d: not a flows table of this flowproof", MetaSchema, v, FlowSchemaVersion)
		}
	}
	return &TableReader[T]{r: parquet.NewGenericReader[T](pf), rows: pf.NumRows()}, nil
}

// Rows is the number of rows the file's footer states.
func (t *TableReader[T]) Rows() int64 { return t.rows }

// Read fills rows from the start and returns how many it filled; io.EOF
// once every row was read. The rows' strings stay valid after the next Read.
func (t *TableReader[T]) Read(rows []T) (int, error) {
	if t.read >= t.rows {
		return 0, io.EOF
	}
	clear(rows) // parquet-go reuses what optional fields point to otherwise
	n, err := t.r.Read(rows)
	t.read += int64(n)
	if errors.Is(err, io.EOF) {
		if t.read < t.rows {
			return n, fmt.Errorf("read row %d: %w", t.read, io.ErrUnexpectedEOF)
		}
		if n > 0 {
			return n, nil
		}
	}
	return n, err
}

// SeekToRow makes the next Read start at row i (0-based).
func (t *TableReader[T]) SeekToRow(i int64) error {
	if err := t.r.SeekToRow(i); err != nil {
		return err
	}
	t.read = i
	return nil
}

// Close releases the reader; it does not close ra.
func (t *TableReader[T]) Close() error { return t.r.Close() }

// FlowOrdinal parses the capture ordinal that prefixes a flow_id
// ("3-17": 3), which numbers the captures of a run from 1 in input order.
func FlowOrdinal(id string) (int, bool) {
	n, ok := flowOrdinal(id)
	return n, ok && n > 0
}

// PartsSQL rewrites a DuckDB statement that reads flows.parquet,
// http.parquet, dns.parquet or crosscheck.parquet to read the same table
// from a sharded run's parts, run in its output directory: shards is "*"
// for every shard's, or one shard's partition ("shard=0007"), as in
// read_parquet('flows/*/*/*.parquet', hive_partitioning = true).
func PartsSQL(q, shards string) string {
	var pairs []string
	for _, t := range []string{"flows", "http", "dns", "crosscheck"} {
		pairs = append(pairs, "'"+t+".parquet'", "read_parquet('"+t+"/*/"+shards+"/*.parquet', hive_partitioning = true)")
	}
	return strings.NewReplacer(pairs...).Replace(q)
}
