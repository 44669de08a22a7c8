// Package cognitive provides the Microsoft.CognitiveServices types: AI
// services accounts with their keys, identities, custom subdomains and
// network rules; their projects and model deployments; and the views of
// the model catalog.
//
// Every type is an arm.Kind with hooks (Preparer, Provisioner, Actioner,
// Reader, Cleaner); the generic ARM machinery in package arm does the
// rest. Rules are enforced when a resource is written: a refused write
// changes nothing and answers an ARM error (400 for bad input) whose code
// names the problem and whose message says what to change.
//
// Besides the resource documents, accounts and projects own internal
// documents, written in the same atomic store Apply as the resource and
// removed with it (by the subtree delete when below it, by Cleanup
// otherwise):
//   - {accountId}/%keys: the two access keys, sealed with the master key
//     (keys.go);
//   - /perimeter/subdomains/{name}: the installation-wide reservation of a
//     custom subdomain (subdomain.go);
//   - /tenants/{tenantId}/directoryObjects/{principalId}: the service
//     principal of a system-assigned identity, for role assignments, with
//     the workload bindings of that identity (identity.go; the createWorkloadBinding
//     action, see package managedidentity);
//   - {accountId}/%defaultProject: which project is the account's default
//     (project.go).
package cognitive

import (
	"github.com/perimeterhq/perimeter/internal/arm"
	"github.com/perimeterhq/perimeter/internal/models"
	"github.com/perimeterhq/perimeter/internal/secrets"
	"github.com/perimeterhq/perimeter/internal/store"
)

// Config is what the provider needs from the server.
type Config struct {
	// Catalog lists the models deployments may use. Nil means the catalog
	// with only the built-in mock model.
	Catalog *models.Catalog
	// Secrets seals account keys at rest. Required: without it accounts
	// cannot be created (their keys could not be stored).
	Secrets *secrets.Box
	// BaseDomain is the DNS suffix of account endpoints:
	// https://{customSubDomainName}.cognitiveservices.{BaseDomain}:{GatewayPort}/.
	// Empty means "perimeter.localhost", the server's default.
	BaseDomain string
	// GatewayPort is the port the gateway listens on. Zero or 443 leave the
	// port out of endpoint URLs (443 is the HTTPS default).
	GatewayPort int
}

// DefaultBaseDomain is the base domain used when Config.BaseDomain is empty.
const DefaultBaseDomain = "perimeter.localhost"

// Resource types of this package.
const (
	TypeAccounts           = "Microsoft.CognitiveServices/accounts"
	TypeDeployments        = "Microsoft.CognitiveServices/accounts/deployments"
	TypeProjects           = "Microsoft.CognitiveServices/accounts/projects"
	TypeAccountModels      = "Microsoft.CognitiveServices/accounts/models"
	TypeLocations          = "Microsoft.CognitiveServices/locations"
	TypeLocationModels     = "Microsoft.CognitiveServices/locations/models"
	TypeDomainAvailability = "Microsoft.CognitiveServices/checkDomainAvailability"
)

// namespace is the provider namespace, as registered per subscription.
const namespace = "Microsoft.CognitiveServices"

// Kinds returns the kinds of this package, bound to srv.
func Kinds(srv *arm.Server, cfg Config) []arm.Kind {
	if cfg.Catalog == nil {
		cfg.Catalog, _ = models.New(nil) // the mock alone always validates
	}
	if cfg.BaseDomain == "" {
		cfg.BaseDomain = DefaultBaseDomain
	}
	p := &provider{srv: srv, cfg: cfg}
	return []arm.Kind{
		&accounts{p},
		&deployments{p},
		&projects{p},
		&accountModels{p},
		&locations{p},
		&locationModels{p},
		&domainAvailability{p},
	}
}

// The hooks each kind relies on; a signature drifting from package arm's
// interfaces fails the build rather than silently turning a hook off.
var (
	_ arm.Preparer    = (*accounts)(nil)
	_ arm.Provisioner = (*accounts)(nil)
	_ arm.Actioner    = (*accounts)(nil)
	_ arm.Preparer    = (*deployments)(nil)
	_ arm.Provisioner = (*deployments)(nil)
	_ arm.Preparer    = (*projects)(nil)
	_ arm.Provisioner = (*projects)(nil)
	_ arm.Reader      = (*accountModels)(nil)
	_ arm.Reader      = (*locations)(nil)
	_ arm.Reader      = (*locationModels)(nil)
	_ arm.Reader      = (*domainAvailability)(nil)
	_ arm.Actioner    = (*domainAvailability)(nil)
)

// provider is what every kind of the package shares: the server it is
// registered on (for the store and registration state) and the
// configuration. It holds no mutable state.
type provider struct {
	srv *arm.Server
	cfg Config
}

func (p *provider) store() store.Store { return p.srv.Store() }

// accountAPIVersions are the api-versions served for accounts and the
// account-level views: the stable versions of the REST specification, the
// version armcognitiveservices/v2 sends (2025-06-01), and the previews the
// documentation uses (2023-10-01-preview, for networkAcls.bypass). Every
// version has the same shape here; older clients simply do not send the
// newer fields.
func accountAPIVersions() []string {
	return []string{
		"2017-04-18", "2021-04-30", "2021-10-01", "2022-03-01", "2022-10-01", "2022-12-01", "2023-05-01",
		"2023-10-01-preview", "2024-10-01", "2025-06-01", "2025-10-01-preview", "2025-12-01",
	}
}

// deploymentAPIVersions start at 2021-10-01, the first version with
// accounts/deployments.
func deploymentAPIVersions() []string {
	return []string{
		"2021-10-01", "2022-03-01", "2022-10-01", "2022-12-01", "2023-05-01", "2023-10-01-preview",
		"2024-10-01", "2025-06-01", "2025-10-01-preview", "2025-12-01",
	}
}

// projectAPIVersions start at 2025-06-01, the first stable version with
// accounts/projects.
func projectAPIVersions() []string {
	return []string{"2025-04-01-preview", "2025-06-01", "2025-10-01-preview", "2025-12-01"}
}

// nameRule is Azure's rule for account, deployment and project names.
func nameRule() func(string) error {
	return arm.NameRule(`^[a-zA-Z0-9][a-zA-Z0-9_.-]{1,63}$`,
		"Use 2 to 64 characters: letters, digits, '_', '.' and '-', starting with a letter or digit.")
}
