package report

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"math/bits"
	"net/netip"
	"slices"
	"unsafe"

	"github.com/flowproof/flowproof/analyze"
	"github.com/flowproof/flowproof/internal/prefetch"
	"github.com/parquet-go/parquet-go/encoding/delta"
	"github.com/parquet-go/parquet-go/encoding/plain"
	"github.com/parquet-go/parquet-go/encoding/rle"
	"github.com/parquet-go/parquet-go/encoding/thrift"
	"github.com/parquet-go/parquet-go/format"
)

// A colWriter writes a Parquet file of flat columns and lists of required
// values (a required LIST group of a repeated group of one required
// element, parquet-go's `list` tag on a slice) column by column: callers append typed values to its columns, a row at a
// time, and it encodes each column's pages as they fill, keeps a row group's
// pages in memory, and writes the row group's column chunks one after the
// other when the group ends. The footer, column index and offset index are
// written on close. The schema (elements and column orders) comes from
// parquet-go, so the file's types are exactly those of the row struct; only
// the encoding of the values is done here, on typed slices, without the
// per-value interface and reflection work of parquet-go's row writer
// (README: Speed and memory).
type colWriter struct {
	w     io.Writer
	pos   int64 // bytes written to w
	err   error
	codec *zstdCodec
	cols  []pcol
	md    format.FileMetaData
	ci    [][]format.ColumnIndex // per row group, per column
	oi    [][]format.OffsetIndex
	rows  int64 // rows in the current row group
	proto thrift.CompactProtocol
	scr   scratch

	// codecPerColumn lets a column's first page decide its codec and pages
	// of numbers skip zstd's entropy coding (appendPage). flows.parquet
	// only: its rows are flows, whose IDs, times and ports are as random
	// in the first page as in the rest. The L7 tables keep zstd with
	// entropy coding on their other columns: their rows repeat their
	// flows' values (several transactions per flow), so a first page of
	// distinct flows says nothing about the rest (http.parquet of the bench
	// capture grew 81% with it).
	codecPerColumn bool
	// codecPerDeltaColumn is codecPerColumn for the DELTA_BINARY_PACKED
	// columns only (the L7 tables' times, latencies and durations in ns:
	// as random in the first page as in the rest, whatever the flows).
	codecPerDeltaColumn bool
}

// scratch holds buffers reused for every page.
type scratch struct {
	levels, values, body, zbuf []byte
	lens                       []byte  // deltaByteArray's packed lengths
	prefixes, suffixes         []int32 // and its lengths
}

// Column value encodings (the data pages'; a dictionary column also has a
// PLAIN dictionary page).
const (
	encPlain      = format.Plain
	encDelta      = format.DeltaBinaryPacked    // INT32, INT64
	encDeltaBytes = format.DeltaLengthByteArray // BYTE_ARRAY
	encPrefix     = format.DeltaByteArray       // BYTE_ARRAY
	encDict       = format.RLEDictionary        // BYTE_ARRAY
)

// pageBytes bounds a page's raw values; with the column count it bounds the
// writer's memory (README: Speed and memory).
const pageBytes = 32 << 10

// columnIndexLimit truncates byte-array bounds in the column index, as
// parquet-go does by default.
const columnIndexLimit = 16

// pcol is one leaf column: the values of its current page, its dictionary
// and the encoded pages of the current row group. Appending a value only
// appends it; counts and statistics are computed when the page is encoded.
type pcol struct {
	// The current page (first: what every row touches).
	optional bool    // has definition levels (an optional column, or a list's element)
	repeated bool    // a list's element: has repetition levels, no null lists
	defs     []uint8 // definition levels (optional columns)
	reps     []uint8 // repetition levels (lists)
	i64      []int64
	idx      []int32 // dictionary indexes
	i32      []int32
	bits     []bool
	data     []byte   // BYTE_ARRAY values, concatenated (not dictionary)
	offs     []uint32 // their offsets, starting with 0
	pst      stats

	name string
	path []string // in the schema: [name], or [name, "list", "element"]
	typ  format.Type
	enc  format.Encoding

	// The dictionary of the current row group: its values, and an index by
	// value once it has more than smallDict of them (scanning a few is faster
	// than hashing), or by address for the address columns.
	vals  []string
	dict  map[string]int32
	addrs addrIndex
	// An address column's dictionary is its page body instead (PLAIN:
	// length and text of each value), made as addresses are added: no
	// string per address, no string map (an address's text is a function of
	// the addrIndex key).
	addrText []byte
	nAddrs   int32
	lastIP   netip.Addr // the last address added, if lastOK
	last     string     // the last value added, and its index
	lastIdx  int32
	lastOK   bool

	// The current row group's column chunk.
	pages    []byte // data pages, headers included
	locs     []format.PageLocation
	index    format.ColumnIndex
	cst      stats
	values   int64 // level entries (values, nulls and empty lists)
	rows     int64 // rows (equal to values unless repeated)
	rawTotal int64 // uncompressed bytes of the pages, headers included
	decided  bool  // the column's codec is decided (its first page is written)
	raw      bool  // and it is uncompressed
	nPages   int32
}

// smallDict is the dictionary size up to which a value is found by scanning.
const smallDict = 8

// stats is the min, max and null count of a page or a column chunk; min and
// max are PLAIN-encoded (byte arrays without their length).
type stats struct {
	has      bool
	nulls    int64
	min, max []byte
	pmin     uint64 // prefix8 of min and max
	pmax     uint64
	imin     int64 // for INT32, INT64, BOOLEAN
	imax     int64
}

func (s *stats) addInt(v int64) {
	if !s.has {
		s.has, s.imin, s.imax = true, v, v
		return
	}
	s.imin = min(s.imin, v)
	s.imax = max(s.imax, v)
}

func (s *stats) addBytes(v []byte) {
	p := prefix8(v)
	if !s.has {
		s.has = true
		s.setMin(v, p)
		s.setMax(v, p)
		return
	}
	if p > s.pmin && p < s.pmax {
		return // decided by the first 8 bytes: neither bound changes
	}
	if p < s.pmin || p == s.pmin && tailLess(v, s.min) {
		s.setMin(v, p)
	}
	if p > s.pmax || p == s.pmax && tailLess(s.max, v) {
		s.setMax(v, p)
	}
}

// tailLess is a < b for a and b of the same prefix8.
func tailLess(a, b []byte) bool {
	if len(a) <= 8 || len(b) <= 8 {
		return len(a) < len(b)
	}
	return bytes.Compare(a[8:], b[8:]) < 0
}

func (s *stats) setMin(v []byte, p uint64) { s.min, s.pmin = append(s.min[:0], v...), p }
func (s *stats) setMax(v []byte, p uint64) { s.max, s.pmax = append(s.max[:0], v...), p }

// prefix8 is the first 8 bytes of b as a big-endian integer, zero-padded:
// prefix8(a) < prefix8(b) implies a < b.
func prefix8(b []byte) uint64 {
	if len(b) >= 8 {
		return binary.BigEndian.Uint64(b)
	}
	var x uint64
	for i, c := range b {
		x |= uint64(c) << (56 - 8*i)
	}
	return x
}

// compareBytes is bytes.Compare, deciding on the first 8 bytes as one
// integer when they differ (flow and Community IDs mostly do); when they
// are equal and one is at most 8 bytes long, it is a prefix of the other.
func compareBytes(a, b []byte) int {
	if x, y := prefix8(a), prefix8(b); x != y {
		if x < y {
			return -1
		}
		return 1
	}
	switch {
	case tailLess(a, b):
		return -1
	case tailLess(b, a):
		return 1
	}
	return 0
}

func (s *stats) addString(v string) {
	s.addBytes(unsafe.Slice(unsafe.StringData(v), len(v)))
}

// merge adds a page's stats to a chunk's.
func (s *stats) merge(p *stats, typ format.Type) {
	s.nulls += p.nulls
	if !p.has {
		return
	}
	if typ == format.ByteArray {
		s.addBytes(p.min)
		s.addBytes(p.max)
		return
	}
	s.addInt(p.imin)
	s.addInt(p.imax)
}

// bounds returns the PLAIN encoding of min and max.
func (s *stats) bounds(typ format.Type) (lo, hi []byte) {
	if !s.has {
		return nil, nil
	}
	switch typ {
	case format.Int64:
		return binary.LittleEndian.AppendUint64(nil, uint64(s.imin)), binary.LittleEndian.AppendUint64(nil, uint64(s.imax))
	case format.Int32:
		return binary.LittleEndian.AppendUint32(nil, uint32(s.imin)), binary.LittleEndian.AppendUint32(nil, uint32(s.imax))
	case format.Boolean:
		return []byte{byte(s.imin)}, []byte{byte(s.imax)}
	}
	// Not nil when empty: an empty string is a bound, nil is none.
	return append([]byte{}, s.min...), append([]byte{}, s.max...)
}

func (s *stats) reset() {
	s.has, s.nulls, s.min, s.max = false, 0, s.min[:0], s.max[:0]
}

// len is the number of values of the current page, nulls included.
func (c *pcol) len() int {
	switch {
	case c.optional:
		return len(c.defs)
	case c.enc == encDict:
		return len(c.idx)
	}
	switch c.typ {
	case format.Int64:
		return len(c.i64)
	case format.Int32:
		return len(c.i32)
	case format.Boolean:
		return len(c.bits)
	}
	return len(c.offs) - 1
}

// valueCount is the number of non-null values of the current page.
func (c *pcol) valueCount() int {
	switch {
	case c.enc == encDict:
		return len(c.idx)
	case c.typ == format.Int64:
		return len(c.i64)
	case c.typ == format.Int32:
		return len(c.i32)
	case c.typ == format.Boolean:
		return len(c.bits)
	}
	return len(c.offs) - 1
}

// rawBytes is the size of the current page's values, as PLAIN would write
// them.
func (c *pcol) rawBytes() int {
	switch {
	case c.enc == encDict:
		return 4 * len(c.idx)
	case c.typ == format.Int64:
		return 8 * len(c.i64)
	case c.typ == format.Int32:
		return 4 * len(c.i32)
	case c.typ == format.Boolean:
		return len(c.bits) / 8
	}
	return len(c.data) + 4*len(c.offs)
}

func (c *pcol) int64(v int64) {
	c.i64 = append(c.i64, v) // required columns only
}

// optInt64 adds v, or a null when !valid.
func (c *pcol) optInt64(v int64, valid bool) { appendOpt(c, &c.i64, v, valid) }

func (c *pcol) int32(v int32) {
	c.i32 = append(c.i32, v) // required columns only
}

func (c *pcol) optInt32(v int32, valid bool) { appendOpt(c, &c.i32, v, valid) }

func appendOpt[T int32 | int64](c *pcol, vals *[]T, v T, valid bool) {
	if !valid {
		c.defs = append(c.defs, 0)
		return
	}
	c.defs = append(c.defs, 1)
	*vals = append(*vals, v)
}

func (c *pcol) bool(v bool) {
	c.bits = append(c.bits, v) // required columns only
}

// The batch appenders add one column's values for a batch of rows, in a
// loop that keeps the column's slices in registers (FlowWriter's
// appendFlows). Each is the same as calling the single-value method per row.

func batchInt64(c *pcol, b []analyze.Record, f func(*analyze.Record) int64) {
	v := c.i64
	for k := range b {
		v = append(v, f(&b[k]))
	}
	c.i64 = v
}

func batchInt32(c *pcol, b []analyze.Record, f func(*analyze.Record) int32) {
	v := c.i32
	for k := range b {
		v = append(v, f(&b[k]))
	}
	c.i32 = v
}

func batchBool(c *pcol, b []analyze.Record, f func(*analyze.Record) bool) {
	v := c.bits
	for k := range b {
		v = append(v, f(&b[k]))
	}
	c.bits = v
}

// optsAt adds, for each record, the optional integer at offset valOff,
// null when the flag at flagOff (an Opt's Valid, or a count that must not
// be 0) is false or 0, as optInt64 (optInt32) does for each: the levels
// without a branch per value (whether a value is null follows no pattern),
// and a batch of nulls as one cleared run of levels.
func optsAt[T int32 | int64, F bool | int64](c *pcol, vals *[]T, b []analyze.Record, valOff, flagOff uintptr) {
	var unset F
	var set uint8
	for k := range b {
		set |= b2u(*fieldAt[F](b, k, flagOff) != unset)
	}
	d := c.moreDefs(len(b))
	if set == 0 {
		clear(d)
		return
	}
	nv := len(*vals)
	v := slices.Grow(*vals, len(b))[:nv+len(b)]
	for k := range d {
		valid := b2u(*fieldAt[F](b, k, flagOff) != unset)
		d[k] = valid
		v[nv] = T(*fieldAt[int64](b, k, valOff))
		nv += int(valid)
	}
	*vals = v[:nv]
}

// Offsets in an analyze.Opt.
const (
	optV     = unsafe.Offsetof(analyze.Opt{}.V)
	optValid = unsafe.Offsetof(analyze.Opt{}.Valid)
)

// optAt adds the analyze.Opt field at offset off of each record.
func (c *pcol) optAt(b []analyze.Record, off uintptr) {
	optsAt[int64, bool](c, &c.i64, b, off+optV, off+optValid)
}

// rttsAt adds to the four columns cs the fields Samples, MinNs, P50Ns and
// MaxNs of the analyze.RTTStats at offset st of each record, all four null
// when the direction has no samples: the levels are found once and copied.
func rttsAt(cs []pcol, b []analyze.Record, st uintptr) {
	var z analyze.RTTStats
	cs = cs[:4:4]
	c0 := &cs[0]
	n0 := len(c0.i64)
	optsAt[int64, int64](c0, &c0.i64, b, st+unsafe.Offsetof(z.Samples), st+unsafe.Offsetof(z.Samples))
	d := c0.defs[len(c0.defs)-len(b):]
	some := len(c0.i64) > n0
	for j, off := range [3]uintptr{unsafe.Offsetof(z.MinNs), unsafe.Offsetof(z.P50Ns), unsafe.Offsetof(z.MaxNs)} {
		c := &cs[j+1]
		c.defs = append(c.defs, d...)
		if !some {
			continue
		}
		nv := len(c.i64)
		v := slices.Grow(c.i64, len(b))[:nv+len(b)]
		for k := range d {
			v[nv] = *fieldAt[int64](b, k, st+off)
			nv += int(d[k])
		}
		c.i64 = v[:nv]
	}
}

// moreDefs extends c's definition levels by n and returns the n new ones,
// for the caller to fill.
func (c *pcol) moreDefs(n int) []uint8 {
	nd := len(c.defs)
	c.defs = slices.Grow(c.defs, n)[:nd+n]
	return c.defs[nd:]
}

// b2u is 1 for true, 0 for false.
func b2u(b bool) uint8 {
	var x uint8
	if b {
		x = 1
	}
	return x
}

// fieldAt returns the field of b[k] at offset off (unsafe.Offsetof of a
// Record field of type T): the column appenders read one field of every
// record of a batch in one loop that is not a closure per value.
func fieldAt[T any](b []analyze.Record, k int, off uintptr) *T {
	return (*T)(unsafe.Add(unsafe.Pointer(&b[k]), off))
}

// stringsAt adds the string field at offset off of each record, as string
// does for each.
func (c *pcol) stringsAt(b []analyze.Record, off uintptr) {
	if c.optional {
		// The levels first: a batch of an optional column is often all
		// nulls (no pods, no TLS), and then one pass over the lengths and
		// a cleared run of levels are all there is to do.
		var set int
		for k := range b {
			set |= len(*fieldAt[string](b, k, off))
		}
		d := c.moreDefs(len(b))
		if set == 0 {
			clear(d)
			return
		}
		for k := range d {
			d[k] = b2u(len(*fieldAt[string](b, k, off)) != 0)
		}
	}
	if c.enc != encDict {
		data, offs := c.data, c.offs
		for k := range b {
			s := *fieldAt[string](b, k, off)
			if s == "" && c.optional {
				continue
			}
			data = append(data, s...)
			offs = append(offs, uint32(len(data)))
		}
		c.data, c.offs = data, offs
		return
	}
	idx := c.idx
	for k := range b {
		s := *fieldAt[string](b, k, off)
		if s == "" && c.optional {
			continue
		}
		if !c.lastOK || !sameString(s, c.last) {
			c.last, c.lastIdx, c.lastOK = s, c.lookup(s), true
		}
		idx = append(idx, c.lastIdx)
	}
	c.idx = idx
}

// strList adds a row's list to a list column of BYTE_ARRAY elements (not
// dictionary encoded); an empty list is one entry at definition level 0.
func (c *pcol) strList(v []string) {
	if len(v) == 0 {
		c.reps, c.defs = append(c.reps, 0), append(c.defs, 0)
		return
	}
	c.reps, c.defs = appendLevels(c.reps, c.defs, len(v))
	for _, s := range v {
		c.data = append(c.data, s...)
		c.offs = append(c.offs, uint32(len(c.data)))
	}
}

// appendLevels appends the levels of a list of n > 0 values: repetition 0
// then 1, definition 1.
func appendLevels(reps, defs []uint8, n int) ([]uint8, []uint8) {
	reps = append(reps, 0)
	for range n - 1 {
		reps = append(reps, 1)
	}
	for range n {
		defs = append(defs, 1)
	}
	return reps, defs
}

// int64List adds a row's list to a list column of INT64 elements.
func (c *pcol) int64List(v []int64) {
	if len(v) == 0 {
		c.reps, c.defs = append(c.reps, 0), append(c.defs, 0)
		return
	}
	c.reps, c.defs = appendLevels(c.reps, c.defs, len(v))
	c.i64 = append(c.i64, v...)
}

// string adds a value to a BYTE_ARRAY column; an optional column takes ""
// as null.
func (c *pcol) string(s string) {
	if c.optional {
		if s == "" {
			c.defs = append(c.defs, 0)
			return
		}
		c.defs = append(c.defs, 1)
	}
	if c.enc != encDict {
		c.data = append(c.data, s...)
		c.offs = append(c.offs, uint32(len(c.data)))
		return
	}
	if !c.lastOK || !sameString(s, c.last) {
		c.last, c.lastIdx, c.lastOK = s, c.lookup(s), true
	}
	c.idx = append(c.idx, c.lastIdx)
}

// lookup returns s's dictionary index, adding it if new.
func (c *pcol) lookup(s string) int32 {
	if len(c.vals) <= smallDict {
		for i, v := range c.vals {
			if sameString(v, s) {
				return int32(i)
			}
		}
	} else if i, ok := c.dict[s]; ok {
		return i
	}
	return c.addDict(s)
}

// sameString is a == b, without a call when both are the same bytes in
// memory (most of a flow's strings are constants or shared by its capture).
func sameString(a, b string) bool {
	return len(a) == len(b) && (unsafe.StringData(a) == unsafe.StringData(b) || a == b)
}

// addrsAt adds the address field at offset off of each record to a
// required dictionary column as its RFC 5952 text, without a zone; the text
// is made once per row group and address. A column takes addresses or
// strings, not both.
func (c *pcol) addrsAt(b []analyze.Record, off uintptr) {
	c.addrs.prefetch4(b, off)
	idx := c.idx
	for k := range b {
		if a := fieldAt[netip.Addr](b, k, off); !c.lastOK || *a != c.lastIP {
			c.lastIP, c.lastIdx, c.lastOK = *a, c.addrIndex(*a), true
		}
		idx = append(idx, c.lastIdx)
	}
	c.idx = idx
}

// addrIndex returns a's dictionary index, adding it if new.
func (c *pcol) addrIndex(a netip.Addr) int32 {
	i, ok := c.addrs.get(a)
	if !ok {
		i = c.nAddrs
		c.nAddrs++
		start := len(c.addrText)
		c.addrText = a.WithZone("").AppendTo(append(c.addrText, 0, 0, 0, 0))
		binary.LittleEndian.PutUint32(c.addrText[start:], uint32(len(c.addrText)-start-4))
		c.addrs.put(a, i)
	}
	return i
}

// dictLen is the number of values in the dictionary.
func (c *pcol) dictLen() int {
	return len(c.vals) + int(c.nAddrs)
}

func (c *pcol) addDict(s string) int32 {
	i := int32(len(c.vals))
	c.vals = append(c.vals, s)
	if len(c.vals) > smallDict {
		if len(c.dict) == 0 {
			for k, v := range c.vals {
				c.dict[v] = int32(k)
			}
		}
		c.dict[s] = i
	}
	return i
}

// addrIndex maps addresses to dictionary indexes: open-addressing tables
// with multiplicative hashes (netip.Addr as a Go map key hashes 24 bytes, a
// zone pointer included). IPv4 addresses have their own table of 8-byte
// slots: a row group of distinct sources (a spoofed flood) then probes
// 256 KiB rather than 768 KiB, mostly in cache.
type addrIndex struct {
	v4    []uint64 // address<<32 | index+1; 0 is an empty slot
	n4    int
	slots []addrSlot // the other addresses, keyed by the 16-byte form
	n     int
}

type addrSlot struct {
	hi, lo uint64
	idx    int32 // +1; 0 is an empty slot
	is4    bool
}

func addrKey(a netip.Addr) (hi, lo uint64, is4 bool) {
	b := a.As16()
	return binary.BigEndian.Uint64(b[:8]), binary.BigEndian.Uint64(b[8:]), a.Is4()
}

func (t *addrIndex) slot(hi, lo uint64) int {
	h := (hi*0x9e3779b97f4a7c15 ^ lo) * 0xbf58476d1ce4e5b9
	return int(h >> 32)
}

func slot4(a uint32) int {
	return int((uint64(a) * 0x9e3779b97f4a7c15) >> 32)
}

func (t *addrIndex) get(a netip.Addr) (int32, bool) {
	if a.Is4() {
		if t.n4 == 0 {
			return 0, false
		}
		k := a.As4()
		v := binary.BigEndian.Uint32(k[:])
		mask := len(t.v4) - 1
		for i := slot4(v) & mask; ; i = (i + 1) & mask {
			s := t.v4[i]
			if s == 0 {
				return 0, false
			}
			if uint32(s>>32) == v {
				return int32(uint32(s)) - 1, true
			}
		}
	}
	if t.n == 0 {
		return 0, false
	}
	hi, lo, is4 := addrKey(a)
	mask := len(t.slots) - 1
	for i := t.slot(hi, lo) & mask; ; i = (i + 1) & mask {
		s := &t.slots[i]
		if s.idx == 0 {
			return 0, false
		}
		if s.hi == hi && s.lo == lo && s.is4 == is4 {
			return s.idx - 1, true
		}
	}
}

// prefetch4 starts loading the IPv4 slots where the batch's addresses at
// offset off will be looked up. A row group of distinct sources (a spoofed
// flood) misses the caches on most lookups: issued together, the misses
// overlap. A repeated address (the usual column) costs a compare.
func (t *addrIndex) prefetch4(b []analyze.Record, off uintptr) {
	if t.n4 == 0 {
		return
	}
	mask := len(t.v4) - 1
	var last netip.Addr
	for k := range b {
		a := fieldAt[netip.Addr](b, k, off)
		if *a == last || !a.Is4() {
			continue
		}
		last = *a
		v := a.As4()
		prefetch.Read(&t.v4[slot4(binary.BigEndian.Uint32(v[:]))&mask])
	}
}

func (t *addrIndex) put(a netip.Addr, idx int32) {
	if a.Is4() {
		if 2*(t.n4+1) > len(t.v4) {
			old := t.v4
			t.v4 = make([]uint64, max(64, 2*len(old)))
			t.n4 = 0
			for _, s := range old {
				if s != 0 {
					t.insert4(s)
				}
			}
		}
		k := a.As4()
		t.insert4(uint64(binary.BigEndian.Uint32(k[:]))<<32 | uint64(idx+1))
		return
	}
	if 2*(t.n+1) > len(t.slots) {
		old := t.slots
		t.slots = make([]addrSlot, max(64, 2*len(old)))
		t.n = 0
		for _, s := range old {
			if s.idx != 0 {
				t.insert(s)
			}
		}
	}
	hi, lo, is4 := addrKey(a)
	t.insert(addrSlot{hi: hi, lo: lo, is4: is4, idx: idx + 1})
}

func (t *addrIndex) insert4(s uint64) {
	mask := len(t.v4) - 1
	i := slot4(uint32(s>>32)) & mask
	for t.v4[i] != 0 {
		i = (i + 1) & mask
	}
	t.v4[i] = s
	t.n4++
}

func (t *addrIndex) insert(s addrSlot) {
	mask := len(t.slots) - 1
	i := t.slot(s.hi, s.lo) & mask
	for t.slots[i].idx != 0 {
		i = (i + 1) & mask
	}
	t.slots[i] = s
	t.n++
}

func (t *addrIndex) reset() {
	if t.n4 > 0 {
		clear(t.v4)
		t.n4 = 0
	}
	if t.n > 0 {
		clear(t.slots)
		t.n = 0
	}
}

// newColWriter returns a writer of the columns named and encoded as given,
// with schema elements and column orders from a file parquet-go wrote for
// the same row struct.
func newColWriter(w io.Writer, codec *zstdCodec, schema *format.FileMetaData, encs []format.Encoding) (*colWriter, error) {
	leaves, err := schemaLeaves(schema.Schema)
	if err != nil {
		return nil, err
	}
	if len(leaves) != len(encs) {
		return nil, fmt.Errorf("%d columns in the schema, %d encodings", len(leaves), len(encs))
	}
	cw := &colWriter{w: w, codec: codec, cols: make([]pcol, len(leaves))}
	cw.md = format.FileMetaData{
		Version:      schema.Version,
		Schema:       schema.Schema,
		ColumnOrders: schema.ColumnOrders,
	}
	for i, l := range leaves {
		c := &cw.cols[i]
		c.name, c.path, c.typ, c.enc = l.path[0], l.path, l.elem.Type.V, encs[i]
		c.repeated = len(l.path) > 1
		c.optional = c.repeated || l.elem.RepetitionType.V == format.Optional
		if c.repeated && (c.enc == encDict || c.typ == format.Boolean) {
			return nil, fmt.Errorf("list column %s: encoding %v for type %v", c.name, c.enc, c.typ)
		}
		ok := false
		switch c.typ {
		case format.Int64, format.Int32:
			ok = c.enc == encPlain || c.enc == encDelta
		case format.Boolean:
			ok = c.enc == encPlain
		case format.ByteArray:
			ok = c.enc == encPlain || c.enc == encDeltaBytes || c.enc == encPrefix || c.enc == encDict
		}
		if !ok {
			return nil, fmt.Errorf("column %s: encoding %v for type %v", c.name, c.enc, c.typ)
		}
		c.offs = []uint32{0}
		if c.enc == encDict {
			c.dict = make(map[string]int32)
		}
	}
	cw.write([]byte(parquetMagic))
	return cw, nil
}

// A leaf is a column of the schema: its element and its path.
type leaf struct {
	elem *format.SchemaElement
	path []string
}

// schemaLeaves returns the leaf columns of a schema (its elements in
// depth-first order, the root first), accepting flat required or optional
// columns and required lists of a required element.
func schemaLeaves(schema []format.SchemaElement) ([]leaf, error) {
	var leaves []leaf
	for i := 1; i < len(schema); i++ {
		e := &schema[i]
		if !e.NumChildren.Valid || e.NumChildren.V == 0 {
			if e.RepetitionType.V == format.Repeated {
				return nil, fmt.Errorf("column %s is repeated", e.Name)
			}
			leaves = append(leaves, leaf{elem: e, path: []string{e.Name}})
			continue
		}
		if i+2 >= len(schema) {
			return nil, fmt.Errorf("column %s: truncated group", e.Name)
		}
		l, el := &schema[i+1], &schema[i+2]
		isList := isListType(e.LogicalType.Value) && e.RepetitionType.V == format.Required && e.NumChildren.V == 1 &&
			l.RepetitionType.V == format.Repeated && l.NumChildren.V == 1 &&
			(!el.NumChildren.Valid || el.NumChildren.V == 0) && el.RepetitionType.V == format.Required
		if !isList {
			return nil, fmt.Errorf("column %s is nested, not a required list of required values", e.Name)
		}
		leaves = append(leaves, leaf{elem: el, path: []string{e.Name, l.Name, el.Name}})
		i += 2
	}
	return leaves, nil
}

func isListType(v format.LogicalTypeValue) bool {
	_, ok := v.(*format.ListType)
	return ok
}

func (cw *colWriter) write(b []byte) {
	if cw.err != nil {
		return
	}
	n, err := cw.w.Write(b)
	cw.pos += int64(n)
	cw.err = err
}

// endRow is called after a row's values are added: every 64 rows it
// encodes the pages that are full.
func (cw *colWriter) endRow() {
	cw.rows++
	if cw.rows%64 != 0 {
		return
	}
	cw.flushFullPages()
}

// flushFullPages encodes the pages that are full.
func (cw *colWriter) flushFullPages() {
	for i := range cw.cols {
		if c := &cw.cols[i]; c.rawBytes() >= pageBytes {
			cw.flushPage(c)
		}
	}
}

// flushPage encodes and compresses the current page of c into its chunk.
func (cw *colWriter) flushPage(c *pcol) {
	n := c.len()
	if n == 0 || cw.err != nil {
		return
	}
	c.pageStats()
	if c.optional && int64(n)-c.pst.nulls != int64(c.valueCount()) {
		cw.err = fmt.Errorf("column %s: %d definition levels for %d nulls and %d values", c.name, n, c.pst.nulls, c.valueCount())
		return
	}
	s := &cw.scr
	body := s.body[:0]
	rows := int64(n)
	if c.repeated {
		rows = int64(bytes.Count(c.reps, []byte{0}))
		s.levels, cw.err = (&rle.Encoding{BitWidth: 1}).EncodeLevels(s.levels, c.reps)
		body = binary.LittleEndian.AppendUint32(body, uint32(len(s.levels)))
		body = append(body, s.levels...)
	}
	if c.optional {
		s.levels, cw.err = (&rle.Encoding{BitWidth: 1}).EncodeLevels(s.levels, c.defs)
		body = binary.LittleEndian.AppendUint32(body, uint32(len(s.levels)))
		body = append(body, s.levels...)
	}
	var err error
	switch {
	case c.enc == encDelta && c.pst.has && c.pst.imin == 0 && c.pst.imax == 0:
		s.values = appendDeltaZeros(s.values[:0], c.valueCount())
	case c.typ == format.Int64 && c.enc == encDelta:
		s.values, err = (&delta.BinaryPackedEncoding{}).EncodeInt64(s.values, c.i64)
	case c.typ == format.Int64:
		s.values, err = (&plain.Encoding{}).EncodeInt64(s.values, c.i64)
	case c.typ == format.Int32 && c.enc == encDelta:
		s.values, err = (&delta.BinaryPackedEncoding{}).EncodeInt32(s.values, c.i32)
	case c.typ == format.Int32:
		s.values, err = (&plain.Encoding{}).EncodeInt32(s.values, c.i32)
	case c.typ == format.Boolean:
		s.values = packBools(s.values[:0], c.bits)
	case c.enc == encDict:
		// The bit width of the dictionary, not of the page's largest index:
		// no scan, and a valid width for every index.
		w := bits.Len(uint(max(c.dictLen()-1, 0)))
		s.values, err = (&rle.Encoding{BitWidth: w}).EncodeInt32(s.values, c.idx)
		s.values = slices.Insert(s.values, 0, byte(w))
	case c.enc == encDeltaBytes:
		s.values, err = (&delta.LengthByteArrayEncoding{}).EncodeByteArray(s.values, c.data, c.offs)
	case c.enc == encPrefix:
		s.values = s.deltaByteArray(s.values[:0], c.data, c.offs)
	default:
		s.values, err = (&plain.Encoding{}).EncodeByteArray(s.values, c.data, c.offs)
	}
	if err != nil {
		cw.err = fmt.Errorf("encode column %s: %w", c.name, err)
		return
	}
	body = append(body, s.values...)
	s.body = body
	nulls := c.pst.nulls
	start := len(c.pages)
	c.pages = cw.appendPage(c, c.pages, body, int32(n), c.enc, false)
	c.locs = append(c.locs, format.PageLocation{
		Offset:             int64(start), // made absolute when written
		CompressedPageSize: int32(len(c.pages) - start),
		FirstRowIndex:      c.rows,
	})
	lo, hi := c.pst.bounds(c.typ)
	if c.typ == format.ByteArray && c.pst.has {
		lo, hi = truncMin(lo), truncMax(hi)
	}
	if lo == nil { // a null page, or an empty string: not absent
		lo = []byte{}
	}
	if hi == nil {
		hi = []byte{}
	}
	c.index.NullPages = append(c.index.NullPages, !c.pst.has)
	c.index.MinValues = append(c.index.MinValues, lo)
	c.index.MaxValues = append(c.index.MaxValues, hi)
	c.index.NullCounts = append(c.index.NullCounts, nulls)
	if c.enc == encDict {
		c.cst.nulls += c.pst.nulls
	} else {
		c.cst.merge(&c.pst, c.typ)
	}
	c.values += int64(n)
	c.rows += rows
	c.nPages++

	c.reps, c.defs, c.i64, c.i32, c.bits, c.idx = c.reps[:0], c.defs[:0], c.i64[:0], c.i32[:0], c.bits[:0], c.idx[:0]
	c.data, c.offs = c.data[:0], c.offs[:1]
	c.pst.reset()
}

// appendPage appends a page's header and body to dst, zstd-compressed
// unless the column is stored uncompressed, and adds the header's and the
// uncompressed body's sizes to the chunk's. With codecPerColumn, a
// column's first page decides its codec for the whole file (parquet-go
// reads every chunk of a column with the codec of its first): none when
// that page has at least zstdDecideBytes and zstd makes it less than
// 1/zstdMinGain smaller, else zstd. zstd costs about as much time on
// values it cannot shrink (Community IDs, nanosecond times, RTTs) as on
// others (README: Speed and memory). A dictionary column stays zstd: its
// first page holds indexes, which say nothing of its dictionary page's
// text. Pages of numbers are then compressed without entropy coding
// (EncodeNumbers).
func (cw *colWriter) appendPage(c *pcol, dst, body []byte, numValues int32, enc format.Encoding, dict bool) []byte {
	payload := body
	if !c.decided || !c.raw {
		encode := cw.codec.Encode
		if cw.codecPerColumn && !dict && (c.typ != format.ByteArray || c.enc == encDict) {
			encode = cw.codec.EncodeNumbers // not text
		}
		z, err := encode(cw.scr.zbuf, body)
		if err != nil {
			cw.err = fmt.Errorf("compress: %w", err)
			return dst
		}
		cw.scr.zbuf = z
		if !c.decided {
			c.decided = true
			decides := cw.codecPerColumn || cw.codecPerDeltaColumn && c.enc == encDelta
			c.raw = decides && c.enc != encDict && len(body) >= zstdDecideBytes && len(body)-len(z) < len(body)/zstdMinGain
		}
		if !c.raw {
			payload = z
		}
	}
	start := len(dst)
	dst = appendPageHeader(dst, int32(len(body)), int32(len(payload)), numValues, enc, dict)
	c.rawTotal += int64(len(dst)-start) + int64(len(body))
	return append(dst, payload...)
}

// A column is stored uncompressed when its first page has at least
// zstdDecideBytes and zstd makes it less than 1/zstdMinGain smaller. A
// smaller first page (a column of nulls, constants or a few values) says
// too little about the rest: such a column stays zstd.
const (
	zstdDecideBytes = 4 << 10
	zstdMinGain     = 16
)

// codec is the column's compression codec.
func (c *pcol) codec() format.CompressionCodec {
	if c.raw {
		return format.Uncompressed
	}
	return format.Zstd
}

// appendPageHeader appends a thrift compact PageHeader: a data page (v1,
// RLE levels) or a dictionary page. It writes no page statistics: they
// are in the column index (parquet-go's thrift encoder would write an
// empty statistics struct, whose null_count 0 a reader could believe).
func appendPageHeader(b []byte, uncompressed, compressed, numValues int32, enc format.Encoding, dict bool) []byte {
	const i32, structType = 5, 12
	field := func(b []byte, delta, typ byte) []byte { return append(b, delta<<4|typ) }
	int32v := func(b []byte, v int32) []byte { return binary.AppendUvarint(b, uint64(uint32(v<<1^v>>31))) }
	typ := format.DataPage
	if dict {
		typ = format.DictionaryPage
	}
	b = int32v(field(b, 1, i32), int32(typ))
	b = int32v(field(b, 1, i32), uncompressed)
	b = int32v(field(b, 1, i32), compressed)
	if dict {
		b = field(b, 4, structType) // 7: dictionary_page_header
		b = int32v(field(b, 1, i32), numValues)
		b = int32v(field(b, 1, i32), int32(enc))
	} else {
		b = field(b, 2, structType) // 5: data_page_header
		b = int32v(field(b, 1, i32), numValues)
		b = int32v(field(b, 1, i32), int32(enc))
		b = int32v(field(b, 1, i32), int32(format.RLE)) // definition levels
		b = int32v(field(b, 1, i32), int32(format.RLE)) // repetition levels
	}
	return append(b, 0, 0) // end of the inner struct, end of the header
}

// Thrift compact protocol, as parquet-go's encoder writes it: field
// headers as (id delta)<<4 | type, integers as zigzag varints, lists as
// size<<4 | element type (0xf0 | type and a varint size from 15 on), a
// bool in a list as a byte 0 or 1. appendColumnIndex and
// appendOffsetIndex write what thrift.Marshal writes for the column and
// offset indexes (TestIndexThrift), without its reflection per value: it
// was about 3% of the flow writer's time.
const (
	tBool   = 2 // in a list
	tI32    = 5
	tI64    = 6
	tBinary = 8
	tList   = 9
	tStruct = 12
)

func appendZigzag(b []byte, v int64) []byte { return binary.AppendUvarint(b, uint64(v<<1^v>>63)) }

func appendListHeader(b []byte, n int, typ byte) []byte {
	if n <= 14 {
		return append(b, byte(n)<<4|typ)
	}
	return binary.AppendUvarint(append(b, 0xf0|typ), uint64(n))
}

// appendColumnIndex appends ci (no level histograms) in thrift compact;
// required lists are written also when nil, as parquet-go does.
func appendColumnIndex(b []byte, ci *format.ColumnIndex) []byte {
	last := 0
	field := func(b []byte, id int, typ byte) []byte {
		b = append(b, byte(id-last)<<4|typ)
		last = id
		return b
	}
	binaries := func(b []byte, id int, v [][]byte) []byte {
		b = appendListHeader(field(b, id, tList), len(v), tBinary)
		for _, x := range v {
			b = append(binary.AppendUvarint(b, uint64(len(x))), x...)
		}
		return b
	}
	b = appendListHeader(field(b, 1, tList), len(ci.NullPages), tBool)
	for _, null := range ci.NullPages {
		b = append(b, b2u(null))
	}
	b = binaries(b, 2, ci.MinValues)
	b = binaries(b, 3, ci.MaxValues)
	b = appendZigzag(field(b, 4, tI32), int64(ci.BoundaryOrder))
	if ci.NullCounts != nil {
		b = appendListHeader(field(b, 5, tList), len(ci.NullCounts), tI64)
		for _, n := range ci.NullCounts {
			b = appendZigzag(b, n)
		}
	}
	return append(b, 0)
}

// appendOffsetIndex appends oi (no unencoded byte array sizes) in thrift
// compact.
func appendOffsetIndex(b []byte, oi *format.OffsetIndex) []byte {
	b = appendListHeader(append(b, 1<<4|tList), len(oi.PageLocations), tStruct)
	for _, l := range oi.PageLocations {
		b = appendZigzag(append(b, 1<<4|tI64), l.Offset)
		b = appendZigzag(append(b, 1<<4|tI32), int64(l.CompressedPageSize))
		b = appendZigzag(append(b, 1<<4|tI64), l.FirstRowIndex)
		b = append(b, 0)
	}
	return append(b, 0)
}

// pageStats computes the current page's null count, min and max.
func (c *pcol) pageStats() {
	p := &c.pst
	p.nulls = int64(bytes.Count(c.defs, []byte{0}))
	switch {
	case c.enc == encDict:
		// Bounds come from the dictionary when the chunk ends (writeChunk).
		p.has = len(c.idx) > 0
	case c.typ == format.ByteArray:
		p.byteArrays(c.data, c.offs)
	case c.typ == format.Int64 && len(c.i64) > 0:
		p.has = true
		p.imin, p.imax = minMax(c.i64)
	case c.typ == format.Int32 && len(c.i32) > 0:
		lo, hi := minMax(c.i32)
		p.has, p.imin, p.imax = true, int64(lo), int64(hi)
	case c.typ == format.Boolean && len(c.bits) > 0:
		all, some := true, false
		for _, v := range c.bits {
			all, some = all && v, some || v
		}
		p.has, p.imin, p.imax = true, int64(b2u(all)), int64(b2u(some))
	}
}

// byteArrays adds a page's BYTE_ARRAY values (data cut at offs) to s: a
// value whose first 8 bytes put it strictly between the bounds, or that is
// a bound (at most 8 bytes long), changes nothing and costs a load and two
// comparisons; the others go through addBytes.
func (s *stats) byteArrays(data []byte, offs []uint32) {
	if len(offs) < 2 {
		return
	}
	if !s.has {
		s.addBytes(data[offs[0]:offs[1]])
	}
	lo, hi := s.pmin, s.pmax
	for i := 1; i < len(offs); i++ {
		start, end := int(offs[i-1]), int(offs[i])
		n := end - start
		var p uint64
		if start+8 <= len(data) {
			// The 8 bytes from the value's start, those past its end
			// masked off (a shift by 64 or more is 0 in Go).
			p = binary.BigEndian.Uint64(data[start:]) & ^(^uint64(0) >> (8 * min(n, 8)))
		} else {
			p = prefix8(data[start:end])
		}
		if p > lo && p < hi || n <= 8 && (p == lo && n == len(s.min) || p == hi && n == len(s.max)) {
			continue
		}
		v := data[start:end]
		if p == lo && string(v) == string(s.min) || p == hi && string(v) == string(s.max) {
			continue // a bound again (a column's repeated value)
		}
		s.addBytes(v)
		lo, hi = s.pmin, s.pmax
	}
}

// minMax returns the least and greatest of v (not empty), in four
// independent chains so that the comparisons overlap.
func minMax[T int32 | int64](v []T) (lo, hi T) {
	l0, h0 := v[0], v[0]
	l1, h1, l2, h2, l3, h3 := l0, h0, l0, h0, l0, h0
	i := 0
	for ; i+3 < len(v); i += 4 {
		w := v[i : i+4 : i+4]
		l0, h0 = min(l0, w[0]), max(h0, w[0])
		l1, h1 = min(l1, w[1]), max(h1, w[1])
		l2, h2 = min(l2, w[2]), max(h2, w[2])
		l3, h3 = min(l3, w[3]), max(h3, w[3])
	}
	for ; i < len(v); i++ {
		l0, h0 = min(l0, v[i]), max(h0, v[i])
	}
	return min(l0, l1, l2, l3), max(h0, h1, h2, h3)
}

// appendDeltaZeros appends the DELTA_BINARY_PACKED encoding of n zeros, as
// parquet-go writes it (blocks of 128 values in 4 miniblocks): the header
// (block size, miniblocks, count, first value 0), then per block a minimum
// delta of 0 and four bit widths of 0, with no packed bits. Counters that
// stay 0 are many of a page's columns.
func appendDeltaZeros(dst []byte, n int) []byte {
	dst = binary.AppendUvarint(dst, 128)
	dst = binary.AppendUvarint(dst, 4)
	dst = binary.AppendUvarint(dst, uint64(n))
	dst = append(dst, 0) // first value: zigzag varint 0
	for i := 1; i < n; i += 128 {
		dst = append(dst, 0, 0, 0, 0, 0)
	}
	return dst
}

func packBools(dst []byte, v []bool) []byte {
	for i := 0; i < len(v); i += 8 {
		var b byte
		for j := 0; j < 8 && i+j < len(v); j++ {
			if v[i+j] {
				b |= 1 << j
			}
		}
		dst = append(dst, b)
	}
	return dst
}

// deltaByteArray appends the DELTA_BYTE_ARRAY encoding of the values
// (data cut at offs), the bytes parquet-go's encoder writes: each value's
// prefix length shared with the previous value and its suffix length, both
// DELTA_BINARY_PACKED, then the suffixes. Prefixes are compared eight bytes
// at a time (parquet-go compares a byte at a time, and allocates).
func (s *scratch) deltaByteArray(dst, data []byte, offs []uint32) []byte {
	pre, suf := s.prefixes[:0], s.suffixes[:0]
	var last []byte
	for i := 1; i < len(offs); i++ {
		v := data[offs[i-1]:offs[i]]
		p := commonPrefix(last, v)
		pre, suf = append(pre, int32(p)), append(suf, int32(len(v)-p))
		last = v
	}
	s.prefixes, s.suffixes = pre, suf
	var enc delta.BinaryPackedEncoding
	s.lens, _ = enc.EncodeInt32(s.lens, pre) // never fails
	dst = append(dst, s.lens...)
	s.lens, _ = enc.EncodeInt32(s.lens, suf)
	dst = append(dst, s.lens...)
	for i, p := range pre {
		dst = append(dst, data[int(offs[i])+int(p):offs[i+1]]...)
	}
	return dst
}

// commonPrefix is the length of the longest common prefix of a and b.
func commonPrefix(a, b []byte) int {
	n := min(len(a), len(b))
	i := 0
	for ; i+8 <= n; i += 8 {
		if x := binary.LittleEndian.Uint64(a[i:]) ^ binary.LittleEndian.Uint64(b[i:]); x != 0 {
			return i + bits.TrailingZeros64(x)/8
		}
	}
	for i < n && a[i] == b[i] {
		i++
	}
	return i
}

func truncMin(v []byte) []byte {
	if len(v) > columnIndexLimit {
		v = v[:columnIndexLimit]
	}
	return v
}

// truncMax shortens v to a value that is still an upper bound: the prefix
// with its last byte that can be incremented incremented.
func truncMax(v []byte) []byte {
	if len(v) <= columnIndexLimit {
		return v
	}
	p := slices.Clone(v[:columnIndexLimit])
	for i := len(p) - 1; i >= 0; i-- {
		if p[i] != 0xff {
			p[i]++
			return p[:i+1]
		}
	}
	return v
}

// endRowGroup writes the current row group's column chunks, except those of
// the columns listed in skip (written later by writeChunk).
func (cw *colWriter) endRowGroup(skip int) {
	if cw.rows == 0 {
		return
	}
	rg := format.RowGroup{
		Columns: make([]format.ColumnChunk, len(cw.cols)),
		NumRows: cw.rows,
		Ordinal: int16(len(cw.md.RowGroups)),
	}
	cw.md.RowGroups = append(cw.md.RowGroups, rg)
	cw.ci = append(cw.ci, make([]format.ColumnIndex, len(cw.cols)))
	cw.oi = append(cw.oi, make([]format.OffsetIndex, len(cw.cols)))
	for i := range cw.cols {
		if i != skip {
			cw.writeChunk(len(cw.md.RowGroups)-1, i)
		}
	}
	cw.md.NumRows += cw.rows
	cw.rows = 0
}

// writeChunk writes column j's chunk as row group g's.
func (cw *colWriter) writeChunk(g, j int) {
	c := &cw.cols[j]
	cw.flushPage(c)
	if cw.err != nil {
		return
	}
	start := cw.pos
	encs := []format.Encoding{c.enc}
	estats := []format.PageEncodingStats{{PageType: format.DataPage, Encoding: c.enc, Count: c.nPages}}
	var dictOffset, dictLen int64
	if c.enc == encDict {
		body := c.addrText
		if c.nAddrs == 0 {
			body = cw.scr.values[:0]
			for _, v := range c.vals {
				body = binary.LittleEndian.AppendUint32(body, uint32(len(v)))
				body = append(body, v...)
			}
			cw.scr.values = body
		}
		page := cw.appendPage(c, cw.scr.body[:0], body, int32(c.dictLen()), format.Plain, true)
		cw.scr.body = page
		dictOffset, dictLen = start, int64(len(page))
		cw.write(page)
		encs = append(encs, format.Plain)
		estats = append(estats, format.PageEncodingStats{PageType: format.DictionaryPage, Encoding: format.Plain, Count: 1})
	}
	if c.optional {
		encs = append(encs, format.RLE)
	}
	slices.Sort(encs)
	if c.enc == encDict {
		// Every dictionary value is used in the chunk: its bounds are the
		// dictionary's. A page's bounds in the column index are the chunk's
		// (looser than the page's own, still bounds, and found without a
		// comparison per value).
		for _, v := range c.vals {
			c.cst.addString(v)
		}
		for b := c.addrText; len(b) >= 4; {
			n := 4 + int(binary.LittleEndian.Uint32(b))
			c.cst.addBytes(b[4:n])
			b = b[n:]
		}
		lo, hi := c.cst.bounds(c.typ)
		lo, hi = truncMin(lo), truncMax(hi)
		for k, null := range c.index.NullPages {
			if !null {
				c.index.MinValues[k], c.index.MaxValues[k] = lo, hi
			}
		}
	}
	dataStart := cw.pos
	cw.write(c.pages)
	lo, hi := c.cst.bounds(c.typ)
	rg := &cw.md.RowGroups[g]
	rg.Columns[j] = format.ColumnChunk{
		MetaData: format.ColumnMetaData{
			Type:                  c.typ,
			Encoding:              encs,
			PathInSchema:          c.path,
			Codec:                 c.codec(),
			NumValues:             c.values,
			TotalUncompressedSize: c.rawTotal,
			TotalCompressedSize:   dictLen + int64(len(c.pages)),
			DataPageOffset:        dataStart,
			DictionaryPageOffset:  dictOffset,
			Statistics:            format.Statistics{NullCount: c.cst.nulls, MinValue: lo, MaxValue: hi},
			EncodingStats:         estats,
		},
	}
	if j == 0 {
		rg.FileOffset = start
	}
	rg.TotalByteSize += c.rawTotal
	rg.TotalCompressedSize += dictLen + int64(len(c.pages))
	for k := range c.locs {
		c.locs[k].Offset += dataStart
	}
	cw.oi[g][j] = format.OffsetIndex{PageLocations: slices.Clone(c.locs)}
	c.index.BoundaryOrder = format.Unordered
	cw.ci[g][j] = c.index

	c.pages, c.locs, c.values, c.rows, c.rawTotal, c.nPages = c.pages[:0], c.locs[:0], 0, 0, 0, 0
	c.index = format.ColumnIndex{}
	c.cst.reset()
	if c.enc == encDict {
		clear(c.dict)
		c.addrs.reset()
		clear(c.vals) // drop references to the records' strings
		c.vals = c.vals[:0]
		c.addrText, c.nAddrs = c.addrText[:0], 0
		c.last, c.lastIP, c.lastIdx, c.lastOK = "", netip.Addr{}, 0, false
	}
}

// close writes the column index, the offset index and the footer.
func (cw *colWriter) close(kv []format.KeyValue, createdBy string) error {
	var b []byte
	var err error
	for g := range cw.ci {
		for j := range cw.ci[g] {
			b = appendColumnIndex(b[:0], &cw.ci[g][j])
			cc := &cw.md.RowGroups[g].Columns[j]
			cc.ColumnIndexOffset, cc.ColumnIndexLength = cw.pos, int32(len(b))
			cw.write(b)
		}
	}
	for g := range cw.oi {
		for j := range cw.oi[g] {
			b = appendOffsetIndex(b[:0], &cw.oi[g][j])
			cc := &cw.md.RowGroups[g].Columns[j]
			cc.OffsetIndexOffset, cc.OffsetIndexLength = cw.pos, int32(len(b))
			cw.write(b)
		}
	}
	cw.md.KeyValueMetadata = kv
	cw.md.CreatedBy = createdBy
	if b, err = thrift.Marshal(&cw.proto, &cw.md); err != nil {
		return err
	}
	cw.write(b)
	cw.write(binary.LittleEndian.AppendUint32(nil, uint32(len(b))))
	cw.write([]byte(parquetMagic))
	return cw.err
}
