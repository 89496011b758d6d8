package report

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/flowproof/flowproof/analyze"
	"github.com/parquet-go/parquet-go/encoding/thrift"
	"github.com/parquet-go/parquet-go/format"
)

// The cross-check's verdict of a flow is known only once every flow has been
// seen (it judges sums over all the flows of a Kubeshark aggregate), while
// the flow's other columns are known when it ends. Rather than hold the flows
// or encode them twice, FlowWriter writes each row group without its
// crosscheck column chunk, remembers each row's aggregate reference, and at
// the end writes the crosscheck column's chunks from the verdicts after the
// row groups. Parquet readers find every column chunk through the footer's
// offsets, so the file is an ordinary Parquet file with the same schema and
// row groups.

// NoAggregate is the reference of a flow that has no cross-check verdict.
const NoAggregate = -1

// WriteDeferred adds one flow whose crosscheck verdict is not known yet:
// ref names it for the verdict function given to CloseWithVerdicts
// (NoAggregate: null). rec.CrossCheck is ignored. A writer takes either
// Write or WriteDeferred calls, not both.
func (fw *FlowWriter) WriteDeferred(rec *analyze.Record, ref int32) error {
	if !fw.deferred && fw.count > 0 {
		return errors.New("report: WriteDeferred after Write")
	}
	fw.deferred = true
	n := fw.count
	err := fw.write(rec)
	if fw.count > n {
		fw.refs = append(fw.refs, ref)
	}
	return err
}

// CloseWithVerdicts closes a writer fed with WriteDeferred, filling the
// crosscheck column with verdict(ref) for each row ("" is null). It does not
// close the underlying io.Writer.
func (fw *FlowWriter) CloseWithVerdicts(verdict func(ref int32) string) error {
	if fw.closed {
		return fw.err
	}
	if !fw.deferred && fw.count > 0 {
		fw.close()
		return errors.New("report: CloseWithVerdicts on a writer fed with Write")
	}
	fw.deferred = true
	if fw.err == nil {
		fw.endRowGroup()
		cw, next := fw.cw, 0
		c := &cw.cols[crossCheckCol]
		for g := range cw.md.RowGroups {
			for range cw.md.RowGroups[g].NumRows {
				v := ""
				if ref := fw.refs[next]; ref != NoAggregate {
					v = verdict(ref)
				}
				c.string(v)
				next++
				if next%64 == 0 && c.rawBytes() >= pageBytes {
					cw.flushPage(c)
				}
			}
			cw.writeChunk(g, crossCheckCol)
		}
		if cw.err != nil {
			fw.err = fmt.Errorf("report: write the crosscheck column: %w", cw.err)
		}
	}
	return fw.close()
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
