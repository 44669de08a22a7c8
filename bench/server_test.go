package bench

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/perimeterhq/perimeter/internal/server"
	"github.com/perimeterhq/perimeter/internal/tlsca"
)

// postgresEnv names the PostgreSQL server the postgres sub-benchmarks use,
// as in the tests; they are skipped when it is unset.
const postgresEnv = "PERIMETER_TEST_POSTGRES_URL"

// target is an HTTPS endpoint under measurement and the client that
// measures it.
type target struct {
	base   string // https://127.0.0.1:port
	client *http.Client
	auth   string // Authorization header sent with every request
}

// perimeter is a Perimeter server running in this process.
type perimeter struct {
	target
	subscriptionID string
}

// startPerimeter runs server.Run in dir with every listener on a loopback
// port and the config adjusted by configure (which may be nil), waits for
// ready.json and gets a management token for the bootstrap admin. The
// server stops when b's cleanup runs.
func startPerimeter(b *testing.B, dir string, configure func(*server.Config)) (*perimeter, server.Ready) {
	b.Helper()
	cfg := server.Config{
		DataDir: dir, ARMAddr: "127.0.0.1:0", GatewayAddr: "127.0.0.1:0",
		DNSAddr: "127.0.0.1:0", EgressAddr: "127.0.0.1:0", AdminAddr: "127.0.0.1:0",
		Logger: slog.New(slog.DiscardHandler),
	}
	if configure != nil {
		configure(&cfg)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- server.Run(ctx, cfg) }()
	b.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			b.Errorf("server.Run: %v", err)
		}
	})

	var ready server.Ready
	readJSON(b, filepath.Join(dir, server.ReadyFile), &ready, done)
	var admin server.AdminCredential
	readJSON(b, filepath.Join(dir, "admin.json"), &admin, done)

	pem, err := os.ReadFile(ready.CACert)
	if err != nil {
		b.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		b.Fatalf("%s holds no certificate", ready.CACert)
	}
	p := &perimeter{target: target{base: ready.ARM, client: newClient(b, pool)}, subscriptionID: admin.SubscriptionID}
	p.auth = "Bearer " + p.getToken(b, admin)
	return p, ready
}

// readJSON waits up to 30 s for path to exist, then decodes it into v.
// It fails early if the server exits first.
func readJSON(b *testing.B, path string, v any, exited <-chan error) {
	b.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		body, err := os.ReadFile(path)
		if err == nil {
			if err := json.Unmarshal(body, v); err != nil {
				b.Fatalf("%s: %v", path, err)
			}
			return
		}
		if !errors.Is(err, os.ErrNotExist) {
			b.Fatal(err)
		}
		select {
		case err := <-exited:
			b.Fatalf("server exited before writing %s: %v", filepath.Base(path), err)
		case <-time.After(10 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			b.Fatalf("no %s after 30s", filepath.Base(path))
		}
	}
}

// getToken gets a management-audience token with the admin's client
// credential from the built-in issuer.
func (p *perimeter) getToken(b *testing.B, admin server.AdminCredential) string {
	b.Helper()
	form := url.Values{
		"grant_type":    {"client_credentials"},
		"client_id":     {admin.ClientID},
		"client_secret": {admin.ClientSecret},
		"scope":         {"https://management.azure.com/.default"},
	}
	resp, err := p.client.PostForm(p.base+"/"+admin.TenantID+"/oauth2/v2.0/token", form)
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&tok); err != nil || resp.StatusCode != http.StatusOK || tok.AccessToken == "" {
		b.Fatalf("token: status %d, decode error %v", resp.StatusCode, err)
	}
	return tok.AccessToken
}

// groupPath is the ARM path of resource group name in the subscription.
func (p *perimeter) groupPath(name string) string {
	return "/subscriptions/" + p.subscriptionID + "/resourcegroups/" + name + "?api-version=" + apiVersion
}

// postgresStoreURL creates a fresh schema on the server named by
// PERIMETER_TEST_POSTGRES_URL and returns a store URL that uses it; the
// schema is dropped at cleanup. It skips b when the variable is unset.
func postgresStoreURL(b *testing.B) string {
	b.Helper()
	base := os.Getenv(postgresEnv)
	if base == "" {
		b.Skip(postgresEnv + " is not set")
	}
	schema := fmt.Sprintf("perimeter_bench_%d", time.Now().UnixNano())
	exec := func(sql string) error {
		// Not b.Context(): it is already canceled when cleanups run.
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, base)
		if err != nil {
			return err
		}
		defer conn.Close(ctx)
		_, err = conn.Exec(ctx, sql)
		return err
	}
	if err := exec("CREATE SCHEMA " + schema); err != nil {
		b.Fatalf("%s: %v", postgresEnv, err)
	}
	b.Cleanup(func() {
		if err := exec("DROP SCHEMA " + schema + " CASCADE"); err != nil {
			b.Errorf("drop schema %s: %v", schema, err)
		}
	})
	sep := "?"
	if strings.Contains(base, "?") {
		sep = "&"
	}
	return base + sep + "search_path=" + schema
}

// startBaseline serves body as application/json on every path from a bare
// net/http server over TLS: a certificate from the same kind of local CA
// as Perimeter's, the same tls.Config and the same http.Server settings,
// so that the only difference from Perimeter is the handler.
func startBaseline(b *testing.B, body []byte) target {
	b.Helper()
	ca, err := tlsca.LoadOrCreate(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	cert, err := ca.ServerCertificate([]string{"127.0.0.1"})
	if err != nil {
		b.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json; charset=utf-8")
			_, _ = w.Write(body)
		}),
		TLSConfig:         &tls.Config{Certificates: []tls.Certificate{*cert}, MinVersion: tls.VersionTLS12},
		ReadHeaderTimeout: 10 * time.Second,
	}
	go func() { _ = srv.ServeTLS(ln, "", "") }()
	b.Cleanup(func() { _ = srv.Close() })

	pem, err := os.ReadFile(ca.CertPath())
	if err != nil {
		b.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	return target{base: "https://" + ln.Addr().String(), client: newClient(b, pool)}
}

// newClient is the measuring client: the default transport's settings
// (keep-alive; HTTP/2 when the server offers it, as both servers here do),
// trusting pool, with enough idle connections for every parallel worker.
func newClient(b *testing.B, pool *x509.CertPool) *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.TLSClientConfig = &tls.Config{RootCAs: pool}
	t.MaxIdleConnsPerHost = 64
	b.Cleanup(t.CloseIdleConnections)
	return &http.Client{Transport: t, Timeout: 30 * time.Second}
}

// do sends one request to t and drains the answer, returning the size of
// its body. It fails unless the status is want.
func (t *target) do(ctx context.Context, method, path string, body io.Reader, want int) (int64, error) {
	req, err := http.NewRequestWithContext(ctx, method, t.base+path, body)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Authorization", t.auth)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := t.client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != want {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return 0, fmt.Errorf("%s %s: status %d, want %d: %s", method, path, resp.StatusCode, want, msg)
	}
	return io.Copy(io.Discard, resp.Body)
}
