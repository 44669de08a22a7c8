package main

import (
	"log/slog"
	"os"
	"runtime/debug"

	"github.com/spf13/cobra"

	"github.com/perimeterhq/perimeter/internal/identity"
	"github.com/perimeterhq/perimeter/internal/server"
)

func newServeCommand() *cobra.Command {
	var cfg server.Config
	var trusted, oidcAllow, logFormat, logLevel string
	var trustedIssuers []string
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the control plane, gateway, DNS server and egress proxy in one process",
		Long: `Run Perimeter. On first start it creates, in --data-dir, the CA (ca.pem), the
bootstrap admin credential (admin.json, mode 0600) and a default subscription;
when every listener accepts it writes ready.json. SIGINT or SIGTERM shut down
gracefully; a restart on the same directory keeps all state.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var err error
			if cfg.TrustedProxies, err = server.ParseTrustedProxies(trusted); err != nil {
				return err
			}
			if cfg.OIDCAllowCIDRs, err = server.ParseCIDRList("--oidc-allow-cidrs entry", oidcAllow); err != nil {
				return err
			}
			for _, s := range trustedIssuers {
				t, err := identity.ParseTrustedIssuer(s)
				if err != nil {
					return usageErrorf("--trusted-issuer: %v", err)
				}
				cfg.TrustedIssuers = append(cfg.TrustedIssuers, t)
			}
			var level slog.Level
			if err := level.UnmarshalText([]byte(logLevel)); err != nil {
				return usageErrorf("--log-level %q: use debug, info, warn or error", logLevel)
			}
			opts := &slog.HandlerOptions{Level: level}
			if logFormat == "text" {
				cfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, opts))
			} else {
				cfg.Logger = slog.New(slog.NewJSONHandler(os.Stderr, opts))
			}
			tuneGC()
			return server.Run(cmd.Context(), cfg)
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.DataDir, "data-dir", "perimeter-data", "directory for the embedded store, CA, credentials and ready.json")
	f.StringVar(&cfg.ARMAddr, "arm-addr", server.DefaultARMAddr, "control plane (HTTPS, ARM REST and token issuer) host:port; port 0 picks a free port")
	f.StringVar(&cfg.GatewayAddr, "gateway-addr", server.DefaultGatewayAddr, "data-plane ingress (HTTPS) host:port")
	f.StringVar(&cfg.DNSAddr, "dns-addr", server.DefaultDNSAddr, "DNS server (UDP and TCP) host:port")
	f.StringVar(&cfg.EgressAddr, "egress-addr", server.DefaultEgressAddr, "egress proxy (HTTP, CONNECT) host:port")
	f.StringVar(&cfg.AdminAddr, "admin-addr", server.DefaultAdminAddr, "admin listener (plain HTTP): Prometheus metrics at /metrics and Go profiles at /debug/pprof/; keep it on loopback")
	f.StringVar(&trusted, "trusted-proxies", "", "comma-separated CIDRs whose PROXY protocol header and X-Forwarded-For are believed")
	f.StringVar(&cfg.StoreURL, "store", "", "store URL: empty for SQLite in --data-dir, postgres://... for PostgreSQL")
	f.StringVar(&cfg.BaseDomain, "base-domain", server.DefaultBaseDomain, "DNS suffix of account endpoints")
	f.StringVar(&cfg.ModelsFile, "models", "", "model catalog file (JSON) listing OpenAI-compatible upstreams; the built-in mock model is always available")
	f.DurationVar(&cfg.MockTokenDelay, "mock-token-delay", 0, "pause between tokens streamed by the built-in mock model (e.g. 20ms)")
	f.StringVar(&cfg.MasterKeyFile, "master-key-file", "", "key that encrypts secrets in the store (default DATA-DIR/master.key; replicas must share it)")
	f.StringVar(&cfg.AccessLogFile, "access-log", "", "also write the access log as JSON lines to this file (- for standard output)")
	f.DurationVar(&cfg.AccessLogRetention, "access-log-retention", 0, "how long the store keeps access log records (default 7 days; negative keeps them forever)")
	f.StringVar(&cfg.OIDCCAFile, "oidc-ca-file", "", "PEM file of CAs to trust, besides the system's, when fetching the keys of external OpenID Connect issuers (federated identity credentials)")
	f.StringVar(&oidcAllow, "oidc-allow-cidrs", "", "comma-separated CIDRs of loopback or link-local addresses that external OpenID Connect issuers may nevertheless use (an identity provider on this machine)")
	f.StringArrayVar(&trustedIssuers, "trusted-issuer", nil, "ISSUER=AUDIENCE: an OpenID Connect issuer (https URL) whose tokens users sign in with, and the audience they must carry; repeat for several")
	f.StringVar(&logFormat, "log-format", "json", "log format: json or text")
	f.StringVar(&logLevel, "log-level", "info", "log level: debug (also every allowed data-plane request), info, warn or error")
	return cmd
}

// serveGCPercent is the garbage collector's GOGC for serve. The server's
// live heap is small (about 12 MB under load, most of it the access-log
// queue and the mock model's tokenizer) while every proxied request
// allocates a few KB, so at Go's default of 100 it collects about twice a
// second under load, and collection was a sixth of the gateway's CPU. At
// 400 it collects a quarter as often for a heap of some tens of MB more.
const serveGCPercent = 400

// tuneGC applies serveGCPercent unless the operator set GOGC, which then
// wins as usual.
func tuneGC() {
	if _, set := os.LookupEnv("GOGC"); !set {
		debug.SetGCPercent(serveGCPercent)
	}
}
