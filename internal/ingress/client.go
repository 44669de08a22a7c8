package ingress

import (
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"net/netip"
	"strings"

	"github.com/pires/go-proxyproto"

	"github.com/perimeterhq/perimeter/internal/access"
	"github.com/perimeterhq/perimeter/internal/accesslog"
	"github.com/perimeterhq/perimeter/internal/snapshot"
)

// TLVSubnetID is the PROXY protocol v2 TLV type that carries the ARM
// resource id of the subnet a client's traffic comes from
// ("/subscriptions/.../virtualNetworks/{vnet}/subnets/{subnet}"), sent by a
// trusted load balancer that knows it. 0xE0 is the first type of the range
// the protocol reserves for custom use (PP2_TYPE_MIN_CUSTOM). The TLV is
// believed only from a peer in Config.TrustedProxies, and only when the
// client address is the one of the same header.
const TLVSubnetID = 0xE0

// maxForwardedHops bounds how many X-Forwarded-For hops are examined: a
// chain of trusted proxies longer than this is a misconfiguration, and
// the walk must not cost more for a longer header.
const maxForwardedHops = 32

// maxSubnetIDLen bounds the TLV value accepted as a subnet id.
const maxSubnetIDLen = 1024

// trustList is the set of trusted proxies.
type trustList []netip.Prefix

func (t trustList) contains(a netip.Addr) bool {
	if !a.IsValid() {
		return false
	}
	a = a.Unmap()
	for _, p := range t {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// normalizePrefixes unmaps IPv4-mapped prefixes (::ffff:10.0.0.0/104 is
// 10.0.0.0/8) and masks them, so they match the unmapped addresses the
// gateway compares.
func normalizePrefixes(in []netip.Prefix) (trustList, bool) {
	out := make(trustList, 0, len(in))
	for _, p := range in {
		if !p.IsValid() {
			return nil, false
		}
		if a := p.Addr(); a.Is4In6() {
			bits := p.Bits() - 96
			if bits < 0 {
				return nil, false
			}
			p = netip.PrefixFrom(a.Unmap(), bits)
		}
		out = append(out, p.Masked())
	}
	return out, true
}

// proxyInfo is what a PROXY header from a trusted peer said.
type proxyInfo struct {
	Source   netip.AddrPort
	SubnetID string // from TLVSubnetID, "" when absent
}

// clientAddr is the decided origin of a request.
type clientAddr struct {
	// Peer is the TCP peer of the connection.
	Peer netip.AddrPort
	// Addr and Port are the client's; Addr is invalid when a trusted
	// proxy's X-Forwarded-For could not be read (fail closed).
	Addr netip.Addr
	Port uint16
	// Via is accesslog.ViaTCP, ViaProxyProtocol or ViaForwardedFor.
	Via string
	// SubnetID is the subnet a trusted PROXY header named for Addr.
	SubnetID string
}

// decideClient decides where a request comes from (see the package doc):
// the peer; if the peer is trusted, the PROXY header's source; then, while
// the address so far is trusted, X-Forwarded-For from the right.
func decideClient(peer netip.AddrPort, pp *proxyInfo, xff []string, trusted trustList) clientAddr {
	peer = netip.AddrPortFrom(peer.Addr().Unmap().WithZone(""), peer.Port())
	c := clientAddr{Peer: peer, Addr: peer.Addr(), Port: peer.Port(), Via: accesslog.ViaTCP}
	if !trusted.contains(c.Addr) {
		return c
	}
	if pp != nil && pp.Source.Addr().IsValid() {
		src := pp.Source.Addr().Unmap().WithZone("")
		c.Addr, c.Port, c.Via, c.SubnetID = src, pp.Source.Port(), accesslog.ViaProxyProtocol, pp.SubnetID
	}
	if !trusted.contains(c.Addr) || blank(xff) {
		return c
	}
	hops := forwardedHops(xff, maxForwardedHops)
	for i := len(hops) - 1; i >= 0; i-- {
		a, ok := parseHop(hops[i])
		c.Via, c.SubnetID = accesslog.ViaForwardedFor, ""
		if !ok {
			// A trusted proxy passed on something that is not an
			// address: nothing to its left can be attributed, and the
			// proxy itself is not the client. No address matches no rule.
			c.Addr, c.Port = netip.Addr{}, 0
			return c
		}
		c.Addr, c.Port = a.Addr(), a.Port()
		if !trusted.contains(c.Addr) {
			return c
		}
	}
	return c
}

// blank reports whether header values hold nothing but spaces.
func blank(values []string) bool {
	for _, v := range values {
		if strings.TrimSpace(v) != "" {
			return false
		}
	}
	return true
}

// forwardedHops splits X-Forwarded-For header values into hops, in order,
// keeping at most the last max (the walk goes from the right).
func forwardedHops(values []string, max int) []string {
	var hops []string
	for i := len(values) - 1; i >= 0 && len(hops) < max; i-- {
		v := values[i]
		for len(hops) < max {
			j := strings.LastIndexByte(v, ',')
			hops = append(hops, strings.TrimSpace(v[j+1:]))
			if j < 0 {
				break
			}
			v = v[:j]
		}
	}
	// Collected right to left; put them back in order.
	for l, r := 0, len(hops)-1; l < r; l, r = l+1, r-1 {
		hops[l], hops[r] = hops[r], hops[l]
	}
	return hops
}

// parseHop reads one X-Forwarded-For hop: an IPv4 or IPv6 address,
// optionally with a port ("203.0.113.7:4711", "[2001:db8::1]:443", as some
// load balancers write it) or bracketed. The address is unmapped and
// loses any zone.
func parseHop(s string) (netip.AddrPort, bool) {
	if s == "" {
		return netip.AddrPort{}, false
	}
	if a, err := netip.ParseAddr(s); err == nil {
		return netip.AddrPortFrom(a.Unmap().WithZone(""), 0), true
	}
	if strings.HasPrefix(s, "[") && strings.HasSuffix(s, "]") {
		a, err := netip.ParseAddr(s[1 : len(s)-1])
		if err != nil || !a.Is6() {
			return netip.AddrPort{}, false
		}
		return netip.AddrPortFrom(a.Unmap().WithZone(""), 0), true
	}
	ap, err := netip.ParseAddrPort(s)
	if err != nil {
		return netip.AddrPort{}, false
	}
	return netip.AddrPortFrom(ap.Addr().Unmap().WithZone(""), ap.Port()), true
}

// arrival decides the arrival path of a client address at account a
// (nil when the host serves none) with the snapshot (see the package doc).
func arrival(s *snapshot.Snapshot, a *snapshot.Account, c clientAddr) (access.Path, string) {
	if c.SubnetID != "" {
		if sub := s.Subnet(c.SubnetID); sub != nil && sub.HasServiceEndpoint(snapshot.ServiceCognitive) {
			return access.PathServiceEndpoint, sub.ID
		}
		return access.PathPublic, ""
	}
	if c.Addr.IsValid() {
		if sub := a.SubnetFor(c.Addr); sub != nil {
			return access.PathServiceEndpoint, sub.ID
		}
	}
	return access.PathPublic, ""
}

// connKey carries the accepted connection in request contexts.
type connKey struct{}

// connContext is http.Server.ConnContext: it only stores the connection.
// Reading the PROXY header here would block the accept loop on a slow
// peer; the handler reads it, on the connection's own goroutine.
func connContext(ctx context.Context, c net.Conn) context.Context {
	return context.WithValue(ctx, connKey{}, c)
}

// connPeer returns the TCP peer of the request's connection and, when the
// connection began with a PROXY header from a trusted peer, what it said.
// Without a connection in the context (a handler used on its own), the
// peer is r.RemoteAddr.
func connPeer(r *http.Request) (netip.AddrPort, *proxyInfo) {
	c, _ := r.Context().Value(connKey{}).(net.Conn)
	if tc, ok := c.(*tls.Conn); ok {
		c = tc.NetConn()
	}
	switch pc := c.(type) {
	case *proxyConn:
		return pc.peer(), headerInfo(pc.proxyHeader())
	case nil:
		ap, _ := netip.ParseAddrPort(r.RemoteAddr)
		return ap, nil
	default:
		return addrPortOf(c.RemoteAddr()), nil
	}
}

// headerInfo extracts the source and subnet TLV of a PROXY header. LOCAL
// headers (a proxy's own health checks) and headers without a TCP source
// say nothing about a client.
func headerInfo(h *proxyproto.Header) *proxyInfo {
	if h == nil || !h.Command.IsProxy() {
		return nil
	}
	src, ok := h.SourceAddr.(*net.TCPAddr)
	if !ok {
		return nil
	}
	a, ok := netip.AddrFromSlice(src.IP)
	if !ok || src.Port < 0 || src.Port > 65535 {
		return nil
	}
	info := &proxyInfo{Source: netip.AddrPortFrom(a.Unmap(), uint16(src.Port))}
	if tlvs, err := h.TLVs(); err == nil {
		for _, t := range tlvs {
			if t.Type == TLVSubnetID && validSubnetID(string(t.Value)) {
				info.SubnetID = string(t.Value)
			}
		}
	}
	return info
}

// validSubnetID accepts what can be a subnet's ARM id; whether the subnet
// exists is the snapshot's to say.
func validSubnetID(s string) bool {
	if len(s) == 0 || len(s) > maxSubnetIDLen || !strings.HasPrefix(strings.ToLower(s), "/subscriptions/") ||
		!strings.Contains(strings.ToLower(s), "/subnets/") {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] > '~' {
			return false
		}
	}
	return true
}

func addrPortOf(a net.Addr) netip.AddrPort {
	switch v := a.(type) {
	case *net.TCPAddr:
		return v.AddrPort()
	case nil:
		return netip.AddrPort{}
	}
	ap, _ := netip.ParseAddrPort(a.String())
	return ap
}
