package armtest

import (
	"context"
	"log/slog"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/perimeterhq/perimeter/internal/arm"
	"github.com/perimeterhq/perimeter/internal/providers/resources"
	"github.com/perimeterhq/perimeter/internal/store"
	"github.com/perimeterhq/perimeter/internal/store/sqlite"
)

// Env is an ARM server over httptest on a store of its own.
type Env struct {
	// T is the test that request helpers fail. A subtest may set it to
	// itself while it uses the Env, and set it back after.
	T testing.TB
	// Store is the server's store (wrapped, with WrapStore).
	Store  store.Store
	Server *arm.Server
	HTTP   *httptest.Server
	// Token is sent as the bearer token; "" sends no Authorization
	// header. Anything but the constant Token is refused.
	Token string

	owner testing.TB // the test given to New: servers run on its context
	cfg   config
	stop  func()
}

// New opens a SQLite store in t.TempDir(), creates SubscriptionID (and
// any Subscriptions) and starts a server with the resources provider's
// kinds and those given with Kinds. Everything is closed when t ends.
func New(t testing.TB, opts ...Option) *Env {
	t.Helper()
	var c config
	for _, o := range opts {
		o(&c)
	}
	db, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "arm.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	var st store.Store = db
	if c.wrap != nil {
		st = c.wrap(db)
	}
	for _, sub := range append([]string{SubscriptionID}, c.subscriptions...) {
		if err := resources.EnsureSubscription(t.Context(), st, TenantID, sub, "test"); err != nil {
			t.Fatal(err)
		}
	}
	e := &Env{T: t, Store: st, Token: Token, owner: t, cfg: c}
	t.Cleanup(func() {
		if e.stop != nil {
			e.stop()
		}
	})
	e.Restart()
	return e
}

// Restart stops the server and starts a new one on the same store, as a
// process restart would.
func (e *Env) Restart() {
	e.T.Helper()
	if e.stop != nil {
		e.stop()
	}
	var az arm.Authorizer
	if e.cfg.authorizer != nil {
		az = e.cfg.authorizer(e.Store)
	}
	srv := arm.NewServer(arm.Config{Store: e.Store, Authenticator: tokenAuth{}, Logger: slog.New(slog.DiscardHandler),
		Now: e.cfg.now, InlineWait: e.cfg.inlineWait, Authorizer: az})
	if err := srv.Register(resources.Kinds(srv, resources.PreviewFeatures)...); err != nil {
		e.T.Fatal(err)
	}
	for _, kinds := range e.cfg.kinds {
		if err := srv.Register(kinds(srv, e.Store)...); err != nil {
			e.T.Fatal(err)
		}
	}
	if err := srv.Start(e.owner.Context()); err != nil {
		e.T.Fatal(err)
	}
	hs := httptest.NewServer(srv)
	e.Server, e.HTTP = srv, hs
	e.stop = func() {
		hs.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	}
}
