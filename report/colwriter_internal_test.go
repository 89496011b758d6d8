package report

import (
	"bytes"
	"math/rand/v2"
	"net/netip"
	"reflect"
	"slices"
	"testing"

	"github.com/parquet-go/parquet-go/encoding/delta"
	"github.com/parquet-go/parquet-go/encoding/thrift"
	"github.com/parquet-go/parquet-go/format"
)

// TestPageHeaderThrift: the hand-written page headers decode, with
// parquet-go's thrift decoder, to the headers meant (and carry no page
// statistics).
func TestPageHeaderThrift(t *testing.T) {
	for _, tc := range []struct {
		name string
		dict bool
		want format.PageHeader
	}{
		{"data", false, format.PageHeader{Type: format.DataPage, UncompressedPageSize: 70000, CompressedPageSize: 1,
			DataPageHeader: thrift.New(format.DataPageHeader{NumValues: 4096, Encoding: format.RLEDictionary,
				DefinitionLevelEncoding: format.RLE, RepetitionLevelEncoding: format.RLE})}},
		{"dictionary", true, format.PageHeader{Type: format.DictionaryPage, UncompressedPageSize: 0, CompressedPageSize: 1 << 30,
			DictionaryPageHeader: thrift.New(format.DictionaryPageHeader{NumValues: 16384, Encoding: format.Plain})}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var enc format.Encoding
			var n int32
			if tc.dict {
				enc, n = tc.want.DictionaryPageHeader.V.Encoding, tc.want.DictionaryPageHeader.V.NumValues
			} else {
				enc, n = tc.want.DataPageHeader.V.Encoding, tc.want.DataPageHeader.V.NumValues
			}
			b := appendPageHeader([]byte{0xAA}, tc.want.UncompressedPageSize, tc.want.CompressedPageSize, n, enc, tc.dict)
			var got format.PageHeader
			if err := thrift.Unmarshal(new(thrift.CompactProtocol), b[1:], &got); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("decoded %+v\nwant %+v", got, tc.want)
			}
			if b[0] != 0xAA {
				t.Error("appendPageHeader overwrote the buffer's start")
			}
		})
	}
}

// TestAddrIndex checks the address index against a Go map keyed by the
// zone-free address, with IPv4, IPv6 and IPv4-mapped addresses (distinct
// keys, as their texts differ), across growth and resets.
func TestAddrIndex(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	var x addrIndex
	for round := range 3 {
		want := map[netip.Addr]int32{}
		for i := range 50000 {
			var a netip.Addr
			v := rng.Uint32N(20000) // repeats
			switch i % 4 {
			case 0, 1:
				a = netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
			case 2:
				a = netip.AddrFrom16(netip.AddrFrom4([4]byte{0, byte(v >> 16), byte(v >> 8), byte(v)}).As16()) // mapped
			default:
				a = netip.AddrFrom16([16]byte{0x20, 1, 15: byte(v), 14: byte(v >> 8)}).WithZone([]string{"", "eth0"}[v%2])
			}
			k := a.WithZone("")
			got, ok := x.get(a)
			w, wok := want[k]
			if ok != wok || got != w {
				t.Fatalf("round %d, get(%s) = %d, %v; want %d, %v", round, a, got, ok, w, wok)
			}
			if !ok {
				want[k] = int32(len(want))
				x.put(a, want[k])
			}
		}
		x.reset()
	}
}

func TestCompareBytes(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for range 100000 {
		a, b := make([]byte, rng.IntN(12)), make([]byte, rng.IntN(12))
		for i := range a {
			a[i] = byte(rng.IntN(3)) * 127
		}
		for i := range b {
			b[i] = byte(rng.IntN(3)) * 127
		}
		if got, want := compareBytes(a, b), bytes.Compare(a, b); got != want {
			t.Fatalf("compareBytes(%x, %x) = %d, want %d", a, b, got, want)
		}
	}
}

// TestStatsBytes: a page's byte-array min and max (addBytes, which skips
// values decided by their first 8 bytes, and addString) are those of
// bytes.Compare.
func TestStatsBytes(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	for range 2000 {
		var s stats
		var lo, hi []byte
		for k := range 1 + rng.IntN(40) {
			v := make([]byte, rng.IntN(14))
			for i := range v {
				v[i] = byte(rng.IntN(3)) * 127
			}
			if k%2 == 0 {
				s.addString(string(v))
			} else {
				s.addBytes(v)
			}
			if lo == nil || bytes.Compare(v, lo) < 0 {
				lo = v
			}
			if hi == nil || bytes.Compare(v, hi) > 0 {
				hi = v
			}
		}
		if !bytes.Equal(s.min, lo) || !bytes.Equal(s.max, hi) {
			t.Fatalf("min %x max %x, want %x %x", s.min, s.max, lo, hi)
		}
	}
}

// TestStatsByteArrays: a page's bounds from byteArrays (prefixes loaded
// from the page buffer, values that are a bound skipped) are those of
// bytes.Compare, over pages of few distinct values (bounds repeat) and of
// many, added to bounds of earlier pages.
func TestStatsByteArrays(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	for range 3000 {
		var s stats
		var lo, hi []byte
		for range 1 + rng.IntN(3) {
			data, offs := []byte{}, []uint32{0}
			distinct := 1 + rng.IntN(6)
			for range rng.IntN(30) {
				v := make([]byte, rng.IntN(14))
				for i := range v {
					v[i] = byte(rng.IntN(distinct)) * 60
				}
				data = append(data, v...)
				offs = append(offs, uint32(len(data)))
				if lo == nil || bytes.Compare(v, lo) < 0 {
					lo = v
				}
				if hi == nil || bytes.Compare(v, hi) > 0 {
					hi = v
				}
			}
			s.byteArrays(data, offs)
		}
		if lo == nil {
			if s.has {
				t.Fatal("bounds of no values")
			}
			continue
		}
		if !bytes.Equal(s.min, lo) || !bytes.Equal(s.max, hi) {
			t.Fatalf("min %x max %x, want %x %x", s.min, s.max, lo, hi)
		}
	}
}

// TestDeltaZeros: appendDeltaZeros writes parquet-go's bytes for pages of
// zeros, INT64 and INT32.
func TestDeltaZeros(t *testing.T) {
	for _, n := range []int{1, 2, 3, 127, 128, 129, 130, 255, 256, 257, 1000, 4096, 4097} {
		want64, _ := (&delta.BinaryPackedEncoding{}).EncodeInt64(nil, make([]int64, n))
		want32, _ := (&delta.BinaryPackedEncoding{}).EncodeInt32(nil, make([]int32, n))
		got := appendDeltaZeros([]byte("x"), n)
		if !bytes.Equal(got[1:], want64) || !bytes.Equal(got[1:], want32) || got[0] != 'x' {
			t.Errorf("%d zeros: %x, want %x (INT64), %x (INT32)", n, got[1:], want64, want32)
		}
	}
}

func TestMinMax(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	for n := 1; n < 40; n++ {
		v := make([]int64, n)
		for i := range v {
			v[i] = rng.Int64() >> rng.IntN(64)
			if rng.IntN(2) == 0 {
				v[i] = -v[i]
			}
		}
		lo, hi := minMax(v)
		if lo != slices.Min(v) || hi != slices.Max(v) {
			t.Fatalf("minMax(%v) = %d, %d", v, lo, hi)
		}
		v32 := make([]int32, n)
		for i := range v {
			v32[i] = int32(v[i])
		}
		lo32, hi32 := minMax(v32)
		if lo32 != slices.Min(v32) || hi32 != slices.Max(v32) {
			t.Fatalf("minMax(%v) = %d, %d", v32, lo32, hi32)
		}
	}
}

// TestIndexThrift: appendColumnIndex and appendOffsetIndex write the bytes
// thrift.Marshal writes, for pages of 1 to 40 (list headers short and
// long), null and empty bounds, negative and large numbers.
func TestIndexThrift(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 14))
	var proto thrift.CompactProtocol
	num := func() int64 { return rng.Int64() >> rng.IntN(64) * int64(1-2*rng.IntN(2)) }
	for n := range 41 {
		ci := format.ColumnIndex{BoundaryOrder: format.BoundaryOrder(rng.IntN(3))}
		oi := format.OffsetIndex{}
		if n > 0 {
			ci.NullPages, ci.MinValues, ci.MaxValues = []bool{}, [][]byte{}, [][]byte{}
			oi.PageLocations = []format.PageLocation{}
		}
		if n%3 != 0 {
			ci.NullCounts = []int64{}
		}
		for range n {
			lo := make([]byte, rng.IntN(20))
			for i := range lo {
				lo[i] = byte(rng.Uint32())
			}
			ci.NullPages = append(ci.NullPages, rng.IntN(2) == 0)
			ci.MinValues = append(ci.MinValues, lo)
			ci.MaxValues = append(ci.MaxValues, append(lo, 0xff))
			if ci.NullCounts != nil {
				ci.NullCounts = append(ci.NullCounts, num())
			}
			oi.PageLocations = append(oi.PageLocations, format.PageLocation{Offset: num(), CompressedPageSize: int32(num()), FirstRowIndex: num()})
		}
		want, err := thrift.Marshal(&proto, &ci)
		if err != nil {
			t.Fatal(err)
		}
		if got := appendColumnIndex([]byte("x"), &ci); !bytes.Equal(got[1:], want) {
			t.Fatalf("%d pages: column index\n%x\nwant\n%x", n, got[1:], want)
		}
		if want, err = thrift.Marshal(&proto, &oi); err != nil {
			t.Fatal(err)
		}
		if got := appendOffsetIndex([]byte("x"), &oi); !bytes.Equal(got[1:], want) {
			t.Fatalf("%d pages: offset index\n%x\nwant\n%x", n, got[1:], want)
		}
	}
}

// TestDeltaByteArray: the column writer's DELTA_BYTE_ARRAY pages are the
// bytes of parquet-go's encoder (prefixes short and long, empty values,
// values that are prefixes of their neighbours).
func TestDeltaByteArray(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	var s scratch
	for _, n := range []int{0, 1, 2, 3, 127, 128, 129, 1000} {
		data, offs := []byte{}, []uint32{0}
		var last []byte
		for range n {
			v := append([]byte{}, last[:rng.IntN(len(last)+1)]...)
			for range rng.IntN(3) * rng.IntN(40) {
				v = append(v, byte('a'+rng.IntN(3)))
			}
			if rng.IntN(9) == 0 {
				v = v[:0]
			}
			data = append(data, v...)
			offs = append(offs, uint32(len(data)))
			last = v
		}
		want, err := (&delta.ByteArrayEncoding{}).EncodeByteArray(nil, data, offs)
		if err != nil {
			t.Fatal(err)
		}
		if got := s.deltaByteArray([]byte("x"), data, offs); !bytes.Equal(got[1:], want) || got[0] != 'x' {
			t.Errorf("%d values: %x, want %x", n, got[1:], want)
		}
	}
}
