package armtest

import (
	"time"

	"github.com/perimeterhq/perimeter/internal/arm"
	"github.com/perimeterhq/perimeter/internal/store"
)

// An Option configures New.
type Option func(*config)

type config struct {
	kinds         []func(*arm.Server, store.Store) []arm.Kind
	subscriptions []string
	inlineWait    time.Duration
	now           func() time.Time
	wrap          func(store.Store) store.Store
	authorizer    func(store.Store) arm.Authorizer
}

// Authorizer makes the server authorize every request with the
// Authorizer f returns for the store (RBAC); without it, every caller may
// do everything. Requests are made as the administrator (Token) or, with
// Env.As, as another principal.
func Authorizer(f func(st store.Store) arm.Authorizer) Option {
	return func(c *config) { c.authorizer = f }
}

// Kinds registers the kinds f returns, after the resources provider's.
// f is called at every (re)start with the server and the store it serves.
// Kinds may be given more than once.
func Kinds(f func(srv *arm.Server, st store.Store) []arm.Kind) Option {
	return func(c *config) { c.kinds = append(c.kinds, f) }
}

// Subscriptions creates these subscriptions too, besides SubscriptionID.
func Subscriptions(ids ...string) Option {
	return func(c *config) { c.subscriptions = append(c.subscriptions, ids...) }
}

// InlineWait sets arm.Config.InlineWait: operations that finish within d
// are answered with their final result.
func InlineWait(d time.Duration) Option {
	return func(c *config) { c.inlineWait = d }
}

// Clock sets the server's clock, for stable systemData times.
func Clock(now func() time.Time) Option {
	return func(c *config) { c.now = now }
}

// WrapStore puts wrap's result between the server and the SQLite store,
// to watch or interfere with writes. Env.Store is the wrapped store.
func WrapStore(wrap func(store.Store) store.Store) Option {
	return func(c *config) { c.wrap = wrap }
}
