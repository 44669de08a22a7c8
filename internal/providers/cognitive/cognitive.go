// Package cognitive provides the Microsoft.CognitiveServices types: AI
// services accounts with their keys and network rules, projects,
// deployments, and the model catalog views.
package cognitive

import (
	"github.com/perimeterhq/perimeter/internal/arm"
	"github.com/perimeterhq/perimeter/internal/models"
	"github.com/perimeterhq/perimeter/internal/secrets"
)

// Config is what the provider needs from the server.
type Config struct {
	// Catalog lists the models deployments may use. Required.
	Catalog *models.Catalog
	// Secrets seals account keys at rest. Required.
	Secrets *secrets.Box
	// BaseDomain is the DNS suffix of account endpoints:
	// https://{customSubDomainName}.cognitiveservices.{BaseDomain}:{GatewayPort}/.
	BaseDomain string
	// GatewayPort is the port the gateway listens on.
	GatewayPort int
}

// Kinds returns the kinds of this package, bound to srv.
func Kinds(srv *arm.Server, cfg Config) []arm.Kind { return nil }
