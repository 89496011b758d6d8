package report

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/flowproof/flowproof/analyze"
	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/encoding/thrift"
	"github.com/parquet-go/parquet-go/format"
)

// The cross-check's verdict of a flow is known only once every flow has been
// seen (it judges sums over all the flows of a Kubeshark aggregate), while
// the flow's other columns are known when it ends. Rather than hold the flows
// or encode them twice, FlowWriter writes them once with a null crosscheck
// column, remembers each row's aggregate reference, and at the end writes the
// crosscheck column again from the verdicts: its column chunks go after the
// row groups, and the footer points at them instead of the null chunks, which
// stay in the file unreferenced (a few dozen bytes per row group). Parquet
// readers find every column chunk through the footer's offsets, so the file is
// an ordinary Parquet file with the same schema and row groups.

// tailWriter passes bytes to w through a buffer of its own (parquet-go's is
// turned off, so that every byte it has written is here), counting them,
// until tail is set; from then on it keeps them, so that the page index and
// footer parquet-go writes on Close can be rewritten.
type tailWriter struct {
	w    io.Writer
	bw   *bufio.Writer
	n    int64 // bytes written through bw
	tail *bytes.Buffer
}

func newTailWriter(w io.Writer) *tailWriter {
	return &tailWriter{w: w, bw: bufio.NewWriterSize(w, 32<<10)}
}

func (t *tailWriter) Write(p []byte) (int, error) {
	if t.tail != nil {
		return t.tail.Write(p)
	}
	n, err := t.bw.Write(p)
	t.n += int64(n)
	return n, err
}

// NoAggregate is the reference of a flow that has no cross-check verdict.
const NoAggregate = -1

// WriteDeferred adds one flow whose crosscheck verdict is not known yet:
// ref names it for the verdict function given to CloseWithVerdicts
// (NoAggregate: null). rec.CrossCheck is ignored. A writer takes either
// Write or WriteDeferred calls, not both.
func (fw *FlowWriter) WriteDeferred(rec *analyze.Record, ref int32) error {
	if int64(len(fw.refs)) != fw.Count() {
		return errors.New("report: WriteDeferred after Write")
	}
	v := rec.CrossCheck
	rec.CrossCheck = ""
	err := fw.Write(rec)
	rec.CrossCheck = v
	if err != nil && fw.err == nil {
		return err // the row was skipped
	}
	fw.refs = append(fw.refs, ref)
	return err
}

// verdictRow is the crosscheck column alone, written exactly as FlowRow's.
type verdictRow struct {
	CrossCheck string `parquet:"crosscheck,optional,dict"`
}

// CloseWithVerdicts closes a writer fed with WriteDeferred, filling the
// crosscheck column with verdict(ref) for each row ("" is null). It does not
// close the underlying io.Writer.
func (fw *FlowWriter) CloseWithVerdicts(verdict func(ref int32) string) error {
	if fw.closed {
		return fw.err
	}
	if int64(len(fw.refs)) != fw.Count() {
		fw.Close()
		return errors.New("report: CloseWithVerdicts on a writer fed with Write")
	}
	if fw.err == nil {
		if err := fw.flushBatch(); err == nil && fw.inGroup > 0 {
			if err := fw.pw.Flush(); err != nil {
				fw.err = fmt.Errorf("report: flush row group: %w", err)
			}
		}
	}
	if fw.err != nil {
		fw.Close()
		return fw.err
	}
	fw.out.tail = new(bytes.Buffer) // the page index and the footer
	if err := fw.Close(); err != nil {
		return err
	}
	if err := fw.rewriteFooter(verdict); err != nil {
		fw.err = fmt.Errorf("report: write the crosscheck column: %w", err)
	}
	return fw.err
}

// rewriteFooter writes the verdict column's chunks after the row groups,
// then the page index again (parquet-go's reader wants each of its two
// sections contiguous) with the verdict column's entries in place of the
// null column's, then the footer pointing at them.
func (fw *FlowWriter) rewriteFooter(verdict func(int32) string) error {
	tail := fw.out.tail.Bytes()
	base := fw.out.n // where tail starts in the file
	var out bytes.Buffer
	if base == 0 { // no row group: the magic number is in the tail
		out.Write(tail[:len(parquetMagic)])
		tail, base = tail[len(parquetMagic):], int64(len(parquetMagic))
	}
	md, _, err := decodeFooter(tail)
	if err != nil {
		return err
	}
	col := len(md.Schema) - 2 // the last leaf: crosscheck
	if col < 0 || md.Schema[len(md.Schema)-1].Name != "crosscheck" {
		return errors.New("crosscheck is not the last column")
	}
	vf, vmd, err := fw.verdictFile(md, verdict)
	if err != nil {
		return err
	}
	// The verdict file's chunks start after its "PAR1" and land at base.
	start, end := int64(len(parquetMagic)), chunksEnd(vmd)
	shift := base - start
	out.Write(vf[start:end])
	pos := base + end - start
	proto := new(thrift.CompactProtocol)
	section := func(rg, j int, a *format.ColumnChunk, v *format.ColumnChunk, offset *int64, length *int32, vOffset int64, vLength int32, rewrite func([]byte) ([]byte, error)) error {
		var b []byte
		if j == col {
			if vLength == 0 {
				*offset, *length = 0, 0
				return nil
			}
			var err error
			if b, err = rewrite(vf[vOffset : vOffset+int64(vLength)]); err != nil {
				return err
			}
		} else {
			if *length == 0 {
				return nil
			}
			lo := *offset - base
			if lo < 0 || lo+int64(*length) > int64(len(tail)) {
				return fmt.Errorf("row group %d column %d: page index outside the tail", rg, j)
			}
			b = tail[lo : lo+int64(*length)]
		}
		*offset, *length = pos, int32(len(b))
		out.Write(b)
		pos += int64(len(b))
		return nil
	}
	keep := func(b []byte) ([]byte, error) { return b, nil }
	shiftOffsets := func(b []byte) ([]byte, error) {
		var oi format.OffsetIndex
		if err := thrift.Unmarshal(proto, b, &oi); err != nil {
			return nil, fmt.Errorf("read the verdict column's offset index: %w", err)
		}
		for k := range oi.PageLocations {
			oi.PageLocations[k].Offset += shift
		}
		return thrift.Marshal(proto, &oi)
	}
	vcc := make([]format.ColumnChunk, len(md.RowGroups))
	for i := range md.RowGroups {
		vcc[i] = vmd.RowGroups[i].Columns[0]
	}
	for i := range md.RowGroups {
		for j := range md.RowGroups[i].Columns {
			c, v := &md.RowGroups[i].Columns[j], &vcc[i]
			if err := section(i, j, c, v, &c.ColumnIndexOffset, &c.ColumnIndexLength, v.ColumnIndexOffset, v.ColumnIndexLength, keep); err != nil {
				return err
			}
		}
	}
	for i := range md.RowGroups {
		for j := range md.RowGroups[i].Columns {
			c, v := &md.RowGroups[i].Columns[j], &vcc[i]
			if err := section(i, j, c, v, &c.OffsetIndexOffset, &c.OffsetIndexLength, v.OffsetIndexOffset, v.OffsetIndexLength, shiftOffsets); err != nil {
				return err
			}
		}
	}
	for i := range md.RowGroups {
		rg := &md.RowGroups[i]
		cc := vcc[i]
		m := &cc.MetaData
		cc.FileOffset += shift
		m.DataPageOffset += shift
		if m.DictionaryPageOffset != 0 {
			m.DictionaryPageOffset += shift
		}
		if m.IndexPageOffset != 0 {
			m.IndexPageOffset += shift
		}
		cc.ColumnIndexOffset, cc.ColumnIndexLength = rg.Columns[col].ColumnIndexOffset, rg.Columns[col].ColumnIndexLength
		cc.OffsetIndexOffset, cc.OffsetIndexLength = rg.Columns[col].OffsetIndexOffset, rg.Columns[col].OffsetIndexLength
		old := &rg.Columns[col].MetaData
		rg.TotalByteSize += m.TotalUncompressedSize - old.TotalUncompressedSize
		rg.TotalCompressedSize += m.TotalCompressedSize - old.TotalCompressedSize
		rg.Columns[col] = cc
	}
	footer, err := thrift.Marshal(proto, md)
	if err != nil {
		return err
	}
	out.Write(footer)
	out.Write(binary.LittleEndian.AppendUint32(nil, uint32(len(footer))))
	out.WriteString(parquetMagic)
	fw.out.tail = nil
	if _, err := fw.out.Write(out.Bytes()); err != nil {
		return err
	}
	return fw.out.bw.Flush()
}

const parquetMagic = "PAR1"

// decodeFooter reads the file metadata at the end of tail and returns it
// with its offset in tail.
func decodeFooter(tail []byte) (*format.FileMetaData, int, error) {
	if len(tail) < 8 || string(tail[len(tail)-4:]) != parquetMagic {
		return nil, 0, errors.New("no Parquet footer")
	}
	n := int(binary.LittleEndian.Uint32(tail[len(tail)-8:]))
	at := len(tail) - 8 - n
	if n <= 0 || at < 0 {
		return nil, 0, fmt.Errorf("footer of %d bytes in a tail of %d", n, len(tail))
	}
	md := new(format.FileMetaData)
	if err := thrift.Unmarshal(new(thrift.CompactProtocol), tail[at:len(tail)-8], md); err != nil {
		return nil, 0, fmt.Errorf("read the footer: %w", err)
	}
	return md, at, nil
}

// verdictFile writes the crosscheck column as a Parquet file of its own, in
// memory, with the same row groups as md, and returns it with its metadata.
func (fw *FlowWriter) verdictFile(md *format.FileMetaData, verdict func(int32) string) ([]byte, *format.FileMetaData, error) {
	var buf bytes.Buffer
	w := parquet.NewGenericWriter[verdictRow](&buf, fw.options...)
	rows := make([]verdictRow, 0, flowBatchRows)
	next := 0
	for i := range md.RowGroups {
		for left := md.RowGroups[i].NumRows; left > 0; {
			rows = rows[:0]
			for ; left > 0 && len(rows) < cap(rows); left-- {
				v := ""
				if ref := fw.refs[next]; ref != NoAggregate {
					v = verdict(ref)
				}
				rows = append(rows, verdictRow{v})
				next++
			}
			if _, err := w.Write(rows); err != nil {
				return nil, nil, err
			}
		}
		if err := w.Flush(); err != nil {
			return nil, nil, err
		}
	}
	if next != len(fw.refs) {
		return nil, nil, fmt.Errorf("%d rows in the row groups, %d written", next, len(fw.refs))
	}
	if err := w.Close(); err != nil {
		return nil, nil, err
	}
	b := buf.Bytes()
	vmd, _, err := decodeFooter(b)
	if err != nil {
		return nil, nil, err
	}
	if len(vmd.RowGroups) != len(md.RowGroups) {
		return nil, nil, fmt.Errorf("%d row groups, the flows have %d", len(vmd.RowGroups), len(md.RowGroups))
	}
	return b, vmd, nil
}

// chunksEnd is where the last column chunk of a file ends.
func chunksEnd(md *format.FileMetaData) int64 {
	end := int64(len(parquetMagic))
	for _, rg := range md.RowGroups {
		for _, cc := range rg.Columns {
			m := cc.MetaData
			first := m.DataPageOffset
			if m.DictionaryPageOffset != 0 && m.DictionaryPageOffset < first {
				first = m.DictionaryPageOffset
			}
			end = max(end, first+m.TotalCompressedSize)
		}
	}
	return end
}
