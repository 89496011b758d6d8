package kubeshark

import (
	"errors"
	"fmt"
	"net/netip"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/flowproof/flowproof/ingest/kubeshark/evidence"
)

// Window is the time range to pull, inclusive, at millisecond precision
// (Kubeshark's tools take Unix milliseconds).
type Window struct {
	From, To time.Time
}

// IsZero reports whether no window was given.
func (w Window) IsZero() bool { return w.From.IsZero() && w.To.IsZero() }

func (w Window) String() string {
	return w.From.UTC().Format(time.RFC3339Nano) + " .. " + w.To.UTC().Format(time.RFC3339Nano)
}

// ParseWindow turns --since or --from/--to into a Window. since is a Go
// duration, optionally in days ("2d"); from and to are RFC 3339 times or
// Unix milliseconds; to defaults to now. All empty gives a zero Window.
func ParseWindow(since, from, to string, now time.Time) (Window, error) {
	if since != "" && (from != "" || to != "") {
		return Window{}, errors.New("give either --since or --from/--to, not both")
	}
	if since != "" {
		d, err := ParseDuration(since)
		if err != nil {
			return Window{}, fmt.Errorf("--since %q: %v (examples: 30m, 2h, 1d)", since, err)
		}
		if d <= 0 {
			return Window{}, fmt.Errorf("--since %q must be positive", since)
		}
		return Window{From: now.Add(-d).Truncate(time.Millisecond), To: now.Truncate(time.Millisecond)}, nil
	}
	if from == "" && to == "" {
		return Window{}, nil
	}
	if from == "" {
		return Window{}, errors.New("--to needs --from")
	}
	f, err := ParseTime(from)
	if err != nil {
		return Window{}, fmt.Errorf("--from: %v", err)
	}
	t := now.Truncate(time.Millisecond)
	if to != "" {
		if t, err = ParseTime(to); err != nil {
			return Window{}, fmt.Errorf("--to: %v", err)
		}
	}
	if !f.Before(t) {
		return Window{}, fmt.Errorf("--from %s is not before --to %s", f.UTC().Format(time.RFC3339Nano), t.UTC().Format(time.RFC3339Nano))
	}
	return Window{From: f, To: t}, nil
}

// ParseDuration is time.ParseDuration plus a "d" (24 h) unit.
func ParseDuration(s string) (time.Duration, error) {
	if strings.HasSuffix(s, "d") && !strings.HasSuffix(s, "nd") {
		n, err := strconv.ParseFloat(strings.TrimSuffix(s, "d"), 64)
		if err != nil {
			return 0, fmt.Errorf("not a duration")
		}
		return time.Duration(n * float64(24*time.Hour)), nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("not a duration")
	}
	return d, nil
}

// ParseTime reads an RFC 3339 time (2026-03-14T22:00:00Z, fractions and
// offsets allowed) or Unix milliseconds.
func ParseTime(s string) (time.Time, error) {
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return time.UnixMilli(n).UTC(), nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is neither an RFC 3339 time (2026-03-14T22:00:00Z) nor Unix milliseconds", s)
	}
	return t, nil
}

// Selection narrows what is pulled.
type Selection struct {
	NS  string // namespace
	Pod string // RE2 pattern on pod names (Kubeshark's name_regex)
	Svc string // service name
	BPF string // capture filter, ANDed with the workload hosts
	KFL string // Kubeshark filter (KFL2), passed to tools that take one
	// Nodes limits the snapshot and its export to these nodes' captures
	// (create_snapshot's and export_snapshot_pcap's nodes).
	Nodes []string
}

// Workloads reports whether the selection names workloads.
func (s Selection) Workloads() bool { return s.NS != "" || s.Pod != "" || s.Svc != "" }

// Validate checks the patterns.
func (s Selection) Validate() error {
	if s.Pod != "" {
		if _, err := regexp.Compile(s.Pod); err != nil {
			return fmt.Errorf("--pod %q is not a valid RE2 pattern: %v", s.Pod, err)
		}
	}
	if strings.ContainsAny(s.BPF, "\n\r") {
		return errors.New("--bpf must be one line")
	}
	return nil
}

// HostFilter returns a BPF expression matching any of the IPs
// ("host A or host B"), sorted and deduplicated.
func HostFilter(ips []evidence.SelectedIP) string {
	seen := map[string]bool{}
	var hosts []string
	for _, ip := range ips {
		if !seen[ip.IP] {
			seen[ip.IP] = true
			hosts = append(hosts, ip.IP)
		}
	}
	sort.Slice(hosts, func(i, j int) bool {
		a, _ := netip.ParseAddr(hosts[i])
		b, _ := netip.ParseAddr(hosts[j])
		return a.Less(b)
	})
	var parts []string
	for _, h := range hosts {
		parts = append(parts, "host "+h)
	}
	return strings.Join(parts, " or ")
}

// CombineBPF ANDs the host filter with the user's filter.
func CombineBPF(hosts, user string) string {
	switch {
	case hosts == "":
		return user
	case user == "":
		return hosts
	}
	return "(" + hosts + ") and (" + user + ")"
}
