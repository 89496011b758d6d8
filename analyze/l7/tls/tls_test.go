package tls

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	stdtls "crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/flowproof/flowproof/analyze"
)

// tap records the bytes one side writes.
type tap struct {
	net.Conn
	mu  sync.Mutex
	out []byte
}

func (t *tap) Write(b []byte) (int, error) {
	t.mu.Lock()
	t.out = append(t.out, b...)
	t.mu.Unlock()
	return t.Conn.Write(b)
}

func (t *tap) bytes() []byte {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]byte(nil), t.out...)
}

func selfSigned(t *testing.T) stdtls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "api.flowproof.test"},
		DNSNames: []string{"api.flowproof.test"}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return stdtls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// handshake runs Go's TLS client and server against each other and
// returns the bytes each wrote: an independent source of real hellos.
func handshake(t *testing.T, maxVersion uint16, clientALPN, serverALPN []string) (client, server []byte) {
	t.Helper()
	c, s := net.Pipe()
	ct, st := &tap{Conn: c}, &tap{Conn: s}
	cert := selfSigned(t)
	done := make(chan error, 1)
	go func() {
		srv := stdtls.Server(st, &stdtls.Config{Certificates: []stdtls.Certificate{cert}, NextProtos: serverALPN, MaxVersion: maxVersion,
			SessionTicketsDisabled: true}) // a ticket write would block the pipe
		done <- srv.Handshake()
	}()
	cli := stdtls.Client(ct, &stdtls.Config{ServerName: "api.flowproof.test", NextProtos: clientALPN, InsecureSkipVerify: true, MaxVersion: maxVersion})
	if err := cli.Handshake(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	c.Close() // not cli.Close: a close_notify would block the pipe
	s.Close()
	return ct.bytes(), st.bytes()
}

func TestHelloFromCryptoTLS(t *testing.T) {
	tests := []struct {
		name        string
		max         uint16
		client, srv []string
		wantVersion string
		wantServer  string
	}{
		{"TLS 1.3 with ALPN", stdtls.VersionTLS13, []string{"h2", "http/1.1"}, []string{"http/1.1"}, "TLSv13", ""},
		{"TLS 1.2 with ALPN", stdtls.VersionTLS12, []string{"h2", "http/1.1"}, []string{"h2"}, "TLSv12", "h2"},
		{"no ALPN", stdtls.VersionTLS13, nil, nil, "TLSv13", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cb, sb := handshake(t, tt.max, tt.client, tt.srv)
			var st Stats
			c := NewConn(&analyze.L7Info{}, &st)
			// Byte by byte: records and messages split anywhere.
			for i := range cb {
				c.Half(0).Data(cb[i:i+1], 1)
			}
			c.Half(1).Data(sb, 2)
			h := c.Hello
			if !h.ClientHello || !h.ServerHello || h.SNI != "api.flowproof.test" || h.ALPNList() != join(tt.client) ||
				h.Version() != tt.wantVersion || h.ServerALPN != tt.wantServer || !c.Done() || st.Malformed != 0 {
				t.Errorf("hello %+v version %s, stats %+v", h, h.Version(), st)
			}
		})
	}
}

func join(s []string) string {
	out := ""
	for i, p := range s {
		if i > 0 {
			out += ","
		}
		out += p
	}
	return out
}

func TestNotTLS(t *testing.T) {
	var st Stats
	c := NewConn(&analyze.L7Info{}, &st)
	c.Half(0).Data([]byte("GET / HTTP/1.1\r\n\r\n"), 1)
	c.Half(1).Data([]byte{22, 3, 3, 0, 4, 2, 0, 0, 0}, 1) // a ServerHello of length 0
	if st.Malformed != 2 || c.Hello.ClientHello || c.Hello.ServerHello {
		t.Errorf("stats %+v, hello %+v", st, c.Hello)
	}
}

// TestHandshakeCap: a handshake message longer than the cap is not read.
func TestHandshakeCap(t *testing.T) {
	var st Stats
	c := NewConn(&analyze.L7Info{}, &st)
	c.Half(0).Data([]byte{22, 3, 1, 0x40, 0, 1, 0xff, 0xff, 0xff}, 1)
	if st.Malformed != 1 || !c.dirs[0].done {
		t.Errorf("stats %+v", st)
	}
}
