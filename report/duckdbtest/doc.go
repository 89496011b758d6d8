// Package duckdbtest reads flows.parquet back with DuckDB. It is its own
// module so that the DuckDB driver (cgo, a ~130 MB static library) is never
// linked into flowproof; it has tests only. Run: cd report/duckdbtest && go test ./...
package duckdbtest
