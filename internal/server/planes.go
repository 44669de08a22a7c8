package server

import (
	"context"
	"fmt"
	"net"
	"net/http"

	"github.com/miekg/dns"
)

// The egress proxy and the DNS server bind and answer now, and fail
// closed: until they are built, nothing is let through.

// egressHandler refuses every outbound request: no outbound rule allows
// anything yet.
func egressHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusForbidden)
		fmt.Fprintf(w, `{"error":{"code":"EgressDenied","message":"No outbound rule allows '%s'."}}`+"\n", jsonSafe(r.Host))
	})
}

func jsonSafe(s string) string {
	out := make([]rune, 0, len(s))
	for _, c := range s {
		if c < 0x20 || c == '"' || c == '\\' || c > 0x7e {
			c = '?'
		}
		out = append(out, c)
	}
	return string(out)
}

// dnsServer answers on UDP and TCP at the same address.
type dnsServer struct {
	addr     string
	udp, tcp *dns.Server
	errc     chan error
}

// startDNS binds UDP and TCP on addr (port 0: one free port for both) and
// answers REFUSED to every query until private DNS zones exist.
func startDNS(addr string) (*dnsServer, error) {
	handler := dns.HandlerFunc(func(w dns.ResponseWriter, q *dns.Msg) {
		m := new(dns.Msg)
		m.SetRcode(q, dns.RcodeRefused)
		_ = w.WriteMsg(m)
	})
	var pc net.PacketConn
	var ln net.Listener
	var err error
	for range 10 { // port 0: retry until UDP and TCP get the same port
		if pc, err = net.ListenPacket("udp", addr); err != nil {
			return nil, err
		}
		ln, err = net.Listen("tcp", pc.LocalAddr().String())
		if err == nil {
			break
		}
		pc.Close()
	}
	if err != nil {
		return nil, err
	}
	s := &dnsServer{
		addr: hostPort(pc.LocalAddr()),
		udp:  &dns.Server{PacketConn: pc, Handler: handler},
		tcp:  &dns.Server{Listener: ln, Handler: handler},
		errc: make(chan error, 2),
	}
	go func() { s.errc <- s.udp.ActivateAndServe() }()
	go func() { s.errc <- s.tcp.ActivateAndServe() }()
	return s, nil
}

func (s *dnsServer) wait() error {
	err := <-s.errc
	return err
}

func (s *dnsServer) shutdown(ctx context.Context) {
	_ = s.udp.ShutdownContext(ctx)
	_ = s.tcp.ShutdownContext(ctx)
}
