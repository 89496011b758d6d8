package pipeline

import (
	"fmt"
	"net/netip"
	"path/filepath"
	"reflect"
	"strings"
	"unicode"

	"github.com/flowproof/flowproof/analyze/l7"
	"github.com/flowproof/flowproof/analyze/l7/dns"
	"github.com/flowproof/flowproof/analyze/l7/http"
	"github.com/flowproof/flowproof/provenance"
	"github.com/flowproof/flowproof/report"
)

// l7Outputs writes http.parquet and dns.parquet, on the sink's goroutine.
type l7Outputs struct {
	httpTmp, dnsTmp *provenance.AtomicFile
	httpW           *report.TableWriter[report.HTTPRow]
	dnsW            *report.TableWriter[report.DNSRow]
	xc              *xcRun   // names the endpoints; nil without Kubeshark data
	xcL7            *xcL7Run // the L7 cross-check; nil without Kubeshark's API calls
	httpRows        report.HTTPRows
	httpRow         report.HTTPRow    // filled in place, row after row
	sum             *report.L7Summary // the report's HTTP and DNS sections
	counts          map[string]int64
}

func createL7Outputs(dir, version string, xc *xcRun, xcL7 *xcL7Run) (*l7Outputs, error) {
	o := &l7Outputs{xc: xc, xcL7: xcL7}
	var err error
	if o.httpTmp, err = provenance.CreateTemp(dir, report.HTTPFile, 0o644); err != nil {
		return nil, fmt.Errorf("create %s: %w", report.HTTPFile, err)
	}
	if o.dnsTmp, err = provenance.CreateTemp(dir, report.DNSFile, 0o644); err != nil {
		o.httpTmp.Abort()
		return nil, fmt.Errorf("create %s: %w", report.DNSFile, err)
	}
	o.httpW = report.NewTableWriter[report.HTTPRow](o.httpTmp, version)
	o.dnsW = report.NewTableWriter[report.DNSRow](o.dnsTmp, version)
	return o, nil
}

// identity names a row's endpoints at its time, as flows are named.
func (o *l7Outputs) identity(src, dst netip.AddrPort, tsNs int64) report.Identity {
	if o.xc == nil {
		return report.Identity{}
	}
	s := o.xc.chk.Identify(src.Addr(), tsNs, tsNs)
	d := o.xc.chk.Identify(dst.Addr(), tsNs, tsNs)
	return report.Identity{SrcPod: s.Pod, SrcNamespace: s.Namespace, SrcService: s.Service, SrcNode: s.Node,
		DstPod: d.Pod, DstNamespace: d.Namespace, DstService: d.Service, DstNode: d.Node}
}

var noIdentity report.Identity

// http writes a batch of transactions' rows.
func (o *l7Outputs) http(ts []*http.Transaction) error {
	o.httpRows.Prefetch(ts)
	for _, t := range ts {
		if err := o.http1(t); err != nil {
			return err
		}
	}
	return nil
}

func (o *l7Outputs) http1(t *http.Transaction) error {
	id := &noIdentity
	if o.xc != nil {
		src, dst := t.Flow.Orig, t.Flow.Resp
		if t.FromResp {
			src, dst = dst, src
		}
		v := o.identity(src, dst, t.TsNs)
		id = &v
	}
	row := &o.httpRow
	o.httpRows.Fill(row, t, id)
	o.sum.AddHTTP(row)
	if o.xcL7 != nil {
		o.xcL7.add(t)
	}
	return o.httpW.WriteRow(row)
}

func (o *l7Outputs) dns(q *dns.Query) error {
	src, dst := q.Flow.Orig, q.Flow.Resp
	if q.FromResp {
		src, dst = dst, src
	}
	row := report.DNSRowOf(q, o.identity(src, dst, q.TsNs))
	o.sum.AddDNS(&row)
	return o.dnsW.Write(row)
}

// addStats adds a capture's engine counts, named "http.requests",
// "stream.gap_bytes", "flows.tls", ... for the manifest.
func (o *l7Outputs) addStats(s l7.Stats) {
	if o.counts == nil {
		o.counts = map[string]int64{}
	}
	for k := range s.Flows {
		o.counts["flows."+l7.KindName(k)] += s.Flows[k]
	}
	for _, part := range []struct {
		name string
		v    any
	}{{"stream", s.Stream}, {"http", s.HTTP}, {"dns", s.DNS}, {"tls", s.TLS}} {
		v := reflect.ValueOf(part.v)
		for i := range v.NumField() {
			if f := v.Field(i); f.Kind() == reflect.Int64 {
				o.counts[part.name+"."+snake(v.Type().Field(i).Name)] += f.Int()
			}
		}
	}
}

// snake turns a Go field name into the manifest's style: GapBytes, gap_bytes.
func snake(s string) string {
	var b strings.Builder
	for i, r := range s {
		if unicode.IsUpper(r) {
			if i > 0 {
				b.WriteByte('_')
			}
			r = unicode.ToLower(r)
		}
		b.WriteRune(r)
	}
	return b.String()
}

// l7Table is one of the tables: its name, its writer's Close and its
// temporary file.
type l7Table struct {
	name  string
	close func() error
	tmp   *provenance.AtomicFile
}

func (o *l7Outputs) tables() [2]l7Table {
	return [2]l7Table{{report.HTTPFile, o.httpW.Close, o.httpTmp}, {report.DNSFile, o.dnsW.Close, o.dnsTmp}}
}

// finish writes both tables' ends and syncs them, still under their
// temporary names: the slow part of committing, which can run beside
// other work.
func (o *l7Outputs) finish() error {
	for _, t := range o.tables() {
		if err := t.close(); err != nil {
			return fmt.Errorf("write %s: %w", t.name, err)
		}
		if err := t.tmp.Close(); err != nil {
			return fmt.Errorf("write %s: %w", t.name, err)
		}
	}
	return nil
}

// commit finishes both tables (when finish has not) and gives them their
// names.
func (o *l7Outputs) commit(dir string) ([]provenance.File, error) {
	if err := o.finish(); err != nil { // closing again returns the first result
		return nil, err
	}
	var out []provenance.File
	for _, t := range o.tables() {
		f, err := t.tmp.Commit(filepath.Join(dir, t.name))
		if err != nil {
			return nil, fmt.Errorf("write %s: %w", t.name, err)
		}
		out = append(out, f)
	}
	return out, nil
}

// abort removes what was not committed.
func (o *l7Outputs) abort() {
	o.httpTmp.Abort()
	o.dnsTmp.Abort()
}

// settle records in the manifest what the L7 engine did and where it was
// bounded.
func (o *l7Outputs) settle(m *report.Manifest) {
	m.L7 = map[string]int64{}
	for k, n := range o.counts {
		if n != 0 {
			m.L7[k] = n
		}
	}
	m.Settings["l7"] = "http,dns,tls"
}
