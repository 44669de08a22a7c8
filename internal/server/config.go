// Package server wires Perimeter's parts into the one process that
// `perimeter serve` runs: store, CA, token issuer, the ARM control plane and
// the data-plane listeners, with ready.json once all of them accept.
package server

import (
	"crypto/x509"
	"net/http"
	"os"
	"path/filepath"

	"fmt"
	"log/slog"
	"net/netip"
	"strings"
	"time"

	"github.com/perimeterhq/perimeter/internal/identity"
	"github.com/perimeterhq/perimeter/internal/secrets"
)

// Config is what `perimeter serve` was asked to do. It is plain data:
// validated, then used to build the services.
type Config struct {
	// DataDir holds the SQLite database, ca.pem, admin.json, keys and
	// ready.json. Required.
	DataDir string
	// ARMAddr is the control plane's host:port (HTTPS); port 0 picks one.
	ARMAddr string
	// GatewayAddr is the data-plane ingress host:port (HTTPS).
	GatewayAddr string
	// DNSAddr is the DNS server's host:port (UDP and TCP).
	DNSAddr string
	// EgressAddr is the egress proxy's host:port (HTTP, CONNECT).
	EgressAddr string
	// AdminAddr serves Prometheus metrics at /metrics (plain HTTP; keep it
	// on loopback or a management network). Empty means
	// DefaultAdminAddr.
	AdminAddr string
	// TrustedProxies are peers whose PROXY protocol header and
	// X-Forwarded-For are believed. Empty trusts nobody.
	TrustedProxies []netip.Prefix
	// StoreURL selects the store: "" for SQLite in DataDir,
	// "postgres://..." for PostgreSQL.
	StoreURL string
	// BaseDomain is the DNS suffix of account endpoints
	// ({name}.cognitiveservices.{BaseDomain}). Empty means
	// "perimeter.localhost", which resolves to loopback.
	BaseDomain string
	// ModelsFile is the model catalog (JSON: {"models": [...]}) listing the
	// OpenAI-compatible upstreams deployments may use. Empty means only the
	// built-in mock model.
	ModelsFile string
	// MockTokenDelay is the pause between tokens the built-in mock model
	// streams. Zero streams as fast as possible.
	MockTokenDelay time.Duration
	// MasterKeyFile holds the key that encrypts secrets (account keys) in
	// the store. Empty means DataDir/master.key, created on first start.
	// Replicas sharing a PostgreSQL store must share this file.
	MasterKeyFile string
	// AccessLogFile, when set, also writes the access log as JSON lines to
	// this file ("-" for standard output). Empty writes none.
	AccessLogFile string
	// AccessLogRetention is how long the store keeps access log records.
	// Zero means 7 days; negative keeps them forever.
	AccessLogRetention time.Duration
	// OIDCCAFile holds PEM certificates of CAs trusted, besides the
	// system's, when fetching the keys of external OpenID Connect issuers
	// (federated identity credentials): an identity provider inside a
	// company often has a certificate from the company's own CA. Empty
	// trusts the system's CAs only.
	OIDCCAFile string
	// OIDCAllowCIDRs are ranges of loopback, link-local and other
	// addresses that external issuers' URLs may reach although they
	// normally may not (identity.FederationTransport): an identity
	// provider on the same machine, say. Empty allows none of them.
	OIDCAllowCIDRs []netip.Prefix
	// Logger receives structured logs. Nil means slog.Default().
	Logger *slog.Logger
}

// Defaults for the listener flags, from the project's contract.
const (
	DefaultARMAddr     = "127.0.0.1:8443"
	DefaultGatewayAddr = "127.0.0.1:8444"
	DefaultDNSAddr     = "127.0.0.1:8053"
	DefaultEgressAddr  = "127.0.0.1:8480"
	DefaultAdminAddr   = "127.0.0.1:8445"
	DefaultBaseDomain  = "perimeter.localhost"
)

func (c *Config) validate() error {
	if c.DataDir == "" {
		return fmt.Errorf("a data directory is required (--data-dir)")
	}
	if c.AdminAddr == "" {
		c.AdminAddr = DefaultAdminAddr
	}
	for name, addr := range map[string]string{"--arm-addr": c.ARMAddr, "--gateway-addr": c.GatewayAddr, "--dns-addr": c.DNSAddr, "--egress-addr": c.EgressAddr, "--admin-addr": c.AdminAddr} {
		if _, err := netip.ParseAddrPort(addr); err != nil && !strings.HasPrefix(addr, "localhost:") {
			return fmt.Errorf("%s %q is not host:port with an IP address (port 0 picks a free port)", name, addr)
		}
	}
	if c.BaseDomain == "" {
		c.BaseDomain = DefaultBaseDomain
	}
	if c.MasterKeyFile == "" {
		c.MasterKeyFile = filepath.Join(c.DataDir, secrets.KeyFile)
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return nil
}

// ParseTrustedProxies parses a comma-separated list of CIDRs or addresses.
func ParseTrustedProxies(s string) ([]netip.Prefix, error) { return ParseCIDRList("trusted proxy", s) }

// ParseCIDRList parses a comma-separated list of CIDRs or addresses (an
// address is its /32 or /128); errors name an entry as what.
func ParseCIDRList(what, s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		if !strings.Contains(f, "/") {
			a, err := netip.ParseAddr(f)
			if err != nil {
				return nil, fmt.Errorf("%s %q is not an IP address or CIDR", what, f)
			}
			a = a.Unmap()
			out = append(out, netip.PrefixFrom(a, a.BitLen()))
			continue
		}
		p, err := netip.ParsePrefix(f)
		if err != nil {
			return nil, fmt.Errorf("%s %q is not a valid CIDR: %v", what, f, err)
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

// federationClient is the client that fetches external OpenID Connect
// issuers' discovery documents and keys, with identity's address policy
// and OIDCAllowCIDRs; it trusts the system's CAs and those in OIDCCAFile.
func (c *Config) federationClient() (*http.Client, error) {
	var pool *x509.CertPool
	if c.OIDCCAFile != "" {
		pemData, err := os.ReadFile(c.OIDCCAFile)
		if err != nil {
			return nil, fmt.Errorf("--oidc-ca-file: %w", err)
		}
		if pool, err = x509.SystemCertPool(); err != nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(pemData) {
			return nil, fmt.Errorf("--oidc-ca-file %s holds no PEM certificate", c.OIDCCAFile)
		}
	}
	return &http.Client{Transport: identity.FederationTransport(pool, c.OIDCAllowCIDRs)}, nil
}
