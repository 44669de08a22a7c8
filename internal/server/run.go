package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	stdlog "log"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"github.com/perimeterhq/perimeter/internal/mockmodel"

	"github.com/perimeterhq/perimeter/internal/snapshot"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/perimeterhq/perimeter/internal/atomicfile"

	"github.com/perimeterhq/perimeter/internal/accesslog"
	"github.com/perimeterhq/perimeter/internal/identity"
	"github.com/perimeterhq/perimeter/internal/ingress"
	"github.com/perimeterhq/perimeter/internal/models"
	"github.com/perimeterhq/perimeter/internal/providers/cognitive"
	"github.com/perimeterhq/perimeter/internal/secrets"
	"github.com/perimeterhq/perimeter/internal/store"
	"github.com/perimeterhq/perimeter/internal/store/postgres"
	"github.com/perimeterhq/perimeter/internal/store/sqlite"
	"github.com/perimeterhq/perimeter/internal/tlsca"
)

// Ready is ready.json: where each listener accepts, written once all do.
type Ready struct {
	ARM            string `json:"arm"`
	Gateway        string `json:"gateway"`
	DNS            string `json:"dns"`
	Egress         string `json:"egress"`
	Admin          string `json:"admin"`
	CACert         string `json:"caCert"`
	TenantID       string `json:"tenantId"`
	SubscriptionID string `json:"subscriptionId"`
	// PID is the serving process: a ready.json left by a killed process
	// names a process that is gone.
	PID int `json:"pid"`
}

// ReadyFile is the name of ready.json in the data directory.
const ReadyFile = "ready.json"

// shutdownGrace bounds how long in-flight requests and operations may take
// to finish after SIGINT/SIGTERM.
const shutdownGrace = 15 * time.Second

// Run starts every part of Perimeter and serves until ctx ends, then shuts
// down gracefully. It returns an error if anything fails to start.
func Run(ctx context.Context, cfg Config) error {
	if err := cfg.validate(); err != nil {
		return err
	}
	log := cfg.Logger
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return fmt.Errorf("create data directory: %w", err)
	}
	// A ready.json from an earlier run must not be mistaken for this one.
	if err := os.Remove(filepath.Join(cfg.DataDir, ReadyFile)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	st, err := openStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer st.Close()
	// Both stores keep the access log beside the documents.
	logSink, _ := st.(accesslog.Sink)

	ca, err := tlsca.LoadOrCreate(cfg.DataDir)
	if err != nil {
		return err
	}
	key, err := identity.LoadOrCreateSigningKey(cfg.DataDir)
	if err != nil {
		return err
	}
	dir := identity.NewDirectory(st)
	inst, err := bootstrap(ctx, st, dir, cfg.DataDir)
	if err != nil {
		return fmt.Errorf("bootstrap: %w", err)
	}

	cert, err := ca.ServerCertificate(certHosts(cfg.BaseDomain))
	if err != nil {
		return err
	}
	tlsConfig := &tls.Config{Certificates: []tls.Certificate{*cert}, MinVersion: tls.VersionTLS12}

	catalog, err := models.Load(cfg.ModelsFile)
	if err != nil {
		return err
	}
	federation, err := cfg.federationClient()
	if err != nil {
		return err
	}
	// The built-in mock model is a loopback server the gateway proxies to
	// like any upstream.
	mockLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("listen for the mock model: %w", err)
	}
	mockSrv := &http.Server{Handler: mockmodel.Handler(mockmodel.Config{TokenDelay: cfg.MockTokenDelay}), ReadHeaderTimeout: 10 * time.Second, ErrorLog: httpErrorLog(log, "mock model")}
	catalog = catalog.WithMockUpstream("http://" + hostPort(mockLn.Addr()) + "/v1")
	box, err := secrets.LoadOrCreate(cfg.MasterKeyFile)
	if err != nil {
		return err
	}

	// Bind every listener first: account endpoints name the gateway's port.
	armLn, err := net.Listen("tcp", cfg.ARMAddr)
	if err != nil {
		return fmt.Errorf("listen on --arm-addr %s: %w", cfg.ARMAddr, err)
	}
	gwLn, err := net.Listen("tcp", cfg.GatewayAddr)
	if err != nil {
		return fmt.Errorf("listen on --gateway-addr %s: %w", cfg.GatewayAddr, err)
	}
	egLn, err := net.Listen("tcp", cfg.EgressAddr)
	if err != nil {
		return fmt.Errorf("listen on --egress-addr %s: %w", cfg.EgressAddr, err)
	}
	adminLn, err := net.Listen("tcp", cfg.AdminAddr)
	if err != nil {
		return fmt.Errorf("listen on --admin-addr %s: %w", cfg.AdminAddr, err)
	}
	dnsSrv, err := startDNS(cfg.DNSAddr)
	if err != nil {
		return fmt.Errorf("listen on --dns-addr %s: %w", cfg.DNSAddr, err)
	}

	armURL := "https://" + hostPort(armLn.Addr())
	var baseURL atomic.Value
	baseURL.Store(armURL)
	issuer := identity.NewIssuer(identity.IssuerConfig{Directory: dir, Key: key, BaseURL: func() string { return baseURL.Load().(string) },
		Logger: log, FederationClient: federation, TrustedIssuers: cfg.TrustedIssuers})

	// Both planes decide with a snapshot compiled from the store (network
	// rules, deployments, role assignments), recompiled on every change.
	snapshots := snapshot.NewSource(snapshot.SourceConfig{
		Store: st, Secrets: box, Catalog: catalog, BaseDomain: cfg.BaseDomain, Logger: log,
		MemberOf: func(ctx context.Context) (map[string][]string, error) { return dir.MemberOf(ctx, inst.TenantID) },
	})
	srcCtx, stopSource := context.WithCancel(context.WithoutCancel(ctx))
	defer stopSource()
	go func() { _ = snapshots.Run(srcCtx) }()
	select {
	case <-snapshots.Ready():
	case <-time.After(10 * time.Second):
		log.Warn("no snapshot after 10s; requests are refused until one compiles")
	}

	control, controlHandler, err := newControlPlane(controlPlaneConfig{
		Store: st, Directory: dir, Issuer: issuer, Snapshots: snapshots, Installation: inst,
		Catalog: catalog, Secrets: box, BaseDomain: cfg.BaseDomain, GatewayPort: gwLn.Addr().(*net.TCPAddr).Port,
		BaseURL: armURL, LogSink: logSink, Logger: log,
	})
	if err != nil {
		return err
	}
	// Account endpoints name the gateway's port, which may differ from the
	// last run's.
	if _, err := cognitive.RefreshEndpoints(ctx, st, cognitive.Config{BaseDomain: cfg.BaseDomain, GatewayPort: gwLn.Addr().(*net.TCPAddr).Port}); err != nil {
		return err
	}
	if err := control.Start(ctx); err != nil {
		return err
	}
	armSrv := &http.Server{
		Handler: controlHandler, TLSConfig: tlsConfig.Clone(), ErrorLog: httpErrorLog(log, "control plane"),
		// Bodies are at most 4 MiB and every operation is answered at once
		// (slow work runs as an operation), so a minute is generous.
		ReadHeaderTimeout: 10 * time.Second, ReadTimeout: time.Minute, WriteTimeout: time.Minute, IdleTimeout: 2 * time.Minute,
	}
	// Each server gets its own TLS config: ServeTLS modifies the one it is given.
	// Metrics: one registry, injected into every component.
	registry := prometheus.NewRegistry()
	registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	adminMux := http.NewServeMux()
	adminMux.Handle("GET /metrics", promhttp.HandlerFor(registry, promhttp.HandlerOpts{Registry: registry}))
	// Profiles, for finding where a busy gateway spends its time; the admin
	// listener belongs on loopback or a management network.
	adminMux.HandleFunc("GET /debug/pprof/", pprof.Index)
	adminMux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
	adminMux.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
	adminSrv := &http.Server{Handler: adminMux, ReadHeaderTimeout: 10 * time.Second, ErrorLog: httpErrorLog(log, "admin")}

	// The access log: every data-plane decision, written in batches to the
	// store (and as JSON lines with --access-log). Closed after the data
	// planes have drained (deferred, so before the store closes).
	var logJSON io.Writer
	if cfg.AccessLogFile != "" {
		w, err := accesslog.OpenJSON(cfg.AccessLogFile)
		if err != nil {
			return err
		}
		defer w.Close()
		logJSON = w
	}
	accessLog := accesslog.New(accesslog.Config{Sink: logSink, JSON: logJSON, Retention: cfg.AccessLogRetention, Registry: registry, Logger: log})
	go func() { _ = accessLog.Run(context.WithoutCancel(ctx)) }()
	defer func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 15*time.Second)
		defer cancel()
		if err := accessLog.Close(cctx); err != nil {
			log.Warn("access log not flushed at shutdown", "err", err)
		}
	}()

	gateway, err := ingress.New(ingress.Config{
		Snapshots: snapshots, Tokens: issuer, Authorizer: dataPlaneAuthorizer{snapshots}, TrustedProxies: cfg.TrustedProxies,
		Log: accessLog, Registry: registry, Logger: log.With("component", "ingress"),
	})
	if err != nil {
		return err
	}
	egSrv := &http.Server{Handler: egressHandler(), ReadHeaderTimeout: 10 * time.Second, ErrorLog: httpErrorLog(log, "egress")}

	errc := make(chan error, 4)
	serve := func(name string, f func() error) {
		go func() {
			if err := f(); err != nil && !errors.Is(err, http.ErrServerClosed) {
				errc <- fmt.Errorf("%s: %w", name, err)
			}
		}()
	}
	serve("control plane", func() error { return armSrv.ServeTLS(armLn, "", "") })
	serve("gateway", func() error { return gateway.Serve(gwLn, tlsConfig.Clone()) })
	serve("egress", func() error { return egSrv.Serve(egLn) })
	serve("admin", func() error { return adminSrv.Serve(adminLn) })
	serve("mock model", func() error { return mockSrv.Serve(mockLn) })
	serve("dns", dnsSrv.wait)

	ready := Ready{
		ARM: armURL, Gateway: "https://" + hostPort(gwLn.Addr()), DNS: dnsSrv.addr,
		Egress: "http://" + hostPort(egLn.Addr()), Admin: "http://" + hostPort(adminLn.Addr()), CACert: ca.CertPath(),
		TenantID: inst.TenantID, SubscriptionID: inst.SubscriptionID, PID: os.Getpid(),
	}
	if err := writeReady(cfg.DataDir, ready); err != nil {
		return err
	}
	log.Info("perimeter ready", "arm", ready.ARM, "gateway", ready.Gateway, "dns", ready.DNS, "egress", ready.Egress,
		"dataDir", cfg.DataDir, "tenantId", inst.TenantID, "subscriptionId", inst.SubscriptionID)

	var runErr error
	select {
	case <-ctx.Done():
		log.Info("shutting down")
	case runErr = <-errc:
		log.Error("listener failed; shutting down", "err", runErr)
	}
	_ = os.Remove(filepath.Join(cfg.DataDir, ReadyFile))
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownGrace)
	defer cancel()
	if err := gateway.Shutdown(sctx); err != nil {
		log.Warn("gateway did not drain in time", "err", err)
	}
	for _, s := range []*http.Server{armSrv, egSrv, adminSrv, mockSrv} {
		if err := s.Shutdown(sctx); err != nil {
			log.Warn("listener did not drain in time", "err", err)
		}
	}
	dnsSrv.shutdown(sctx)
	if err := control.Shutdown(sctx); err != nil {
		log.Warn("operations still running at shutdown will resume at next start", "err", err)
	}
	return runErr
}

// httpErrorLog sends net/http's own messages (TLS handshake errors, ...)
// to the structured log instead of plain text on stderr.
func httpErrorLog(log *slog.Logger, listener string) *stdlog.Logger {
	return slog.NewLogLogger(log.With("listener", listener).Handler(), slog.LevelWarn)
}

func openStore(ctx context.Context, cfg Config) (store.Store, error) {
	u := cfg.StoreURL
	switch {
	case u == "":
		return sqlite.Open(ctx, filepath.Join(cfg.DataDir, "perimeter.db"))
	case strings.HasPrefix(u, "postgres://"), strings.HasPrefix(u, "postgresql://"):
		return postgres.Open(ctx, u)
	case strings.HasPrefix(u, "sqlite://"):
		return sqlite.Open(ctx, strings.TrimPrefix(u, "sqlite://"))
	}
	return nil, fmt.Errorf("--store %q: use postgres://..., sqlite://PATH, or leave it empty for SQLite in the data directory", u)
}

// certHosts are the names the server certificate covers: loopback, and the
// base domain with the account endpoint suffixes under it.
func certHosts(base string) []string {
	return []string{
		"127.0.0.1", "::1", "localhost", base, "*." + base,
		"*.cognitiveservices." + base, "*.openai." + base, "*.services.ai." + base,
	}
}

func hostPort(a net.Addr) string {
	switch v := a.(type) {
	case *net.TCPAddr:
		return net.JoinHostPort(v.IP.String(), fmt.Sprint(v.Port))
	case *net.UDPAddr:
		return net.JoinHostPort(v.IP.String(), fmt.Sprint(v.Port))
	}
	return a.String()
}

func writeReady(dir string, r Ready) error {
	body, err := jsonIndent(r)
	if err != nil {
		return err
	}
	return atomicfile.Write(filepath.Join(dir, ReadyFile), body, 0o644)
}
