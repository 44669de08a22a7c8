package ingress

import (
	"net/http"
	"testing"

	"github.com/perimeterhq/perimeter/internal/accesslog"
)

// TestNetworkRules drives the account firewall through every way a client
// address is established: the peer, X-Forwarded-For and PROXY v1/v2 from
// a trusted peer (127.0.0.0/8 here), and the subnet TLV.
func TestNetworkRules(t *testing.T) {
	h := newHarness(t)
	direct := h.client(false)
	type want = netWant
	allowIP := want{http.StatusOK, "203.0.113.9", "", "public", "", "networkAcls", "ipRules[0]: 203.0.113.0/24"}
	deny := func(source, via, path string) want {
		return want{http.StatusForbidden, source, via, path, "", "networkAcls", "defaultAction: Deny"}
	}
	tests := []struct {
		name    string
		client  *http.Client
		account string
		headers []string
		want    want
	}{
		{"peer is loopback, not in any rule", direct, "locked", nil, deny("127.0.0.1", accesslog.ViaTCP, "public")},
		{"open account allows anyone", direct, "open", nil, want{http.StatusOK, "127.0.0.1", accesslog.ViaTCP, "public", "", "networkAcls", "defaultAction: Allow"}},
		{"X-Forwarded-For from a trusted peer", direct, "locked", []string{"X-Forwarded-For: 203.0.113.9"}, with(allowIP, accesslog.ViaForwardedFor)},
		{"X-Forwarded-For with a port", direct, "locked", []string{"X-Forwarded-For: 203.0.113.9:4711"}, with(allowIP, accesslog.ViaForwardedFor)},
		{"X-Forwarded-For IPv4-mapped", direct, "locked", []string{"X-Forwarded-For: ::ffff:203.0.113.9"}, with(allowIP, accesslog.ViaForwardedFor)},
		{"rightmost untrusted hop decides", direct, "locked", []string{"X-Forwarded-For: 203.0.113.9, 198.51.100.1"}, deny("198.51.100.1", accesslog.ViaForwardedFor, "public")},
		{"trusted hops are skipped", direct, "locked", []string{"X-Forwarded-For: 203.0.113.9, 127.0.0.5"}, with(allowIP, accesslog.ViaForwardedFor)},
		{"several headers are one list", direct, "locked", []string{"X-Forwarded-For: 198.51.100.1", "X-Forwarded-For: 203.0.113.9"}, with(allowIP, accesslog.ViaForwardedFor)},
		{"a hop that is no address fails closed", direct, "locked", []string{"X-Forwarded-For: 203.0.113.9, not-an-ip"}, deny("", accesslog.ViaForwardedFor, "public")},
		{"X-Real-IP is never believed", direct, "locked", []string{"X-Real-IP: 203.0.113.9"}, deny("127.0.0.1", accesslog.ViaTCP, "public")},
		{"Forwarded is never believed", direct, "locked", []string{"Forwarded: for=203.0.113.9"}, deny("127.0.0.1", accesslog.ViaTCP, "public")},
		{"True-Client-IP is never believed", direct, "locked", []string{"True-Client-IP: 203.0.113.9"}, deny("127.0.0.1", accesslog.ViaTCP, "public")},
		{"service endpoint by address", direct, "locked", []string{"X-Forwarded-For: 10.1.1.7"},
			want{http.StatusOK, "10.1.1.7", accesslog.ViaForwardedFor, "serviceEndpoint", subnetApps, "networkAcls", "virtualNetworkRules[0]: " + subnetApps}},
		{"subnet without the service endpoint", direct, "locked", []string{"X-Forwarded-For: 10.1.2.7"}, deny("10.1.2.7", accesslog.ViaForwardedFor, "public")},
		{"PROXY v2", h.proxyClient(2, "203.0.113.9:5000", ""), "locked", nil, with(allowIP, accesslog.ViaProxyProtocol)},
		{"PROXY v1", h.proxyClient(1, "203.0.113.9:5000", ""), "locked", nil, with(allowIP, accesslog.ViaProxyProtocol)},
		{"PROXY v2 IPv6", h.proxyClient(2, "[2001:db8::1]:5000", ""), "locked", nil, deny("2001:db8::1", accesslog.ViaProxyProtocol, "public")},
		{"PROXY v2 refused address", h.proxyClient(2, "198.51.100.1:5000", ""), "locked", nil, deny("198.51.100.1", accesslog.ViaProxyProtocol, "public")},
		{"PROXY v2 subnet TLV", h.proxyClient(2, "198.51.100.1:5000", subnetApps), "locked", nil,
			want{http.StatusOK, "198.51.100.1", accesslog.ViaProxyProtocol, "serviceEndpoint", subnetApps, "networkAcls", "virtualNetworkRules[0]: " + subnetApps}},
		{"the TLV is authoritative over the address", h.proxyClient(2, "10.1.1.7:5000", subnetOther), "locked", nil, deny("10.1.1.7", accesslog.ViaProxyProtocol, "public")},
		{"X-Forwarded-For after a trusted PROXY source", h.proxyClient(2, "127.0.0.9:5000", subnetApps), "locked", []string{"X-Forwarded-For: 203.0.113.9"}, with(allowIP, accesslog.ViaForwardedFor)},
		{"a key does not pass the firewall", direct, "locked", []string{"X-Forwarded-For: 198.51.100.1", "api-key: " + key2}, deny("198.51.100.1", accesslog.ViaForwardedFor, "public")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := h.chat(tc.client, tc.account, tc.headers...)
			if a.StatusCode != tc.want.status {
				t.Fatalf("status %d, want %d: %s", a.StatusCode, tc.want.status, a.Body)
			}
			r := h.log.find(t, a.ID)
			if r.SourceIP != tc.want.source || (tc.want.via != "" && r.SourceVia != tc.want.via) || r.ArrivalPath != tc.want.path ||
				r.SubnetID != tc.want.subnet || r.Layer != tc.want.layer || r.Rule != tc.want.rule {
				t.Errorf("record: source %q via %q path %q subnet %q layer %q rule %q; want %+v",
					r.SourceIP, r.SourceVia, r.ArrivalPath, r.SubnetID, r.Layer, r.Rule, tc.want)
			}
			if a.StatusCode == http.StatusForbidden {
				checkFirewallRefusal(t, a, msgFirewall)
				if r.Result != accesslog.Denied || r.Code != "FirewallDenied" || r.SnapshotRevision != 7 || r.ResourceID != acctID(tc.account) {
					t.Errorf("record: %+v", r)
				}
			}
		})
	}
}

// netWant is what a network case expects: the answer and the record.
type netWant struct {
	status      int
	source, via string
	path        string
	subnet      string
	layer, rule string
}

func with(w netWant, via string) netWant {
	w.via = via
	return w
}

// checkFirewallRefusal checks Azure's refusal: body and headers.
func checkFirewallRefusal(t *testing.T, a answer, message string) {
	t.Helper()
	if a.errorCode() != "403" || a.errorMessage() != message {
		t.Errorf("body %s, want code 403 and %q", a.Body, message)
	}
	for k, v := range map[string]string{
		"Policy-Id": "ThrowExceptionDueToTrafficDenied", "X-Content-Type-Options": "nosniff",
		"Strict-Transport-Security": "max-age=31536000; includeSubDomains; preload", "Content-Type": "application/json",
	} {
		if got := a.Header.Get(k); got != v {
			t.Errorf("%s: %q, want %q", k, got, v)
		}
	}
	if a.ID == "" {
		t.Error("no apim-request-id")
	}
}

// TestUntrustedPeer: with no trusted proxy covering the peer, no header
// changes the decision, and a PROXY header is not even parsed.
func TestUntrustedPeer(t *testing.T) {
	h := newHarness(t, trust("192.0.2.0/24"))
	c := h.client(true)
	for _, hv := range []string{
		"X-Forwarded-For: 203.0.113.9", "X-Real-IP: 203.0.113.9", "Forwarded: for=203.0.113.9",
		"True-Client-IP: 203.0.113.9", "X-Client-IP: 203.0.113.9", "CF-Connecting-IP: 203.0.113.9",
	} {
		a := h.chat(c, "locked", hv)
		if a.StatusCode != http.StatusForbidden {
			t.Errorf("%s: status %d, want 403", hv, a.StatusCode)
		}
		if r := h.log.find(t, a.ID); r.SourceIP != "127.0.0.1" || r.SourceVia != accesslog.ViaTCP {
			t.Errorf("%s: source %s via %s", hv, r.SourceIP, r.SourceVia)
		}
	}
	// Through an open account, the upstream hears the decided address only.
	a := h.chat(c, "open", "X-Forwarded-For: 203.0.113.9", "X-Real-IP: 203.0.113.9", "Forwarded: for=203.0.113.9")
	if a.StatusCode != http.StatusOK {
		t.Fatalf("status %d: %s", a.StatusCode, a.Body)
	}
	up := h.up.last(t)
	if got := up.Header.Values("X-Forwarded-For"); len(got) != 1 || got[0] != "127.0.0.1" {
		t.Errorf("upstream X-Forwarded-For %q", got)
	}
	for _, k := range []string{"X-Real-Ip", "Forwarded"} {
		if v := up.Header.Get(k); v != "" {
			t.Errorf("upstream got %s: %s", k, v)
		}
	}

	// A PROXY header from an untrusted peer is not believed: it is not
	// parsed, and the connection fails.
	req, _ := http.NewRequest(http.MethodPost, "https://"+host("locked")+chatPath, nil)
	if resp, err := h.proxyClient(2, "203.0.113.9:5000", "").Do(req); err == nil {
		resp.Body.Close()
		t.Fatalf("a PROXY header from an untrusted peer was answered %d", resp.StatusCode)
	}
	// And the gateway keeps serving.
	if a := h.chat(c, "open"); a.StatusCode != http.StatusOK {
		t.Fatalf("after the PROXY header: %d", a.StatusCode)
	}
}

// TestPublicNetworkAccessDisabled: refused from anywhere public, with
// Azure's message, whatever the key.
func TestPublicNetworkAccessDisabled(t *testing.T) {
	h := newHarness(t)
	a := h.chat(h.client(false), "private", "X-Forwarded-For: 203.0.113.9")
	if a.StatusCode != http.StatusForbidden {
		t.Fatalf("status %d", a.StatusCode)
	}
	checkFirewallRefusal(t, a, msgPublicDisabled)
	if r := h.log.find(t, a.ID); r.Layer != "publicNetworkAccess" || r.Code != "PublicNetworkAccessDisabled" || r.Result != accesslog.Denied {
		t.Errorf("record %+v", r)
	}
}

// TestUnknownHost and the fail-closed start.
func TestUnknownHostAndNoSnapshot(t *testing.T) {
	h := newHarness(t)
	c := h.client(false)
	a := h.do(c, http.MethodPost, "https://nobody.cognitiveservices."+base+chatPath, chatBody, "api-key: "+key1)
	if a.StatusCode != http.StatusNotFound || a.errorCode() != "404" {
		t.Errorf("unknown host: %d %s", a.StatusCode, a.Body)
	}
	if r := h.log.find(t, a.ID); r.Layer != "resource" || r.Code != "UnknownHost" || r.Host != "nobody.cognitiveservices.test" {
		t.Errorf("record %+v", r)
	}

	h.snaps.p.Store(nil)
	a = h.chat(c, "open")
	if a.StatusCode != http.StatusServiceUnavailable || a.Header.Get("Retry-After") == "" {
		t.Errorf("no snapshot: %d %s", a.StatusCode, a.Body)
	}
	if h.up.count() != 0 {
		t.Error("a request reached the upstream without a snapshot")
	}
	// A snapshot swapped in applies to the next request.
	h.snaps.p.Store(h.world.build())
	if a := h.chat(c, "open"); a.StatusCode != http.StatusOK {
		t.Errorf("after the snapshot: %d %s", a.StatusCode, a.Body)
	}
	w := h.world
	w.revision = 8
	locked := w.build()
	locked.AccountByHost(host("open")).DefaultAllow = false
	h.snaps.p.Store(locked)
	if a := h.chat(c, "open"); a.StatusCode != http.StatusForbidden {
		t.Errorf("after locking: %d", a.StatusCode)
	} else if r := h.log.find(t, a.ID); r.SnapshotRevision != 8 {
		t.Errorf("decided with revision %d", r.SnapshotRevision)
	}
}

// TestSNIMismatch: a Host other than the TLS server name is 421; without
// SNI (an IP address) the Host decides.
func TestSNIMismatch(t *testing.T) {
	h := newHarness(t)
	for _, h2 := range []bool{false, true} {
		c := h.client(h2)
		c.Transport.(*http.Transport).TLSClientConfig.ServerName = host("open")
		a := h.chat(c, "locked")
		if a.StatusCode != http.StatusMisdirectedRequest {
			t.Errorf("h2=%v: status %d, want 421", h2, a.StatusCode)
		}
		if r := h.log.find(t, a.ID); r.Code != CodeMisdirectedRequest || r.Result != accesslog.Denied {
			t.Errorf("record %+v", r)
		}
		// Same name with a port and other case: fine.
		if a := h.chat(c, "open", "Host: OPEN.cognitiveservices.test:443"); a.StatusCode != http.StatusOK {
			t.Errorf("h2=%v: same host: %d %s", h2, a.StatusCode, a.Body)
		}
	}
	// No SNI: connecting to an IP address.
	c := h.client(false)
	c.Transport.(*http.Transport).TLSClientConfig.ServerName = "127.0.0.1"
	if a := h.chat(c, "open"); a.StatusCode != http.StatusOK {
		t.Errorf("without SNI: %d %s", a.StatusCode, a.Body)
	}
}
