package server

import (
	"log/slog"
	"net/http"
	"time"

	"github.com/perimeterhq/perimeter/internal/accesslog"
	"github.com/perimeterhq/perimeter/internal/arm"
	"github.com/perimeterhq/perimeter/internal/identity"
	"github.com/perimeterhq/perimeter/internal/models"
	"github.com/perimeterhq/perimeter/internal/providers/authorization"
	"github.com/perimeterhq/perimeter/internal/providers/cognitive"
	"github.com/perimeterhq/perimeter/internal/providers/diagnostics"
	"github.com/perimeterhq/perimeter/internal/providers/managedidentity"
	"github.com/perimeterhq/perimeter/internal/providers/network"
	"github.com/perimeterhq/perimeter/internal/providers/resources"
	"github.com/perimeterhq/perimeter/internal/secrets"
	"github.com/perimeterhq/perimeter/internal/snapshot"
	"github.com/perimeterhq/perimeter/internal/store"
)

// controlPlaneConfig is what the control plane is built from.
type controlPlaneConfig struct {
	Store     store.Store
	Directory *identity.Directory
	Issuer    *identity.Issuer
	// Snapshots give the role assignments requests are authorized with.
	Snapshots    *snapshot.Source
	Installation installation
	Catalog      *models.Catalog
	Secrets      *secrets.Box
	BaseDomain   string
	// GatewayPort is the port account endpoints name.
	GatewayPort int
	// BaseURL is the control plane's own URL, which authentication
	// challenges name.
	BaseURL string
	// LogSink answers access-log queries; nil when the store keeps none.
	LogSink accesslog.Sink
	Logger  *slog.Logger
}

// newControlPlane builds ARM with every provider, its callers
// authenticated by the issuer and authorized by the snapshot's role
// assignments, and the handler of the control-plane listener: the token
// endpoint, Graph and ARM. The caller starts and shuts down the ARM server.
func newControlPlane(c controlPlaneConfig) (*arm.Server, http.Handler, error) {
	fresh := freshPolicy(c.Snapshots)
	control := arm.NewServer(arm.Config{
		Store: c.Store, Authenticator: &bearerAuth{issuer: c.Issuer, tenantID: c.Installation.TenantID, baseURL: c.BaseURL}, Logger: c.Logger,
		Authorizer: authorization.NewAuthorizer(fresh),
		// Most operations finish in milliseconds; answering them inline
		// spares clients a poll that Retry-After would delay by a second.
		InlineWait: 2 * time.Second,
	})
	providers := [][]arm.Kind{
		resources.Kinds(control, resources.PreviewFeatures),
		network.Kinds(control),
		diagnostics.Kinds(control, c.LogSink),
		authorization.Kinds(control, authorization.Config{
			Principals: principalLookup(c.Directory), TenantID: c.Installation.TenantID,
			Groups: func(id string) []string { return c.Snapshots.Current().Policy().Groups(id) },
		}),
		managedidentity.Kinds(control),
		cognitive.Kinds(control, cognitive.Config{
			Catalog: c.Catalog, Secrets: c.Secrets, BaseDomain: c.BaseDomain, GatewayPort: c.GatewayPort,
		}),
	}
	for _, kinds := range providers {
		if err := control.Register(kinds...); err != nil {
			return nil, nil, err
		}
	}
	graph := identity.NewGraph(identity.GraphConfig{
		Directory: c.Directory, Verifier: c.Issuer, Logger: c.Logger,
		Authorize: directoryAuthorizer(fresh, c.Installation.SubscriptionID),
	})
	return control, controlPlaneHandler(c.Issuer, graph, control), nil
}
