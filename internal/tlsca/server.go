package tlsca

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"time"
)

// serverValidity is the lifetime of a listener certificate. They are made
// afresh at every start, so a long-running process is the only reason for
// more than a few days; a year keeps clear of browsers' 398-day limit.
const serverValidity = 365 * 24 * time.Hour

// ServerCertificate signs a new server certificate, with a new key, for the
// given hosts: entries that parse as IP addresses become IP SANs, the rest
// DNS SANs (a leading "*." wildcard label is allowed, e.g.
// "*.perimeter.localhost"). The result is meant to be generated in memory at
// every start and handed to tls.Config.Certificates.
func (ca *CA) ServerCertificate(hosts []string) (*tls.Certificate, error) {
	if len(hosts) == 0 {
		return nil, errors.New("tlsca: server certificate needs at least one host")
	}
	var (
		dnsNames []string
		ips      []net.IP
		seen     = map[string]bool{}
	)
	for _, h := range hosts {
		ip, name, err := parseHost(h)
		if err != nil {
			return nil, err
		}
		switch {
		case ip.IsValid() && !seen[ip.String()]:
			seen[ip.String()] = true
			ips = append(ips, net.IP(ip.AsSlice()))
		case name != "" && !seen[name]:
			seen[name] = true
			dnsNames = append(dnsNames, name)
		}
	}

	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("tlsca: generate server key: %w", err)
	}
	serial, err := randomSerial()
	if err != nil {
		return nil, err
	}
	now := time.Now()
	notAfter := now.Add(serverValidity)
	if notAfter.After(ca.cert.NotAfter) {
		// A leaf outliving its CA would fail verification anyway.
		notAfter = ca.cert.NotAfter
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: strings.TrimSpace(hosts[0]), Organization: []string{"Perimeter"}},
		NotBefore:             now.Add(-backdate),
		NotAfter:              notAfter,
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		DNSNames:              dnsNames,
		IPAddresses:           ips,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, key.Public(), ca.key)
	if err != nil {
		return nil, fmt.Errorf("tlsca: sign server certificate: %w", err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("tlsca: parse server certificate: %w", err)
	}
	return &tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, nil
}

// parseHost returns either an IP address or a lower-cased DNS name.
func parseHost(h string) (netip.Addr, string, error) {
	s := strings.TrimSpace(h)
	if strings.HasPrefix(s, "[") && strings.HasSuffix(s, "]") {
		s = s[1 : len(s)-1]
	}
	if ip, err := netip.ParseAddr(s); err == nil {
		if ip.Zone() != "" {
			return netip.Addr{}, "", fmt.Errorf("tlsca: host %q: an IP address with a zone cannot be a certificate name", h)
		}
		return ip.Unmap(), "", nil
	}
	name := strings.ToLower(strings.TrimSuffix(s, "."))
	if err := checkDNSName(name); err != nil {
		return netip.Addr{}, "", fmt.Errorf("tlsca: host %q: %w", h, err)
	}
	return netip.Addr{}, name, nil
}

// checkDNSName accepts what TLS clients match against: LDH labels (and "_",
// which Go's verifier tolerates) of 1 to 63 characters, with "*" allowed only
// as the whole first label of a name that has more labels after it.
func checkDNSName(name string) error {
	if name == "" {
		return errors.New("empty name")
	}
	if len(name) > 253 {
		return errors.New("name longer than 253 characters")
	}
	labels := strings.Split(name, ".")
	for i, label := range labels {
		if label == "*" && i == 0 && len(labels) > 1 {
			continue
		}
		if label == "" || len(label) > 63 {
			return fmt.Errorf("label %q must have 1 to 63 characters", label)
		}
		for _, c := range label {
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return fmt.Errorf("label %q: character %q not allowed (a wildcard must be the whole first label)", label, c)
			}
		}
		if label[0] == '-' || label[len(label)-1] == '-' {
			return fmt.Errorf("label %q must not start or end with '-'", label)
		}
	}
	return nil
}
