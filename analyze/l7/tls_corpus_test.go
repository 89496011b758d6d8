package l7_test

import (
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/flowproof/flowproof/analyze/l7/tls"
)

// tlsArgs is the referee's command for hellos (after -r FILE).
var tlsArgs = []string{"-Y", "tls.handshake.type == 1 || tls.handshake.type == 2",
	"-T", "fields", "-E", "separator=/t", "-E", "aggregator=/s",
	"-e", "ip.src", "-e", "ipv6.src", "-e", "tcp.srcport", "-e", "ip.dst", "-e", "ipv6.dst", "-e", "tcp.dstport",
	"-e", "tls.handshake.type", "-e", "tls.handshake.extensions_server_name", "-e", "tls.handshake.extensions_alpn_str",
	"-e", "tls.handshake.extensions.supported_version", "-e", "tls.handshake.version"}

// tlsRow is one connection's hellos: "client server sni alpn version".
func tlsRow(client, server netip.AddrPort, sni, alpn, version string) string {
	return strings.Join([]string{client.String(), server.String(), sni, alpn, version}, " ")
}

// tsharkHellos pairs tshark's ClientHello and ServerHello per connection
// (the first of each, as flowproof keeps them).
func tsharkHellos(t *testing.T, path string) map[string]string {
	t.Helper()
	out, err := exec.Command("tshark", append([]string{"-r", path}, tlsArgs...)...).Output()
	if err != nil {
		t.Fatalf("tshark %s: %v", path, err)
	}
	type conn struct {
		sni, alpn, version string
		ch, sh             bool
	}
	conns := map[[2]netip.AddrPort]*conn{}
	var order [][2]netip.AddrPort
	for _, line := range strings.Split(strings.TrimRight(string(out), "\n"), "\n") {
		f := strings.Split(line, "\t")
		if len(f) < 11 {
			continue
		}
		src := netip.MustParseAddr(f[0] + f[1])
		dst := netip.MustParseAddr(f[3] + f[4])
		sp, _ := strconv.Atoi(f[2])
		dp, _ := strconv.Atoi(f[5])
		a, b := netip.AddrPortFrom(src, uint16(sp)), netip.AddrPortFrom(dst, uint16(dp))
		types := fields(f[6])
		if len(types) == 0 {
			continue
		}
		key := [2]netip.AddrPort{a, b} // client, server
		if types[0] == "2" {
			key = [2]netip.AddrPort{b, a}
		}
		c := conns[key]
		if c == nil {
			c = &conn{}
			conns[key] = c
			order = append(order, key)
		}
		switch types[0] {
		case "1":
			if !c.ch {
				c.ch, c.sni, c.alpn = true, f[7], strings.ReplaceAll(f[8], " ", ",")
			}
		case "2":
			if !c.sh {
				v := f[10]
				if sv := fields(f[9]); len(sv) > 0 {
					v = sv[0]
				}
				if n, err := strconv.ParseUint(strings.TrimPrefix(fields(v)[0], "0x"), 16, 16); err == nil {
					c.sh, c.version = true, tls.VersionName(uint16(n))
				}
			}
		}
	}
	rows := map[string]string{}
	for _, k := range order {
		c := conns[k]
		rows[k[0].String()+" "+k[1].String()] = tlsRow(k[0], k[1], c.sni, c.alpn, c.version)
	}
	return rows
}

// TestCorpusTLSMatchesTshark: per connection, the ClientHello's SNI and
// ALPN list and the ServerHello's negotiated version equal tshark's.
func TestCorpusTLSMatchesTshark(t *testing.T) {
	if _, err := os.Stat(corpusDir); err != nil {
		t.Skipf("no public corpus at %s (set FLOWPROOF_CORPUS): %v", corpusDir, err)
	}
	if _, err := exec.LookPath("tshark"); err != nil {
		t.Skip("tshark not installed: it is the referee")
	}
	for _, file := range []string{
		"pcapplusplus/tls2.pcap", "scapy/tls_tcp_frag.pcap", "scapy/tls_nss_example.pcap",
		"zeek/tls-tls1.2.pcap", "zeek/tls-tls13_wolfssl.pcap", "wireshark-notes/http-chunked-ssl.pcapng",
		"ndpi/netflix.pcap", "wireshark-test-captures/rsasnakeoil2.pcap", "suricata-verify/tor_bl.pcap",
	} {
		t.Run(file, func(t *testing.T) {
			path := filepath.Join(corpusDir, file)
			want := tsharkHellos(t, path)
			got := map[string]string{}
			for _, h := range runEngine(t, path).tls {
				client, server := h.Flow.Orig, h.Flow.Resp
				if h.FromResp { // a ServerHello alone: the table's roles are taken as they are
					client, server = server, client
				}
				got[client.String()+" "+server.String()] = tlsRow(client, server, h.SNI, h.ALPNList(), h.Version())
			}
			for k, w := range want {
				if got[k] != w {
					t.Errorf("tshark %q\n    flowproof %q", w, got[k])
				}
			}
			for k, g := range got {
				if _, ok := want[k]; !ok {
					t.Errorf("flowproof only %q", g)
				}
			}
			t.Logf("%d connections' hellos equal tshark's", len(want))
		})
	}
}
