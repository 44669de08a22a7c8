package tlsca

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"io"
	"net"
	"os"
	"slices"
	"testing"
	"time"
)

func TestServerCertificateTrust(t *testing.T) {
	ca, err := LoadOrCreate(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	cert, err := ca.ServerCertificate([]string{"127.0.0.1", "::1", "localhost", "*.perimeter.localhost"})
	if err != nil {
		t.Fatal(err)
	}
	v4 := serveTLS(t, "tcp4", "127.0.0.1:0", cert)

	tests := []struct {
		name       string
		addr       string
		serverName string
		wantOK     bool
	}{
		{"IPv4 loopback", v4, "", true},
		{"localhost", v4, "localhost", true},
		{"wildcard subdomain", v4, "acct.perimeter.localhost", true},
		{"wildcard covers one label only", v4, "a.acct.perimeter.localhost", false},
		{"wildcard does not cover its base", v4, "perimeter.localhost", false},
		{"name not in SANs", v4, "example.com", false},
		{"IP not in SANs", v4, "127.0.0.2", false},
	}
	if ln, err := net.Listen("tcp6", "[::1]:0"); err == nil {
		_ = ln.Close()
		v6 := serveTLS(t, "tcp6", "[::1]:0", cert)
		tests = append(tests, struct {
			name       string
			addr       string
			serverName string
			wantOK     bool
		}{"IPv6 loopback", v6, "", true})
	} else {
		t.Log("no IPv6 loopback; ::1 checked through the certificate only")
		if _, err := cert.Leaf.Verify(x509.VerifyOptions{Roots: ca.Pool(), DNSName: "::1"}); err != nil {
			t.Errorf("::1 not trusted: %v", err)
		}
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := &tls.Config{RootCAs: ca.Pool(), ServerName: tt.serverName}
			d := &net.Dialer{Timeout: 5 * time.Second}
			conn, err := tls.DialWithDialer(d, "tcp", tt.addr, cfg)
			if conn != nil {
				_ = conn.Close()
			}
			if tt.wantOK && err != nil {
				t.Fatalf("handshake failed: %v", err)
			}
			if !tt.wantOK && err == nil {
				t.Fatal("handshake succeeded for a name the certificate does not cover")
			}
		})
	}

	// Without the CA, the same server is not trusted.
	conn, err := tls.Dial("tcp", v4, &tls.Config{RootCAs: x509.NewCertPool(), ServerName: "localhost"})
	if err == nil {
		_ = conn.Close()
		t.Fatal("handshake succeeded without trusting the CA")
	}
}

func TestServerCertificateFields(t *testing.T) {
	ca, err := LoadOrCreate(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	cert, err := ca.ServerCertificate([]string{"127.0.0.1", "[::1]", "LocalHost.", "*.perimeter.localhost", "localhost"})
	if err != nil {
		t.Fatal(err)
	}
	leaf := cert.Leaf
	if got, want := leaf.DNSNames, []string{"localhost", "*.perimeter.localhost"}; !slices.Equal(got, want) {
		t.Errorf("DNSNames = %v, want %v", got, want)
	}
	var ips []string
	for _, ip := range leaf.IPAddresses {
		ips = append(ips, ip.String())
	}
	if want := []string{"127.0.0.1", "::1"}; !slices.Equal(ips, want) {
		t.Errorf("IPAddresses = %v, want %v", ips, want)
	}
	if !slices.Equal(leaf.ExtKeyUsage, []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}) {
		t.Errorf("ExtKeyUsage = %v, want server auth", leaf.ExtKeyUsage)
	}
	if leaf.IsCA {
		t.Error("server certificate is a CA")
	}
	if days := leaf.NotAfter.Sub(time.Now()).Hours() / 24; days < 360 || days > 366 {
		t.Errorf("server certificate valid for %.0f more days, want about a year", days)
	}
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: ca.Pool(), DNSName: "x.perimeter.localhost"}); err != nil {
		t.Errorf("wildcard leaf does not verify: %v", err)
	}
}

func TestServerCertificateRejectsBadHosts(t *testing.T) {
	ca, err := LoadOrCreate(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	for _, hosts := range [][]string{
		nil,
		{""},
		{"has space.example"},
		{"127.0.0.1:8443"},
		{"fe80::1%eth0"},
		{"foo.*.example"},
		{"*"},
		{"*foo.example"},
		{"-bad.example"},
		{"a..b"},
		{"ümlaut.example"},
	} {
		if _, err := ca.ServerCertificate(hosts); err == nil {
			t.Errorf("ServerCertificate(%q) succeeded, want error", hosts)
		}
	}
}

// serveTLS accepts connections on addr and completes TLS handshakes with
// cert until the test ends. It returns the bound address.
func serveTLS(t *testing.T, network, addr string, cert *tls.Certificate) string {
	t.Helper()
	ln, err := tls.Listen(network, addr, &tls.Config{Certificates: []tls.Certificate{*cert}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer conn.Close()
				_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
				if err := conn.(*tls.Conn).Handshake(); err == nil {
					_, _ = io.Copy(io.Discard, conn)
				}
			}()
		}
	}()
	return ln.Addr().String()
}

func writePEM(t *testing.T, path, typ string, der []byte) {
	t.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
}
