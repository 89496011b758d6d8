package report

import (
	"reflect"
	"testing"

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
