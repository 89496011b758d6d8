package report

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Charts are plain SVG 1.1 written by hand: no scripts, no external fonts or
// styles, so they render the same on GitHub, in a browser and in a PDF
// export. Every number a chart shows is also in a table of the report.

const (
	barColor  = "#4477aa"
	bar2Color = "#ee7733"
	badColor  = "#cc3311" // half-open connections: trouble
	gridColor = "#dddddd"
	textColor = "#222222"
)

type svg struct {
	b    bytes.Buffer
	w, h int
}

func newSVG(w, h int, title string) *svg {
	s := &svg{w: w, h: h}
	fmt.Fprintf(&s.b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="Helvetica, Arial, sans-serif" font-size="11" fill="%s">`+"\n", w, h, w, h, textColor)
	s.b.WriteString("<title>" + xmlEscape(title) + "</title>\n")
	fmt.Fprintf(&s.b, `<rect x="0" y="0" width="%d" height="%d" fill="#ffffff"/>`+"\n", w, h)
	return s
}

func xmlEscape(s string) string {
	var b bytes.Buffer
	xml.EscapeText(&b, []byte(s))
	return b.String()
}

func (s *svg) text(x, y float64, anchor, text string, extra string) {
	fmt.Fprintf(&s.b, `<text x="%s" y="%s" text-anchor="%s"%s>%s</text>`+"\n", num(x), num(y), anchor, extra, xmlEscape(text))
}

func (s *svg) rect(x, y, w, h float64, fill string, tip string) {
	if tip == "" {
		fmt.Fprintf(&s.b, `<rect x="%s" y="%s" width="%s" height="%s" fill="%s"/>`+"\n", num(x), num(y), num(w), num(h), fill)
		return
	}
	fmt.Fprintf(&s.b, `<rect x="%s" y="%s" width="%s" height="%s" fill="%s"><title>%s</title></rect>`+"\n", num(x), num(y), num(w), num(h), fill, xmlEscape(tip))
}

func (s *svg) hline(x1, x2, y float64, color string) {
	fmt.Fprintf(&s.b, `<line x1="%s" y1="%s" x2="%s" y2="%s" stroke="%s" stroke-width="1"/>`+"\n", num(x1), num(y), num(x2), num(y), color)
}

func (s *svg) vline(x, y1, y2 float64, color string) {
	fmt.Fprintf(&s.b, `<line x1="%s" y1="%s" x2="%s" y2="%s" stroke="%s" stroke-width="1"/>`+"\n", num(x), num(y1), num(x), num(y2), color)
}

func (s *svg) bytes() []byte {
	s.b.WriteString("</svg>\n")
	return s.b.Bytes()
}

// num writes a coordinate with at most one decimal, so the files are stable
// and small.
func num(f float64) string {
	return strings.TrimSuffix(strconv.FormatFloat(f, 'f', 1, 64), ".0")
}

// niceStep returns a 1-2-5 step that divides [0, max] into at most 5 parts.
func niceStep(max int64) int64 {
	if max <= 0 {
		return 1
	}
	step := int64(1)
	for {
		for _, m := range []int64{1, 2, 5} {
			if step*m*5 >= max {
				return step * m
			}
		}
		step *= 10
	}
}

// compact writes a count with an SI suffix for axis labels: 1.5k, 20M.
func compact(n int64) string {
	f := float64(n)
	for _, u := range []struct {
		div float64
		suf string
	}{{1e18, "E"}, {1e15, "P"}, {1e12, "T"}, {1e9, "G"}, {1e6, "M"}, {1e3, "k"}} {
		if f >= u.div {
			return strconv.FormatFloat(f/u.div, 'g', 3, 64) + u.suf
		}
	}
	return strconv.FormatInt(n, 10)
}

// panel is one column chart: values over shared x positions.
type panel struct {
	name   string
	values []int64
	color  string
	unit   func(int64) string // axis and tooltip labels
}

// columns draws panels stacked vertically, sharing the x labels (empty
// labels are skipped; labels are slanted so that long ones do not collide).
func columns(title string, xLabels, tips []string, caption string, panels []panel) []byte {
	const left, plotW, right, top, panelH, gap, bottom = 70.0, 640.0, 30.0, 34.0, 150.0, 36.0, 90.0
	n := len(xLabels)
	barW := plotW / float64(max(n, 1))
	w := int(left + plotW + right)
	h := int(top + float64(len(panels))*(panelH+gap) - gap + bottom)
	s := newSVG(w, h, title)
	s.text(left, 20, "start", title, ` font-size="14" font-weight="bold"`)
	var base float64
	for pi, p := range panels {
		y0 := top + float64(pi)*(panelH+gap) + 14 // plot top
		y1 := y0 + panelH - 14                    // plot bottom (baseline)
		base = y1
		var mx int64
		for _, v := range p.values {
			mx = max(mx, v)
		}
		step := niceStep(mx)
		axisMax := step * ((mx + step - 1) / step)
		if axisMax == 0 {
			axisMax = step
		}
		s.text(left, y0-4, "start", p.name, ` font-weight="bold"`)
		for t := int64(0); t <= axisMax; t += step {
			y := y1 - float64(t)/float64(axisMax)*(y1-y0)
			s.hline(left, left+plotW, y, gridColor)
			s.text(left-6, y+4, "end", p.unit(t), "")
		}
		for i, v := range p.values {
			if v == 0 {
				continue
			}
			bh := max(float64(v)/float64(axisMax)*(y1-y0), 1)
			tip := p.unit(v)
			if tips != nil {
				tip = tips[i] + ": " + tip
			}
			s.rect(left+float64(i)*barW+1, y1-bh, max(barW-2, 1), bh, p.color, tip)
		}
		s.hline(left, left+plotW, y1, textColor)
		s.vline(left, y0, y1, textColor)
	}
	for i, l := range xLabels {
		if l == "" {
			continue
		}
		x := left + float64(i)*barW
		s.vline(x, base, base+4, textColor)
		y := base + 14
		s.text(x, y, "end", l, fmt.Sprintf(` transform="rotate(-35 %s %s)"`, num(x), num(y)))
	}
	s.text(left, float64(h)-10, "start", caption, ` font-size="10"`)
	return s.bytes()
}

// rttChart draws the handshake RTT histogram of the rttEdges buckets.
func rttChart(hist []int64) []byte {
	labels := make([]string, len(rttEdges))
	tips := make([]string, len(rttEdges))
	for i := range rttEdges {
		labels[i] = durLabel(rttEdges[i])
		switch {
		case i == 0:
			labels[i] = "0"
			tips[i] = "below " + durLabel(rttEdges[1])
		case i+1 == len(rttEdges):
			tips[i] = durLabel(rttEdges[i]) + " and more"
		default:
			tips[i] = durLabel(rttEdges[i]) + " to " + durLabel(rttEdges[i+1])
		}
	}
	return columns("Handshake RTT", labels, tips,
		"Handshakes per RTT bucket; each bar covers from its label to the next one (the last: and more). Log-spaced.",
		[]panel{{name: "handshakes", values: hist, color: barColor, unit: compact}})
}

func durLabel(ns int64) string {
	switch {
	case ns >= 1e9:
		return strconv.FormatInt(ns/1e9, 10) + "s"
	case ns >= 1e6:
		return strconv.FormatInt(ns/1e6, 10) + "ms"
	case ns >= 1e3:
		return strconv.FormatInt(ns/1e3, 10) + "µs"
	}
	return strconv.FormatInt(ns, 10) + "ns"
}

// trafficChart draws payload bytes and flows per interval, and half-open
// TCP connections when there are any (a SYN flood shows there, while its
// bytes are too few to see).
func trafficChart(iv []interval, width int64, halfOpen bool) []byte {
	labels := make([]string, len(iv))
	tips := make([]string, len(iv))
	flows := make([]int64, len(iv))
	bytes := make([]int64, len(iv))
	half := make([]int64, len(iv))
	every := max(1, (len(iv)+11)/12)
	layout := "15:04:05"
	switch {
	case width < int64(time.Second):
		layout = "15:04:05.000"
	case width >= 86400e9:
		layout = "2006-01-02"
	case width >= 3600e9:
		layout = "01-02 15:04"
	}
	for i, v := range iv {
		t := time.Unix(0, v.start).UTC()
		if i%every == 0 {
			labels[i] = t.Format(layout)
		}
		tips[i] = fmtTime(v.start)
		flows[i] = v.v.flows
		bytes[i] = v.v.bytes
		half[i] = v.v.halfOpen
	}
	caption := "UTC. Intervals of " + fmtDuration(width)
	if len(iv) > 0 {
		caption += " from " + fmtTime(iv[0].start)
	}
	caption += "; a flow counts in the interval it started in."
	panels := []panel{
		{name: "payload bytes", values: bytes, color: barColor, unit: func(n int64) string { return compact(n) + "B" }},
		{name: "flows started", values: flows, color: bar2Color, unit: compact},
	}
	if halfOpen {
		panels = append(panels, panel{name: "half-open TCP connections started", values: half, color: badColor, unit: compact})
	}
	return columns("Traffic over time", labels, tips, caption, panels)
}

// talkerChart draws horizontal bars of the top conversations by bytes.
func talkerChart(rows []talkerRow) []byte {
	const labelW, barMax, rowH, top = 330.0, 300.0, 22.0, 40.0
	w := int(labelW + barMax + 90)
	h := int(top + rowH*float64(max(len(rows), 1)) + 30)
	s := newSVG(w, h, "Top conversations by payload bytes")
	s.text(10, 20, "start", "Top conversations by payload bytes", ` font-size="14" font-weight="bold"`)
	var mx int64
	for _, r := range rows {
		mx = max(mx, r.v.bytes)
	}
	for i, r := range rows {
		y := top + float64(i)*rowH
		server := r.server
		if strings.Contains(server, ":") {
			server = "[" + server + "]"
		}
		label := fmt.Sprintf("%s %s → %s:%d", r.proto, r.client, server, r.port)
		if r := []rune(label); len(r) > 52 {
			label = string(r[:51]) + "…"
		}
		s.text(labelW-8, y+14, "end", label, "")
		bw := 0.0
		if mx > 0 {
			bw = max(float64(r.v.bytes)/float64(mx)*barMax, 1)
		}
		s.rect(labelW, y+3, bw, rowH-6, barColor, fmt.Sprintf("%s bytes in %s", fmtInt(r.v.bytes), plural(r.v.flows, "flow", "flows")))
		s.text(labelW+bw+6, y+14, "start", fmtSize(r.v.bytes), "")
	}
	s.vline(labelW, top, top+rowH*float64(len(rows)), textColor)
	s.text(10, float64(h)-10, "start", "Payload bytes, both directions, of all flows of the conversation.", ` font-size="10"`)
	return s.bytes()
}
