package provenance

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"unicode/utf8"
)

// secretNames are the flag and query parameter names whose values are
// secrets.
var secretNames = []string{"token", "license", "license-key", "password", "secret"}

// Redacted replaces a secret value.
const Redacted = "REDACTED"

// IsSecretName reports whether a flag or query parameter name (leading
// dashes ignored) names a secret: token, license, license-key, password or
// secret, or a name ending in "-" or "_" and one of them (--hub-token,
// --db_password).
func IsSecretName(name string) bool {
	name = strings.ToLower(strings.TrimLeft(name, "-"))
	for _, s := range secretNames {
		if name == s || strings.HasSuffix(name, "-"+s) || strings.HasSuffix(name, "_"+s) {
			return true
		}
	}
	return false
}

// RedactArgs returns a copy of a command line with every secret replaced by
// Redacted: the values of secret flags ("-name value" and "-name=value",
// one or two dashes), user information and secret query parameters of URLs,
// and the same inside a value that is itself a command line (such as
// --mcp-command "kubeshark mcp --token X"). Arguments after "--" are
// positional and kept.
func RedactArgs(args []string) []string {
	out := make([]string, len(args))
	copy(out, args)
	for i := 0; i < len(out); i++ {
		a := out[i]
		if a == "--" {
			break
		}
		if len(a) >= 2 && a[0] == '-' {
			name, _, hasValue := strings.Cut(a, "=")
			if IsSecretName(name) {
				if hasValue {
					out[i] = name + "=" + Redacted
				} else if i+1 < len(out) {
					i++
					out[i] = Redacted
				}
				continue
			}
			if hasValue {
				out[i] = name + "=" + redactValue(a[len(name)+1:])
				continue
			}
		}
		out[i] = redactValue(a)
	}
	return out
}

// redactValue redacts a URL, or the words of a command line held in one
// argument.
func redactValue(v string) string {
	if strings.ContainsAny(v, " \t") {
		words := strings.Fields(v)
		red := RedactArgs(words)
		for i := range words {
			if red[i] != words[i] {
				return strings.Join(red, " ")
			}
		}
		return v
	}
	if strings.Contains(v, "://") {
		return RedactURL(v)
	}
	return v
}

// RedactURL removes user information and secret query parameters from a
// URL; text that is not a URL is returned as it is.
func RedactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return s
	}
	changed := false
	if u.User != nil {
		u.User = url.User(Redacted)
		changed = true
	}
	q := u.Query()
	for k := range q {
		if IsSecretName(k) {
			q.Set(k, Redacted)
			changed = true
		}
	}
	if !changed {
		return s
	}
	u.RawQuery = q.Encode()
	return u.String()
}

// SafeText returns s with every control character (C0 but newline and tab,
// DEL, C1) and invalid UTF-8 written as a Go escape (\x1b, \u009b), so that
// text from a server cannot drive a terminal or forge a line when it is
// printed, and reads the same in a manifest or report.
func SafeText(s string) string {
	clean := true
	for _, r := range s {
		if unsafeRune(r) {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case unsafeRune(r):
			q := strconv.QuoteRune(r)
			b.WriteString(q[1 : len(q)-1])
		default:
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return b.String()
}

// unsafeRune reports a control character (but newline and tab), a line or
// paragraph separator, or the replacement of invalid UTF-8.
func unsafeRune(r rune) bool {
	return (r < 0x20 && r != '\n' && r != '\t') || (r >= 0x7f && r < 0xa0) || r == utf8.RuneError || r == '\u2028' || r == '\u2029'
}
