package identity

import (
	"crypto/x509"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestFederationAddrAllowed(t *testing.T) {
	loopback := []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
	for _, tc := range []struct {
		addr  string
		allow []netip.Prefix
		want  bool
	}{
		{"203.0.113.10", nil, true},
		{"10.20.30.40", nil, true}, // a company's IdP on a private network
		{"fd00::1", nil, true},
		{"127.0.0.1", nil, false},
		{"::ffff:127.0.0.1", nil, false},
		{"::1", nil, false},
		{"169.254.169.254", nil, false}, // instance metadata
		{"fe80::1%eth0", nil, false},
		{"0.0.0.0", nil, false},
		{"0.1.2.3", nil, false},
		{"::", nil, false},
		{"224.0.0.1", nil, false},
		{"ff02::1", nil, false},
		{"255.255.255.255", nil, false},
		{"127.0.0.1", loopback, true},
		{"::ffff:127.0.0.9", loopback, true},
		{"::1", loopback, false},
	} {
		if got := federationAddrAllowed(netip.MustParseAddr(tc.addr), tc.allow); got != tc.want {
			t.Errorf("%s with %v: %v, want %v", tc.addr, tc.allow, got, tc.want)
		}
	}
}

// TestFederationTransportRefusesLoopback: an issuer URL that resolves to
// loopback is not fetched, by name or by address, unless the operator
// allows the range.
func TestFederationTransportRefusesLoopback(t *testing.T) {
	var served atomic.Int32
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { served.Add(1) }))
	defer srv.Close()
	pool := x509.NewCertPool()
	pool.AddCert(srv.Certificate())
	port := srv.URL[strings.LastIndex(srv.URL, ":"):]

	refused := &http.Client{Transport: FederationTransport(pool, nil)}
	for _, u := range []string{srv.URL, "https://localhost" + port} {
		resp, err := refused.Get(u)
		if err == nil {
			resp.Body.Close()
			t.Errorf("%s fetched without --oidc-allow-cidrs", u)
		} else if !strings.Contains(err.Error(), "--oidc-allow-cidrs") {
			t.Errorf("%s: %v, want an error naming --oidc-allow-cidrs", u, err)
		}
	}
	if served.Load() != 0 {
		t.Fatal("the loopback server was reached")
	}

	allowed := &http.Client{Transport: FederationTransport(pool, []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")})}
	resp, err := allowed.Get(srv.URL)
	if err != nil {
		t.Fatalf("with the range allowed: %v", err)
	}
	resp.Body.Close()
}

// TestOIDCKeysRemembersFailures: tokens naming an issuer whose keys cannot
// be fetched cost at most one fetch per oidcMinRefetch.
func TestOIDCKeysRemembersFailures(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		hits.Add(1)
		http.NotFound(w, nil)
	}))
	defer srv.Close()
	clock := &fakeClock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	o := newOIDCKeys(srv.Client(), clock.Now)
	for range 5 {
		if _, err := o.key(t.Context(), srv.URL, "kid", "RS256"); !errors.Is(err, errOIDCFetch) {
			t.Fatalf("key of a failing issuer: %v", err)
		}
	}
	if n := hits.Load(); n != 1 {
		t.Fatalf("%d fetches within %s, want 1", n, oidcMinRefetch)
	}
	clock.Advance(oidcMinRefetch)
	if _, err := o.key(t.Context(), srv.URL, "kid", "RS256"); !errors.Is(err, errOIDCFetch) {
		t.Fatalf("key of a failing issuer: %v", err)
	}
	if n := hits.Load(); n != 2 {
		t.Fatalf("%d fetches after %s, want 2", n, oidcMinRefetch)
	}
}
