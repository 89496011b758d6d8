package report

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/flowproof/flowproof/provenance"
)

// fmtInt writes n with comma thousands separators: 1,234,567.
func fmtInt(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	if neg {
		s = s[1:]
	}
	var b strings.Builder
	if neg {
		b.WriteByte('-')
	}
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// fmtMs writes a duration in ns as milliseconds with three decimals (µs
// resolution, rounded half away from zero): 1500000 -> "1.500".
func fmtMs(ns int64) string {
	neg := ns < 0
	if neg {
		ns = -ns
	}
	us := (ns + 500) / 1000
	s := fmtInt(us/1000) + "." + fmt.Sprintf("%03d", us%1000)
	if neg && us != 0 {
		s = "-" + s
	}
	return s
}

// fmtTime writes epoch ns as RFC 3339 in UTC, with only the fractional
// digits needed: 2024-01-01T00:00:00.5Z.
func fmtTime(ns int64) string {
	return time.Unix(0, ns).UTC().Format(time.RFC3339Nano)
}

// fmtDuration writes a span of ns compactly, rounded to what a reader
// needs: 12.345ms, 3.5s, 1m1s, 6h, 70d, 1059d20h44m44s.
func fmtDuration(ns int64) string {
	d := time.Duration(ns)
	if d < time.Minute {
		switch {
		case d >= time.Second:
			d = d.Round(time.Millisecond)
		case d >= time.Millisecond:
			d = d.Round(time.Microsecond)
		}
		return d.String()
	}
	d = d.Round(time.Second)
	var b strings.Builder
	for _, u := range []struct {
		unit time.Duration
		name string
	}{{24 * time.Hour, "d"}, {time.Hour, "h"}, {time.Minute, "m"}, {time.Second, "s"}} {
		if n := d / u.unit; n > 0 {
			b.WriteString(strconv.FormatInt(int64(n), 10) + u.name)
			d -= n * u.unit
		}
	}
	return b.String()
}

// fmtSize writes a byte count in SI units with three significant digits:
// 1.23 MB. Below 1000 it is exact: 999 B.
func fmtSize(n int64) string {
	if n < 1000 && n > -1000 {
		return strconv.FormatInt(n, 10) + " B"
	}
	units := []string{"kB", "MB", "GB", "TB", "PB", "EB"}
	f := float64(n)
	u := -1
	for (f >= 999.5 || f <= -999.5) && u < len(units)-1 {
		f /= 1000
		u++
	}
	return strconv.FormatFloat(f, 'g', 3, 64) + " " + units[u]
}

// fmtShare writes a as a percentage of b with one decimal, "<0.1%" for a
// non-zero share that rounds to 0.
func fmtShare(a, b int64) string {
	if b <= 0 {
		return "-"
	}
	pm := (a*1000 + b/2) / b // permille, rounded half up
	if pm == 0 && a > 0 {
		return "<0.1%"
	}
	return strconv.FormatInt(pm/10, 10) + "." + strconv.FormatInt(pm%10, 10) + "%"
}

// plural writes "1 flow", "2 flows".
func plural(n int64, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmtInt(n) + " " + many
}

// mdText escapes s for a Markdown table cell or running text: the
// characters that would start inline markup, HTML or a cell boundary are
// backslash-escaped, and line breaks become spaces.
func mdText(s string) string {
	if s == "" {
		return ""
	}
	var b strings.Builder
	for _, c := range provenance.SafeText(s) {
		switch c {
		case '\\', '`', '*', '_', '[', ']', '<', '>', '|', '#', '~', '&':
			b.WriteByte('\\')
			b.WriteRune(c)
		case '\n', '\r', '\t':
			b.WriteByte(' ')
		default:
			b.WriteRune(c)
		}
	}
	return b.String()
}

// mdCode writes s as an inline code span. Backticks in s are replaced
// (a code span cannot escape them) and | is escaped for tables.
func mdCode(s string) string {
	s = strings.NewReplacer("`", "'", "|", `\|`, "\n", " ", "\r", " ").Replace(provenance.SafeText(s))
	return "`" + s + "`"
}

// shellQuote quotes a command line for a POSIX shell.
func shellQuote(args []string) string {
	out := make([]string, len(args))
	for i, a := range args {
		if a != "" && strings.IndexFunc(a, func(r rune) bool {
			return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./=:,+@%", r))
		}) < 0 {
			out[i] = a
			continue
		}
		out[i] = "'" + strings.ReplaceAll(provenance.SafeText(a), "'", `'\''`) + "'"
	}
	return strings.Join(out, " ")
}
