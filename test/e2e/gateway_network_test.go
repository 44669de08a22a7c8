package e2e

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	proxyproto "github.com/pires/go-proxyproto"
)

// TestGatewayNetworkPaths drives the real binary's gateway through every way
// a request can arrive: from an untrusted peer (whose forwarding headers are
// ignored), through a trusted proxy speaking PROXY protocol v2 with a public
// source, with a subnet TLV, and with a source inside a subnet; then with
// public access disabled and with local auth disabled.
func TestGatewayNetworkPaths(t *testing.T) {
	// Only 127.0.0.2 is a trusted proxy: connections from 127.0.0.1 are
	// untrusted clients.
	in := start(t, t.TempDir(), "--trusted-proxies", "127.0.0.2/32")
	tok, err := in.token("https://management.azure.com/.default")
	if err != nil {
		t.Fatal(err)
	}
	sub := in.admin.SubscriptionID
	rg := "/subscriptions/" + sub + "/resourceGroups/gw"
	vnet := rg + "/providers/Microsoft.Network/virtualNetworks/vnet"
	apps := vnet + "/subnets/apps"
	acct := rg + "/providers/Microsoft.CognitiveServices/accounts/paths"
	const cs, netAPI = "?api-version=2025-06-01", "?api-version=2025-09-01"
	put := func(method, path string, body any) []byte {
		t.Helper()
		b, _ := json.Marshal(body)
		var rd io.Reader
		if body != nil {
			rd = strings.NewReader(string(b))
		}
		resp, out, err := in.call(t.Context(), method, path, tok, rd)
		if err != nil || resp.StatusCode >= 300 {
			t.Fatalf("%s %s: %v %s", method, path, err, out)
		}
		return out
	}
	put(http.MethodPost, "/subscriptions/"+sub+"/providers/Microsoft.Network/register?api-version=2025-04-01", nil)
	put(http.MethodPost, "/subscriptions/"+sub+"/providers/Microsoft.CognitiveServices/register?api-version=2025-04-01", nil)
	put(http.MethodPut, rg+"?api-version=2025-04-01", map[string]any{"location": "eastus"})
	put(http.MethodPut, vnet+netAPI, map[string]any{"location": "eastus", "properties": map[string]any{
		"addressSpace": map[string]any{"addressPrefixes": []string{"10.20.0.0/16"}},
		"subnets": []any{
			map[string]any{"name": "apps", "properties": map[string]any{"addressPrefix": "10.20.1.0/24", "serviceEndpoints": []any{map[string]any{"service": "Microsoft.CognitiveServices"}}}},
			map[string]any{"name": "other", "properties": map[string]any{"addressPrefix": "10.20.2.0/24", "serviceEndpoints": []any{map[string]any{"service": "Microsoft.CognitiveServices"}}}},
		},
	}})
	account := func(props map[string]any) {
		base := map[string]any{
			"customSubDomainName": "paths",
			"networkAcls": map[string]any{"defaultAction": "Deny",
				"ipRules":             []any{map[string]any{"value": "203.0.113.0/24"}},
				"virtualNetworkRules": []any{map[string]any{"id": apps}}},
		}
		for k, v := range props {
			base[k] = v
		}
		put(http.MethodPut, acct+cs, map[string]any{"location": "eastus", "kind": "AIServices", "sku": map[string]any{"name": "S0"}, "properties": base})
	}
	account(nil)
	put(http.MethodPut, acct+"/deployments/chat"+cs, map[string]any{"sku": map[string]any{"name": "Standard", "capacity": 1},
		"properties": map[string]any{"model": map[string]any{"format": "Perimeter", "name": "mock", "version": "1"}}})
	var keys struct{ Key1 string }
	_ = json.Unmarshal(put(http.MethodPost, acct+"/listKeys"+cs, nil), &keys)

	gw := gatewayTarget(t, in, "paths")
	chat := func(c *http.Client, headers map[string]string) (int, string) {
		t.Helper()
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, gw.url+"openai/deployments/chat/chat/completions?api-version=2024-10-21",
			strings.NewReader(`{"messages":[{"role":"user","content":"hi"}]}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("api-key", keys.Key1)
		for k, v := range headers {
			req.Header.Set(k, v)
		}
		var resp *http.Response
		var err error
		// The snapshot follows the store within milliseconds; a refusal
		// right after a change may still be the old rules.
		for deadline := time.Now().Add(3 * time.Second); ; {
			if resp, err = c.Do(req.Clone(t.Context())); err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != http.StatusServiceUnavailable || time.Now().After(deadline) {
				break
			}
			resp.Body.Close()
			time.Sleep(20 * time.Millisecond)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	want := func(name string, c *http.Client, headers map[string]string, status int, contains string) {
		t.Helper()
		got, body := chat(c, headers)
		if got != status || !strings.Contains(body, contains) {
			t.Errorf("%s: %d %s, want %d containing %q", name, got, body, status, contains)
		}
	}
	untrusted := gw.client(t, netip.MustParseAddr("127.0.0.1"), nil)
	spoofed := map[string]string{"X-Forwarded-For": "203.0.113.9", "X-Real-IP": "203.0.113.9", "Forwarded": "for=203.0.113.9", "True-Client-IP": "203.0.113.9"}
	want("untrusted peer with spoofed headers", untrusted, spoofed, http.StatusForbidden, "Virtual Network/Firewall rules")

	viaProxy := func(src string, tlvs ...proxyproto.TLV) *http.Client {
		return gw.client(t, netip.MustParseAddr("127.0.0.2"), &proxyHeader{src: netip.MustParseAddrPort(src + ":40000"), tlvs: tlvs})
	}
	subnetTLV := func(id string) proxyproto.TLV { return proxyproto.TLV{Type: 0xE0, Value: []byte(id)} }
	want("PROXY v2 from a trusted proxy, public source in an IP rule", viaProxy("203.0.113.9"), nil, http.StatusOK, "chat.completion")
	want("PROXY v2, public source outside the rules", viaProxy("198.51.100.9"), nil, http.StatusForbidden, "Virtual Network/Firewall rules")
	want("PROXY v2 with the allowed subnet's TLV", viaProxy("10.99.0.5", subnetTLV(apps)), nil, http.StatusOK, "chat.completion")
	want("PROXY v2 with another subnet's TLV", viaProxy("10.99.0.5", subnetTLV(vnet+"/subnets/other")), nil, http.StatusForbidden, "Firewall rules")
	want("PROXY v2, source inside the allowed subnet", viaProxy("10.20.1.7"), nil, http.StatusOK, "chat.completion")
	want("PROXY v2, source inside another subnet", viaProxy("10.20.2.7"), nil, http.StatusForbidden, "Firewall rules")
	want("X-Forwarded-For through a trusted proxy", gw.client(t, netip.MustParseAddr("127.0.0.2"), nil), map[string]string{"X-Forwarded-For": "203.0.113.10"}, http.StatusOK, "chat.completion")

	// Public access disabled: even an allowed IP is refused, with Azure's message.
	account(map[string]any{"publicNetworkAccess": "Disabled"})
	waitRefused := func(c *http.Client, contains string) {
		t.Helper()
		deadline := time.Now().Add(3 * time.Second)
		for {
			status, body := chat(c, nil)
			if status == http.StatusForbidden && strings.Contains(body, contains) {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("still %d %s; want 403 with %q", status, body, contains)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	waitRefused(viaProxy("203.0.113.9"), "Public access is disabled")

	// Local auth disabled: the key is refused after the network allows.
	account(map[string]any{"disableLocalAuth": true})
	waitRefused(viaProxy("203.0.113.9"), "AuthenticationTypeDisabled")
}

// proxyHeader is what a load balancer in front of the gateway would send.
type proxyHeader struct {
	src  netip.AddrPort
	tlvs []proxyproto.TLV
}

// gateway is where an account's endpoint is served.
type gateway struct {
	url, host string
	addr      string // the gateway's listener
	roots     *x509.CertPool
}

func gatewayTarget(t *testing.T, in *instance, subdomain string) gateway {
	pem, err := os.ReadFile(in.ready.CACert)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(pem)
	addr := strings.TrimPrefix(in.ready.Gateway, "https://")
	_, port, _ := net.SplitHostPort(addr)
	host := subdomain + ".cognitiveservices.perimeter.localhost"
	return gateway{url: fmt.Sprintf("https://%s:%s/", host, port), host: host, addr: addr, roots: roots}
}

// client dials the gateway from a chosen loopback source address, sends a
// PROXY v2 header first when ph is set, then speaks TLS for the account
// host.
func (g gateway) client(t *testing.T, from netip.Addr, ph *proxyHeader) *http.Client {
	dial := func(ctx context.Context, _, _ string) (net.Conn, error) {
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: from.AsSlice()}, Timeout: 5 * time.Second}
		conn, err := d.DialContext(ctx, "tcp", g.addr)
		if err != nil {
			return nil, err
		}
		if ph != nil {
			dst := conn.RemoteAddr().(*net.TCPAddr)
			h := &proxyproto.Header{Version: 2, Command: proxyproto.PROXY, TransportProtocol: proxyproto.TCPv4,
				SourceAddr: &net.TCPAddr{IP: ph.src.Addr().AsSlice(), Port: int(ph.src.Port())}, DestinationAddr: dst}
			if err := h.SetTLVs(ph.tlvs); err != nil {
				conn.Close()
				return nil, err
			}
			if _, err := h.WriteTo(conn); err != nil {
				conn.Close()
				return nil, err
			}
		}
		tc := tls.Client(conn, &tls.Config{ServerName: g.host, RootCAs: g.roots, NextProtos: []string{"http/1.1"}})
		if err := tc.HandshakeContext(ctx); err != nil {
			conn.Close()
			return nil, err
		}
		return tc, nil
	}
	c := &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{DialTLSContext: dial, DisableKeepAlives: true}}
	t.Cleanup(c.CloseIdleConnections)
	return c
}
