// Package resources provides the Microsoft.Resources and Microsoft.Features
// types: subscriptions, resource groups, resource-provider registration and
// preview-feature registration. Other providers gate their previews on the
// features registered here (FeatureRegistered).
package resources

import (
	"github.com/perimeterhq/perimeter/internal/arm"
)

// Kinds returns every kind of this package, bound to the server they are
// registered on (providers and features describe the server's registry).
func Kinds(srv *arm.Server, catalog []Feature) []arm.Kind {
	f := &features{srv: srv, catalog: catalog}
	return []arm.Kind{
		subscriptions{},
		groups{},
		&providers{srv: srv},
		featureProviders{f},
		featureRegistrations{f},
		subscriptionFeatureRegistrations{f},
		featureNamespaces{f},
		legacyFeatures{f},
		allLegacyFeatures{f},
	}
}
