package server

import (
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestFederationClient: --oidc-ca-file adds a CA the client then trusts;
// a file without a certificate is refused at start, naming the flag. The
// client reaches an issuer on loopback only when --oidc-allow-cidrs names
// its range.
func TestFederationClient(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("{}")) }))
	defer srv.Close()
	dir := t.TempDir()
	caFile := filepath.Join(dir, "idp-ca.pem")
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := (&Config{OIDCCAFile: caFile}).federationClient()
	if err != nil {
		t.Fatal(err)
	}
	if resp, err := c.Get(srv.URL); err == nil || !strings.Contains(err.Error(), "--oidc-allow-cidrs") {
		if err == nil {
			resp.Body.Close()
		}
		t.Errorf("an issuer on loopback without --oidc-allow-cidrs: %v", err)
	}
	c, err = (&Config{OIDCCAFile: caFile, OIDCAllowCIDRs: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}).federationClient()
	if err != nil {
		t.Fatal(err)
	}
	resp, err := c.Get(srv.URL)
	if err != nil {
		t.Fatalf("the client does not trust the CA in --oidc-ca-file: %v", err)
	}
	resp.Body.Close()

	empty := filepath.Join(dir, "empty.pem")
	if err := os.WriteFile(empty, []byte("not a certificate"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{empty, filepath.Join(dir, "missing.pem")} {
		if _, err := (&Config{OIDCCAFile: f}).federationClient(); err == nil || !strings.Contains(err.Error(), "--oidc-ca-file") {
			t.Errorf("%s: %v", f, err)
		}
	}
}
