package identity

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"syscall"
	"time"
)

// Whoever may change the directory names the external issuers Perimeter
// fetches documents from, and a discovery document names any jwks_uri.
// So that those URLs cannot reach what only the server can (its own
// listeners, a cloud's instance metadata at 169.254.169.254, a database
// on loopback), the transport below refuses to connect to loopback,
// link-local, multicast and unspecified addresses unless the operator
// allows their range. Private ranges stay reachable: a company's identity
// provider usually lives in one. The check runs on the address being
// dialled, after name resolution and on every redirect, so neither DNS
// answers nor redirects get around it.

const (
	federationDialTimeout  = 5 * time.Second
	federationTLSTimeout   = 5 * time.Second
	federationMaxHeaderLen = 16 << 10
)

// blockedFederationRanges are never dialled unless allowed: "this"
// network, loopback, link-local (instance metadata lives there), and the
// broadcast address. Multicast and unspecified addresses are refused too
// (see federationAddrAllowed).
var blockedFederationRanges = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),
	netip.MustParsePrefix("127.0.0.0/8"),
	netip.MustParsePrefix("169.254.0.0/16"),
	netip.MustParsePrefix("255.255.255.255/32"),
	netip.MustParsePrefix("::1/128"),
	netip.MustParsePrefix("fe80::/10"),
}

// federationAddrAllowed reports whether the transport may connect to a:
// any address outside the blocked ranges, or one inside a range of allow.
func federationAddrAllowed(a netip.Addr, allow []netip.Prefix) bool {
	a = a.Unmap().WithZone("")
	for _, p := range allow {
		if p.Contains(a) {
			return true
		}
	}
	if a.IsUnspecified() || a.IsMulticast() {
		return false
	}
	for _, p := range blockedFederationRanges {
		if p.Contains(a) {
			return false
		}
	}
	return true
}

// FederationTransport returns the transport that fetches external
// OpenID Connect issuers' discovery documents and keys: TLS verified
// against roots (nil: the system's), no proxy from the environment (a
// proxy would hide the address being reached), bounded handshakes and
// headers, and connections only to addresses federationAddrAllowed
// accepts with allow (the operator's --oidc-allow-cidrs).
func FederationTransport(roots *x509.CertPool, allow []netip.Prefix) *http.Transport {
	d := &net.Dialer{Timeout: federationDialTimeout, Control: func(_, address string, _ syscall.RawConn) error {
		ap, err := netip.ParseAddrPort(address)
		if err != nil {
			return fmt.Errorf("identity: dialling %q: not an address", address)
		}
		if !federationAddrAllowed(ap.Addr(), allow) {
			return fmt.Errorf("identity: %s is a loopback, link-local, multicast or unspecified address, which issuers may not use unless --oidc-allow-cidrs names its range", ap.Addr())
		}
		return nil
	}}
	return &http.Transport{
		Proxy: nil,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			return d.DialContext(ctx, network, addr)
		},
		TLSClientConfig:        &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12},
		TLSHandshakeTimeout:    federationTLSTimeout,
		ResponseHeaderTimeout:  oidcFetchTimeout,
		MaxResponseHeaderBytes: federationMaxHeaderLen,
		MaxIdleConnsPerHost:    2,
		IdleConnTimeout:        90 * time.Second,
		ForceAttemptHTTP2:      true,
	}
}
