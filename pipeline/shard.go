package pipeline

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/flowproof/flowproof/ingest/kubeshark/evidence"
	"github.com/flowproof/flowproof/ingest/objstore"
	"github.com/flowproof/flowproof/report"
)

// MaxShards is the most shards a run may have: shard numbers are written
// with four digits (shard=0007).
const MaxShards = 10000

// Shard is one share of a sharded run: shard Index (0-based) of Count.
type Shard struct{ Index, Count int }

// ParseShard parses "i/n" (0 <= i < n <= MaxShards).
func ParseShard(s string) (Shard, error) {
	a, b, ok := strings.Cut(s, "/")
	i, err1 := strconv.Atoi(a)
	n, err2 := strconv.Atoi(b)
	if !ok || err1 != nil || err2 != nil {
		return Shard{}, fmt.Errorf("shard %q: want i/n, e.g. 0/4 (shard 0 of 4)", s)
	}
	sh := Shard{Index: i, Count: n}
	return sh, sh.Valid()
}

// Valid checks 0 <= Index < Count <= MaxShards.
func (s Shard) Valid() error {
	switch {
	case s.Count < 1 || s.Count > MaxShards:
		return fmt.Errorf("shard %s: the number of shards must be 1 to %d", s, MaxShards)
	case s.Index < 0 || s.Index >= s.Count:
		return fmt.Errorf("shard %s: the index must be 0 to %d (0-based)", s, s.Count-1)
	}
	return nil
}

func (s Shard) String() string { return fmt.Sprintf("%d/%d", s.Index, s.Count) }

// dir is the shard's partition value and directory name: shard=0007.
func (s Shard) dir() string { return fmt.Sprintf("shard=%04d", s.Index) }

// ShardOf is the shard (0 to n-1) a unit with this key belongs to: the first
// eight bytes of the key's SHA-256, big-endian, modulo n. A unit's shard
// depends on its key and n alone: not on the other inputs, their number or
// their order, so adding inputs never moves one. (Rendezvous hashing would
// also keep most units in place when n changes, at n hashes per key; but
// shards of different n never mix in one output, so that buys nothing.)
// Anyone can recompute it: sha256sum of the key.
func ShardOf(key string, n int) int {
	h := sha256.Sum256([]byte(key))
	return int(binary.BigEndian.Uint64(h[:8]) % uint64(n))
}

// shardUnit is what shards are made of: one capture file, or one evidence
// directory with all its captures (its per-node captures are merged by time
// into one flow table, and its Kubeshark answers belong to them).
type shardUnit struct {
	// Key names the unit for ShardOf: the path relative to the argument it
	// came from (a capture file given itself, or an evidence directory: its
	// base name), slash-separated; for object storage, the key relative to
	// the prefix given (an object given itself: its base name).
	Key   string
	arg   string // what the shard passes to Analyze
	first int    // index of its first capture in the whole run (0-based)
	n     int    // its captures
	paths []string
}

// expandUnits opens every argument as Analyze does and cuts the captures
// into units, in the order a single Analyze would read them. Arguments that
// cannot be opened come back as messages, as Analyze warns of them. The
// units of s3:// arguments are opened already (opened, by their arg), so
// that the shard reads the versions listed here without listing again.
func expandUnits(ctx context.Context, args []string, st *stores) (units []shardUnit, missing []string, opened map[string]Input) {
	next := 0
	opened = map[string]Input{}
	for _, arg := range args {
		if objstore.IsURL(arg) {
			in, err := openObjects(ctx, arg, st)
			if err != nil {
				missing = append(missing, err.Error())
				continue
			}
			u, _ := objstore.ParseURL(arg) // openObjects parsed it
			for _, c := range in.Captures {
				// The key below the prefix, as for a file of a directory;
				// an object named itself: its base name.
				key, under := strings.CutPrefix(c.object.URL.Key, u.Dir().Key)
				if c.object.URL.Key == u.Key || !under {
					key = path.Base(c.object.URL.Key)
				}
				opened[c.Path] = Input{Arg: c.Path, Captures: []Capture{c}}
				units = append(units, shardUnit{Key: key, arg: c.Path, first: next, n: 1, paths: []string{c.Path}})
				next++
			}
			continue
		}
		in, err := Open(arg)
		if err != nil {
			missing = append(missing, err.Error())
			continue
		}
		if _, err := evidence.Open(arg); err == nil {
			u := shardUnit{Key: filepath.Base(filepath.Clean(arg)), arg: arg, first: next, n: len(in.Captures)}
			for _, c := range in.Captures {
				u.paths = append(u.paths, c.Path)
			}
			units = append(units, u)
			next += u.n
			continue
		}
		for _, c := range in.Captures {
			key := filepath.Base(c.Path)
			if rel, err := filepath.Rel(arg, c.Path); err == nil && c.Path != arg && !strings.HasPrefix(rel, "..") {
				key = rel
			}
			units = append(units, shardUnit{Key: filepath.ToSlash(key), arg: c.Path, first: next, n: 1, paths: []string{c.Path}})
			next++
		}
	}
	return units, missing, opened
}

// inputSet fingerprints the whole input list: the SHA-256 of its unit keys
// in order, one a line. Shards of one run agree on it; flow_id numbers
// captures by their place in this list, so shards run over different lists
// cannot be merged.
func inputSet(units []shardUnit) string {
	h := sha256.New()
	for _, u := range units {
		fmt.Fprintf(h, "%s\t%d\n", u.Key, u.n)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// Layout of a sharded output (README: Sharded batch runs).
const (
	ShardsDir            = "shards"        // OUT/shards/shard=NNNN/: each shard's manifest, report, audit trail
	ShardManifestFile    = "manifest.json" // in a shard's directory
	ShardManifestVersion = 1
)

// partTables are the tables a shard writes under OUT/TABLE/date=/shard=/.
var partTables = []string{"flows", "http", "dns", "crosscheck"}

// partName is a table part's name in the store.
func partName(table, day string, s Shard) string {
	return table + "/date=" + day + "/" + s.dir() + "/part-0.parquet"
}

// shardPrefix is a shard's directory in the store, with a trailing slash.
func shardPrefix(s Shard) string { return ShardsDir + "/" + s.dir() + "/" }

// ShardManifest is OUT/shards/shard=NNNN/manifest.json: what one shard read
// and wrote. Merge checks every shard's against the others and against the
// files.
type ShardManifest struct {
	Version int `json:"shard_manifest_version"`
	Shard   int `json:"shard"`
	Shards  int `json:"shards"`
	// InputSet fingerprints the whole input list (inputSet); Units and
	// Captures count it.
	InputSet string `json:"input_set"`
	Units    int    `json:"units"`
	Captures int    `json:"captures"`
	// Settings are the analysis settings every shard of a run must share
	// (Options.Settings, l7, flood_min): they do not depend on the data.
	Settings map[string]string `json:"settings"`
	// Selected are this shard's units, in input order.
	Selected []ShardUnit `json:"selected"`
	// Skipped are arguments that could not be opened (every shard names
	// them) and this shard's inputs that could not be read completely.
	Skipped []string `json:"skipped"`
	// Manifest is the shard's analysis as manifest.json has it: inputs
	// with their SHA-256, decode counts, warnings, and outputs (its table
	// parts, named from OUT, and its report) with their SHA-256. Without
	// units, it has no inputs and no outputs.
	Manifest *report.Manifest `json:"manifest"`
}

// ShardUnit is one unit a shard analyzed.
type ShardUnit struct {
	Key string `json:"key"`
	// First is the place of its first capture in the whole input list
	// (0-based): its flows' flow_id starts with First+1.
	First    int `json:"first"`
	Captures int `json:"captures"`
}

// shardSettings are the settings shards must agree on.
func shardSettings(o Options, set string, n int) map[string]string {
	s := o.Settings()
	s["l7"] = strconv.FormatBool(o.L7)
	s["flood_min"] = strconv.FormatInt(o.FloodMinHalfOpen, 10)
	s["scan_min_hosts"] = strconv.Itoa(o.ScanMinHosts)
	s["scan_min_ports"] = strconv.Itoa(o.ScanMinPorts)
	s["input_set"] = set
	s["shards"] = strconv.Itoa(n)
	return s
}

// sortedKeys returns m's keys, sorted.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// errNoShardManifest marks a shard directory without a manifest.
var errNoShardManifest = errors.New("no shard manifest")

// SelectShard returns the units of the inputs that shard sh takes, in input
// order, as AnalyzeShard would analyze them, without reading a capture;
// total is the number of units of all shards, missing the arguments that
// could not be opened. s3:// arguments are listed with o.S3.
func SelectShard(ctx context.Context, args []string, o Options, sh Shard) (selected []ShardUnit, total int, missing []string, err error) {
	if err := sh.Valid(); err != nil {
		return nil, 0, nil, err
	}
	units, missing, _ := expandUnits(ctx, args, &stores{cfg: o.S3})
	for _, u := range selectUnits(units, sh) {
		selected = append(selected, u.public())
	}
	return selected, len(units), missing, nil
}

// selectUnits returns the units ShardOf gives sh, in order.
func selectUnits(units []shardUnit, sh Shard) []shardUnit {
	var sel []shardUnit
	for _, u := range units {
		if ShardOf(u.Key, sh.Count) == sh.Index {
			sel = append(sel, u)
		}
	}
	return sel
}

func (u shardUnit) public() ShardUnit { return ShardUnit{Key: u.Key, First: u.first, Captures: u.n} }
