// Command benchmock serves Perimeter's mock model (internal/mockmodel) for
// bench/gateway-vs-nginx.sh: over plain HTTP on -http (the upstream that
// Perimeter and nginx both proxy to) and over TLS on -https (the "direct"
// figure), one handler behind both. It stops on SIGINT or SIGTERM.
package main

import (
	"context"
	"crypto/tls"
	"flag"
	"log"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/perimeterhq/perimeter/internal/mockmodel"
)

func main() {
	httpAddr := flag.String("http", "127.0.0.1:18080", "plain-HTTP listen address (the proxies' upstream)")
	httpsAddr := flag.String("https", "127.0.0.1:18443", "TLS listen address (direct)")
	cert := flag.String("cert", "", "PEM certificate for -https")
	key := flag.String("key", "", "PEM key for -https")
	delay := flag.Duration("token-delay", 0, "pause before each streamed token")
	flag.Parse()
	if *cert == "" || *key == "" {
		log.Fatal("-cert and -key are required")
	}
	pair, err := tls.LoadX509KeyPair(*cert, *key)
	if err != nil {
		log.Fatal(err)
	}
	h := mockmodel.Handler(mockmodel.Config{TokenDelay: *delay})
	plain := &http.Server{Addr: *httpAddr, Handler: h, ReadHeaderTimeout: 10 * time.Second}
	secure := &http.Server{Addr: *httpsAddr, Handler: h, ReadHeaderTimeout: 10 * time.Second,
		TLSConfig: &tls.Config{Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS12}}
	errc := make(chan error, 2)
	go func() { errc <- plain.ListenAndServe() }()
	go func() { errc <- secure.ListenAndServeTLS("", "") }()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	select {
	case err := <-errc:
		log.Fatal(err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = plain.Shutdown(sctx)
	_ = secure.Shutdown(sctx)
}
